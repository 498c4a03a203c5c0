# cython: language_level=3
"""Test support: single operations of the native kernels and the thread governor, called one
at a time from Python.  The training and prediction paths never call these (they allocate per
call); they live here, out of the production module _core, for tests/ to hold each
kernel to the oracle.  Built like the other extensions (setup.py), from the same csrc/.
"""
from libc.stdint cimport int32_t, int64_t, uint64_t
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm

import operator

import numpy as np

ctypedef Py_ssize_t nn_size

cdef extern from "nnfast.h":
    ctypedef struct nn_gov:
        int level
        int mode
        double clock
    enum: NN_GOV_TEST
    int nn_gov_begin(nn_gov *g, int kind, int max_threads, unsigned long long key) nogil
    int nn_gov_threads(const nn_gov *g) nogil
    void nn_gov_segment(nn_gov *g, double seconds, double units, double wait) nogil
    void nn_gov_end(nn_gov *g, int kind) nogil

cdef extern from "dense.h":
    enum: NN_F64, NN_F32

cdef extern from "net3.h":
    void nn_fc3_forward(int dtype, const void *x, nn_size ldx, const void *w, void *z, double scale, nn_size nb,
                        nn_size I, nn_size O, nn_size lo, nn_size hi) nogil
    void nn_fc3_backward_x(int dtype, const void *dz, const void *w, void *dx, nn_size nb, nn_size I, nn_size O,
                           nn_size lo, nn_size hi) nogil
    void nn_fc3_update(int dtype, const void *x, const void *dz, void *w, double eta, nn_size nb, nn_size I,
                       nn_size O, nn_size lo, nn_size hi) nogil
    int nn_sparse_forward(int dtype, const void *x, nn_size ldx, const void *w, void *z, nn_size nb, nn_size O,
                          nn_size lo, nn_size hi, double density) nogil
    int nn_sparse_update(int dtype, const void *x, nn_size ldx, const void *dz, void *acc, double alpha, nn_size nb,
                         nn_size O, nn_size lo, nn_size hi, double density) nogil


# ---- the small-batch fully connected kernels (csrc/dense_fc3.h, through net3.h's nn_fc3_*: the products ----
# ---- dense3.c runs at mini-batches of at most 64 rows), float32 and float64                            ----

FC_SMALL_ROWS = 64      # the most rows of a mini-batch the kernels take (their arrays on the stack)

cdef double _nowhere[8]  # where an empty array points: a valid address the kernels never read through

cdef inline floating *_at(const floating[:, ::1] a) noexcept nogil:
    """Pointer to a's first element (_nowhere when a is empty, whose own pointer may be NULL)."""
    return <floating *>&a[0, 0] if a.shape[0] and a.shape[1] else <floating *>_nowhere


def _shape(name, a, shape):
    if tuple(a.shape[:len(shape)]) != shape:
        raise ValueError("%s must have shape %s, got %s" % (name, shape, tuple(a.shape[:len(shape)])))


def _rows(nb):
    if nb > FC_SMALL_ROWS:
        raise ValueError("the small-batch kernels take at most %d rows, got %d" % (FC_SMALL_ROWS, nb))


def _range(name, lo, hi, n):
    """(lo, hi) as ints, hi None meaning n: a slice [lo, hi) of range(n)."""
    lo, hi = operator.index(lo), n if hi is None else operator.index(hi)
    if not 0 <= lo <= hi <= n:
        raise ValueError("%s: [%d, %d) is not a slice of [0, %d)" % (name, lo, hi, n))
    return lo, hi


def _written(name, a, dtype, shape, inputs):
    """a, the array a kernel writes (a new one of zeros when None), checked: numpy, dtype, shape,
    C order, writable, sharing no memory with the inputs."""
    if a is None:
        return np.zeros(shape, dtype)
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        raise TypeError("%s must be a numpy array of %s" % (name, np.dtype(dtype)))
    _shape(name, a, shape)
    if not (a.flags.c_contiguous and a.flags.writeable and a.flags.aligned):
        raise ValueError("%s must be C-contiguous, aligned and writable" % name)
    if any(np.may_share_memory(a, b) for b in inputs):
        raise ValueError("%s must not share memory with the inputs" % name)
    return a


def _floats(**arrays):
    """TypeError unless the arrays are numpy arrays all of float32 or all of float64 (the kernels' element
    types); ValueError for one not aligned to its element."""
    dtypes = {a.dtype if isinstance(a, np.ndarray) else None for a in arrays.values()}
    if len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64):
        raise TypeError("%s must be numpy arrays, all float32 or all float64, got %s"
                        % (", ".join(arrays), ", ".join(str(getattr(a, "dtype", type(a))) for a in arrays.values())))
    for name, a in arrays.items():
        if not a.flags.aligned:
            raise ValueError("%s is not aligned to its element" % name)


