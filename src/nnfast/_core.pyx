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
        void **vW
        void **vb
        void **A
        void **Z
        void **D
        void **M
        void *gemm
        void **G
    ctypedef struct nn_dense_sgd:
        const void *X
        int x_dtype
        nn_size ldx
        const void *Y
        nn_size ldy
        const int64_t *order
        nn_size n
        nn_size mbs
        double eta
        double lmbda_over_n
        int reg
        double mu
        double p_dropout
        uint64_t seed
        uint64_t counter0
        int nthreads
        volatile int *stop
        volatile nn_size *progress
        int *nonfinite
    nn_size nn_dense_train_epoch(const nn_dense_net *net, const nn_dense_sgd *opt) nogil
    int nn_dense_train_uses_blas(int dtype, int L, const nn_size *sizes, nn_size mbs, int force) nogil
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


# which training path new DenseNets take: -1 by their shape, 0 the small-batch kernels, 1 BLAS
cdef int _train_path_force = -1
_PATHS = {"auto": -1, "small": 0, "blas": 1}


def set_train_path(mode):
    """"auto" (the default): a DenseNet made from now on trains on the path its shape selects
    (csrc/dense.c, nn_dense_train_uses_blas); "small" or "blas" force one (tests, benchmarks)."""
    global _train_path_force
    if mode not in _PATHS:
        raise ValueError("set_train_path: mode must be 'auto', 'small' or 'blas', got %r" % (mode,))
    _train_path_force = _PATHS[mode]


