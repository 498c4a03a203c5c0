"""Two builds of nnfast side by side: the same workloads timed in alternating child
processes, one per build, and the median ratio new/old per workload.

    python benchmarks/two_builds.py --old /path/to/old-venv/bin/python [--old-path src] [--new python] [--new-path src] [--runs 3]

Each child imports the nnfast its interpreter finds, loads MNIST (NNFAST_DATA/mnist)
once and times one workload around the SGD call only (loading and building are
outside the timing): three calls on the same network, reported as the first (with the
process's one-time costs) and "warm", the faster of the other two (the epoch itself).  Workloads (MNIST, float64 for chapters 1 and 3, float32 for
chapter 6, mini-batch 10, the default thread count):

  ch1      network [784,30,10], one epoch of 60,000 images, eta 3.0
  ch3      network2 [784,100,10] cross-entropy, lmbda 5.0, eta 0.5, one epoch of 50,000
           with all four monitor flags (10,000 evaluation images)
  ch6-fc   network3 FC 100 sigmoid + softmax, one epoch of 10,000 images
  ch6-conv network3 conv 20x5x5 + pool 2x2 + FC 100 + softmax, one epoch of 10,000 images

Runs alternate old, new, old, new, ... so that drift of a shared machine falls on both.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import json, os, random, sys, time, io, contextlib
import numpy as np
from nnfast import mnist_loader
what = sys.argv[1]
folder = os.path.join(os.environ["NNFAST_DATA"], "mnist")
(X, y), (Xv, yv), (Xt, yt) = mnist_loader.load_data(folder)
np.random.seed(1); random.seed(2)
out = io.StringIO()
if what == "ch1":
    from nnfast import network
    X60 = np.concatenate([X, Xv]).astype(np.float64); y60 = np.concatenate([y, yv])
    net = network.Network([784, 30, 10])
    run = lambda: net.SGD((X60, y60), 1, 10, 3.0)
elif what == "ch3":
    from nnfast import network2
    net = network2.Network([784, 100, 10], cost=network2.CrossEntropyCost)
    tr, ev = (X.astype(np.float64), y), (Xv.astype(np.float64), yv)
    run = lambda: net.SGD(tr, 1, 10, 0.5, lmbda=5.0, evaluation_data=ev, monitor_evaluation_cost=True,
                          monitor_evaluation_accuracy=True, monitor_training_cost=True,
                          monitor_training_accuracy=True)
else:
    from nnfast import network3
    from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    tr = (X[:10000], y[:10000]); va = (Xv[:1000], yv[:1000]); te = (Xt[:1000], yt[:1000])
    if what == "ch6-fc":
        layers = [FullyConnectedLayer(n_in=784, n_out=100), SoftmaxLayer(n_in=100, n_out=10)]
    else:
        layers = [ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
                  FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100), SoftmaxLayer(n_in=100, n_out=10)]
    net = network3.Network(layers, 10)
    run = lambda: net.SGD(tr, 1, 10, 0.1, va, te)
times = []
with contextlib.redirect_stdout(out):
    for _ in range(3):
        t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
import nnfast
print(json.dumps({"first": times[0], "warm": min(times[1:]), "module": os.path.dirname(nnfast.__file__)}))
'''

WORKLOADS = ("ch1", "ch3", "ch6-fc", "ch6-conv")


_seen = {}


def time_one(python, what, pythonpath):
    """Seconds of one workload in a fresh child of ``python`` (PYTHONPATH as given: None drops it):
    its first SGD call (with the process's one-time costs: library scans, first touches of the
    data) and the faster of two more calls on the same network (the epoch itself)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    r = subprocess.run([python, "-c", CHILD, what], capture_output=True, text=True, timeout=900, env=env)
    if r.returncode != 0:
        raise SystemExit("%s %s failed:\n%s" % (python, what, r.stderr[-2000:]))
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if (python, pythonpath) not in _seen:
        _seen[(python, pythonpath)] = out["module"]
        print("  %s imports nnfast from %s" % (python, out["module"]), file=sys.stderr)
    return out["first"], out["warm"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", required=True, help="python of the environment holding the old build")
    p.add_argument("--old-path", default=None, help="PYTHONPATH for the old build (e.g. src of an in-place build)")
    p.add_argument("--new", default=sys.executable, help="python of the new build (default: this one)")
    p.add_argument("--new-path", default=None, help="PYTHONPATH for the new build (e.g. src of an in-place build)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each build per workload (median kept)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    args = p.parse_args(argv)
    if not os.environ.get("NNFAST_DATA"):
        raise SystemExit("set NNFAST_DATA to the folder holding mnist/")
    print("| workload | call | old s (median) | new s (median) | new / old |")
    print("|---|---|---|---|---|")
    for what in args.workloads.split(","):
        old, new = [], []
        for _ in range(args.runs):
            old.append(time_one(args.old, what, args.old_path))
            new.append(time_one(args.new, what, args.new_path))
        for k, call in enumerate(("first", "warm")):
            mo, mn = statistics.median(t[k] for t in old), statistics.median(t[k] for t in new)
            print("| %s | %s | %.3f | %.3f | %.3f |" % (what, call, mo, mn, mn / mo), flush=True)
            print("  %s %s old %s new %s" % (what, call, ["%.3f" % t[k] for t in old],
                                             ["%.3f" % t[k] for t in new]), file=sys.stderr)


if __name__ == "__main__":
    main()
