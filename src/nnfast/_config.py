"""Thread count and runtime configuration.

nnfast's kernels run on their own OpenMP threads.  By default a native loop uses up to
``default_threads()`` of them: OpenMP's count when ``OMP_NUM_THREADS`` is set, else the
fewest of OpenMP's count, the CPUs this process may run on (its affinity mask) and the
CPUs a cgroup quota grants (as scikit-learn's ``_openmp_effective_n_threads``); inside
that bound the loop itself goes on with fewer while waiting for each other costs the
threads more than they gain (csrc/threads.c).  ``set_num_threads(n)`` or, for a block of
code, ``with nnfast.num_threads(n):`` sets the bound to ``n``; ``adapt=False`` fixes the
count at exactly ``n``.  While our threads run, the BLAS that scipy uses is held to one
thread so the two pools never oversubscribe the cores.
"""
import contextlib
import math
import os
import threading

# How OpenMP's threads wait, chosen before libgomp starts (it reads the environment once,
# when it is loaded, which importing _core below does; a libgomp some other module loaded
# earlier keeps its own).  Unset, GNU OpenMP spins 300,000 times (about 6 ms here, a pause
# takes 20 ns) at every barrier and after every parallel region before it sleeps, burning
# a core that another program may need: measured here, 2.7 ms of CPU burnt in each 20 ms
# pause between two-thread native calls, against 0.3 ms with SPINCOUNT.  SPINCOUNT spins
# (about 0.2 ms) still cover the microseconds the threads of one mini-batch wait for each
# other; a longer wait (the other thread lost its core) sleeps.
SPINCOUNT = 10000


