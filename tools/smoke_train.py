"""Train an installed nnfast for a few seconds from outside any source tree: the check that a
wheel works where users install it (tools/build_wheel.sh and cibuildwheel's test command run it).

Trains chapter 1's network for two epochs on 10,000 MNIST images from $NNFAST_DATA when they
are there (else on random images, where only finite, changed weights are checked).  Fails when
nnfast comes from a source tree, when the build has no OpenMP, or, on Linux, when the OpenMP
runtime loaded is not the one the repaired wheel carries (nnfast.libs/).
"""
import io
import os
import random
import sys
import time
from contextlib import redirect_stdout

import numpy as np

import nnfast
from nnfast import mnist_loader, network


def fail(why):
    sys.exit("smoke_train: FAILED: %s" % why)


def data():
    """(training, test, what) with 10,000 training and 1,000 test examples, the book's layout."""
    try:
        training, _, test = mnist_loader.load_data_wrapper()
        return list(training)[:10000], list(test)[:1000], "MNIST"
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        x = rng.random((11000, 784, 1))
        y = rng.integers(0, 10, 11000)
        return ([(x[i], np.eye(10)[y[i]].reshape(10, 1)) for i in range(10000)],
                [(x[i], int(y[i])) for i in range(10000, 11000)], "random")


def main():
    package = os.path.dirname(os.path.abspath(nnfast.__file__))
    if os.path.exists(os.path.join(package, os.pardir, os.pardir, "setup.py")):
        fail("nnfast was imported from a source tree (%s), not from an installed wheel" % package)
    cfg = nnfast.show_config(False)
    if not cfg["openmp"]:
        fail("this build has no OpenMP")
    runtime = "OpenMP"
    if sys.platform.startswith("linux"):
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "libgomp" in line or "libomp" in line})
        bundled = [p for p in libs if os.sep + "nnfast.libs" + os.sep in p]
        if not bundled:
            fail("the OpenMP runtime does not come from the wheel: %s" % (libs or "none loaded"))
        runtime = os.path.relpath(bundled[0], os.path.dirname(package))
    training, test, what = data()
    np.random.seed(1)
    random.seed(1)
    net = network.Network([784, 30, 10])
    before = [w.copy() for w in net.weights]
    t = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        net.SGD(training, 2, 10, 3.0)
    seconds = time.perf_counter() - t
    right = net.evaluate(test)
    if not all(np.isfinite(w).all() and not np.array_equal(w, b) for w, b in zip(net.weights, before)):
        fail("training left the weights unchanged or not finite")
    if what == "MNIST" and right < 0.7 * len(test):
        fail("%d/%d test images right after two epochs: it did not learn" % (right, len(test)))
    print("smoke_train: nnfast %s from %s, %s (%s, dense kernels %s): 2 epochs on %d %s images "
          "in %.2f s, %d/%d test images right"
          % (cfg["version"], os.path.dirname(package), runtime, "%d threads" % cfg["num_threads"],
             cfg["dense_kernels"], len(training), what, seconds, right, len(test)))


if __name__ == "__main__":
    main()
