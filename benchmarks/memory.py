"""Memory use of training on the 60,000-image Fashion-MNIST training set (issue 7).

For each network kind: resident memory (VmRSS) after each epoch and the peak
(VmHWM, reset just before SGD through /proc/self/clear_refs) over the run, next
to the size of the data.  Training should need the data plus a small constant:
no copy of the data per epoch, no growth from epoch to epoch.

    NNFAST_DATA=<folder holding fashion-mnist/> python benchmarks/memory.py [--epochs 5]

Linux only (reads /proc/self/status).
"""
import argparse
import os
import random
import sys

import numpy as np

MB = 1024.0 * 1024.0


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak():
    """Make VmHWM start again from the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class EpochSampler(object):
    """A stand-in for stdout recording VmRSS whenever SGD prints an epoch line."""

    def __init__(self):
        self.rss = []

    def write(self, text):
        if text.startswith("Epoch"):
            self.rss.append(status_kb("VmRSS") / 1024.0)
        return len(text)

    def flush(self):
        pass


def measure(train):
    """Run train() with stdout sampled: (RSS before MB, RSS per epoch MB, peak MB)."""
    before = status_kb("VmRSS") / 1024.0
    reset_peak()
    sampler, saved = EpochSampler(), sys.stdout
    sys.stdout = sampler
    try:
        train()
    finally:
        sys.stdout = saved
    return before, sampler.rss, status_kb("VmHWM") / 1024.0


def runs(X, y, epochs):
    from nnfast import network, network2, network3
    Xv, yv = X[:10000], y[:10000]

    def chapter1():
        np.random.seed(0)
        random.seed(0)
        network.Network([784, 30, 10]).SGD((X, y), epochs, 10, 3.0)

    def chapter3():
        np.random.seed(0)
        random.seed(0)
        network2.Network([784, 30, 10]).SGD((X, y), epochs, 10, 0.5, lmbda=5.0, evaluation_data=(Xv, yv),
                                            monitor_evaluation_accuracy=True, monitor_training_cost=True,
                                            monitor_training_accuracy=True, mu=0.5)

    def chapter6():
        np.random.seed(0)
        net = network3.Network([network3.FullyConnectedLayer(784, 30), network3.SoftmaxLayer(30, 10)], 10)
        net.SGD((X, y), epochs, 10, 0.1, (Xv, yv))

    return [("network [784,30,10]", chapter1), ("network2 [784,30,10] monitored, momentum", chapter3),
            ("network3 FC 30 + softmax", chapter6)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    from nnfast import mnist_loader
    root = os.environ.get("NNFAST_DATA")
    if not root:
        sys.exit("set NNFAST_DATA to the folder holding fashion-mnist/")
    X, y = mnist_loader.load_idx(os.path.join(root, "fashion-mnist"), "train")
    print("data: X %s %s = %.1f MB, y %.1f MB" % (X.shape, X.dtype, X.nbytes / MB, y.nbytes / MB))
    print("| run | RSS before MB | RSS per epoch MB | growth epoch 2 -> %d MB | peak over before MB |" % args.epochs)
    print("|---|---|---|---|---|")
    for name, train in runs(X, y, args.epochs):
        before, rss, peak = measure(train)
        print("| %s | %.1f | %s | %+.2f | %+.1f |" % (name, before, ", ".join("%.1f" % r for r in rss),
                                                   rss[-1] - rss[1], peak - before))


if __name__ == "__main__":
    main()
