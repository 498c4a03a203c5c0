"""``nnfast`` / ``python -m nnfast``: the book's experiments from the command line.

    nnfast chapter1            chapter 1's network with the book's settings
    nnfast info                build and machine configuration (show_config)
    nnfast download            fetch MNIST or Fashion-MNIST (SHA-256 checked)
    nnfast expand              the expanded training set of chapter 6
"""
import argparse
import random
import sys
import time

import numpy as np


class _EpochTimer(object):
    """Wraps stdout: appends the time each book line ``Epoch ...`` took."""

    def __init__(self, out):
        self.out = out
        self.t0 = time.perf_counter()
        self.times = []

    def write(self, s):
        if s.startswith("Epoch"):
            now = time.perf_counter()
            self.times.append(now - self.t0)
            self.t0 = now
            s = s.rstrip("\n") + "   [%.2f s]" % self.times[-1] + ("\n" if s.endswith("\n") else "")
        return self.out.write(s)

    def flush(self):
        self.out.flush()


def _int_at_least(minimum):
    """argparse type: a whole number >= ``minimum``."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a whole number, got %r" % text) from None
        if v < minimum:
            raise argparse.ArgumentTypeError("must be >= %d, got %d" % (minimum, v))
        return v
    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number, got %r" % text) from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError("must be a finite number > 0, got %r" % text)
    return v


def _sizes(text):
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated layer sizes like 784,30,10, got %r" % text) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError("need at least two positive layer sizes, got %r" % text)
    return sizes


def _add_common(p):
    from . import mnist_loader
    p.add_argument("--dataset", default="mnist", choices=mnist_loader.DATASETS,
                   help="which data set (default: %(default)s)")
    p.add_argument("--data", metavar="PATH",
                   help="folder with the four IDX files, or the book's mnist.pkl.gz "
                        "(default: $NNFAST_DATA/<dataset>, then ~/.cache/nnfast/<dataset>, then ../data/mnist.pkl.gz)")
    p.add_argument("--download", action="store_true", help="fetch the data set first if it is missing")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="threads for the native kernels (default: OpenMP's, honouring OMP_NUM_THREADS)")
    p.add_argument("--seed", type=_nonneg_int, default=None,
                   help="seed for numpy's and Python's generators (default: unseeded, as the book)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="precision of the network (default: %(default)s, as the book)")


def _chapter1(args):
    from . import mnist_loader, network
    from ._config import num_threads
    if args.seed is not None:
        np.random.seed(args.seed)
        random.seed(args.seed)
    t = time.perf_counter()
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper(
        args.data, dataset=args.dataset, download=args.download)
    print("Loaded %s: %d training, %d test images in %.2f s" % (
        args.dataset, len(training_data), len(test_data), time.perf_counter() - t))
    net = network.Network(args.sizes, dtype=np.dtype(args.dtype))
    timer = _EpochTimer(sys.stdout)
    old, sys.stdout = sys.stdout, timer
    try:
        with num_threads(args.threads):
            net.SGD(training_data, args.epochs, args.mini_batch_size, args.eta, test_data=test_data)
    finally:
        sys.stdout = old
    if timer.times:
        print("%d epochs in %.2f s (%.3f s per epoch, including the evaluation on %d test images)" % (
            len(timer.times), sum(timer.times), sum(timer.times) / len(timer.times), len(test_data)))
    return 0


def _info(args):
    from ._config import show_config
    show_config()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="nnfast", description=__doc__.split("\n\n")[0].strip("`"),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    from ._version import __version__
    parser.add_argument("--version", action="version", version="nnfast " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c1 = sub.add_parser("chapter1", help="train chapter 1's network (book settings by default)",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                        description="Chapter 1: a [784, 30, 10] sigmoid network, quadratic cost, SGD with "
                                    "mini-batches of 10 and eta 3.0 for 30 epochs, evaluated on the 10,000 "
                                    "test images after each epoch, as the book's network.py.")
    _add_common(c1)
    c1.add_argument("--sizes", type=_sizes, default=[784, 30, 10], help="layer sizes, comma-separated")
    c1.add_argument("--epochs", type=_nonneg_int, default=30, help="epochs")
    c1.add_argument("--mini-batch-size", type=_positive_int, default=10, help="mini-batch size")
    c1.add_argument("--eta", type=_positive_float, default=3.0, help="learning rate")
    c1.set_defaults(func=_chapter1)

    info = sub.add_parser("info", help="show the build and machine configuration")
    info.set_defaults(func=_info)
    sub.add_parser("download", help="fetch MNIST or Fashion-MNIST's IDX files", add_help=False)
    sub.add_parser("expand", help="write the expanded training set (chapter 6)", add_help=False)
    from ._cmd_chapters45 import register as _reg45; _reg45(sub, _add_common)

    if argv and argv[0] in ("download", "expand"):
        if argv[0] == "download":
            from ._download import main as run
        else:
            from .expand_mnist import main as run
        return run(argv[1:])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "sizes", None) and args.sizes[0] != 784:
        parser.error("--sizes must start with 784, the number of pixels in an image")
    if getattr(args, "sizes", None) and args.sizes[-1] != 10:
        parser.error("--sizes must end with 10, one output per class")
    try:
        return args.func(args)
    except (FileNotFoundError, PermissionError, ValueError) as e:
        print("nnfast %s: %s" % (args.command, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnnfast %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
