"""A child that trains until SIGINT (benchmarks/compare.py's busy section and tests/test_threads.py).

    python benchmarks/sigint_child.py network|network3

Prints "ready" before SGD starts and, on KeyboardInterrupt (the documented behaviour: SGD
raises it with net.last_interrupted_at set), "caught <time.time()> <last_interrupted_at>".
The default SIGINT handler is restored first: a test runner may have set SIGINT to be ignored.
"""
import contextlib
import io
import signal
import sys
import time

import numpy as np

signal.signal(signal.SIGINT, signal.default_int_handler)
from nnfast import network, network3  # noqa: E402


def main(kind):
    rng = np.random.default_rng(0)
    if kind == "network":
        X, y = rng.random((20000, 784)), rng.integers(0, 10, 20000)
        net = network.Network([784, 30, 10])
        run = lambda: net.SGD((X, y), 1000, 10, 3.0)  # noqa: E731
    else:
        X, y = rng.random((6000, 784)).astype(np.float32), rng.integers(0, 10, 6000)
        net = network3.Network([
            network3.ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
            network3.FullyConnectedLayer(20 * 12 * 12, 100), network3.SoftmaxLayer(100, 10)], 10)
        run = lambda: net.SGD((X, y), 1000, 10, 0.1, (X[:1000], y[:1000]), None)  # noqa: E731
    print("ready", flush=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            run()
    except KeyboardInterrupt:
        print("caught %.6f %r" % (time.time(), tuple(net.last_interrupted_at)), flush=True)
        return 0
    return "not interrupted"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
