# cython: language_level=3
"""Glue for network3: a Plan holds the C description of a network and every buffer its passes use.

Made once per SGD (or predict) call from arrays that Python has validated; its
methods turn memoryviews into pointers and call csrc/net3.c without the GIL.
No logic of its own beyond laying out buffers.
"""
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport int32_t, int64_t, uint64_t
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm

import numpy as np

cdef extern from "net3.h":
    ctypedef Py_ssize_t nn_size
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
        void *dcol
    ctypedef struct nn3_net:
        int L
        nn_size B
        int max_parts
        nn3_layer *layers
        void *x
        int64_t *y
        void *loss
        void *gemm
    nn_size nn3_train_f(nn3_net *net, const float *X, const int64_t *Y, const int64_t *order, nn_size first_batch,
                     nn_size n_batches, float eta, float l2, uint64_t seed, uint64_t first_example,
                     int nthreads) nogil
    nn_size nn3_train_d(nn3_net *net, const double *X, const int64_t *Y, const int64_t *order, nn_size first_batch,
                     nn_size n_batches, double eta, double l2, uint64_t seed, uint64_t first_example,
                     int nthreads) nogil
    void nn3_gradients_f(nn3_net *net, const float *X, const int64_t *Y, nn_size nb, uint64_t seed,
                         uint64_t first_example) nogil
    void nn3_gradients_d(nn3_net *net, const double *X, const int64_t *Y, nn_size nb, uint64_t seed,
                         uint64_t first_example) nogil
    nn_size nn3_predict_f(nn3_net *net, const float *X, nn_size n, int64_t *pred, float *out, int nthreads) nogil
    nn_size nn3_predict_d(nn3_net *net, const double *X, nn_size n, int64_t *pred, double *out,
                          int nthreads) nogil

cdef extern from "nnfast.h":
    void nn_gov_set_mode(int mode) nogil
    int nn_gov_saved_threads(int kind) nogil
    void nn_gov_saved_stats(int kind, double *trials, double *trial_seconds, double *drops) nogil

from cpython.exc cimport PyErr_CheckSignals


def gov_state(int kind):
    """As _core.gov_state, for this module's copy of csrc/threads.c."""
    cdef double a, b, c
    nn_gov_saved_stats(kind, &a, &b, &c)
    return nn_gov_saved_threads(kind), int(a), b, int(c)


def set_thread_mode(int mode):
    """As _core.set_thread_mode, for network3's loops (each module has its own copy of csrc)."""
    if mode not in (0, 1, 2):
        raise ValueError("set_thread_mode: mode must be 0, 1 or 2, got %r" % (mode,))
    nn_gov_set_mode(mode)

KINDS = {"conv": 0, "fc": 1, "softmax": 2}


cdef void *_ptr(a) except? NULL:
    """Data pointer of a C-contiguous numpy array (None gives NULL)."""
    if a is None:
        return NULL
    return <void *><size_t>a.ctypes.data


