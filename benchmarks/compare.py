"""nnfast against the book's code, batched numpy and PyTorch: one run, one table.

    NNFAST_DATA=<folder holding mnist/ (and fashion-mnist/)> python benchmarks/compare.py
    python benchmarks/compare.py --dataset fashion-mnist      # the same tables on Fashion-MNIST
    python benchmarks/compare.py --quick                      # CI smoke: a few configs, small data
    python benchmarks/compare.py --sections chapter1,chapter3 --epochs 3 --markdown out.md --json out.json

Sections (a registry; each skips with a note when what it needs is missing):

chapter1  ``nnfast.network`` on the 60,000 training images (MNIST, or the
          ``--dataset``), sizes [784,30,10] and [784,100,10], mini-batch 10, 32,
          100 and 1000, float64 and float32, 1 and 2 threads, eta 3.0, quadratic
          cost.  Then the book path: the whole chapter-1 job as the book runs it
          (``load_data_wrapper()``'s lists, [784,30,10], mini-batch 10, eta 3.0,
          ``--book-epochs`` epochs (30), the test evaluation after each epoch,
          the default thread count), beside the same job on array pairs; the
          ratio of the two is issue 13's "lists at no cost" target (<= 1.05x).
chapter3  ``nnfast.network2``: [784,100,10], cross-entropy, lmbda 5.0, eta 0.5,
          mini-batch 10, all four monitor flags on, 50,000 training and 10,000
          evaluation images (the last 10,000 of the training file).
chapter6  whatever ``benchmarks/bench_network3.py:compare_network3`` reports
          (the chapter's four networks at mini-batch 10 and 64), when that
          file exists.
busy      the thread policy (csrc/threads.c) with one CPU-bound process started
          beside nnfast, then idle: medians of three interleaved runs of a
          chapter-1 epoch ([784,30,10], mini-batch 10, float64, 60,000 images),
          a network3 conv1 epoch on 6,000 images and network3 predict on 10,000
          images, each on exactly 1 thread, exactly 2 threads and the default
          (up to 2, as the loops choose); and how long
          SGD (network and network3) takes to stop after SIGINT, busy and idle.

Columns: seconds per training epoch (chapter 3: per monitored epoch) for

* nnfast: ``Network(...).SGD(...)`` on array pairs, timed over ``--epochs``
  epochs in one call and divided (the one-off conversion to contiguous arrays
  is inside the timing);
* reference: ``nnfast.reference`` (the book's per-example code), timed on a
  subset of ``--ref-subset`` examples for one epoch and scaled linearly to the
  full set (the reference is float64 whatever the row's dtype; float32 rows
  repeat the float64 figure);
* numpy: ``numpy_batched.py``, the same algorithm on whole mini-batches, BLAS
  held to the row's thread count with threadpoolctl;
* torch: ``torch_peer.py`` on the CPU with ``torch.set_num_threads``, the faster
  of an idiomatic autograd loop and a hand-written no-autograd loop (marked
  a or m);

the speedups nnfast/peer (peer seconds divided by nnfast seconds), and nnfast's
GFLOP/s: flops per epoch / seconds per epoch, where the flops of an epoch on n
examples with mini-batch m are

    n * (4 * S + 2 * S') + ceil(n / m) * 2 * P

with S = sum(in*out) over all layers (forward 2S, weight gradients 2S), S' the
same sum over the layers after the first (back-propagated deltas 2S'), P the
number of weights and biases (the update, 2 per parameter). Elementwise work is
not counted. "% GEMM" puts that beside the best large-matrix GEMM rate (2000 x
2000, numpy's and scipy's BLAS, same dtype and thread count) measured at the
start of the same run. Accuracy: test accuracy on the data set's 10,000 t10k
images after the timed epochs.
"""
import argparse
import contextlib
import datetime
import importlib
import inspect
import io
import json
import math
import os
import platform
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from scipy.special import expit  # noqa: E402

import _bench_common as common  # noqa: E402

NNFAST_WHERE = common.ensure_nnfast_importable()

import numpy_batched  # noqa: E402
import torch_peer  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is an nnfast dependency
    threadpool_info = None

    @contextlib.contextmanager
    def threadpool_limits(limits=None, user_api=None):
        yield

SEED = 12345
REPEAT = 1  # timed runs per implementation and configuration; the best is kept (--repeat)
DT_NAMES = {np.dtype(np.float64): "float64", np.dtype(np.float32): "float32"}


# --------------------------------------------------------------------------
# machine description and GEMM rates
# --------------------------------------------------------------------------
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description():
    if threadpool_info is None:
        return []
    import scipy.linalg.cython_blas  # noqa: F401 - load scipy's BLAS too
    out = []
    for d in threadpool_info():
        if d.get("user_api") != "blas":
            continue
        lib = os.path.basename(d.get("filepath") or "")
        owner = "scipy" if "scipy.libs" in (d.get("filepath") or "") else (
            "numpy" if "numpy.libs" in (d.get("filepath") or "") else lib)
        out.append("%s %s (%s, %s)" % (d.get("internal_api"), d.get("version"), d.get("architecture"), owner))
    return out


