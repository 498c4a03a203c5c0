"""What running on a Dask cluster needs: private random generators per task, a
client (a LocalCluster of worker processes, or an existing scheduler), and the
data loaded once per worker process.

Private generators.  The book's networks draw their initial weights from
``np.random`` and shuffle with ``random.shuffle``: module-level generators that
every thread of a process shares.  A Dask worker runs its own threads beside
the task's (the event loop draws from ``random`` for connection back-off and
for choosing peers), so seeding the global generators at the start of a task
does not fix the task's stream.  ``private_generators(seed)`` instead makes the
module functions ``random.*`` and ``np.random.*`` thread-aware for the length
of the block: called from the thread inside the block they draw from a
``random.Random(seed)`` and an ``np.random.RandomState(seed)`` of its own;
called from any other thread they draw from the global generators as before.
``random.seed(s)`` and ``random.Random(s)`` (likewise ``np.random.seed(s)``
and ``RandomState(s)``) give the same streams, so a task trained in the block
ends exactly where ``np.random.seed(s); random.seed(s)`` and the same training
in a fresh process end, whichever worker ran it and whatever else ran there.
"""
import contextlib
import os
import random
import signal
import sys
import threading
import time

import numpy as np

_tls = threading.local()
_lock = threading.Lock()
_active = [0]          # blocks open in any thread; the dispatchers are installed while > 0
_originals = {}        # (module, name) -> the module's own function


def _targets():
    """(module, name, owner) of every module function bound to a global generator."""
    out = [(random, name, "py") for name, v in vars(random).items()
           if getattr(v, "__self__", None) is random._inst]
    rand = np.random.mtrand._rand
    out += [(np.random, name, "np") for name in dir(np.random)
            if getattr(getattr(np.random, name), "__self__", None) is rand]
    out.append((np.random, "seed", "np"))     # a module function, not a bound method
    return out


def _dispatcher(original, name, owner):
    def dispatch(*args, **kwargs):
        gen = getattr(_tls, owner, None)
        if gen is None:
            return original(*args, **kwargs)
        return getattr(gen, name)(*args, **kwargs)
    dispatch.__name__ = name
    dispatch.__doc__ = getattr(original, "__doc__", None)
    dispatch.__wrapped__ = original
    return dispatch


def _install():
    for module, name, owner in _targets():
        original = getattr(module, name)
        _originals[(module, name)] = original
        setattr(module, name, _dispatcher(original, name, owner))


def _uninstall():
    for (module, name), original in _originals.items():
        setattr(module, name, original)
    _originals.clear()


@contextlib.contextmanager
def private_generators(seed):
    """Inside the block, this thread's ``random.*`` and ``np.random.*`` draw from
    generators seeded with ``seed`` (as ``random.seed(seed)`` and
    ``np.random.seed(seed)`` would seed the global ones); other threads, and this
    one after the block, see the global generators untouched."""
    seed = int(seed)
    previous = (getattr(_tls, "py", None), getattr(_tls, "np", None))
    with _lock:
        if _active[0] == 0:
            _install()
        _active[0] += 1
    _tls.py, _tls.np = random.Random(seed), np.random.RandomState(seed)
    try:
        yield
    finally:
        _tls.py, _tls.np = previous
        with _lock:
            _active[0] -= 1
            if _active[0] == 0:
                _uninstall()


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------

MISSING = "needs Dask's distributed scheduler: pip install 'nnfast[cluster]' (dask[distributed])"


def require_dask(what="this"):
    """Import ``dask.distributed`` or raise ImportError with the one line that says how to get it."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError("%s %s" % (what, MISSING)) from None
    return distributed


def default_workers():
    """One worker process per core."""
    return max(1, os.cpu_count() or 1)


def threads_per_worker(workers):
    """Native threads for each of ``workers`` processes on this machine: cores / workers."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def check_workers(workers):
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError("workers must be a whole number >= 1, got %r" % (workers,))
    return workers


@contextlib.contextmanager
def cluster(workers=None, scheduler=None, timeout=10.0, what="sweep"):
    """A ``distributed.Client``: on ``scheduler`` (an address) if given, else on a
    LocalCluster of ``workers`` processes with one Dask thread each.  A scheduler
    that does not answer within ``timeout`` seconds is a ValueError naming it."""
    distributed = require_dask(what)
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError("scheduler must be an address like tcp://host:8786, got %r" % (scheduler,))
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise ValueError("scheduler %s did not answer within %g s (%s)"
                             % (scheduler, timeout, " ".join(str(e).split())[:200])) from None
        try:
            yield client
        finally:
            client.close()
        return
    workers = check_workers(default_workers() if workers is None else workers)
    local = _start_local(distributed, workers)
    try:
        client = distributed.Client(local)
        try:
            yield client
        finally:
            client.close()
    finally:
        local.close()


