"""The book's algorithms written the way a careful numpy user would: batched.

Same mathematics as ``network.py`` (chapter 1: quadratic cost, sigmoid, plain
SGD) and ``network2.py`` (chapter 3: cross-entropy or quadratic cost, L2 weight
decay, monitoring), but each mini-batch is processed as matrices: one GEMM per
layer forward, one per layer for the weight gradient (fused with the update via
BLAS ``gemm``'s alpha/beta), one per layer for the back-propagated delta. All
per-batch buffers are allocated once; the inputs are gathered into them with
``np.take``. The BLAS thread count is whatever the caller sets (the benchmark
uses threadpoolctl).

Every product goes through scipy's BLAS (``scipy.linalg.blas.?gemm`` on
transposed views, no copies), never through ``np.dot``: numpy and scipy wheels
each bundle their own OpenBLAS, and alternating between the two thread pools
on every mini-batch makes their spinning threads fight for the cores (we
measured 10-30x slowdowns at mini-batch 100 with 2 threads). nnfast uses
scipy's BLAS too, so both sides of the comparison share one library.

This is the "well-written numpy" peer in the benchmark table, not part of nnfast.
"""
import numpy as np
from scipy.linalg import blas as _blas
from scipy.special import expit

COSTS = ("quadratic", "cross-entropy")


