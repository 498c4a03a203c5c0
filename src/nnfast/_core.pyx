# cython: language_level=3
"""Thin glue between Python and the C kernels in csrc/.

No logic of its own: typed memoryviews become pointers, the GIL is released
around every native call, and the thread count is passed down explicitly.
Python (the network modules) validates everything before it reaches here.
"""

from cpython.exc cimport PyErr_CheckSignals

cdef extern from "nnfast.h":
    int nn_openmp_enabled() nogil
    int nn_omp_max_threads() nogil
    const char *nn_simd_name() nogil
    int nn_simd_level() nogil
    int nn_install_fork_handler() nogil
    void nn_gov_set_mode(int mode) nogil
    ctypedef struct nn_gov:
        int level
        int mode
    int nn_gov_begin(nn_gov *g, int kind, int max_threads, unsigned long long key) nogil
    int nn_gov_threads(const nn_gov *g) nogil
    void nn_gov_end(nn_gov *g, int kind) nogil
    int nn_gov_saved_threads(int kind) nogil
    void nn_gov_saved_stats(int kind, double *trials, double *trial_seconds, double *drops) nogil

# a child made by fork() (multiprocessing's default start method on Linux) must be able to
# train after its parent did: see csrc/config.c
nn_install_fork_handler()


def openmp_enabled():
    """True when this build of nnfast was compiled with OpenMP."""
    return bool(nn_openmp_enabled())


def omp_max_threads():
    """OpenMP's default team size (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return nn_omp_max_threads()


# how the native loops choose their threads (csrc/threads.c, enum nn_gov_mode)
ADAPT, FIXED, CYCLE = 0, 1, 2


def set_thread_mode(int mode):
    """ADAPT (the default): the loops of this module use up to the thread count they are
    given, fewer while waiting costs more than the threads gain; FIXED: exactly that count;
    CYCLE (tests): another count after every mini-batch or chunk."""
    if mode not in (ADAPT, FIXED, CYCLE):
        raise ValueError("set_thread_mode: mode must be ADAPT, FIXED or CYCLE, got %r" % (mode,))
    nn_gov_set_mode(mode)


def gov_state(int kind):
    """(threads it settled on, trials of another count, their seconds, drops for waiting) of
    the saved state of loop `kind` of csrc/threads.c in this module (see _config.thread_report)."""
    cdef double a, b, c
    nn_gov_saved_stats(kind, &a, &b, &c)
    return nn_gov_saved_threads(kind), int(a), b, int(c)


def simd_level():
    """The kernels' instruction set: 0 baseline, 1 AVX2+FMA, 2 also AVX-512 (NNFAST_SIMD caps it)."""
    return nn_simd_level()


def simd_name():
    """The instruction set the dense kernels dispatch to on this CPU."""
    return nn_simd_name().decode()


# ---------------------------------------------------------------------------
# fully connected networks (csrc/dense.h)
# ---------------------------------------------------------------------------

import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free
from scipy.linalg.cython_blas cimport sgemm, dgemm

cnp.import_array()

cdef extern from "dense.h":
    ctypedef Py_ssize_t nn_size
    enum: NN_F64, NN_F32
    ctypedef struct nn_dense_net:
        int dtype
        int L
        const nn_size *sizes
        int act_hidden
        int act_out
        int cost
        void **W
        void **b
    const char *nn_dense_path() nogil
    nn_size nn_dense_eval_scratch(const nn_dense_net *net) nogil
    nn_size nn_dense_eval_rows(const nn_dense_net *net) nogil
    nn_size nn_dense_eval(const nn_dense_net *net, void *gemm, const void *X, int x_dtype, nn_size ldx, nn_size n,
                          const void *Y, nn_size ldy, double hidden_scale,
                          int64_t *pred, double *cost, void *out, void *scratch, int nthreads) nogil


def dense_path():
    """'avx2+fma', 'baseline' or 'portable' (plain C): which build of the dense kernels runs here."""
    return nn_dense_path().decode()


cdef int _code(cnp.ndarray a):
    return NN_F32 if a.dtype == np.float32 else NN_F64


# The checks below guard the C boundary itself: a pointer is only ever taken from an array
# whose dtype, shape, memory layout and writeability the kernel's reading or writing needs
# (the network modules check and convert user data before; these are cheap, per call).

