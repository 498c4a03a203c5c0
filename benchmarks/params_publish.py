"""What publishing new parameter arrays after each epoch costs (issue 14 item 4).

After every epoch nnfast's SGD reads the network's weights and biases (checked:
shape, dtype, finite) into its working arrays and afterwards gives the network
new arrays holding the trained values, as the book's ``self.weights = [...]``
does.  This script times, interleaved in one run, chapter 1's epoch
([784, 30, 10], mini-batch 10, eta 3.0, float64, the 60,000 MNIST training
images) as shipped and with the per-epoch read and publish switched off
(training in place, the old behaviour), medians of ``--repeats``; and the
read + publish alone.

    PYTHONPATH=src NNFAST_DATA=/work/shared/data python benchmarks/params_publish.py
"""
import argparse
import contextlib
import io
import random
import statistics
import time

import numpy as np

import nnfast
from nnfast import _train, mnist_loader, network


def epoch_seconds(X, y, in_place):
    np.random.seed(0)
    random.seed(0)
    net = network.Network([784, 30, 10])
    load, publish = _train.Params.load, _train.Params.publish
    if in_place:          # read once, never publish: the weights are trained where they are
        def load_once(self):
            if not getattr(self, "_loaded", False):
                load(self)
                self._loaded = True
        _train.Params.load, _train.Params.publish = load_once, lambda self: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            net.SGD((X, y), 1, 10, 3.0)
            return time.perf_counter() - t0
    finally:
        _train.Params.load, _train.Params.publish = load, publish


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="native threads (default 1: steadiest on a shared machine)")
    args = ap.parse_args()
    nnfast.set_num_threads(args.threads)
    tr, va, _ = mnist_loader.load_data()
    X, y = np.concatenate([tr[0], va[0]]), np.concatenate([tr[1], va[1]])
    times = {False: [], True: []}
    for _ in range(args.repeats):
        for in_place in (False, True):
            times[in_place].append(epoch_seconds(X, y, in_place))
    np.random.seed(0)
    net = network.Network([784, 30, 10])
    params = _train.dense_params(net)
    params.load()
    n, t0 = 1000, time.perf_counter()
    for _ in range(n):
        params.load()
        params.trained = True
        params.publish()
    alone = (time.perf_counter() - t0) / n
    shipped, in_place = statistics.median(times[False]), statistics.median(times[True])
    print("chapter-1 epoch, 60,000 images, %d thread(s), median of %d, interleaved:" % (args.threads, args.repeats))
    print("  new arrays each epoch (shipped): %.3f s" % shipped)
    print("  trained in place (no publish):   %.3f s" % in_place)
    print("  ratio shipped / in place:        %.3f" % (shipped / in_place))
    print("  read + publish alone:            %.1f us per epoch (%.4f%% of an epoch)"
          % (alone * 1e6, 100 * alone / in_place))


if __name__ == "__main__":
    main()
