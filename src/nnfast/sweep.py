"""Hyper-parameter sweeps: one of the book's networks trained over a grid of
settings, each point on a worker of a Dask cluster.

    import nnfast
    rows = nnfast.sweep("chapter1", {"eta": [0.5, 1.0, 3.0], "epochs": [5]}, seeds=2, workers=2)

Chapter 3 chooses eta, lmbda, the mini-batch size and the number of epochs by
trying them; a sweep tries the Cartesian product of the grid's values, each
with ``seeds`` seeds, as independent tasks on Dask's distributed scheduler: a
LocalCluster of worker processes on this machine, an existing cluster by its
``scheduler`` address, or a ``client`` of your own (``workers=0``: here, in
this process, without Dask).

Each point draws from generators of its own, seeded with its seed
(``nnfast._cluster.private_generators``), so it ends with exactly the weights
and accuracies it has when trained alone in one process after
``np.random.seed(seed); random.seed(seed)``, whichever worker ran it and
whatever ran beside it.  The data is loaded once per worker process (from the
data folder, as seen by each worker) or, when given as arrays, scattered to
every worker once.  A worker that dies loses no point: the scheduler reruns
its task elsewhere, from the same seed.  With ``out=`` every finished point is
written at once (atomically) to a JSON file that ``resume=`` continues and
``nnfast plot`` draws.
"""
import hashlib
import itertools
import json
import os
import socket
import sys
import time
import types

import numpy as np

from . import _atomic, _cluster, _progress
from .presets import Preset

FORMAT = "nnfast-sweep"
VERSION = 1

__all__ = ["sweep", "load", "FORMAT", "VERSION"]


# ---------------------------------------------------------------------------
# the plan: points, seeds, keys
# ---------------------------------------------------------------------------

def _check_grid(preset, grid):
    if not isinstance(grid, dict):
        raise ValueError("grid must be a dict {parameter: [values]}, got %r" % (grid,))
    if not grid:
        raise ValueError("empty grid: give at least one parameter and its values, e.g. {'eta': [0.1, 0.5]}; "
                         "%s takes %s" % (preset.label, ", ".join(preset.params())))
    out = {}
    for name, values in grid.items():
        if not isinstance(name, str):
            raise ValueError("grid parameter names must be strings, got %r" % (name,))
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, np.ndarray)):
            raise ValueError("grid %s: expected a list of values, got %r" % (name, values))
        if len(values) == 0:
            raise ValueError("grid %s: no values" % name)
        checked = [preset.check(name, v) for v in values]
        if len({json.dumps(v) for v in checked}) != len(checked):
            raise ValueError("grid %s: a value appears twice in %r" % (name, list(values)))
        out[name] = checked
    return out


def _check_seeds(seeds, seed):
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list, tuple)):
        raise ValueError("seeds must be a number of seeds or a list of seeds, got %r" % (seeds,))
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError("seeds must be >= 1, got %d" % seeds)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError("seed must be a whole number >= 0, got %r" % (seed,))
        seeds = list(range(seed, seed + seeds))
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2 ** 32 for s in seeds):
        raise ValueError("seeds must be whole numbers in [0, 2**32), got %r" % (seeds,))
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds: a seed appears twice in %r" % (seeds,))
    return list(seeds)


def _key(point, seed):
    return json.dumps([point, seed], sort_keys=True)


def plan(grid, seeds):
    """Every (point, seed) of the grid's Cartesian product, in the grid's order."""
    names = list(grid)
    return [(dict(zip(names, values)), s) for values in itertools.product(*(grid[n] for n in names))
            for s in seeds]


# ---------------------------------------------------------------------------
# one point: runs in a worker (or here)
# ---------------------------------------------------------------------------

def _worker_name():
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return "local:%s:%d" % (socket.gethostname(), os.getpid())


def _digest(net):
    """SHA-256 of every trained parameter's bytes, in order: equal iff bit-identical."""
    h = hashlib.sha256()
    if hasattr(net, "layers"):
        params = [p for layer in net.layers for p in (layer.w, layer.b)]
    else:
        params = list(net.weights) + list(net.biases)
    for p in params:
        h.update(np.ascontiguousarray(p).tobytes())
    return h.hexdigest()