cdef _need(a, name, dtype, shape=None, bint writeable=False):
    """``a`` as an ndarray of ``dtype`` (a tuple: any of them), C-contiguous and aligned, of
    ``shape`` (None entries: any), writeable when asked; else ValueError / TypeError."""
    if not isinstance(a, np.ndarray):
        raise TypeError("%s must be a numpy array, got %s" % (name, type(a).__name__))
    dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
    if a.dtype not in dtypes:
        raise TypeError("%s must have dtype %s, got %s" % (name, " or ".join(str(np.dtype(d)) for d in dtypes), a.dtype))
    if shape is not None and (a.ndim != len(shape) or any(s is not None and a.shape[i] != s for i, s in enumerate(shape))):
        raise ValueError("%s must have shape %s, got %s" % (name, tuple("n" if s is None else s for s in shape), a.shape))
    if not (a.flags.c_contiguous and a.flags.aligned):
        raise ValueError("%s must be C-contiguous and aligned" % name)
    if writeable and not a.flags.writeable:
        raise ValueError("%s must be writeable" % name)
    return a


cdef void *_ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


cdef class DenseNet:
    """Evaluation's view of a fully connected network (network.py, network2.py): the pointer
    tables into the caller's weight and bias arrays, weights in the engine's (inputs, units)
    layout.  Their training runs on the one loop of csrc/net3.c (nnfast._net3.Plan)."""
    cdef nn_dense_net net
    cdef nn_size *sizes
    cdef void **tables
    cdef list keep
    cdef object dtype
    # evaluate's per-thread scratch, kept from call to call (a monitored epoch makes two calls:
    # fresh pages each time would be cleared by the kernel)
    cdef cnp.ndarray eval_scratch

    def __cinit__(self, sizes, dtype, int act_hidden, int act_out, int cost):
        cdef int L = len(sizes) - 1
        cdef int l
        if L < 1 or any(int(v) < 1 for v in sizes):
            raise ValueError("DenseNet: sizes must hold at least two layer sizes >= 1, got %r" % (sizes,))
        if not (0 <= act_hidden <= 3 and act_out in (1, 4) and 0 <= cost <= 2):
            raise ValueError("DenseNet: bad activation or cost")
        if np.dtype(dtype) not in (np.float64, np.float32):
            raise TypeError("DenseNet: dtype must be float64 or float32")
        self.dtype = np.dtype(dtype)
        self.sizes = <nn_size *>malloc(sizeof(nn_size) * (L + 1))
        self.tables = <void **>malloc(sizeof(void *) * 2 * (L + 1))
        if self.sizes == NULL or self.tables == NULL:
            raise MemoryError()
        for l in range(2 * (L + 1)):
            self.tables[l] = NULL
        for l in range(L + 1):
            self.sizes[l] = sizes[l]
        self.net.dtype = NN_F32 if self.dtype == np.float32 else NN_F64
        self.net.L = L
        self.net.sizes = self.sizes
        self.net.act_hidden = act_hidden
        self.net.act_out = act_out
        self.net.cost = cost
        self.net.W = self.tables
        self.net.b = self.tables + (L + 1)
        self.keep = []

    def __dealloc__(self):
        free(self.sizes)
        free(self.tables)

    def set_params(self, list weights, list biases):
        """Point the kernels at these arrays: weights[l] (J_l, J_{l+1}), C-contiguous (the engine's
        layout, the transposed views of network's weights), biases[l] (J_{l+1} entries)."""
        cdef int l
        cdef int L = self.net.L
        if len(weights) != L or len(biases) != L:
            raise ValueError("set_params: %d weight and bias arrays expected" % L)
        for l in range(1, L + 1):
            J, K = self.sizes[l], self.sizes[l - 1]
            _need(weights[l - 1], "weights[%d]" % (l - 1), self.dtype, (K, J))
            if biases[l - 1].size != J:
                raise ValueError("biases[%d] must have %d entries" % (l - 1, J))
            _need(biases[l - 1], "biases[%d]" % (l - 1), self.dtype)
        for l in range(1, self.net.L + 1):
            self.net.W[l] = _ptr(weights[l - 1])
            self.net.b[l] = _ptr(biases[l - 1])
        self.keep = list(weights) + list(biases)

    @property
    def eval_rows(self):
        """Rows per chunk of ``evaluate`` (fixed by the sizes and dtype, never by the threads)."""
        return nn_dense_eval_rows(&self.net)

    def evaluate(self, cnp.ndarray X, cnp.ndarray Y=None, double hidden_scale=1.0, int nthreads=1,
                 bint want_cost=False, bint want_output=False):
        """Forward pass over every row of X: (argmax per row, cost per row or None, outputs or None).

        The products go through scipy's BLAS on chunks of rows spread over
        ``nthreads`` threads: the caller holds BLAS to one thread meanwhile."""
        if self.net.W[self.net.L] == NULL:
            raise ValueError("evaluate: set_params not called")
        _need(X, "X", (np.float32, self.dtype), (None, self.sizes[0]))
        if want_cost:
            _need(Y, "Y", self.dtype, (X.shape[0], self.sizes[self.net.L]))
        if nthreads < 1:
            raise ValueError("nthreads must be >= 1")
        cdef void *gemm = <void *>sgemm if self.net.dtype == NN_F32 else <void *>dgemm
        cdef nn_size n = X.shape[0]
        cdef int L = self.net.L
        cdef cnp.ndarray pred = np.empty(n, dtype=np.int64)
        cdef cnp.ndarray cost = np.empty(n, dtype=np.float64) if want_cost else None
        cdef cnp.ndarray out = np.empty((n, self.sizes[L]), dtype=self.dtype) if want_output else None
        # taken out while in use: another Python thread evaluating with this object makes its own
        cdef cnp.ndarray scratch = self.eval_scratch
        self.eval_scratch = None
        if scratch is None or scratch.shape[0] < nthreads * nn_dense_eval_scratch(&self.net):
            scratch = np.empty(nthreads * nn_dense_eval_scratch(&self.net), dtype=self.dtype)
        cdef const void *yp = _ptr(Y) if want_cost else NULL
        cdef nn_size ldy = Y.shape[1] if want_cost else 0
        cdef double *cp = <double *>_ptr(cost) if want_cost else NULL
        cdef void *op = _ptr(out) if want_output else NULL
        cdef const void *xp = _ptr(X)
        cdef int xd = _code(X)
        cdef nn_size ldx = X.shape[1]
        cdef int64_t *pp = <int64_t *>_ptr(pred)
        cdef void *sp = _ptr(scratch)
        cdef nn_size done = 0, got
        cdef size_t J = self.sizes[L], xsize = X.itemsize, tsize = self.dtype.itemsize
        while True:
            with nogil:
                got = nn_dense_eval(&self.net, gemm, <const char *>xp + done * ldx * xsize, xd, ldx, n - done,
                                    <const char *>yp + done * ldy * tsize if yp != NULL else NULL, ldy,
                                    hidden_scale, pp + done, cp + done if cp != NULL else NULL,
                                    <char *>op + done * J * tsize if op != NULL else NULL, sp, nthreads)
            if got < 0:
                raise MemoryError("nnfast: out of memory evaluating")
            done += got
            if done >= n:
                break
            PyErr_CheckSignals()   # stopped by a SIGINT: raise, or go on if the handler did not
        self.eval_scratch = scratch
        return pred, cost, out