def header(args):
    import scipy
    info = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch_peer.version() if not args.no_torch else None,
        "blas": blas_description(),
        "nnfast": None,
    }
    if NNFAST_WHERE:
        import nnfast
        cfg = {}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                cfg = nnfast.show_config()
        except Exception:  # pragma: no cover - informational only
            pass
        info["nnfast"] = "%s (%s; OpenMP %s; SIMD %s)" % (
            nnfast.__version__, NNFAST_WHERE, "yes" if cfg.get("openmp") else "no", cfg.get("simd", "?"))
    return info


def gemm_rate(dtype, threads, n=2000, reps=3):
    """Best GFLOP/s of an n x n by n x n product through numpy's and scipy's BLAS."""
    from scipy.linalg import blas
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.random((n, n)), dtype=dtype)
    b = np.asfortranarray(rng.random((n, n)), dtype=dtype)
    gemm, = blas.get_blas_funcs(("gemm",), (a,))
    best = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for name, fn in (("numpy", lambda: a @ b), ("scipy", lambda: gemm(1.0, a, b))):
            fn()
            t = min(_timeit(fn) for _ in range(reps))
            best[name] = 2.0 * n ** 3 / t / 1e9
    return best


SETTLE_SECONDS = 0.3


def settle():
    """A pause before each timed run: the BLAS and PyTorch thread pools of the run
    before keep spinning for a while after their last call and would take cores
    from whichever implementation is timed next."""
    time.sleep(SETTLE_SECONDS)


def _timeit(fn):
    settle()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def log(*a):
    print(*a, file=sys.stderr, flush=True)


def seed_all(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)


@contextlib.contextmanager
def quiet():
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def accuracy_of(weights, biases, X, y):
    """Test accuracy (fraction) of a sigmoid network given the book's weight shapes."""
    a = np.asarray(X, dtype=np.float64)
    for w, b in zip(weights, biases):
        a = expit(a @ np.asarray(w, dtype=np.float64).T + np.asarray(b, dtype=np.float64).reshape(1, -1))
    return float(np.mean(a.argmax(axis=1) == y))


def torch_accuracy(net, X, y):
    return net.accuracy(X, y) / len(y)


def fmt_s(x):
    if x is None:
        return "—"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3f" % x


def fmt_x(x):
    return "—" if x is None else ("%.0fx" % x if x >= 100 else "%.1fx" % x)


def fmt_pct(x):
    return "—" if x is None else "%.1f%%" % (100 * x)


def ratio(peer, ours):
    return peer / ours if (peer and ours) else None


def try_import(name):
    try:
        return importlib.import_module(name), None
    except ImportError as e:
        return None, "%s not importable (%s)" % (name, e)


def section_modules(ctx, sec, name):
    """nnfast.<name> and nnfast.reference.<name> for a section (None when they do not import),
    with a note in the section for each empty column (theirs and PyTorch's)."""
    mods = []
    for module, column in (("nnfast." + name, "nnfast"), ("nnfast.reference." + name, "reference")):
        mod, why = try_import(module) if NNFAST_WHERE else (None, "nnfast not importable")
        if mod is None:
            sec["notes"].append("%s column empty: %s" % (column, why))
        mods.append(mod)
    if not ctx.torch_ok():
        sec["notes"].append("torch column empty: PyTorch not installed" if not ctx.args.no_torch else
                            "torch column empty: --no-torch")
    return mods


class Context(object):
    """Data and measurements shared by the sections of one run."""

    def __init__(self, args):
        self.args = args
        self._data = {}
        self._gemm = {}

    def data(self, kind):
        if kind not in self._data:
            folder = common.dataset_dir(self.args.dataset)
            if folder is None:
                raise RuntimeError("%s not found: set NNFAST_DATA to the folder holding %s/ with the four "
                                   "IDX files" % (self.args.dataset, self.args.dataset))
            settle()
            t0 = time.perf_counter()
            self._data[kind] = common.load_idx(folder, kind)
            log("loaded %s %s: %d images in %.2f s" % (self.args.dataset, kind, len(self._data[kind][1]),
                                                       time.perf_counter() - t0))
        return self._data[kind]

    def gemm(self, dtype, threads):
        key = (np.dtype(dtype), threads)
        if key not in self._gemm:
            n = self.args.gemm_n
            r = gemm_rate(dtype, threads, n=n, reps=2 if self.args.quick else 3)
            self._gemm[key] = max(r.values())
            log("GEMM %s %dx%d, %d thread(s): numpy %.1f, scipy %.1f GFLOP/s"
                % (DT_NAMES[key[0]], n, n, threads, r["numpy"], r["scipy"]))
        return self._gemm[key]

    def torch_ok(self):
        return torch_peer.available() and not self.args.no_torch


def time_torch(sizes, dt, threads, fn_train, fn_acc, **netkw):
    """Run both PyTorch variants; return (seconds, variant letter, accuracy, result) of the faster."""
    import torch
    best = None
    torch.set_num_threads(threads)
    for variant in torch_peer.VARIANTS:
        for _ in range(REPEAT):
            with threadpool_limits(limits=threads, user_api="blas"):
                net = torch_peer.Network(sizes, dtype=dt, seed=SEED, variant=variant, **netkw)
                settle()
                t0 = time.perf_counter()
                res = fn_train(net)
                sec = time.perf_counter() - t0
            if best is None or sec < best[0]:
                best = (sec, variant[0], fn_acc(net), res)
    return best