def train_path(sizes, dtype, Py_ssize_t mbs):
    """"blas" or "small": the training path a net of these layer sizes, dtype and mini-batch
    size takes (under set_train_path's current mode)."""
    cdef Py_ssize_t L = len(sizes) - 1, l
    if L < 1 or mbs < 1:
        raise ValueError("train_path: need two layer sizes or more and mbs >= 1")
    cdef nn_size *sz = <nn_size *>malloc(sizeof(nn_size) * (L + 1))
    if sz == NULL:
        raise MemoryError()
    for l in range(L + 1):
        sz[l] = sizes[l]
    cdef int code = NN_F32 if np.dtype(dtype) == np.float32 else NN_F64
    cdef int blas = nn_dense_train_uses_blas(code, <int>L, sz, mbs, _train_path_force)
    free(sz)
    return "blas" if blas else "small"


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
    """The kernels' view of a fully connected network for one SGD call or evaluation.

    Holds the pointer tables into the caller's weight and bias arrays and the
    workspace (made once, sized for ``mbs`` rows).  The caller (network.py /
    network2.py) has already checked every array: C-contiguous, the right
    dtype and shape, writeable where written.
    """
    cdef nn_dense_net net
    cdef nn_size *sizes
    cdef void **tables
    cdef list keep
    cdef list work       # the BLAS path's buffers: gathered inputs and gradient sums
    cdef object dtype
    cdef readonly Py_ssize_t mbs
    # examples trained by train_epoch calls since the caller last set it to 0: kept here, in C,
    # because a KeyboardInterrupt can surface right after the call, before Python sees its result
    cdef public Py_ssize_t examples_done
    # True when the last train_epoch call stopped at a non-finite z or output delta
    cdef readonly bint nonfinite
    # evaluate's per-thread scratch, kept from call to call (a monitored epoch makes two calls:
    # fresh pages each time would be cleared by the kernel)
    cdef cnp.ndarray eval_scratch
    # "blas" or "small": the path train_epoch takes (chosen at the making, see train_path)
    cdef readonly str path

    def __cinit__(self, sizes, dtype, int act_hidden, int act_out, int cost, Py_ssize_t mbs=0,
                  bint momentum=False, bint dropout=False):
        cdef int L = len(sizes) - 1
        cdef int l
        if L < 1 or any(int(v) < 1 for v in sizes):
            raise ValueError("DenseNet: sizes must hold at least two layer sizes >= 1, got %r" % (sizes,))
        if not (0 <= act_hidden <= 3 and act_out in (1, 4) and 0 <= cost <= 2 and mbs >= 0):
            raise ValueError("DenseNet: bad activation, cost or mini-batch size")
        if np.dtype(dtype) not in (np.float64, np.float32):
            raise TypeError("DenseNet: dtype must be float64 or float32")
        self.dtype = np.dtype(dtype)
        self.mbs = mbs
        self.sizes = <nn_size *>malloc(sizeof(nn_size) * (L + 1))
        self.tables = <void **>malloc(sizeof(void *) * 9 * (L + 1))
        if self.sizes == NULL or self.tables == NULL:
            raise MemoryError()
        for l in range(9 * (L + 1)):
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
        self.net.vW = self.tables + 2 * (L + 1) if momentum else NULL
        self.net.vb = self.tables + 3 * (L + 1) if momentum else NULL
        self.net.A = self.tables + 4 * (L + 1)
        self.net.Z = self.tables + 5 * (L + 1)
        self.net.D = self.tables + 6 * (L + 1)
        self.net.M = self.tables + 7 * (L + 1) if dropout else NULL
        self.net.G = self.tables + 8 * (L + 1)
        self.net.gemm = NULL
        self.keep = []
        self.work = []
        self.path = "small"
        if mbs > 0:
            for l in range(L + 1):
                # table slots: 4 = A, 5 = Z, 6 = D, 7 = M (see the pointers set above)
                for slot, need in ((4, l > 0), (5, l > 0), (6, l > 0), (7, dropout and 0 < l < L)):
                    if need:
                        buf = np.zeros((mbs, sizes[l]), dtype=self.dtype)
                        self.keep.append(buf)
                        self.tables[slot * (L + 1) + l] = _ptr(buf)
            pieces = nn_dense_train_uses_blas(self.net.dtype, L, self.sizes, mbs, _train_path_force)
            if pieces:
                self.path = "blas"
                self.net.gemm = <void *>sgemm if self.net.dtype == NN_F32 else <void *>dgemm
                for l in range(L + 1):
                    # slot 4 layer 0: A[0], the gathered input rows; slot 8: G[l], gradient sums per piece
                    buf = np.zeros((mbs, sizes[0]) if l == 0 else (pieces, sizes[l], sizes[l - 1]), dtype=self.dtype)
                    self.work.append(buf)
                    self.tables[(4 if l == 0 else 8) * (L + 1) + l] = _ptr(buf)

    def __dealloc__(self):
        free(self.sizes)
        free(self.tables)

    def set_params(self, list weights, list biases, list vw=None, list vb=None):
        """Point the kernels at these arrays (W_l, b_l, and velocities for momentum)."""
        cdef int l
        cdef list params = []
        cdef int L = self.net.L
        if len(weights) != L or len(biases) != L:
            raise ValueError("set_params: %d weight and bias arrays expected" % L)
        if self.net.vW != NULL and (vw is None or vb is None or len(vw) != L or len(vb) != L):
            raise ValueError("set_params: momentum needs %d velocity arrays for weights and for biases" % L)
        for l in range(1, L + 1):
            J, K = self.sizes[l], self.sizes[l - 1]
            _need(weights[l - 1], "weights[%d]" % (l - 1), self.dtype, (J, K), True)
            if biases[l - 1].size != J:
                raise ValueError("biases[%d] must have %d entries" % (l - 1, J))
            _need(biases[l - 1], "biases[%d]" % (l - 1), self.dtype, None, True)
            if self.net.vW != NULL:
                _need(vw[l - 1], "vw[%d]" % (l - 1), self.dtype, (J, K), True)
                if vb[l - 1].size != J:
                    raise ValueError("vb[%d] must have %d entries" % (l - 1, J))
                _need(vb[l - 1], "vb[%d]" % (l - 1), self.dtype, None, True)
        for l in range(1, self.net.L + 1):
            self.net.W[l] = _ptr(weights[l - 1])
            self.net.b[l] = _ptr(biases[l - 1])
            params += [weights[l - 1], biases[l - 1]]
            if self.net.vW != NULL:
                self.net.vW[l] = _ptr(vw[l - 1])
                self.net.vb[l] = _ptr(vb[l - 1])
                params += [vw[l - 1], vb[l - 1]]
        self.keep = [a for a in self.keep if a.shape[0] == self.mbs and a.base is None] + params

    def train_epoch(self, cnp.ndarray X, cnp.ndarray Y, cnp.ndarray order, double eta,
                    double lmbda_over_n=0.0, int reg=0, double mu=0.0, double p_dropout=0.0,
                    uint64_t seed=0, uint64_t counter0=0, int nthreads=1):
        """One epoch of SGD over ``order`` (int64 rows of X and Y). Returns examples done."""
        cdef nn_dense_sgd o
        cdef nn_size done
        cdef int bad = 0
        cdef int L = self.net.L
        if self.mbs < 1 or self.net.W[L] == NULL:
            raise ValueError("train_epoch: made without a mini-batch size, or set_params not called")
        _need(X, "X", (np.float32, self.dtype), (None, self.sizes[0]))
        _need(Y, "Y", self.dtype, (X.shape[0], self.sizes[L]))
        _need(order, "order", np.int64, (None,))
        if order.shape[0] and (order.min() < 0 or order.max() >= X.shape[0]):
            raise ValueError("train_epoch: order holds rows outside 0..%d" % (X.shape[0] - 1))
        if nthreads < 1:
            raise ValueError("nthreads must be >= 1")
        o.X = _ptr(X)
        o.x_dtype = _code(X)
        o.ldx = X.shape[1]
        o.Y = _ptr(Y)
        o.ldy = Y.shape[1]
        o.order = <const int64_t *>_ptr(order)
        o.n = order.shape[0]
        o.mbs = self.mbs
        o.eta = eta
        o.lmbda_over_n = lmbda_over_n
        o.reg = reg
        o.mu = mu
        o.p_dropout = p_dropout
        o.seed = seed
        o.counter0 = counter0
        o.nthreads = nthreads
        o.stop = NULL
        o.progress = NULL
        o.nonfinite = &bad
        self.nonfinite = False
        cdef nn_size total = 0
        while True:
            with nogil:
                done = nn_dense_train_epoch(&self.net, &o)
            if done < 0:
                raise MemoryError("nnfast: out of memory starting an epoch")
            total += done
            self.examples_done += done
            self.nonfinite = bad
            if bad or total >= order.shape[0]:
                return total
            # a SIGINT ended the call early: Python's handler raises KeyboardInterrupt here
            # (the weights are as after `total` examples); a handler that does not raise
            # lets the epoch go on where it stopped
            PyErr_CheckSignals()
            o.order += done
            o.n -= done
            o.counter0 += <uint64_t>done

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