cdef class Plan:
    """C description of a network plus its buffers, for mini-batches of B rows.

    specs: list of dicts with kind ('conv', 'fc', 'softmax'), act (code), w, b (C-contiguous arrays of
    dtype), p, and for conv C, H, W, F, KH, KW, PH, PW; for fc/softmax I, O.
    """
    cdef nn3_net net
    cdef readonly object dtype
    cdef readonly list keep
    cdef readonly list grads
    cdef readonly object loss
    # mini-batches trained by train() so far: counted here, in C, because a KeyboardInterrupt
    # can surface right after the call returns, before Python sees anything else
    cdef public Py_ssize_t batches_done

    def __cinit__(self):
        self.net.layers = NULL

    def __init__(self, specs, Py_ssize_t B, dtype, int max_parts=4, bint with_grads=False):
        cdef nn3_layer *ly
        cdef Py_ssize_t l, L = len(specs), K, P
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError("Plan: dtype must be float32 or float64")
        self.keep = []
        self.grads = []
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
            ly.w = _ptr(w)
            ly.b = _ptr(b)
            if ly.kind == 0:
                ly.C, ly.H, ly.W, ly.F = s["C"], s["H"], s["W"], s["F"]
                ly.KH, ly.KW, ly.PH, ly.PW = s["KH"], s["KW"], s["PH"], s["PW"]
                ly.OH, ly.OW = ly.H - ly.KH + 1, ly.W - ly.KW + 1
                ly.QH, ly.QW = ly.OH // ly.PH, ly.OW // ly.PW
                ly.I, ly.O = ly.C * ly.H * ly.W, ly.F * ly.QH * ly.QW
                K, P = ly.C * ly.KH * ly.KW, ly.OH * ly.OW
                ly.col = _ptr(buf(K, B * P))
                ly.conv = _ptr(buf(ly.F, B * P))
                ly.arg = <int32_t *>_ptr(buf(B, ly.F, ly.QH * ly.QW, dtype=np.int32))
                if l > 0:
                    ly.dcol = _ptr(buf(K, B * P))
            else:
                ly.I, ly.O = s["I"], s["O"]
                if ly.p > 0:
                    ly.mask = _ptr(buf(B, ly.I))
                    ly.xd = _ptr(buf(B, ly.I))
            ly.z = _ptr(buf(B, ly.O))
            ly.a = _ptr(buf(B, ly.O))
            ly.da = _ptr(buf(B, ly.O))
            if with_grads:
                gw, gb = buf(*w.shape), buf(*b.shape)
                self.grads.append((gw, gb))
                ly.gw = _ptr(gw)
                ly.gb = _ptr(gb)
        self.net.x = _ptr(buf(B, self.net.layers[0].I))
        self.net.y = <int64_t *>_ptr(buf(B, dtype=np.int64))
        self.loss = buf(B)
        self.net.loss = _ptr(self.loss)

    def __dealloc__(self):
        PyMem_Free(self.net.layers)

    cdef int _check(self, bint is_float) except -1:
        if is_float != (self.dtype == np.float32):
            raise TypeError("Plan: data dtype does not match the plan's %s" % self.dtype)
        return 0

    def train(self, const floating[:, ::1] X, const int64_t[::1] Y, const int64_t[::1] order,
              Py_ssize_t first_batch, Py_ssize_t n_batches, double eta, double l2, uint64_t seed,
              uint64_t first_example, int nthreads):
        """SGD over mini-batches first_batch .. first_batch + n_batches - 1 (rows order[i*B + r])."""
        self._check(floating is float)
        if (first_batch + n_batches) * self.net.B > order.shape[0] or X.shape[1] != self.net.layers[0].I:
            raise ValueError("Plan.train: arrays do not match the plan")
        cdef nn_size done
        while n_batches > 0:
            if floating is float:
                with nogil:
                    done = nn3_train_f(&self.net, &X[0, 0], &Y[0], &order[0], first_batch, n_batches, <float>eta,
                                       <float>l2, seed, first_example, nthreads)
            else:
                with nogil:
                    done = nn3_train_d(&self.net, &X[0, 0], &Y[0], &order[0], first_batch, n_batches, eta, l2,
                                       seed, first_example, nthreads)
            if done < 0:
                raise MemoryError("nnfast: out of memory starting network3's SGD")
            self.batches_done += done
            first_batch += done
            n_batches -= done
            if n_batches > 0:
                # a SIGINT ended the call early: Python's handler raises KeyboardInterrupt here
                # (parameters as after batches_done mini-batches), or the SGD goes on
                PyErr_CheckSignals()

    def gradients(self, const floating[:, ::1] X, const int64_t[::1] Y, uint64_t seed, uint64_t first_example):
        """Data-term gradients of one mini-batch into self.grads (serial)."""
        cdef Py_ssize_t nb = X.shape[0]
        self._check(floating is float)
        if nb < 1 or nb > self.net.B or Y.shape[0] != nb or X.shape[1] != self.net.layers[0].I:
            raise ValueError("Plan.gradients: arrays do not match the plan")
        if floating is float:
            with nogil:
                nn3_gradients_f(&self.net, &X[0, 0], &Y[0], nb, seed, first_example)
        else:
            with nogil:
                nn3_gradients_d(&self.net, &X[0, 0], &Y[0], nb, seed, first_example)
        return self.grads

    def predict(self, const floating[:, ::1] X, int nthreads, bint outputs=False):
        """(labels int64 (n,), softmax outputs (n, O) or None) on the evaluation path."""
        cdef Py_ssize_t n = X.shape[0], O = self.net.layers[self.net.L - 1].O
        self._check(floating is float)
        if X.shape[1] != self.net.layers[0].I:
            raise ValueError("Plan.predict: X does not match the plan")
        pred = np.zeros(n, dtype=np.int64)
        out = np.zeros((n, O), dtype=self.dtype) if outputs else None
        cdef int64_t[::1] pv = pred
        cdef void *op = _ptr(out)
        if n == 0:
            return pred, out
        cdef nn_size done = 0, got
        cdef Py_ssize_t I = X.shape[1]
        while done < n:
            if floating is float:
                with nogil:
                    got = nn3_predict_f(&self.net, &X[0, 0] + done * I, n - done, &pv[0] + done,
                                        <float *>op + done * O if op != NULL else NULL, nthreads)
            else:
                with nogil:
                    got = nn3_predict_d(&self.net, &X[0, 0] + done * I, n - done, &pv[0] + done,
                                        <double *>op + done * O if op != NULL else NULL, nthreads)
            if got < 0:
                raise MemoryError("nnfast: out of memory in predict")
            done += got
            if done < n:
                PyErr_CheckSignals()   # stopped by a SIGINT: raise, or go on if the handler did not
        return pred, out