# --------------------------------------------------------------------------
# chapter 1
# --------------------------------------------------------------------------
def chapter1(ctx):
    args = ctx.args
    sec = {"name": "chapter1", "notes": [], "rows": [], "targets": []}
    net_mod, ref_mod = section_modules(ctx, sec, "network")
    X, y = ctx.data("train")
    Xt, yt = ctx.data("test")
    n = min(args.n_train or len(y), len(y))
    X, y = X[:n], y[:n]
    epochs = args.epochs
    eta = 3.0
    if args.quick:
        grid = [([784, 30, 10], 10, np.float64, t) for t in args.threads]
    else:
        grid = [(s, m, d, t) for s in ([784, 30, 10], [784, 100, 10]) for m in args.mini_batches
                for d in (np.float64, np.float32) for t in args.threads]
    sub = min(args.ref_subset, n)
    sec["title"] = ("Chapter 1: seconds per epoch on %d %s training images, quadratic cost, eta %.1f, "
                    "%d timed epoch(s) (reference: 1 epoch on %d images, scaled x%.0f)"
                    % (n, args.dataset, eta, epochs, sub, n / sub))
    ref_cache = {}
    ref_list = common.as_training_list(X[:sub], y[:sub]) if ref_mod is not None else None
    for sizes, mbs, dt, threads in grid:
        row = _chapter1_row(ctx, sizes, mbs, dt, threads, X, y, Xt, yt, epochs, eta,
                            net_mod, ref_mod, ref_list, ref_cache)
        if "nnfast_error" in row:
            sec["notes"].append("nnfast failed on %s mini-batch %d %s: %s"
                                % (row["sizes"], mbs, row["dtype"], row["nnfast_error"]))
        sec["rows"].append(row)
        log("chapter1 %s mbs %d %s %d thr: nnfast %s, ref %s, numpy %s, torch %s s/epoch" % (
            row["sizes"], mbs, row["dtype"], threads, fmt_s(row.get("nnfast_s")), fmt_s(row.get("reference_s")),
            fmt_s(row.get("numpy_s")), fmt_s(row.get("torch_s"))))
    sec["columns"] = CH1_COLUMNS
    # the targets: float64, [784,30,10], mini-batch 10, 2 threads
    for row in sec["rows"]:
        if (row["sizes"], row["mini_batch"], row["dtype"], row["threads"]) == ("[784,30,10]", 10, "float64", 2):
            for label, key, goal in (("vs reference", "x_reference", 30.0), ("vs PyTorch", "x_torch", 15.0),
                                     ("of the GEMM rate", "pct_gemm", 0.40)):
                v = row.get(key)
                shown = fmt_pct(v) if key == "pct_gemm" else fmt_x(v)
                goal_s = fmt_pct(goal) if key == "pct_gemm" else fmt_x(goal)
                state = "n/a" if v is None else ("met" if v >= goal else "NOT met")
                sec["targets"].append("float64 [784,30,10] mini-batch 10, 2 threads: %s %s (target >= %s): %s"
                                      % (shown, label, goal_s, state))
    if net_mod is not None:
        _book_path(ctx, sec)
    return sec


BOOK_TARGET = 1.05


def _book_path(ctx, sec):
    """Two rows: the whole chapter-1 job as the book runs it, ``load_data_wrapper()``'s lists
    (50,000 training tuples, the test list evaluated after every epoch), and the same job on
    array pairs; alternated, ``--repeat`` times each, the fastest kept; default threads."""
    import nnfast
    from nnfast import mnist_loader, network
    args = ctx.args
    folder = common.dataset_dir(args.dataset)
    training, _, test = mnist_loader.load_data_wrapper(folder)
    (X, y), _, (Xt, yt) = mnist_loader.load_data(folder)
    if args.n_train:
        training, X, y = training[:args.n_train], X[:args.n_train], y[:args.n_train]
    epochs, jobs = args.book_epochs, {"lists": (training, test), "pairs": ((X, y), (Xt, yt))}
    best = {}
    for rep in range(REPEAT):
        for kind in (("lists", "pairs") if rep % 2 == 0 else ("pairs", "lists")):
            seed_all()
            net = network.Network([784, 30, 10])
            data, test_data = jobs[kind]
            with quiet():
                settle()
                t0 = time.perf_counter()
                net.SGD(data, epochs, 10, 3.0, test_data=test_data)
                s = time.perf_counter() - t0
            if s < best.get(kind, (float("inf"),))[0]:
                best[kind] = (s, accuracy_of(net.weights, net.biases, Xt, yt))
            log("chapter1 book path, %s: %.2f s for %d epochs" % (kind, s, epochs))
    for kind, label in (("lists", "[784,30,10] book path: lists"), ("pairs", "[784,30,10] book job: array pairs")):
        sec["rows"].append({"sizes": label, "mini_batch": 10, "dtype": "float64",
                            "threads": "%d (default)" % nnfast.get_num_threads(),
                            "nnfast_s": best[kind][0] / epochs, "nnfast_acc": best[kind][1],
                            "book_total_s": best[kind][0], "book_epochs": epochs})
    r = best["lists"][0] / best["pairs"][0]
    sec["targets"].append("book path: %d epochs from load_data_wrapper()'s lists %.2f s, the same job on array pairs "
                          "%.2f s: %.3fx (target <= %.2fx): %s" % (epochs, best["lists"][0], best["pairs"][0], r,
                                                                    BOOK_TARGET, "met" if r <= BOOK_TARGET else "NOT met"))
    sec["notes"].append("book rows: %d training examples, seconds per epoch of the whole job (SGD's set-up and the "
                        "test evaluation after each epoch included), best of %d alternated run(s)"
                        % (len(y), REPEAT))