def _start_local(distributed, workers):
    """A LocalCluster whose worker processes ignore SIGINT: Ctrl-C in a terminal reaches the
    whole process group, and the sweep (not each worker) should handle it.  Ignored signals
    stay ignored in the processes started meanwhile."""
    import signal
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", silence_logs=40)   # any free port
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def collect(client, futures, each):
    """Call ``each(future)`` for every one of ``futures`` as it finishes; on any error or
    Ctrl-C cancel the rest and re-raise.

    Ctrl-C is held back while Dask's client is at work and raised here, between its
    calls: a KeyboardInterrupt that lands inside the client's blocking wait can reach
    its event loop half set up (distributed 2026.8 then logs a NameError traceback from
    ``sync.<locals>.cancel``), and ``each`` (which saves a finished point) is never cut
    in half."""
    distributed = require_dask("collect")
    hits = []
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum)) if main else None
    try:
        pending = distributed.as_completed(futures)
        while not pending.is_empty():
            if hits:
                raise KeyboardInterrupt
            batch = pending.next_batch(block=False)     # queue reads only: no call into the event loop
            if not batch:
                time.sleep(0.02)
            for future in batch:
                each(future)
        if hits:
            raise KeyboardInterrupt
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def dashboard_link(client):
    """The dashboard's address, or None when it is not running (on this machine's
    LocalCluster: when bokeh, which draws it, is missing)."""
    if getattr(client, "cluster", None) is not None:
        try:
            import bokeh  # noqa: F401
        except ImportError:
            return None
    try:
        info = client.scheduler_info()
        return client.dashboard_link if info.get("services", {}).get("dashboard") else None
    except Exception:  # noqa: BLE001 - a missing dashboard is not an error
        return None


# ---------------------------------------------------------------------------
# data, once per process
# ---------------------------------------------------------------------------

_data = {}
_data_lock = threading.Lock()
loads = [0]            # data sets read by this process (the tests check: once per worker)


def load_once(path, dataset, expanded):
    """``mnist_loader.load_data(path, dataset, expanded=...)``, read once per process and
    kept (the arrays are made read-only, since every task of the process shares them)."""
    key = (None if path is None else os.path.abspath(os.fspath(path)), dataset, bool(expanded))
    with _data_lock:
        if key not in _data:
            from .data.loader import load_data
            sets = load_data(key[0], dataset, expanded=expanded)
            loads[0] += 1
            for x, y in sets:
                x.setflags(write=False)
                y.setflags(write=False)
            _data[key] = sets
        return _data[key]


_aligned = {}


def aligned(sets):
    """Scattered data as the kernels take it: C-contiguous, aligned arrays.  What Dask
    hands a task can be unaligned views of its network buffers; the copy is made once
    per process and object (the scattered data is one object for every task there)."""
    with _data_lock:
        hit = _aligned.get(id(sets))
        if hit is None or hit[0] is not sets:
            fix = lambda a: a if a is None else np.require(a, requirements="CA")  # noqa: E731
            _aligned.clear()
            hit = _aligned[id(sets)] = (sets, tuple(None if p is None else tuple(fix(a) for a in p) for p in sets))
        return hit[1]


def probe_data(path, dataset, expanded):
    """Run on each worker before the tasks: load the data there (once), or say why not
    in one line naming the worker's host and the folder."""
    import socket
    try:
        sets = load_once(path, dataset, expanded)
    except (OSError, ValueError) as e:
        first = " ".join(str(e).split())
        raise FileNotFoundError("data for %s%s not found on worker %s (%s)" % (
            dataset, " (expanded)" if expanded else "", socket.gethostname(), first[:300])) from None
    return [len(y) for _, y in sets]


# ---------------------------------------------------------------------------
# ensembles: one member per task
# ---------------------------------------------------------------------------

def _train_member(net, data, epochs, mini_batch_size, eta, options, seed, threads, settings):
    """In a worker: train one member under its own generators; return the trained
    network, SGD's result, its history and the book's lines it printed."""
    import io
    from ._config import num_threads
    from .history import History
    history = History(settings=settings)
    data = aligned(data)
    out = io.StringIO()
    with private_generators(seed), num_threads(threads), contextlib.redirect_stdout(out):
        result = net.SGD(data[0], epochs, mini_batch_size, eta, data[1], data[2], progress=False, history=history,
                         **options)
    return net, result, history.to_dict(), out.getvalue()


def train_members(nets, data, epochs, mini_batch_size, eta, options, seeds, client=None, histories=None,
                  threads=None, progress=None):
    """Train each of ``nets`` with ``SGD(data[0], epochs, mini_batch_size, eta, data[1], data[2],
    **options)`` under generators seeded with its seed: here one after another, or on
    ``client`` one per task (the data scattered once to each worker), the trained
    parameters copied back into ``nets``.  Returns SGD's results, in order."""
    from .history import as_history
    histories = [as_history(h) for h in (histories or [None] * len(nets))]
    if client is None:
        from ._config import num_threads
        results = []
        for net, seed, history in zip(nets, seeds, histories):
            with private_generators(seed), num_threads(threads):
                results.append(net.SGD(data[0], epochs, mini_batch_size, eta, data[1], data[2], progress=progress,
                                       history=history, **options))
        return results
    require_dask("Ensemble.train(client=...)")
    if not client.nthreads():
        raise ValueError("Ensemble.train: the Dask cluster at %s has no workers" % client.scheduler.address)
    [shared] = client.scatter([tuple(data)], broadcast=True, hash=False)
    futures = [client.submit(_train_member, net, shared, epochs, mini_batch_size, eta, options, seed, threads,
                             dict(h.settings) if h is not None else {}, pure=False)
               for net, seed, h in zip(nets, seeds, histories)]
    index = {f.key: k for k, f in enumerate(futures)}
    results = [None] * len(nets)

    def finished(future):
        k = index[future.key]
        trained, results[k], record, lines = future.result()
        for mine, theirs in zip(nets[k].layers, trained.layers):
            mine.w, mine.b = theirs.w, theirs.b
        nets[k]._sync()
        if histories[k] is not None:
            histories[k].settings, histories[k].epochs = record["settings"], record["epochs"]
            if histories[k].path is not None:
                histories[k].save()
        sys.stdout.write(lines)       # the book's lines the member printed on its worker
        sys.stdout.flush()

    collect(client, futures, finished)
    return results