# ---- single kernels, float64, for the tests (they allocate; the training path never calls them) ----

cdef extern from "net3.h":
    ctypedef void (*nn3_dgemm_t)(char *ta, char *tb, int *m, int *n, int *k, double *alpha, double *a, int *lda,
                                 double *b, int *ldb, double *beta, double *c, int *ldc) noexcept nogil
    void nn3_conv_forward_d(nn3_dgemm_t gemm, const double *x, const double *w, double *col, double *out,
                            nn_size nb, nn_size B, nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH,
                            nn_size KW, int max_parts) nogil
    void nn3_conv_backward_w_d(nn3_dgemm_t gemm, const double *dout, const double *col, double *gw,
                               double alpha, double beta, nn_size nb, nn_size B, nn_size P, nn_size F, nn_size K,
                               int max_parts) nogil
    void nn3_conv_backward_x_d(nn3_dgemm_t gemm, const double *dout, const double *w, double *dcol, double *dx,
                               nn_size nb, nn_size B, nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH,
                               nn_size KW) nogil
    void nn3_pool_forward_d(const double *conv, double *out, int32_t *arg, nn_size nb, nn_size B, nn_size F,
                            nn_size OH, nn_size OW, nn_size PH, nn_size PW) nogil
    void nn3_pool_backward_d(const double *dout, const int32_t *arg, double *dconv, nn_size nb, nn_size B,
                             nn_size F, nn_size P, nn_size Q) nogil
    void nn3_bias_act_forward_d(double *z, double *a, const double *b, int act, nn_size nb, nn_size N,
                                nn_size S_) nogil
    void nn3_bias_act_backward_d(const double *da, const double *z, const double *a, double *dz, double *gb,
                                 double alpha, double beta, int act, nn_size nb, nn_size N, nn_size S_) nogil
    void nn3_dropout_forward_d(const double *x, double *mask, double *xd, double p, uint64_t seed,
                               uint64_t stream, uint64_t first, nn_size nb, nn_size I) nogil
    void nn3_softmax_forward_d(double *z, double *a, const double *b, const int64_t *y, double *loss,
                               nn_size nb, nn_size O) nogil
    void nn3_softmax_backward_d(const double *a, const int64_t *y, double *dz, nn_size nb, nn_size O) nogil


def _f64(a, ndim):
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError("expected %d dimensions" % ndim)
    return a


def k_conv_forward(x, w, int max_parts=4):
    """x (n, C, H, W), w (F, C, KH, KW) -> (out (n, F, OH, OW), col (K, n*P))."""
    x, w = _f64(x, 4), _f64(w, 4)
    cdef Py_ssize_t n = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w.shape[0], KH = w.shape[2], KW = w.shape[3], OH = H - KH + 1, OW = W - KW + 1
    if w.shape[1] != C or OH < 1 or OW < 1 or n < 1:
        raise ValueError("shapes")
    col = np.zeros((C * KH * KW, n * OH * OW))
    out = np.zeros((F, n * OH * OW))
    nn3_conv_forward_d(<nn3_dgemm_t>dgemm, <double *>_ptr(x), <double *>_ptr(w), <double *>_ptr(col),
                       <double *>_ptr(out), n, n, C, H, W, F, KH, KW, max_parts)
    return out.reshape(F, n, OH, OW).transpose(1, 0, 2, 3).copy(), col


def k_conv_backward(x, w, dout, int max_parts=4):
    """Gradients (dx, dw) of k_conv_forward given dout (n, F, OH, OW)."""
    x, w, dout = _f64(x, 4), _f64(w, 4), _f64(dout, 4)
    _, col = k_conv_forward(x, w)
    cdef Py_ssize_t n = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w.shape[0], KH = w.shape[2], KW = w.shape[3], P = (H - KH + 1) * (W - KW + 1)
    if dout.shape != (n, F, H - KH + 1, W - KW + 1):
        raise ValueError("shapes")
    d = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, n * P)
    dw = np.zeros((F, C * KH * KW))
    dx = np.zeros((n, C, H, W))
    dcol = np.zeros_like(col)
    nn3_conv_backward_w_d(<nn3_dgemm_t>dgemm, <double *>_ptr(d), <double *>_ptr(col), <double *>_ptr(dw), 1.0, 0.0,
                          n, n, P, F, C * KH * KW, max_parts)
    nn3_conv_backward_x_d(<nn3_dgemm_t>dgemm, <double *>_ptr(d), <double *>_ptr(w), <double *>_ptr(dcol),
                          <double *>_ptr(dx), n, n, C, H, W, F, KH, KW)
    return dx, dw.reshape(w.shape)