def _chapter1_row(ctx, sizes, mbs, dt, threads, X, y, Xt, yt, epochs, eta, net_mod, ref_mod, ref_list, ref_cache):
    row = {"sizes": str(sizes).replace(" ", ""), "mini_batch": mbs, "dtype": DT_NAMES[np.dtype(dt)],
           "threads": threads}
    n = len(y)
    # nnfast
    if net_mod is not None:
        import nnfast
        seed_all()
        try:
            for _ in range(REPEAT):
                seed_all()
                net = net_mod.Network(sizes, dtype=dt)
                with nnfast.num_threads(threads), quiet():
                    settle()
                    t0 = time.perf_counter()
                    net.SGD((X, y), epochs, mbs, eta)
                    s = (time.perf_counter() - t0) / epochs
                if s < row.get("nnfast_s", float("inf")):
                    row["nnfast_s"] = s
                    row["nnfast_acc"] = accuracy_of(net.weights, net.biases, Xt, yt)
        except Exception as e:  # keep the other columns when the fast path is unfinished
            row["nnfast_error"] = "%s: %s" % (type(e).__name__, e)
    # reference (float64 only; time once per sizes/mbs/threads)
    if ref_mod is not None:
        key = (tuple(sizes), mbs, threads)
        if key not in ref_cache:
            for _ in range(REPEAT):
                seed_all()
                rnet = ref_mod.Network(sizes)
                data = list(ref_list)
                with threadpool_limits(limits=threads, user_api="blas"), quiet():
                    settle()
                    t0 = time.perf_counter()
                    rnet.SGD(data, 1, mbs, eta)
                    s = (time.perf_counter() - t0) * n / len(data)
                ref_cache[key] = min(s, ref_cache.get(key, float("inf")))
        row["reference_s"] = ref_cache[key]
    # numpy batched
    for _ in range(REPEAT):
        with threadpool_limits(limits=threads, user_api="blas"):
            bnet = numpy_batched.Network(sizes, dtype=dt, seed=SEED)
            settle()
            t0 = time.perf_counter()
            bnet.SGD(X, y, epochs, mbs, eta, seed=SEED)
            s = (time.perf_counter() - t0) / epochs
        if s < row.get("numpy_s", float("inf")):
            row["numpy_s"] = s
            row["numpy_acc"] = accuracy_of(bnet.weights, bnet.biases, Xt, yt)
    # torch
    if ctx.torch_ok():
        s, v, acc, _ = time_torch(sizes, dt, threads,
                                  lambda net: net.SGD(X, y, epochs, mbs, eta, seed=SEED),
                                  lambda net: torch_accuracy(net, Xt, yt))
        row["torch_s"], row["torch_variant"], row["torch_acc"] = s / epochs, v, acc
    # derived
    ours = row.get("nnfast_s")
    for peer in ("reference", "numpy", "torch"):
        row["x_" + peer] = ratio(row.get(peer + "_s"), ours)
    flops = common.chapter1_flops(sizes, n, mbs)
    row["gflop_per_epoch"] = flops / 1e9
    row["gemm_gflops"] = ctx.gemm(dt, threads)
    if ours:
        row["nnfast_gflops"] = flops / ours / 1e9
        row["pct_gemm"] = row["nnfast_gflops"] / row["gemm_gflops"]
    return row


def _ch_cols(first, acc_label):
    return first + [
        ("x_reference", "x ref", fmt_x),
        ("x_numpy", "x numpy", fmt_x),
        ("x_torch", "x torch", fmt_x),
        ("nnfast_gflops", "nnfast GFLOP/s", lambda v: "—" if v is None else "%.1f" % v),
        ("gemm_gflops", "GEMM GFLOP/s", lambda v: "—" if v is None else "%.1f" % v),
        ("pct_gemm", "% GEMM", fmt_pct),
        ("nnfast_acc", acc_label + " nnfast", fmt_pct),
        ("numpy_acc", acc_label + " numpy", fmt_pct),
        ("torch_acc", acc_label + " torch", fmt_pct),
    ]


def _torch_cell(row):
    s = row.get("torch_s")
    return "—" if s is None else "%s %s" % (fmt_s(s), row.get("torch_variant", ""))