def run_point(label, point, seed, data, threads=None):
    """Train ``label``'s network with ``point``'s settings under generators seeded with
    ``seed``; ``data`` is (training, validation, test) or ("load", path, dataset, expanded).
    Returns the row (a plain dict)."""
    from ._config import num_threads
    from .presets import train_point
    preset = Preset.parse(label)
    if isinstance(data, tuple) and len(data) == 4 and data[0] == "load":
        data = _cluster.load_once(*data[1:])
    else:
        data = _cluster.aligned(data)
    t0 = time.perf_counter()
    with _cluster.private_generators(seed), num_threads(threads):
        net, history, accuracy, best, test = train_point(preset, point, data)
    seconds = time.perf_counter() - t0
    settings = dict(preset.settings)
    settings.update(point)
    return {"point": point, "seed": seed, "settings": settings, "accuracy": accuracy, "best_accuracy": best,
            "test_accuracy": test, "seconds": seconds, "worker": _worker_name(), "weights_sha256": _digest(net),
            "history": history.to_dict()}


# ---------------------------------------------------------------------------
# the file
# ---------------------------------------------------------------------------

def load(path):
    """Read a sweep file written by ``sweep(out=...)``: the dict with its ``rows``."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("%s: not an nnfast sweep (%s)" % (path, str(e).splitlines()[0])) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("%s: not an nnfast sweep (expected a JSON object with \"format\": \"%s\")" % (path, FORMAT))
    if data.get("version") != VERSION:
        raise ValueError("%s: nnfast sweep version %r; this nnfast reads version %d" % (path, data.get("version"),
                                                                                       VERSION))
    if not isinstance(data.get("rows"), list) or not all(isinstance(r, dict) and "point" in r and "seed" in r
                                                        for r in data["rows"]):
        raise ValueError("%s: \"rows\" must be a list of points" % path)
    return data


def _write(path, header, rows, order):
    rank = {k: i for i, k in enumerate(order)}
    done = sorted(rows.values(), key=lambda r: rank.get(_key(r["point"], r["seed"]), len(rank)))
    text = json.dumps(dict(header, rows=done), indent=1) + "\n"
    _atomic.write_atomic(path, lambda f: f.write(text), text=True)


def _check_out(path, flag):
    if path is None:
        return None
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise ValueError("%s %s: cannot write there" % (flag, path))
    return path


# ---------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------

def _check_data(data, dataset, expanded, remote):
    """("load", path, dataset, expanded) for data read on the workers, or the arrays as given."""
    if data is None or isinstance(data, (str, os.PathLike)):
        path = None if data is None else os.fspath(data)
        if path is not None and not remote:
            path = os.path.abspath(path)
        return ("load", path, dataset, bool(expanded))
    if (isinstance(data, (tuple, list)) and len(data) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in data)):
        sets = tuple((np.asarray(x), np.asarray(y)) for x, y in data)
        for name, (x, y) in zip(("training", "validation", "test"), sets):
            if x.ndim != 2 or x.shape[1] != 784 or y.shape != (len(x),):
                raise ValueError("data: the %s set must be (x of shape (n, 784), y of shape (n,)), got %s and %s"
                                 % (name, x.shape, y.shape))
        return sets
    raise ValueError("data must be a data folder (or None: the default one) or (training, validation, test) "
                     "array pairs, got %r" % (type(data).__name__,))


def sweep(net, grid, *, seeds=1, seed=0, run=None, data=None, dataset="mnist", expanded=None, client=None,
          workers=None, scheduler=None, timeout=10.0, threads=None, out=None, resume=None, progress=None,
          on_point=None, on_start=None):
    """Train ``net`` (a preset: "chapter1", "chapter3:l2", "chapter6:conv1", ...) at every
    point of ``grid`` ({parameter: [values]}, e.g. {"eta": [0.1, 0.5], "epochs": [10]})
    with each of ``seeds`` (a count, starting at ``seed``, or a list), and return the
    rows, one per (point, seed), in the grid's order.

    Where: ``client`` (a ``distributed.Client``), else ``scheduler`` (an address; one
    that does not answer within ``timeout`` s is a ValueError), else a LocalCluster of
    ``workers`` processes (default one per core); ``workers=0`` trains here, without
    Dask.  ``threads``: native threads per task (default: cores / workers on a
    LocalCluster; elsewhere the workers' default, 1 unless changed, as Dask's
    workers start with OMP_NUM_THREADS=1).

    ``data``: a data folder (None: each worker's default, see ``mnist_loader``) read
    once per worker, or (training, validation, test) array pairs scattered once to
    every worker; ``dataset``, ``expanded`` as ``mnist_loader.load_data``.

    ``out``: a JSON file rewritten atomically after every finished point;
    ``resume``: such a file whose points are kept and not trained again (``out``
    defaults to it).  ``progress``: a bar over the points (None: when stderr is a
    terminal); ``on_point(row, done, total)`` after each point, ``on_start(info)``
    once the cluster is up (info: workers, dashboard, todo, total)."""
    preset = Preset.parse(net, run)
    grid = _check_grid(preset, grid)
    seeds = _check_seeds(seeds, seed)
    if expanded is None:
        expanded = bool(preset.settings.get("expanded", False))
    if expanded and preset.chapter != "6":
        raise ValueError("expanded: the expanded data is for chapter 6's networks, not %s" % preset.label)
    if workers is not None:
        workers = workers if workers == 0 and not isinstance(workers, bool) else _cluster.check_workers(workers)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError("threads must be a whole number >= 1 or None, got %r" % (threads,))
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError("timeout must be a number of seconds > 0, got %r" % (timeout,))
    for name, f in (("on_point", on_point), ("on_start", on_start)):
        if f is not None and not callable(f):
            raise TypeError("%s must be callable, got %r" % (name, f))
    bar = _progress.Progress(progress, unit="pt")
    resume = None if resume is None else os.fspath(resume)
    out = _check_out(out if out is not None else resume, "out")
    header = {"format": FORMAT, "version": VERSION, "net": preset.label, "dataset": dataset,
              "expanded": bool(expanded), "grid": grid, "seeds": seeds, "defaults": preset.settings}
    points = plan(grid, seeds)
    order = [_key(p, s) for p, s in points]
    rows = {}
    if resume is not None and os.path.exists(resume):
        old = load(resume)
        if old.get("net") != preset.label or old.get("dataset") != dataset:
            raise ValueError("resume %s: a sweep of %s on %s, not of %s on %s" % (
                resume, old.get("net"), old.get("dataset"), preset.label, dataset))
        wanted = set(order)
        rows = {_key(r["point"], r["seed"]): r for r in old["rows"] if _key(r["point"], r["seed"]) in wanted}
    todo = [(p, s) for p, s in points if _key(p, s) not in rows]
    remote = client is not None or scheduler is not None
    data_ref = _check_data(data, dataset, expanded, remote)

    def finished(row):
        rows[_key(row["point"], row["seed"])] = row
        if out is not None:
            _write(out, header, rows, order)
        bar.clear()
        if on_point is not None:
            on_point(row, len(rows), len(points))
        bar.update(len(rows), len(points))

    if workers == 0 and not remote:
        data_here = data_ref if data_ref[0] != "load" else _cluster.load_once(*data_ref[1:])
        if on_start is not None:
            on_start({"workers": 0, "dashboard": None, "todo": len(todo), "total": len(points)})
        bar.start("sweep", len(points))
        bar.update(len(rows), len(points))
        try:
            for p, s in todo:
                finished(run_point(preset.label, p, s, data_here, threads))
        finally:
            bar.close()
        return [rows[k] for k in order]

    if client is not None:
        _run_on(client, preset, todo, data_ref, threads, finished, bar, on_start, len(points), len(rows))
    else:
        if threads is None and scheduler is None:
            threads = _cluster.threads_per_worker(workers or _cluster.default_workers())
        with _cluster.cluster(workers, scheduler, timeout) as c:
            _run_on(c, preset, todo, data_ref, threads, finished, bar, on_start, len(points), len(rows))
    return [rows[k] for k in order]


def _run_on(client, preset, todo, data_ref, threads, finished, bar, on_start, total, done):
    """Submit a task per point, collect them as they finish; cancel the rest on any error or Ctrl-C."""
    _cluster.require_dask("sweep")
    if not client.nthreads():
        raise ValueError("the Dask cluster at %s has no workers" % client.scheduler.address)
    if data_ref[0] == "load":
        if todo:
            _probe(client, data_ref)
        data_arg = data_ref
    else:
        [data_arg] = client.scatter([data_ref], broadcast=True, hash=False)
    if on_start is not None:
        on_start({"workers": len(client.nthreads()),
                  "dashboard": _cluster.dashboard_link(client), "todo": len(todo), "total": total})
    bar.start("sweep", total)
    bar.update(done, total)
    futures = [client.submit(run_point, preset.label, p, s, data_arg, threads, pure=False,
                             key="nnfast-sweep-%s-%d-%s" % (preset.label, s, hashlib.sha1(
                                 _key(p, s).encode()).hexdigest()[:12])) for p, s in todo]
    try:
        _cluster.collect(client, futures, lambda future: finished(future.result()))
    finally:
        bar.close()


def _probe(client, data_ref):
    """Load the data on every worker now (once each), or fail naming the worker and folder."""
    results = client.run(_cluster.probe_data, *data_ref[1:], on_error="return")
    for address, r in sorted(results.items()):
        if isinstance(r, BaseException):
            raise ValueError("%s (worker %s)" % (" ".join(str(r).split()), address))


class _CallableModule(types.ModuleType):
    """``nnfast.sweep(...)`` calls ``nnfast.sweep.sweep(...)``: the module is the function's home."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