def bounded_spin(environ=os.environ):
    """Set GOMP_SPINCOUNT=SPINCOUNT unless the user chose a waiting policy; returns what is set."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = str(SPINCOUNT)
    return environ.get("GOMP_SPINCOUNT")


_spin_added = "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
GOMP_SPINCOUNT = bounded_spin()    # what libgomp was started with (None: the user's OMP_WAIT_POLICY)

from . import _core  # noqa: E402 - after the waiting policy is set

if _spin_added:
    # libgomp has read it: the programs this process starts get OpenMP's default back
    os.environ.pop("GOMP_SPINCOUNT", None)
from ._version import __version__  # noqa: E402

_local = {"num_threads": None, "adapt": True}
_lock = threading.Lock()


def cgroup_cpus(root="/sys/fs/cgroup"):
    """CPUs a cgroup CPU quota grants, ceil(quota / period), or None without a quota.

    cgroup v2 writes "quota period" (or "max period") in cpu.max; v1 writes
    cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us."""
    def read(*parts):
        with open(os.path.join(root, *parts)) as f:
            return f.read().split()

    try:
        quota, period = read("cpu.max")[:2]
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        try:
            quota, period = int(read(folder, "cpu.cfs_quota_us")[0]), int(read(folder, "cpu.cfs_period_us")[0])
        except (OSError, ValueError, IndexError):
            continue
        return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
    return None


def cpu_count():
    """CPUs this process may use: os.cpu_count(), its affinity mask and a cgroup quota."""
    n = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        n = min(n, len(os.sched_getaffinity(0)) or n)
    quota = cgroup_cpus()
    return max(1, min(n, quota) if quota else n)


def default_threads():
    """The most threads a native loop uses by default (scikit-learn's rule): OpenMP's
    count when OMP_NUM_THREADS is set, else the smaller of it and cpu_count()."""
    omp = _core.omp_max_threads()
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, omp)
    return max(1, min(omp, cpu_count()))


def get_num_threads():
    """Number of threads the native kernels use at most (exactly, after adapt=False)."""
    n = _local["num_threads"]
    if n is None:
        n = default_threads()
    return max(1, int(n))


def set_thread_mode(mode):
    """How the native loops choose threads: _core.ADAPT, FIXED or CYCLE (tests)."""
    _core.set_thread_mode(mode)


def thread_report():
    """Per native loop (training, and evaluation: predict and monitoring), of all three networks:
    (threads it settled on (0: not run adaptively yet), trials of another
    count, seconds they took, drops for waiting), from csrc/threads.c's saved state."""
    return {"train": _core.gov_state(0), "evaluate": _core.gov_state(1)}


def _apply(n, adapt):
    """Up to n threads (None: the default bound), the loops choosing (ADAPT), or exactly n."""
    _local["num_threads"], _local["adapt"] = n, adapt
    set_thread_mode(_core.ADAPT if adapt else _core.FIXED)


def set_num_threads(n, adapt=True):
    """Let the native kernels use up to ``n`` threads (None: back to ``default_threads()``);
    each loop goes on with fewer while waiting for each other costs more than the threads
    gain.  ``adapt=False``: exactly ``n`` (benchmarks that time a given count).

    Without OpenMP the kernels are serial whatever is set here.
    """
    if n is not None:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError("set_num_threads: n must be a positive integer or None, got %r" % (n,))
        n = int(n)
        if n < 1:
            raise ValueError("set_num_threads: n must be >= 1, got %d" % n)
    if not isinstance(adapt, bool):
        raise TypeError("set_num_threads: adapt must be True or False, got %r" % (adapt,))
    with _lock:
        _apply(n, adapt)


@contextlib.contextmanager
def num_threads(n, adapt=True):
    """Context manager: ``set_num_threads(n, adapt)`` inside the block, restored afterwards."""
    with _lock:
        old = (_local["num_threads"], _local["adapt"])
    set_num_threads(n, adapt)
    try:
        yield get_num_threads()
    finally:
        with _lock:
            _apply(*old)


def effective_threads():
    """Threads a native call should use now: 1 without OpenMP."""
    return get_num_threads() if _core.openmp_enabled() else 1


_controller = None


def blas_limit(n):
    """Context manager holding scipy's (and numpy's) BLAS to ``n`` threads.

    The threadpoolctl controller (which scans the loaded libraries, ~1 ms) is made
    once; entering and leaving a limit then costs microseconds."""
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    if _controller is None:
        import scipy.linalg.cython_blas  # noqa: F401 - scipy's BLAS loaded before the scan
        _controller = ThreadpoolController()
    return _controller.limit(limits=int(n), user_api="blas")


def _blas_info():
    import scipy.linalg.cython_blas  # noqa: F401 - make sure scipy's BLAS is loaded
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return []
    keep = ("internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")
    return [{k: d.get(k) for k in keep} for d in threadpool_info() if d.get("user_api") == "blas"]


def show_config(print_it=True):
    """Print and return a dict describing this build and the machine it runs on."""
    import platform

    import numpy
    import scipy

    cfg = {
        "version": __version__,
        "openmp": _core.openmp_enabled(),
        "num_threads": effective_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "gomp_spincount": GOMP_SPINCOUNT,
        "simd": _core.simd_name(),
        "dense_kernels": _core.dense_path(),
        "blas": _blas_info(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if print_it:
        print("nnfast %s" % cfg["version"])
        print("  OpenMP:       %s" % ("yes" if cfg["openmp"] else "no (serial build)"))
        print("  threads:      %d%s" % (cfg["num_threads"], " (OMP_NUM_THREADS=%s)" % cfg["omp_num_threads_env"]
                                       if cfg["omp_num_threads_env"] else ""))
        print("  OpenMP wait:  %s" % ("GOMP_SPINCOUNT=%s" % cfg["gomp_spincount"] if cfg["gomp_spincount"]
                                       else "OMP_WAIT_POLICY=%s" % os.environ.get("OMP_WAIT_POLICY")))
        print("  SIMD:         %s (dense kernels: %s)" % (cfg["simd"], cfg["dense_kernels"]))
        for b in cfg["blas"]:
            print("  BLAS:         %s %s (%s, %s threads) %s" % (b["internal_api"], b["version"], b["architecture"],
                                                             b["num_threads"], b["filepath"]))
        print("  numpy %s, scipy %s, Python %s on %s with %s CPUs" % (
            cfg["numpy"], cfg["scipy"], cfg["python"], cfg["machine"], cfg["cpu_count"]))
    return cfg