CH1_COLUMNS = _ch_cols([
    ("sizes", "sizes", str),
    ("mini_batch", "batch", str),
    ("dtype", "dtype", str),
    ("threads", "thr", str),
    ("nnfast_s", "nnfast s", fmt_s),
    ("reference_s", "reference s (scaled)", fmt_s),
    ("numpy_s", "numpy s", fmt_s),
    ("torch_s", "torch s", _torch_cell),
], "acc")


# --------------------------------------------------------------------------
# chapter 3
# --------------------------------------------------------------------------
CH3_COLUMNS = _ch_cols([
    ("sizes", "sizes", str),
    ("dtype", "dtype", str),
    ("threads", "thr", str),
    ("nnfast_s", "nnfast s", fmt_s),
    ("nnfast_train_s", "nnfast unmonitored s", fmt_s),
    ("reference_s", "reference s (scaled)", fmt_s),
    ("numpy_s", "numpy s", fmt_s),
    ("torch_s", "torch s", _torch_cell),
], "acc")
# the chapter-3 table has no GFLOP/s columns: monitoring is extra work
CH3_COLUMNS = [c for c in CH3_COLUMNS if c[0] not in ("nnfast_gflops", "gemm_gflops", "pct_gemm")]


def _nnfast_network2_sgd(net, data, epochs, mbs, eta, lmbda, evaluation, monitor):
    """network2's SGD with all four monitor flags set to ``monitor``; data are array pairs."""
    flags = dict(monitor_evaluation_cost=monitor, monitor_evaluation_accuracy=monitor,
                 monitor_training_cost=monitor, monitor_training_accuracy=monitor)
    return net.SGD(data, epochs, mbs, eta, lmbda=lmbda, evaluation_data=evaluation if monitor else None, **flags)


def chapter3(ctx):
    args = ctx.args
    sec = {"name": "chapter3", "notes": [], "rows": [], "targets": [], "columns": CH3_COLUMNS}
    n2, ref2 = section_modules(ctx, sec, "network2")
    Xall, yall = ctx.data("train")
    Xt, yt = ctx.data("test")
    n_train, n_eval = (5000, 1000) if args.quick else (50000, 10000)
    if args.n_train:
        n_train = min(args.n_train, len(yall) - n_eval)
    X, y = Xall[:n_train], yall[:n_train]
    Xe, ye = Xall[len(yall) - n_eval:], yall[len(yall) - n_eval:]
    sizes, mbs, eta, lmbda, epochs = [784, 100, 10], 10, 0.5, 5.0, args.epochs
    sub = min(args.ref_subset, n_train)
    scale = n_train / sub
    sub_eval = max(1, int(round(n_eval / scale)))
    sec["title"] = ("Chapter 3: seconds per monitored epoch, %s, cross-entropy, lmbda %.1f, eta %.1f, mini-batch %d, "
                    "all four monitor flags, %d training + %d evaluation images, %d timed epoch(s) "
                    "(reference: 1 epoch on %d + %d images, scaled x%.0f)"
                    % (str(sizes).replace(" ", ""), lmbda, eta, mbs, n_train, n_eval, epochs, sub, sub_eval, scale))
    dtypes = [np.float64] if args.quick else [np.float64, np.float32]
    Y = common.one_hot(y, 10)
    ref_cache = {}
    for dt in dtypes:
        for threads in args.threads:
            row = {"sizes": str(sizes).replace(" ", ""), "dtype": DT_NAMES[np.dtype(dt)], "threads": threads}
            if n2 is not None:
                import nnfast
                kw = {} if np.dtype(dt) == np.float64 else {"dtype": dt}
                try:
                    for monitor in [True, False] * REPEAT:
                        seed_all()
                        net = n2.Network(sizes, cost=n2.CrossEntropyCost, **kw)
                        with nnfast.num_threads(threads), quiet():
                            settle()
                            t0 = time.perf_counter()
                            _nnfast_network2_sgd(net, (X, Y), epochs, mbs, eta, lmbda, (Xe, ye), monitor)
                            s = (time.perf_counter() - t0) / epochs
                        if monitor and s < row.get("nnfast_s", float("inf")):
                            row["nnfast_s"] = s
                            row["nnfast_acc"] = accuracy_of(net.weights, net.biases, Xt, yt)
                        elif not monitor:
                            row["nnfast_train_s"] = min(s, row.get("nnfast_train_s", float("inf")))
                except Exception as e:
                    row["nnfast_error"] = "%s: %s" % (type(e).__name__, e)
                    sec["notes"].append("nnfast failed on %s: %s" % (row["dtype"], row["nnfast_error"]))
            if ref2 is not None:
                if threads not in ref_cache:
                    seed_all()
                    tr = common.as_training_list(X[:sub], y[:sub])
                    ev = common.as_test_list(Xe[:sub_eval], ye[:sub_eval])
                    rnet = ref2.Network(sizes, cost=ref2.CrossEntropyCost)
                    with threadpool_limits(limits=threads, user_api="blas"), quiet():
                        settle()
                        t0 = time.perf_counter()
                        rnet.SGD(tr, 1, mbs, eta, lmbda=lmbda, evaluation_data=ev,
                                 monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                                 monitor_training_cost=True, monitor_training_accuracy=True)
                        ref_cache[threads] = (time.perf_counter() - t0) * scale
                row["reference_s"] = ref_cache[threads]
            mon = dict(evaluation_data=(Xe, ye), monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                       monitor_training_cost=True, monitor_training_accuracy=True, seed=SEED)
            for _ in range(REPEAT):
                with threadpool_limits(limits=threads, user_api="blas"):
                    bnet = numpy_batched.Network(sizes, cost="cross-entropy", init="default", dtype=dt, seed=SEED)
                    settle()
                    t0 = time.perf_counter()
                    bnet.SGD(X, y, epochs, mbs, eta, lmbda=lmbda, **mon)
                    s = (time.perf_counter() - t0) / epochs
                if s < row.get("numpy_s", float("inf")):
                    row["numpy_s"] = s
                    row["numpy_acc"] = accuracy_of(bnet.weights, bnet.biases, Xt, yt)
            if ctx.torch_ok():
                s, v, acc, _ = time_torch(sizes, dt, threads,
                                          lambda net: net.SGD(X, y, epochs, mbs, eta, lmbda=lmbda, **mon),
                                          lambda net: torch_accuracy(net, Xt, yt),
                                          cost="cross-entropy", init="default")
                row["torch_s"], row["torch_variant"], row["torch_acc"] = s / epochs, v, acc
            for peer in ("reference", "numpy", "torch"):
                row["x_" + peer] = ratio(row.get(peer + "_s"), row.get("nnfast_s"))
            sec["rows"].append(row)
            log("chapter3 %s %d thr: nnfast %s (unmonitored %s), ref %s, numpy %s, torch %s s/epoch" % (
                row["dtype"], threads, fmt_s(row.get("nnfast_s")), fmt_s(row.get("nnfast_train_s")),
                fmt_s(row.get("reference_s")), fmt_s(row.get("numpy_s")), fmt_s(row.get("torch_s"))))
    for row in sec["rows"]:
        if (row["dtype"], row["threads"]) == ("float64", 2):
            for label, key, goal in (("vs reference", "x_reference", 30.0), ("vs PyTorch", "x_torch", 10.0)):
                v = row.get(key)
                state = "n/a" if v is None else ("met" if v >= goal else "NOT met")
                sec["targets"].append("float64, 2 threads, per monitored epoch: %s %s (target >= %s): %s"
                                      % (fmt_x(v), label, fmt_x(goal), state))
            if row.get("nnfast_s") and row.get("nnfast_train_s"):
                mon_s = row["nnfast_s"] - row["nnfast_train_s"]
                share = mon_s / row["nnfast_train_s"]
                sec["targets"].append("monitoring %.3f s vs training %.3f s per epoch: %.0f%% (issue 13 target: "
                                      "<= 40%%): %s" % (mon_s, row["nnfast_train_s"], 100 * share,
                                                        "met" if share <= 0.40 else "NOT met"))
    return sec


