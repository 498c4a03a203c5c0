# cython: language_level=3
"""The one glue between Python and the C kernels in csrc/ (test-only entry points: _testing).

No logic of its own: typed memoryviews become pointers, the GIL is released
around every native call, and the thread count is passed down explicitly.
Python (the network modules) validates everything before it reaches here.
A ``Plan`` (made once per SGD, predict or evaluation call, buffers and all)
runs the one training loop of all three networks and their evaluation path;
the rest is the thread policy, the book's shuffle and input checks.
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
    const char *nn_dense_path() nogil


def dense_path():
    """'avx2+fma', 'baseline' or 'portable' (plain C): which build of the dense kernels runs here."""
    return nn_dense_path().decode()


cdef void *_ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


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


# ---------------------------------------------------------------------------
# the one training loop of all three networks (csrc/net3.c): a Plan per SGD call
# ---------------------------------------------------------------------------

from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport int32_t

cdef extern from "net3.h":
    ctypedef struct nn3_layer:
        int kind, act
        nn_size I, O, C, H, W, F, KH, KW, OH, OW, PH, PW, QH, QW
        double p
        void *w
        void *b
        void *gw
        void *gb
        void *col
        void *conv
        int32_t *arg
        void *mask
        void *xd
        void *z
        void *a
        void *da
        void *zp
        void *dcol
        void *vw
        void *vb
    ctypedef struct nn3_net:
        int L
        nn_size B
        int max_parts
        nn3_layer *layers
        void *x
        int64_t *y
        void *t
        int cost
        void *loss
        void *gemm
        int nonfinite
    ctypedef struct nn3_step:
        int update, l1
        double eta, decay, mu
    nn_size nn3_train_f(nn3_net *net, const void *X, int x_f32, const int64_t *Y, const float *T,
                        const int64_t *order, nn_size n, nn_size first_batch, nn_size n_batches,
                        const nn3_step *step, uint64_t seed, uint64_t first_example, int nthreads) nogil
    nn_size nn3_train_d(nn3_net *net, const void *X, int x_f32, const int64_t *Y, const double *T,
                        const int64_t *order, nn_size n, nn_size first_batch, nn_size n_batches,
                        const nn3_step *step, uint64_t seed, uint64_t first_example, int nthreads) nogil
    void nn3_gradients_f(nn3_net *net, const float *X, const int64_t *Y, nn_size nb, uint64_t seed,
                         uint64_t first_example) nogil
    void nn3_gradients_d(nn3_net *net, const double *X, const int64_t *Y, nn_size nb, uint64_t seed,
                         uint64_t first_example) nogil
    nn_size nn3_predict_f(nn3_net *net, const void *X, int x_f32, nn_size n, const float *T, int64_t *pred,
                          double *costs, float *out, int nthreads) nogil
    nn_size nn3_predict_d(nn3_net *net, const void *X, int x_f32, nn_size n, const double *T, int64_t *pred,
                          double *costs, double *out, int nthreads) nogil

    int nn3_fc_small_rows
    double nn3_fc_small_macs
    void nn3_set_fc_small(int rows, double macs) nogil

def fc_small(rows=None, macs=None):
    """The shapes whose fully connected products run on the small-batch kernels of network/network2
    rather than BLAS: mini-batches of at most `rows` rows (0 to 64), products of at least `macs`
    multiply-adds.  Sets what is given (tests hold both paths to the oracle); returns the previous
    (rows, macs)."""
    old = (nn3_fc_small_rows, nn3_fc_small_macs)
    if rows is not None and (not isinstance(rows, int) or not 0 <= rows <= 64):
        raise ValueError("fc_small: rows must be an int from 0 to 64, got %r" % (rows,))
    if macs is not None and not (isinstance(macs, (int, float)) and macs >= 0):
        raise ValueError("fc_small: macs must be a number >= 0, got %r" % (macs,))
    nn3_set_fc_small(old[0] if rows is None else rows, old[1] if macs is None else float(macs))
    return old


cdef extern from "net3.h":
    double nn3_sparse_density
    void nn3_set_sparse(double density) nogil

def sparse_inputs(density=None):
    """The largest share of nonzero inputs at which a mini-batch (or evaluation block) goes through
    the first fully connected layer on its nonzeros alone (csrc/dense_sparse.h): 0 never, 1 always.
    Sets it when given (tests hold both paths to the oracle); returns the previous share."""
    old = nn3_sparse_density
    if density is not None:
        if not (isinstance(density, (int, float)) and 0 <= density <= 1):
            raise ValueError("sparse_inputs: density must be a number from 0 to 1, got %r" % (density,))
        nn3_set_sparse(float(density))
    return old


KINDS = {"conv": 0, "fc": 1, "softmax": 2}


cdef extern from "net3.h":
    int nn3_conv_mode
    void nn3_set_conv_mode(int mode) nogil

CONV_LOWERINGS = {"shape": 0, "im2col": 1, "direct": 2}


def conv_lowering(mode=None):
    """How conv layers are lowered: 'shape' (the default: by layer shape, csrc/conv_direct.c's rule),
    'im2col' (im2col + BLAS for every layer) or 'direct' (the direct kernels wherever they fit).
    Sets `mode` when given (tests hold both paths to the oracle); returns the previous mode."""
    old = [k for k, v in CONV_LOWERINGS.items() if v == nn3_conv_mode][0]
    if mode is not None:
        if mode not in CONV_LOWERINGS:
            raise ValueError("conv_lowering: mode must be one of %s, got %r" % (sorted(CONV_LOWERINGS), mode))
        nn3_set_conv_mode(CONV_LOWERINGS[mode])
    return old


cdef void *_addr(a) except? NULL:
    """Data pointer of a C-contiguous numpy array (None gives NULL)."""
    if a is None:
        return NULL
    return <void *><size_t>a.ctypes.data


cdef class Plan:
    """C description of a network plus its buffers, for mini-batches of B rows.

    specs: list of dicts with kind ('conv', 'fc', 'softmax'), act (code), w, b (C-contiguous arrays of
    dtype), p, and for conv C, H, W, F, KH, KW, PH, PW; for fc/softmax I, O, and vw, vb (velocities,
    with momentum).  targets: the last layer trains against target rows (network, network2: a sigmoid
    output with ``cost``, or softmax), else against integer labels (network3); ``cost`` is also the
    one predict's costs take (network.py, network2 evaluation).  training False: a plan for predict
    alone, without the buffers only training uses (dropout masks, gradients of the activations).
    """
    cdef nn3_net net
    cdef readonly object dtype
    cdef readonly list keep
    cdef readonly list grads
    cdef readonly object loss
    cdef readonly bint training
    # mini-batches trained by train() so far: counted here, in C, because a KeyboardInterrupt
    # can surface right after the call returns, before Python sees anything else
    cdef public Py_ssize_t batches_done

    def __cinit__(self):
        self.net.layers = NULL

    def __init__(self, specs, Py_ssize_t B, dtype, int max_parts=4, bint with_grads=False, bint targets=False,
                 int cost=0, bint training=True):
        cdef nn3_layer *ly
        cdef Py_ssize_t l, L = len(specs), K, P
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError("Plan: dtype must be float32 or float64")
        self.keep = []
        self.grads = []
        self.training = training
        self.net.layers = <nn3_layer *>PyMem_Calloc(L, sizeof(nn3_layer))
        if self.net.layers == NULL:
            raise MemoryError()
        self.net.L = <int>L
        self.net.B = B
        self.net.max_parts = max_parts
        self.net.gemm = <void *>sgemm if self.dtype == np.float32 else <void *>dgemm
        dt = self.dtype

        def buf(*shape, dtype=dt):
            a = np.zeros(shape, dtype=dtype)
            self.keep.append(a)
            return a

        for l in range(L):
            s = specs[l]
            ly = &self.net.layers[l]
            ly.kind = KINDS[s["kind"]]
            ly.act = s.get("act", 0)
            ly.p = s.get("p", 0.0)
            w, b = s["w"], s["b"]
            self.keep += [w, b]
            ly.w = _addr(w)
            ly.b = _addr(b)
            if ly.kind == 0:
                ly.C, ly.H, ly.W, ly.F = s["C"], s["H"], s["W"], s["F"]
                ly.KH, ly.KW, ly.PH, ly.PW = s["KH"], s["KW"], s["PH"], s["PW"]
                ly.OH, ly.OW = ly.H - ly.KH + 1, ly.W - ly.KW + 1
                ly.QH, ly.QW = ly.OH // ly.PH, ly.OW // ly.PW
                ly.I, ly.O = ly.C * ly.H * ly.W, ly.F * ly.QH * ly.QW
                K, P = ly.C * ly.KH * ly.KW, ly.OH * ly.OW
                ly.col = _addr(buf(K, B * P))
                ly.conv = _addr(buf(ly.F, B * P))
                ly.arg = <int32_t *>_addr(buf(B, ly.F, ly.QH * ly.QW, dtype=np.int32))
                if l > 0:
                    ly.dcol = _addr(buf(K, B * P))
            else:
                ly.I, ly.O = s["I"], s["O"]
                if ly.p > 0 and training:
                    ly.mask = _addr(buf(B, ly.I))
                    ly.xd = _addr(buf(B, ly.I))
                ly.zp = _addr(buf(max_parts, B, ly.O))
                if s.get("vw") is not None:
                    self.keep += [s["vw"], s["vb"]]
                    ly.vw = _addr(s["vw"])
                    ly.vb = _addr(s["vb"])
            ly.z = _addr(buf(B, ly.O))
            ly.a = _addr(buf(B, ly.O))
            if training:
                ly.da = _addr(buf(B, ly.O))
            if with_grads:
                gw, gb = buf(*w.shape), buf(*b.shape)
                self.grads.append((gw, gb))
                ly.gw = _addr(gw)
                ly.gb = _addr(gb)
        self.net.x = _addr(buf(B, self.net.layers[0].I))
        self.net.y = <int64_t *>_addr(buf(B, dtype=np.int64))
        self.net.cost = cost
        if targets and training:
            self.net.t = _addr(buf(B, self.net.layers[L - 1].O))
        self.loss = buf(B)
        self.net.loss = _addr(self.loss)

    def __dealloc__(self):
        PyMem_Free(self.net.layers)

    cdef int _check(self, bint is_float) except -1:
        if is_float != (self.dtype == np.float32):
            raise TypeError("Plan: data dtype does not match the plan's %s" % self.dtype)
        return 0

    @property
    def nonfinite(self):
        """True when the last train() stopped at an inf or NaN weighted input or output delta
        (the parameters as before that mini-batch)."""
        return bool(self.net.nonfinite)

    def train(self, X, Y, T, const int64_t[::1] order, Py_ssize_t n, Py_ssize_t first_batch, Py_ssize_t n_batches,
              double eta, double decay, bint l1, double mu, uint64_t seed, uint64_t first_example, int nthreads):
        """SGD over mini-batches first_batch .. first_batch + n_batches - 1 of an epoch of n examples
        (batch i: rows order[i*B + r], r < min(B, n - i*B)), against labels Y (int64) or, for a plan
        made with targets, target rows T; X of the plan's dtype, or float32 under float64.  The step:
        net3.h's nn3_step (decay = eta lmbda / n; l1: L1; mu: momentum)."""
        cdef nn3_step step
        cdef nn_size done
        cdef Py_ssize_t B = self.net.B, O = self.net.layers[self.net.L - 1].O
        cdef const void *xp
        cdef int x_f32
        cdef const int64_t *yp = NULL
        cdef void *tp = NULL
        if not self.training:
            raise ValueError("Plan.train: this plan was made for predict alone (training=False)")
        if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == self.net.layers[0].I
                and X.flags.c_contiguous and (X.dtype == self.dtype or X.dtype == np.float32)):
            raise ValueError("Plan.train: X does not match the plan")
        if (self.net.t != NULL) != (T is not None):
            raise ValueError("Plan.train: targets T are given exactly for a plan made with targets")
        if T is not None:
            if not (isinstance(T, np.ndarray) and T.dtype == self.dtype and T.shape == (X.shape[0], O)
                    and T.flags.c_contiguous):
                raise ValueError("Plan.train: T does not match the plan")
            tp = _addr(T)
        else:
            if not (isinstance(Y, np.ndarray) and Y.dtype == np.int64 and Y.shape == (X.shape[0],)
                    and Y.flags.c_contiguous):
                raise ValueError("Plan.train: Y does not match the plan")
            yp = <const int64_t *>_addr(Y)
        if n_batches > 0 and (first_batch < 0 or n > order.shape[0] or (first_batch + n_batches - 1) * B >= n):
            raise ValueError("Plan.train: mini-batches %d..%d are beyond the %d examples"
                             % (first_batch, first_batch + n_batches - 1, n))
        used = np.asarray(order[first_batch * B:min(n, (first_batch + n_batches) * B)])
        if used.size and (used.min() < 0 or used.max() >= X.shape[0]):
            raise ValueError("Plan.train: order holds rows outside 0..%d" % (X.shape[0] - 1))
        xp = _addr(X)
        x_f32 = X.dtype == np.float32 and self.dtype == np.float64
        step.update, step.l1, step.eta, step.decay, step.mu = 1, l1, eta, decay, mu
        self.net.nonfinite = 0
        while n_batches > 0:
            if self.dtype == np.float32:
                with nogil:
                    done = nn3_train_f(&self.net, xp, 0, yp, <const float *>tp, &order[0], n, first_batch,
                                       n_batches, &step, seed, first_example, nthreads)
            else:
                with nogil:
                    done = nn3_train_d(&self.net, xp, x_f32, yp, <const double *>tp, &order[0], n, first_batch,
                                       n_batches, &step, seed, first_example, nthreads)
            if done < 0:
                raise MemoryError("nnfast: out of memory starting SGD")
            self.batches_done += done
            first_batch += done
            n_batches -= done
            if self.net.nonfinite:
                return
            if n_batches > 0:
                # a SIGINT ended the call early: Python's handler raises KeyboardInterrupt here
                # (parameters as after batches_done mini-batches), or the SGD goes on
                PyErr_CheckSignals()

    def gradients(self, const floating[:, ::1] X, const int64_t[::1] Y, uint64_t seed, uint64_t first_example):
        """Data-term gradients of one mini-batch into self.grads (serial)."""
        cdef Py_ssize_t nb = X.shape[0]
        self._check(floating is float)
        if not self.training:
            raise ValueError("Plan.gradients: this plan was made for predict alone (training=False)")
        if nb < 1 or nb > self.net.B or Y.shape[0] != nb or X.shape[1] != self.net.layers[0].I:
            raise ValueError("Plan.gradients: arrays do not match the plan")
        if floating is float:
            with nogil:
                nn3_gradients_f(&self.net, &X[0, 0], &Y[0], nb, seed, first_example)
        else:
            with nogil:
                nn3_gradients_d(&self.net, &X[0, 0], &Y[0], nb, seed, first_example)
        return self.grads

    def predict(self, X, int nthreads, bint outputs=False, T=None):
        """(labels int64 (n,), outputs (n, O) or None, costs float64 (n,) or None) on the evaluation
        path; X of the plan's dtype, or float32 under float64; costs (the plan's cost) against the
        target rows T when given."""
        cdef Py_ssize_t n, O = self.net.layers[self.net.L - 1].O, I = self.net.layers[0].I
        if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == I and X.flags.c_contiguous
                and (X.dtype == self.dtype or X.dtype == np.float32)):
            raise ValueError("Plan.predict: X does not match the plan")
        n = X.shape[0]
        if T is not None and not (isinstance(T, np.ndarray) and T.dtype == self.dtype and T.shape == (n, O)
                                  and T.flags.c_contiguous):
            raise ValueError("Plan.predict: T does not match the plan")
        pred = np.zeros(n, dtype=np.int64)
        out = np.zeros((n, O), dtype=self.dtype) if outputs else None
        cost = np.zeros(n, dtype=np.float64) if T is not None else None
        if n == 0:
            return pred, out, cost
        cdef int64_t *pp = <int64_t *>_addr(pred)
        cdef void *op = _addr(out)
        cdef double *cp = <double *>_addr(cost)
        cdef const char *xp = <const char *>_addr(X)
        cdef const char *tp = <const char *>_addr(T)
        cdef int x_f32 = X.dtype == np.float32 and self.dtype == np.float64
        cdef size_t xs = X.itemsize, ts = self.dtype.itemsize
        cdef nn_size done = 0, got
        while done < n:
            if self.dtype == np.float32:
                with nogil:
                    got = nn3_predict_f(&self.net, xp + done * I * xs, 0, n - done,
                                        <const float *>(tp + done * O * ts) if tp != NULL else NULL, pp + done,
                                        cp + done if cp != NULL else NULL,
                                        <float *>op + done * O if op != NULL else NULL, nthreads)
            else:
                with nogil:
                    got = nn3_predict_d(&self.net, xp + done * I * xs, x_f32, n - done,
                                        <const double *>(tp + done * O * ts) if tp != NULL else NULL, pp + done,
                                        cp + done if cp != NULL else NULL,
                                        <double *>op + done * O if op != NULL else NULL, nthreads)
            if got < 0:
                raise MemoryError("nnfast: out of memory in predict")
            done += got
            if done < n:
                PyErr_CheckSignals()   # stopped by a SIGINT: raise, or go on if the handler did not
        return pred, out, cost


# ---- dropout masks (network2's numpy path draws its masks here, as network3's loop does) ----

cdef extern from "net3.h":
    void nn3_dropout_forward_d(const double *x, double *mask, double *xd, double p, uint64_t seed,
                               uint64_t stream, uint64_t first, nn_size nb, nn_size I) nogil


def _f64(a, ndim):
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError("expected %d dimensions" % ndim)
    return a


def k_dropout_forward(x, double p, uint64_t seed, uint64_t stream, uint64_t first):
    """(mask, x * mask) for x (n, I)."""
    x = _f64(x, 2)
    mask, xd = np.zeros_like(x), np.zeros_like(x)
    nn3_dropout_forward_d(<double *>_addr(x), <double *>_addr(mask), <double *>_addr(xd), p, seed, stream, first,
                          x.shape[0], x.shape[1])
    return mask, xd