def fc_small_forward(x, w, scale=1.0, lo=0, hi=None, ilo=0, ihi=None, out=None):
    """z[:, lo:hi] = scale * x[:, ilo:ihi] @ w[ilo:ihi, lo:hi] (nn_fc3_forward), x (nb, I), w (I, O):
    into out (nb, O) when given, else into a new array of zeros; z's other columns stay as they were.
    dense3.c takes [ilo, ihi) a part of the inputs (x's rows I apart) and [lo, hi) all of z's columns."""
    _floats(x=x, w=w)
    return _forward(x, w, scale, lo, hi, ilo, ihi, out)


def fc_small_backward_x(dz, w, lo=0, hi=None, out=None):
    """dx[:, lo:hi] = dz @ w[lo:hi].T (nn_fc3_backward_x), dz (nb, O), w (I, O): into out (nb, I) when
    given, else into a new array of zeros; dx's other columns stay as they were."""
    _floats(dz=dz, w=w)
    return _backward_x(dz, w, lo, hi, out)


def fc_small_update(x, dz, w, eta, lo=0, hi=None):
    """w[lo:hi] -= eta * x[:, lo:hi].T @ dz in place (nn_fc3_update, the SGD step), x (nb, I), dz (nb, O),
    w (I, O); w's other rows stay as they were."""
    _floats(x=x, dz=dz, w=w)
    _update(x, dz, w, eta, lo, hi)


def _forward(const floating[:, ::1] x, const floating[:, ::1] w, double scale, lo, hi, ilo, ihi, out):
    cdef nn_size nb = x.shape[0], I = x.shape[1], O = w.shape[1], c0, c1, i0, i1
    _shape("w", w, (I, O))
    _rows(nb)
    c0, c1 = _range("lo, hi", lo, hi, O)
    i0, i1 = _range("ilo, ihi", ilo, ihi, I)
    Z = _written("out", out, np.float32 if floating is float else np.float64, (nb, O), (x.base, w.base))
    cdef floating[:, ::1] z = Z
    with nogil:
        nn_fc3_forward(NN_F32 if floating is float else NN_F64, _at(x) + i0, I, _at(w) + i0 * O, _at(z), scale,
                       nb, i1 - i0, O, c0, c1)
    return Z


def _backward_x(const floating[:, ::1] dz, const floating[:, ::1] w, lo, hi, out):
    cdef nn_size nb = dz.shape[0], O = dz.shape[1], I = w.shape[0], c0, c1
    _shape("w", w, (I, O))
    _rows(nb)
    c0, c1 = _range("lo, hi", lo, hi, I)
    DX = _written("out", out, np.float32 if floating is float else np.float64, (nb, I), (dz.base, w.base))
    cdef floating[:, ::1] dx = DX
    with nogil:
        nn_fc3_backward_x(NN_F32 if floating is float else NN_F64, _at(dz), _at(w), _at(dx), nb, I, O, c0, c1)
    return DX


def _update(const floating[:, ::1] x, const floating[:, ::1] dz, floating[:, ::1] w, double eta, lo, hi):
    cdef nn_size nb = x.shape[0], I = x.shape[1], O = dz.shape[1], r0, r1
    _shape("dz", dz, (nb, O))
    _shape("w", w, (I, O))
    _rows(nb)
    r0, r1 = _range("lo, hi", lo, hi, I)
    _written("w", w.base, np.float32 if floating is float else np.float64, (I, O), (x.base, dz.base))   # overlap
    with nogil:
        nn_fc3_update(NN_F32 if floating is float else NN_F64, _at(x), _at(dz), _at(w), eta, nb, I, O, r0, r1)


# ---- the first layer on its nonzero inputs (csrc/dense_sparse.h, through net3.h's nn_sparse_*) ----
def sparse_forward(x, w, lo=0, hi=None, density=1.0, out=None):
    """z = x[:, lo:hi] @ w[lo:hi] over the nonzeros of x (nn_sparse_forward), x (nb, I), w (I, O): into out
    (nb, O) when given, else into a new array; None, out untouched, when more than ``density`` of
    x[:, lo:hi] is nonzero (the caller's dense product then)."""
    _floats(x=x, w=w)
    return _sp_forward(x, w, lo, hi, density, out)