# --------------------------------------------------------------------------
# chapter 6 (plug-in)
# --------------------------------------------------------------------------
def chapter6(ctx):
    sec = {"name": "chapter6", "title": "Chapter 6 (network3)", "notes": [], "rows": [], "targets": []}
    path = os.path.join(HERE, "bench_network3.py")
    if not os.path.exists(path):
        sec["notes"].append("skipped: benchmarks/bench_network3.py is not there yet")
        return sec
    try:
        mod = importlib.import_module("bench_network3")
        fn = mod.compare_network3
    except Exception as e:
        sec["notes"].append("skipped: bench_network3 does not import (%s: %s)" % (type(e).__name__, e))
        return sec
    offer = {"quick": ctx.args.quick, "epochs": ctx.args.epochs, "threads": ctx.args.threads,
             "data_root": common.data_root(), "seed": SEED, "no_torch": ctx.args.no_torch,
             "n_train": ctx.args.n_train, "log": log, "dataset": ctx.args.dataset,
             "batch_sizes": (10,) if ctx.args.quick else (10, 64)}
    params = inspect.signature(fn).parameters
    takes_all = any(p.kind == p.VAR_KEYWORD for p in params.values())
    kw = {k: v for k, v in offer.items() if takes_all or k in params}
    res = fn(**kw)
    if isinstance(res, str):
        sec["markdown"] = res
    elif isinstance(res, dict):
        sec["title"] = res.get("title", sec["title"])
        sec["notes"] += list(res.get("notes", []))
        sec["targets"] += list(res.get("targets", []))
        sec["rows"] = list(res.get("rows", []))
        if "markdown" in res:
            sec["markdown"] = res["markdown"]
    elif isinstance(res, (list, tuple)):
        sec["rows"] = list(res)
    return sec

