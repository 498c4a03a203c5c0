# cython: language_level=3
"""Thin glue between Python and the C kernels in csrc/.

No logic of its own: typed memoryviews become pointers, the GIL is released
around every native call, and the thread count is passed down explicitly.
Python (the network modules) validates everything before it reaches here.
"""

cdef extern from "nnfast.h":
    int nn_openmp_enabled() nogil
    int nn_omp_max_threads() nogil
    const char *nn_simd_name() nogil


def openmp_enabled():
    """True when this build of nnfast was compiled with OpenMP."""
    return bool(nn_openmp_enabled())


def omp_max_threads():
    """OpenMP's default team size (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return nn_omp_max_threads()


def simd_name():
    """The instruction set the dense kernels dispatch to on this CPU."""
    return nn_simd_name().decode()
