"""What the command-line commands share: the parser with one-line errors, the
common flags, argument types, data loading with errors that say what to do,
and the run wrapper that times the book's epoch lines."""
import argparse
import os
import random
import sys
import time

import numpy as np


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``nnfast chapter3: error: <reason> (see --help)``, status 2."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's layout and shows defaults, except where the default is a preset's."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


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


class CommandError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


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


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number, got %r" % text) from None
    if not (v >= 0 and v < float("inf")):
        raise argparse.ArgumentTypeError("must be a finite number >= 0, got %r" % text)
    return v


def _sizes(text):
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated layer sizes like 784,30,10, got %r" % text) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError("need at least two positive layer sizes, got %r" % text)
    if sizes[0] != 784:
        raise argparse.ArgumentTypeError("must start with 784, the number of pixels in an image, got %r" % text)
    if sizes[-1] != 10:
        raise argparse.ArgumentTypeError("must end with 10, one output per class, got %r" % text)
    return sizes


def _add_common(p, epochs=None, dtype="float64"):
    """The flags every training command shares.  ``epochs``: the command's default
    (None: its preset's).  A command may add its own version of any of them."""
    from .. import mnist_loader
    for container in [p] + list(getattr(p, "_action_groups", [])):
        container.conflict_handler = "resolve"      # a command's own --epochs etc. replaces these
    p.add_argument("--dataset", default="mnist", choices=mnist_loader.DATASETS,
                   help="which data set (default: %(default)s)")
    p.add_argument("--data", metavar="PATH",
                   help="folder with the four IDX files, or the book's mnist.pkl.gz "
                        "(default: $NNFAST_DATA/<dataset>, then ~/.cache/nnfast/<dataset>, then ../data/mnist.pkl.gz)")
    p.add_argument("--download", action="store_true", help="fetch the data set first if it is missing")
    p.add_argument("--pixel-scale", type=int, choices=mnist_loader.PIXEL_SCALES, default=255,
                   help="divide the IDX files' pixel bytes by 255 (default: white is 1.0) or by 256 (as the "
                        "book's mnist.pkl.gz stores them)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="threads for the native kernels (default: OpenMP's, honouring OMP_NUM_THREADS)")
    p.add_argument("--seed", type=_nonneg_int, default=None,
                   help="seed for numpy's and Python's generators (default: unseeded, as the book)")
    p.add_argument("--dtype", choices=["float64", "float32"], default=dtype,
                   help="precision of the network (default: %(default)s, as the book)")
    p.add_argument("--epochs", type=_nonneg_int, default=epochs,
                   help="epochs" + ("" if epochs is not None else " (default: the preset's)"))
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and none of nnfast's own lines: stdout holds only the book's lines")
    p.add_argument("--save", metavar="PATH", help="save the trained network there")
    p.add_argument("--history", metavar="PATH",
                   help="write each epoch's costs, accuracies and time there as JSON, after every epoch "
                        "(draw it with `nnfast plot`)")


# ---------------------------------------------------------------------------
# shared by the training commands
# ---------------------------------------------------------------------------

def _check_writable(path, flag):
    """Fail before loading and training, not after, when ``path`` cannot be written."""
    from .._files import check_writable
    try:
        check_writable(path, flag)
    except OSError as e:
        raise CommandError(e.strerror or str(e)) from None


def _begin(args):
    """Seed, check output paths; returns (say, progress) for the run."""
    _check_writable(getattr(args, "save", None), "--save")
    _check_writable(getattr(args, "history", None), "--history")
    if args.seed is not None:
        np.random.seed(args.seed)
        random.seed(args.seed)

    def say(*a):
        if not args.quiet:
            print(*a)
            sys.stdout.flush()
    return say, (False if args.quiet else None)


def download_failed(e):
    """A DownloadError in at most five short lines: what was tried, and the three ways forward."""
    from ..data.registry import DATASETS
    other = [d for d in DATASETS if d != e.dataset][0]
    n = len(e.missing)
    return "\n".join([
        "cannot download %s into %s (%d file%s missing)" % (e.dataset, e.folder, n, "s" * (n != 1)),
        "  " + e.tried_line(),
        "  --data DIR: train on a folder holding the four IDX .gz files, placed there by hand",
        "  NNFAST_DATA=DIR: the same, with the files in DIR/%s/" % e.dataset,
        "  --dataset %s: %s instead (other mirrors), or its files placed by hand"
        % (other, {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[other]),
    ])


def _load(args, expanded=False, loader=None):
    """The data set as mnist_loader.load_data gives it, with one-line errors that say what to do."""
    from .. import mnist_loader
    from ..data.download import DownloadError
    t = time.perf_counter()
    try:
        sets = (loader or mnist_loader.load_data)(args.data, dataset=args.dataset, expanded=expanded,
                                                  download=args.download,
                                                  pixel_scale=getattr(args, "pixel_scale", 255))
    except DownloadError as e:
        raise CommandError(download_failed(e)) from None
    except FileNotFoundError as e:
        lines = str(e).splitlines()
        first = lines[0].split(";")[0].rstrip(".: ")
        looked = [l.strip()[2:] for l in lines[1:] if l.strip().startswith("- ")]
        if looked:
            first = "%s (looked in %s)" % (first.replace(". Looked in", ""), "; ".join(looked))
        if expanded:
            raise CommandError("%s; make it with `nnfast expand --dataset %s` (or give its .npz with --data)"
                               % (first, args.dataset)) from None
        hint = "" if args.download else "; add --download to fetch it"
        raise CommandError("%s%s, or give a folder with --data" % (first, hint)) from None
    return sets, time.perf_counter() - t


def _history_for(args, command, extra=None, suffix=""):
    """A History that SGD writes after every epoch, with the command line in its settings."""
    if not args.history:
        return None
    from ..history import History
    path = args.history
    if suffix:
        stem, ext = os.path.splitext(path)
        path = stem + suffix + (ext or ".json")
    argv = getattr(args, "argv", None) or [command]
    settings = {"command": "nnfast " + " ".join(argv),
                "dataset": args.dataset, "seed": args.seed}
    settings.update(extra or {})
    return History(path, settings)


def _run_book(args, say, fn):
    """Run ``fn()`` (an SGD call) with the epoch timer on stdout unless --quiet."""
    from .._config import num_threads
    timer = _EpochTimer(sys.stdout)
    old = sys.stdout
    if not args.quiet:
        sys.stdout = timer
    try:
        with num_threads(args.threads):
            result = fn()
    finally:
        sys.stdout = old
    return result, timer.times