# --------------------------------------------------------------------------
# busy: the thread policy beside another program
# --------------------------------------------------------------------------
BUSY_REPEAT = 3
def _ctrl_c_latency(kind, after=1.5):
    """Seconds from SIGINT (sent `after` s into SGD) to the child's except KeyboardInterrupt."""
    import signal
    import subprocess
    import nnfast
    env = dict(os.environ)   # the child imports the nnfast this process runs
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(nnfast.__file__))) + os.pathsep + \
        env.get("PYTHONPATH", "")
    child = subprocess.Popen([sys.executable, os.path.join(HERE, "sigint_child.py"), kind], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        if child.stdout.readline().strip() != "ready":
            return None
        time.sleep(after)
        sent = time.time()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        child.wait(timeout=60)
        return float(line[1]) - sent if len(line) >= 2 and line[0] == "caught" else None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def busy(ctx):
    import subprocess
    sec = {"name": "busy", "title": "Threads beside a busy core (one CPU-bound process) and idle",
           "notes": [], "rows": [], "targets": []}
    try:
        import nnfast
        from nnfast import network, network3
    except ImportError as e:
        sec["notes"].append("skipped: nnfast not importable (%s)" % e)
        return sec
    X, y = ctx.data("train")
    Xt, yt = ctx.data("test")
    n1 = min(ctx.args.n_train or 60000, len(y))
    X1, y1 = np.ascontiguousarray(X[:n1], dtype=np.float64), y[:n1]
    X3, y3 = X[:6000], y[:6000]
    Xp = Xt[:10000]
    seed_all()
    net1 = network.Network([784, 30, 10])
    seed_all()
    net3 = network3.Network([
        network3.ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
        network3.FullyConnectedLayer(20 * 12 * 12, 100), network3.SoftmaxLayer(100, 10)], 10)
    from nnfast._config import thread_report
    # (name, run, the thread count the default settled on)
    work = [("chapter-1 epoch (%d images)" % n1, lambda: net1.SGD((X1, y1), 1, 10, 3.0),
             lambda: thread_report()["train"][0]),
            ("network3 conv1 epoch (6,000 images)", lambda: net3.SGD((X3, y3), 1, 10, 0.1),
             lambda: thread_report()["train"][0]),
            ("network3 predict (10,000 images)", lambda: net3.predict(Xp),
             lambda: thread_report()["evaluate"][0])]
    configs = [("1 thread", 1), ("2 threads", 2), ("default", None)]
    with quiet():
        for _, fn, _ in work:      # warm up: first calls load data into cache, start the thread pool
            fn()
    for state in ("busy", "idle"):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if state == "busy" else None
        try:
            time.sleep(0.5)
            times, chosen = {}, {}
            for rep in range(BUSY_REPEAT):
                for name, fn, settled in work:
                    for label, n in configs:
                        with (nnfast.num_threads(n, adapt=False) if n else contextlib.nullcontext()), quiet():
                            t0 = time.perf_counter()
                            fn()
                            times.setdefault((name, label), []).append(time.perf_counter() - t0)
                    chosen.setdefault(name, []).append(settled())
                log("busy section: %s, repetition %d done" % (state, rep + 1))
            load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
            limit = 1.15 if state == "busy" else 1.05
            for name, _, _ in work:
                med = {label: float(np.median(times[(name, label)])) for label, _ in configs}
                best = min(med["1 thread"], med["2 threads"])
                r = med["default"] / best
                sec["rows"].append({"state": state, "workload": name, "1 thread": med["1 thread"],
                                    "2 threads": med["2 threads"], "default": med["default"],
                                    "default / faster": r, "target": "<= %.2f %s" % (limit, "ok" if r <= limit else "MISSED"),
                                    "settled": ",".join(str(c) for c in chosen[name]), "load": load})
            for kind in ("network", "network3"):
                lat = _ctrl_c_latency(kind)
                sec["rows"].append({"state": state, "workload": "Ctrl-C: %s SGD stops after SIGINT" % kind,
                                    "default": lat, "target": "<= 0.5 s %s" % ("ok" if lat is not None and lat <= 0.5
                                                                             else "MISSED"), "load": load})
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    sec["columns"] = [("state", "state", str), ("workload", "workload", str), ("1 thread", "1 thread s", fmt_s),
                      ("2 threads", "2 threads s", fmt_s), ("default", "default s", fmt_s),
                      ("default / faster", "default / faster", lambda v: "%.2fx" % v), ("target", "target", str),
                      ("settled", "default settled on", str),
                      ("load", "loadavg (1 min)", str)]
    sec["targets"] += ["with one core busy, the default within 1.15x of the faster of 1 and 2 threads; idle, 1.05x",
                       "Ctrl-C stops any SGD within 0.5 s, busy or idle"]
    sec["notes"].append("medians of %d interleaved runs; the CPU-bound process is `python -c \"while True: pass\"`; "
                        "the Ctrl-C rows time SIGINT to the child's `except KeyboardInterrupt` (wall clock), "
                        "1.5 s into SGD; 'default settled on': the thread count the default's loop "
                        "ended each repetition on" % BUSY_REPEAT)
    return sec


SECTIONS = {"chapter1": chapter1, "chapter3": chapter3, "chapter6": chapter6, "busy": busy}


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------
def _cell(v):
    if isinstance(v, float):
        return "%.4g" % v
    return "—" if v is None else str(v)


def section_markdown(sec):
    lines = ["### " + sec.get("title", sec["name"]), ""]
    if sec.get("markdown"):
        lines += [sec["markdown"].rstrip(), ""]
    elif sec["rows"]:
        cols = sec.get("columns")
        if cols is None:  # generic: every key seen, in order
            keys = []
            for r in sec["rows"]:
                keys += [k for k in r if k not in keys]
            cols = [(k, k, _cell) for k in keys]
        lines.append("| " + " | ".join(c[1] for c in cols) + " |")
        lines.append("|" + "|".join("---" for _ in cols) + "|")
        for r in sec["rows"]:
            cells = []
            for key, _, f in cols:
                if f is _torch_cell:
                    cells.append(_torch_cell(r))
                else:
                    v = r.get(key)
                    cells.append("—" if v is None else f(v))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for t in sec.get("targets", []):
        lines.append("- target: " + t)
    for n in sec.get("notes", []):
        lines.append("- note: " + n)
    if sec.get("targets") or sec.get("notes"):
        lines.append("")
    return "\n".join(lines)


def header_markdown(info, args):
    lines = ["## nnfast benchmark, %s" % info["date"], "",
             "- machine: %s, %s logical CPUs" % (info["cpu"], info["cpus"]),
             "- Python %s, numpy %s, scipy %s, PyTorch %s" % (
                 info["python"], info["numpy"], info["scipy"], info["torch"] or "not used"),
             "- BLAS: %s" % ("; ".join(info["blas"]) or "unknown"),
             "- nnfast: %s" % (info["nnfast"] or "not importable"),
             "- threads: %s; epochs timed per configuration: %d; best of %d run(s)%s" % (
                 ", ".join(str(t) for t in args.threads), args.epochs, max(1, args.repeat),
                 "; --quick" if args.quick else ""),
             "- s = seconds per epoch (lower is better); x peer = peer's seconds / nnfast's seconds; "
             "torch a/m = autograd or hand-written loop, whichever was faster; "
             "GFLOP/s counts n*(4*S + 2*S') + batches*2*P flops per epoch (see compare.py); "
             "%% GEMM = nnfast GFLOP/s / best %dx%d GEMM GFLOP/s (numpy or scipy BLAS) at the same dtype "
             "and threads; acc = accuracy on the 10,000 %s t10k images after the timed epochs; "
             "reference = the book's per-example code timed on a subset and scaled linearly "
             "(float64 only: float32 rows repeat it). Timings on a machine shared with other work vary "
             "from run to run; compare columns within one run." % (args.gemm_n, args.gemm_n, args.dataset), ""]
    return "\n".join(lines)


def _jsonable(o):
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items() if k != "columns"}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few configurations, small data, one epoch (CI smoke)")
    p.add_argument("--epochs", type=int, default=None, help="epochs timed per configuration (default 3; quick 1)")
    p.add_argument("--sections", default="chapter1,chapter3,chapter6",
                   help="comma-separated, from: " + ", ".join(SECTIONS))
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2)")
    p.add_argument("--mini-batches", default="10,32,100,1000",
                   help="comma-separated chapter-1 mini-batch sizes (default 10,32,100,1000)")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images (default: chapter 1 all 60,000, chapter 3 50,000; quick 6,000 / 5,000)")
    p.add_argument("--ref-subset", type=int, default=None,
                   help="examples the reference is timed on (default 2000; quick 500)")
    p.add_argument("--repeat", type=int, default=1,
                   help="timed runs per implementation and configuration, each from fresh weights; "
                        "the fastest is reported (helps on a busy machine)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when installed")
    p.add_argument("--dataset", default="mnist", choices=common.DATASETS,
                   help="the images of every section (default mnist)")
    p.add_argument("--book-epochs", type=int, default=None,
                   help="epochs of chapter 1's book-path job (default 30, the book's; quick 1)")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    p.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    args.mini_batches = [int(m) for m in args.mini_batches.split(",") if m.strip()]
    if args.threads is None:
        args.threads = [min(2, os.cpu_count() or 1)] if args.quick else [1, 2]
    else:
        args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    args.gemm_n = 1000 if args.quick else 2000
    if args.book_epochs is None:
        args.book_epochs = 1 if args.quick else 30
    if args.book_epochs < 1:
        p.error("--book-epochs must be >= 1")
    if args.ref_subset is None:
        args.ref_subset = 500 if args.quick else 2000
    if args.n_train is None and args.quick:
        args.n_train = 6000
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        p.error("unknown section(s) %s; choose from %s" % (", ".join(bad), ", ".join(SECTIONS)))
    return args


def main(argv=None):
    global REPEAT
    args = parse_args(argv)
    REPEAT = max(1, args.repeat)
    info = header(args)
    ctx = Context(args)
    if common.dataset_dir(args.dataset) is None:
        print("%s not found: set NNFAST_DATA to the folder holding %s/ "
              "(train-/t10k- images and labels, IDX)" % (args.dataset, args.dataset), file=sys.stderr)
        return 2
    sections = []
    for name in args.sections:
        log("== %s" % name)
        try:
            sec = SECTIONS[name](ctx)
        except Exception as e:
            sec = {"name": name, "title": name, "rows": [], "targets": [],
                   "notes": ["section failed: %s: %s" % (type(e).__name__, e)]}
        sections.append(sec)
    md = header_markdown(info, args) + "\n" + "\n".join(section_markdown(s) for s in sections)
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(_jsonable({"header": info, "args": {k: v for k, v in vars(args).items()},
                                 "sections": sections}), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