# ---------------------------------------------------------------------------
# the book's random.shuffle, on row indices (csrc/shuffle.c)
# ---------------------------------------------------------------------------

cdef extern from "shuffle.h":
    int nn_py_shuffle(uint32_t *mt, int *index, int64_t *x, int64_t n) nogil


def py_shuffle(cnp.ndarray order, tuple internal_state):
    """Shuffle ``order`` (int64, C-contiguous) in place exactly as ``random.shuffle``
    would a list, from ``random.getstate()[1]`` (624 words and an index); returns that
    tuple advanced, for ``random.setstate``."""
    if order.dtype != np.int64 or not order.flags.c_contiguous or not order.flags.writeable or order.ndim != 1:
        raise ValueError("order must be a writeable C-contiguous 1-d int64 array")
    if len(internal_state) != 625:
        raise ValueError("internal_state must be random.getstate()[1] (625 integers)")
    cdef cnp.ndarray mt = np.array(internal_state[:624], dtype=np.uint32)
    cdef int index = internal_state[624]
    cdef int64_t n = order.shape[0]
    cdef uint32_t *pm = <uint32_t *>_ptr(mt)
    cdef int64_t *px = <int64_t *>_ptr(order)
    cdef int rc
    with nogil:
        rc = nn_py_shuffle(pm, &index, px, n)
    if rc != 0:
        raise ValueError("py_shuffle: %d items or generator index %d out of range" % (n, index))
    return tuple(mt.tolist()) + (index,)


# ---------------------------------------------------------------------------
# the finiteness check of input matrices (csrc/dense_impl.h's finite_block)
# ---------------------------------------------------------------------------

cdef extern from "dense.h":
    nn_size nn_first_nonfinite_row(int dtype, const void *X, nn_size n, nn_size d, nn_size ld) nogil


def first_nonfinite_row(const floating[:, ::1] X):
    """The first row of X (C-contiguous float32 or float64) holding a NaN or an infinity, or -1."""
    cdef nn_size r
    if X.shape[0] == 0 or X.shape[1] == 0:
        return -1
    with nogil:
        r = nn_first_nonfinite_row(1 if floating is float else 0, &X[0, 0], X.shape[0], X.shape[1], X.shape[1])
    return r
