"""Thread count and runtime configuration.

nnfast's kernels run on their own OpenMP threads.  The count defaults to
OpenMP's own default (which honours ``OMP_NUM_THREADS``) and can be changed with
``set_num_threads`` or, for a block of code, ``with nnfast.num_threads(n):``.
While our threads run, the BLAS that scipy uses is held to one thread so the
two pools never oversubscribe the cores.
"""
import contextlib
import threading

from . import _core
from ._version import __version__

_local = {"num_threads": None}
_lock = threading.Lock()


def get_num_threads():
    """Number of threads the native kernels use."""
    n = _local["num_threads"]
    if n is None:
        n = _core.omp_max_threads()
    return max(1, int(n))


def set_num_threads(n):
    """Set the number of threads for the native kernels (None: back to the default).

    Without OpenMP the kernels are serial whatever is set here.
    """
    if n is not None:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError("set_num_threads: n must be a positive integer or None, got %r" % (n,))
        n = int(n)
        if n < 1:
            raise ValueError("set_num_threads: n must be >= 1, got %d" % n)
    with _lock:
        _local["num_threads"] = n


@contextlib.contextmanager
def num_threads(n):
    """Context manager: use ``n`` threads inside the block, restore afterwards."""
    with _lock:
        old = _local["num_threads"]
    set_num_threads(n)
    try:
        yield get_num_threads()
    finally:
        with _lock:
            _local["num_threads"] = old


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
    import os
    import platform

    import numpy
    import scipy

    cfg = {
        "version": __version__,
        "openmp": _core.openmp_enabled(),
        "num_threads": effective_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
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
        print("  SIMD:         %s (dense kernels: %s)" % (cfg["simd"], cfg["dense_kernels"]))
        for b in cfg["blas"]:
            print("  BLAS:         %s %s (%s, %s threads) %s" % (b["internal_api"], b["version"], b["architecture"],
                                                             b["num_threads"], b["filepath"]))
        print("  numpy %s, scipy %s, Python %s on %s with %s CPUs" % (
            cfg["numpy"], cfg["scipy"], cfg["python"], cfg["machine"], cfg["cpu_count"]))
    return cfg