class Network(object):
    """A batched sigmoid network.

    ``weights[l]`` has the book's shape (out, in) and ``biases[l]`` (out, 1), so
    weights can be copied to and from the book's networks unchanged.
    ``init="large"`` is chapter 1's N(0, 1); ``"default"`` is chapter 3's
    N(0, 1/in) for weights.
    """

    def __init__(self, sizes, cost="quadratic", dtype=np.float64, init="large", seed=0):
        if cost not in COSTS:
            raise ValueError("cost must be one of %s" % (COSTS,))
        self.sizes = list(sizes)
        self.num_layers = len(sizes)
        self.cost = cost
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.biases = [rng.standard_normal((y, 1)).astype(self.dtype) for y in sizes[1:]]
        self.weights = []
        for x, y in zip(sizes[:-1], sizes[1:]):
            w = rng.standard_normal((y, x))
            if init == "default":
                w /= np.sqrt(x)
            self.weights.append(np.ascontiguousarray(w, dtype=self.dtype))
        self._gemm, = _blas.get_blas_funcs(("gemm",), (self.weights[0],))
        self._buffers = {}

    # -- training ---------------------------------------------------------
    def _bufs(self, m):
        b = self._buffers.get(m)
        if b is None:
            dt = self.dtype
            acts = [np.empty((m, n), dtype=dt) for n in self.sizes]
            deltas = [None] + [np.empty((m, n), dtype=dt) for n in self.sizes[1:]]
            tmp = [None] + [np.empty((m, n), dtype=dt) for n in self.sizes[1:]]
            yb = np.empty((m, self.sizes[-1]), dtype=dt)
            gb = [np.empty((n,), dtype=dt) for n in self.sizes[1:]]
            b = self._buffers[m] = (acts, deltas, tmp, yb, gb)
        return b

    def _step(self, X, Y, idx, eta, decay):
        """Forward, backward and update for the mini-batch X[idx], Y[idx]."""
        m = len(idx)
        acts, deltas, tmp, yb, gb = self._bufs(m)
        np.take(X, idx, axis=0, out=acts[0])
        np.take(Y, idx, axis=0, out=yb)
        L = self.num_layers - 1
        gemm = self._gemm
        # (C-order arrays are Fortran-order transposes: a (m, out) buffer is the
        # Fortran (out, m) matrix W a^T, computed in place with beta=1 on the bias)
        for l in range(L):
            a = acts[l + 1]
            a[...] = self.biases[l].reshape(1, -1)
            gemm(1.0, self.weights[l].T, acts[l].T, beta=1.0, c=a.T, trans_a=1, overwrite_c=1)
            expit(a, out=a)
        # output delta
        aL, dL = acts[L], deltas[L]
        np.subtract(aL, yb, out=dL)
        if self.cost == "quadratic":
            t = tmp[L]
            np.subtract(1, aL, out=t)
            t *= aL
            dL *= t
        # back-propagate every delta with the old weights before any update
        for l in range(L - 1, 0, -1):
            d = deltas[l]
            gemm(1.0, self.weights[l].T, deltas[l + 1].T, beta=0.0, c=d.T, overwrite_c=1)
            t = tmp[l]
            a = acts[l]
            np.subtract(1, a, out=t)
            t *= a
            d *= t
        # update: W = decay*W - (eta/m) * delta^T a_prev, as one gemm in place
        alpha = -eta / m
        for l in range(L):
            W = self.weights[l]
            d = deltas[l + 1]
            gemm(alpha, acts[l].T, d.T, beta=decay, c=W.T, trans_b=1, overwrite_c=1)
            g = gb[l]
            np.sum(d, axis=0, out=g)
            g *= alpha
            self.biases[l].reshape(-1)[...] += g

    def train_epoch(self, X, Y, mini_batch_size, eta, lmbda=0.0, rng=None):
        """One epoch over (X (n, in) of self.dtype, Y one-hot (n, out) of self.dtype)."""
        n = X.shape[0]
        rng = np.random.default_rng() if rng is None else rng
        perm = rng.permutation(n)
        decay = 1.0 - eta * lmbda / n
        for k in range(0, n, mini_batch_size):
            self._step(X, Y, perm[k:k + mini_batch_size], eta, decay)

    def SGD(self, X, y, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, seed=0, epoch_callback=None):
        """Train on X (n, in) with integer labels y; returns network2's four lists.

        ``epoch_callback(j)`` is called after each epoch and its monitoring."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        Y = _one_hot(y, self.sizes[-1], self.dtype)
        rng = np.random.default_rng(seed)
        ec, ea, tc, ta = [], [], [], []
        if evaluation_data is not None:
            Xe = np.ascontiguousarray(evaluation_data[0], dtype=self.dtype)
            ye = np.asarray(evaluation_data[1])
        for j in range(epochs):
            self.train_epoch(X, Y, mini_batch_size, eta, lmbda, rng)
            if monitor_training_cost or monitor_training_accuracy:
                a = self.feedforward(X)
                if monitor_training_cost:
                    tc.append(self._cost(a, Y, lmbda))
                if monitor_training_accuracy:
                    ta.append(int(np.count_nonzero(a.argmax(axis=1) == y)))
            if monitor_evaluation_cost or monitor_evaluation_accuracy:
                a = self.feedforward(Xe)
                if monitor_evaluation_cost:
                    ec.append(self._cost(a, _one_hot(ye, self.sizes[-1], self.dtype), lmbda))
                if monitor_evaluation_accuracy:
                    ea.append(int(np.count_nonzero(a.argmax(axis=1) == ye)))
            if epoch_callback is not None:
                epoch_callback(j)
        return ec, ea, tc, ta

    # -- evaluation -------------------------------------------------------
    def feedforward(self, X, chunk=8192):
        """Outputs for every row of X, computed in row chunks."""
        X = np.asarray(X, dtype=self.dtype)
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.dtype)
        for k in range(0, X.shape[0], chunk):
            a = X[k:k + chunk]
            for w, b in zip(self.weights, self.biases):
                a = self._gemm(1.0, w.T, a.T, trans_a=1).T  # (rows, out), C order
                a += b.reshape(1, -1)
                expit(a, out=a)
            out[k:k + chunk] = a
        return out

    def accuracy(self, X, y):
        return int(np.count_nonzero(self.feedforward(X).argmax(axis=1) == np.asarray(y)))

    def _cost(self, a, Y, lmbda):
        n = a.shape[0]
        if self.cost == "quadratic":
            c = 0.5 * float(np.sum((a - Y) ** 2, dtype=np.float64))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                c = float(np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a)), dtype=np.float64))
        c /= n
        c += 0.5 * (lmbda / n) * sum(float(np.sum(w.astype(np.float64) ** 2)) for w in self.weights)
        return c

    def total_cost(self, X, y, lmbda):
        return self._cost(self.feedforward(X), _one_hot(y, self.sizes[-1], self.dtype), lmbda)


def _one_hot(y, k, dtype):
    y = np.asarray(y)
    if y.ndim == 2:
        return np.ascontiguousarray(y, dtype=dtype)
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y