def sparse_update(x, dz, acc, alpha, lo=0, hi=None, density=1.0):
    """acc[lo:hi] += alpha * x[:, lo:hi].T @ dz in place over the nonzeros of x (nn_sparse_update: the SGD
    step with alpha = -eta), x (nb, I), dz (nb, O), acc (I, O); acc's other rows stay as they were.
    False, acc untouched, when more than ``density`` of x[:, lo:hi] is nonzero."""
    _floats(x=x, dz=dz, acc=acc)
    return _sp_update(x, dz, acc, alpha, lo, hi, density)


def _sp_forward(const floating[:, ::1] x, const floating[:, ::1] w, lo, hi, double density, out):
    cdef nn_size nb = x.shape[0], I = x.shape[1], O = w.shape[1], i0, i1
    cdef int done
    _shape("w", w, (I, O))
    i0, i1 = _range("lo, hi", lo, hi, I)
    Z = _written("out", out, np.float32 if floating is float else np.float64, (nb, O), (x.base, w.base))
    cdef floating[:, ::1] z = Z
    with nogil:
        done = nn_sparse_forward(NN_F32 if floating is float else NN_F64, _at(x), I, _at(w), _at(z), nb, O, i0, i1,
                                 density)
    return Z if done else None


def _sp_update(const floating[:, ::1] x, const floating[:, ::1] dz, floating[:, ::1] acc, double alpha, lo, hi,
               double density):
    cdef nn_size nb = x.shape[0], I = x.shape[1], O = dz.shape[1], i0, i1
    cdef int done
    _shape("dz", dz, (nb, O))
    _shape("acc", acc, (I, O))
    i0, i1 = _range("lo, hi", lo, hi, I)
    _written("acc", acc.base, np.float32 if floating is float else np.float64, (I, O), (x.base, dz.base))
    with nogil:
        done = nn_sparse_update(NN_F32 if floating is float else NN_F64, _at(x), I, _at(dz), _at(acc), alpha, nb, O,
                                i0, i1, density)
    return bool(done)


# ---- the governor (csrc/threads.c) ----

ADAPT = 0

_traces = 0


def governor_trace(int max_threads, segments):
    """Thread counts a fresh governor (up to max_threads) chooses, starting and after each
    segment (seconds, units of work, waiting fraction) reported to it; a number instead of
    a segment: that many seconds of the loop's time pass without a segment (the loop ran other
    calls: fixed counts, another shape)."""
    global _traces
    cdef nn_gov g
    _traces += 1
    if nn_gov_begin(&g, NN_GOV_TEST, max_threads + 1, 0) != 0:    # another maximum: the next begins afresh
        raise MemoryError()
    g.mode = ADAPT
    nn_gov_end(&g, NN_GOV_TEST)
    if nn_gov_begin(&g, NN_GOV_TEST, max_threads, <unsigned long long>_traces) != 0:
        raise MemoryError()
    g.mode = ADAPT                                       # whatever this module's loops are set to
    counts = [nn_gov_threads(&g)]
    for s in segments:
        if not isinstance(s, tuple):   # a pause, for a trial period to pass
            g.clock += s
            continue
        nn_gov_segment(&g, s[0], s[1], s[2])
        counts.append(nn_gov_threads(&g))
    nn_gov_end(&g, NN_GOV_TEST)
    return counts


# ---- network3's kernels (csrc/net3.h), float64 ----

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
                               nn_size KW, int max_parts) nogil
    void nn3_pool_forward_d(const double *conv, double *out, int32_t *arg, nn_size nb, nn_size B, nn_size F,
                            nn_size OH, nn_size OW, nn_size PH, nn_size PW) nogil
    void nn3_pool_backward_d(const double *dout, const int32_t *arg, double *dconv, nn_size nb, nn_size B,
                             nn_size F, nn_size P, nn_size Q) nogil
    void nn3_bias_act_forward_d(double *z, double *a, const double *b, int act, nn_size nb, nn_size N,
                                nn_size S_) nogil
    void nn3_bias_act_backward_d(const double *da, const double *z, const double *a, double *dz, double *gb,
                                 double alpha, double beta, int act, nn_size nb, nn_size N, nn_size S_) nogil
    void nn3_softmax_forward_d(double *z, double *a, const double *b, const int64_t *y, double *loss,
                               nn_size nb, nn_size O) nogil
    void nn3_softmax_backward_d(const double *a, const int64_t *y, double *dz, nn_size nb, nn_size O) nogil


from nnfast._core import _f64   # float64, C-contiguous, of the right ndim

cdef void *_ptr(a) except? NULL:
    """Data pointer of a C-contiguous numpy array."""
    return <void *><size_t>a.ctypes.data



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
                          <double *>_ptr(dx), n, n, C, H, W, F, KH, KW, max_parts)
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