def k_pool_forward(z, poolsize):
    """z (n, F, OH, OW) -> (out (n, F, QH, QW), arg (n, F, QH, QW))."""
    z = _f64(z, 4)
    cdef Py_ssize_t n = z.shape[0], F = z.shape[1], OH = z.shape[2], OW = z.shape[3]
    cdef Py_ssize_t PH = poolsize[0], PW = poolsize[1]
    if PH < 1 or PW < 1 or PH > OH or PW > OW:
        raise ValueError("poolsize")
    conv = np.ascontiguousarray(z.transpose(1, 0, 2, 3)).reshape(F, n * OH * OW)
    out = np.zeros((n, F, OH // PH, OW // PW))
    arg = np.zeros((n, F, OH // PH, OW // PW), dtype=np.int32)
    nn3_pool_forward_d(<double *>_ptr(conv), <double *>_ptr(out), <int32_t *>_ptr(arg), n, n, F, OH, OW, PH, PW)
    return out, arg


def k_pool_backward(dout, arg, conv_shape):
    """Route dout (n, F, QH, QW) to the winners: (n, F, OH, OW)."""
    dout = _f64(dout, 4)
    arg = np.ascontiguousarray(arg, dtype=np.int32)
    n, F, OH, OW = conv_shape
    if dout.shape != arg.shape or dout.shape[:2] != (n, F) or arg.size and (arg.min() < 0 or arg.max() >= OH * OW):
        raise ValueError("shapes")
    dconv = np.full((F, n * OH * OW), np.nan)
    nn3_pool_backward_d(<double *>_ptr(dout), <int32_t *>_ptr(arg), <double *>_ptr(dconv), n, n, F, OH * OW,
                        dout.shape[2] * dout.shape[3])
    return dconv.reshape(F, n, OH, OW).transpose(1, 0, 2, 3).copy()


def k_bias_act_forward(x, b, int act):
    """(z, a) = (x + b, act(x + b)), b over axis 1 of x (n, N, ...)."""
    z = np.array(x, dtype=np.float64, order="C")
    b = _f64(b, 1)
    if z.ndim < 2 or z.shape[1] != b.shape[0]:
        raise ValueError("shapes")
    a = np.zeros_like(z)
    nn3_bias_act_forward_d(<double *>_ptr(z), <double *>_ptr(a), <double *>_ptr(b), act, z.shape[0], z.shape[1],
                           z.size // max(1, z.shape[0] * z.shape[1]))
    return z, a


def k_bias_act_backward(da, z, a, int act):
    """(dz, db) given da, z, a of shape (n, N, ...)."""
    da, z, a = (np.ascontiguousarray(v, dtype=np.float64) for v in (da, z, a))
    if not (da.shape == z.shape == a.shape) or da.ndim < 2:
        raise ValueError("shapes")
    dz = np.zeros_like(da)
    db = np.zeros(da.shape[1])
    nn3_bias_act_backward_d(<double *>_ptr(da), <double *>_ptr(z), <double *>_ptr(a), <double *>_ptr(dz),
                            <double *>_ptr(db), 1.0, 0.0, act, da.shape[0], da.shape[1],
                            da.size // max(1, da.shape[0] * da.shape[1]))
    return dz, db


def k_dropout_forward(x, double p, uint64_t seed, uint64_t stream, uint64_t first):
    """(mask, x * mask) for x (n, I)."""
    x = _f64(x, 2)
    mask, xd = np.zeros_like(x), np.zeros_like(x)
    nn3_dropout_forward_d(<double *>_ptr(x), <double *>_ptr(mask), <double *>_ptr(xd), p, seed, stream, first,
                          x.shape[0], x.shape[1])
    return mask, xd


def k_softmax(z, b, y):
    """(a, loss per row, dz) of softmax(z + b) with the log-likelihood of labels y."""
    z = np.array(z, dtype=np.float64, order="C")
    b = _f64(b, 1)
    y = np.ascontiguousarray(y, dtype=np.int64)
    if z.ndim != 2 or z.shape[1] != b.shape[0] or y.shape != (z.shape[0],) or y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError("shapes")
    a, loss, dz = np.zeros_like(z), np.zeros(z.shape[0]), np.zeros_like(z)
    nn3_softmax_forward_d(<double *>_ptr(z), <double *>_ptr(a), <double *>_ptr(b), <int64_t *>_ptr(y),
                          <double *>_ptr(loss), z.shape[0], z.shape[1])
    nn3_softmax_backward_d(<double *>_ptr(a), <int64_t *>_ptr(y), <double *>_ptr(dz), z.shape[0], z.shape[1])
    return a, loss, dz
