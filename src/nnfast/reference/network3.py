"""Chapter 6's network, computed in plain numpy: the oracle for ``nnfast.network3``.

Every layer's forward and backward pass is written out directly (loops over
filter offsets and pooling windows), with no Theano and no native code.  The
conventions are those of ``nnfast.network3``, which the tests hold equal:

- convolution is cross-correlation ("valid"), out[n,f,y,x] = sum_{c,i,j} w[f,c,i,j] x[n,c,y+i,x+j];
- max-pooling keeps the first maximum of each window (row-major) and drops
  remainder rows/columns; the gradient goes to that one winner;
- the ConvPoolLayer adds its bias and applies its activation after pooling;
- dropout keeps unit ``u`` of example ``e`` in layer ``l`` when
  ``_rng.uniform(seed, l, e, u) >= p`` with ``e`` counting examples from the
  start of the SGD call (epoch * used + position); no rescaling while
  training, weights scaled by ``1 - p`` on the evaluation path (as the book);
- the cost is the mean over the mini-batch of ``-ln softmax_y`` plus
  ``0.5 * lmbda * sum(w**2) / num_training_batches``; every parameter steps
  by ``-eta * grad``.
"""
import numpy as np

from . import _rng


# ---- activations ---------------------------------------------------------------------------

def linear(z):
    return z


def sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def tanh(z):
    return np.tanh(z)


def ReLU(z):
    return np.maximum(0.0, z)


def act_prime(fn, z, a):
    """d act / dz given z and a = act(z)."""
    if fn is sigmoid:
        return a * (1.0 - a)
    if fn is tanh:
        return 1.0 - a * a
    if fn is ReLU:
        return (z > 0).astype(z.dtype)
    return np.ones_like(z)


# ---- convolution: x (n, C, H, W), w (F, C, KH, KW) -> (n, F, H-KH+1, W-KW+1) --------------

def conv_forward(x, w):
    """Valid cross-correlation."""
    n, C, H, W = x.shape
    F, C2, KH, KW = w.shape
    OH, OW = H - KH + 1, W - KW + 1
    out = np.zeros((n, F, OH, OW), dtype=np.result_type(x, w))
    for i in range(KH):
        for j in range(KW):
            out += np.einsum("ncyx,fc->nfyx", x[:, :, i:i + OH, j:j + OW], w[:, :, i, j])
    return out


def conv_backward(x, w, dout):
    """Gradients (dx, dw) of conv_forward given dout = dL/dout."""
    n, C, H, W = x.shape
    F, _, KH, KW = w.shape
    OH, OW = H - KH + 1, W - KW + 1
    dx = np.zeros_like(x, dtype=np.result_type(x, w))
    dw = np.zeros_like(w, dtype=np.result_type(x, w))
    for i in range(KH):
        for j in range(KW):
            dw[:, :, i, j] = np.einsum("nfyx,ncyx->fc", dout, x[:, :, i:i + OH, j:j + OW])
            dx[:, :, i:i + OH, j:j + OW] += np.einsum("nfyx,fc->ncyx", dout, w[:, :, i, j])
    return dx, dw


# ---- max-pooling: z (n, F, OH, OW) -> (n, F, OH // ph, OW // pw) ------------------------------

def pool_forward(z, poolsize):
    """Max over non-overlapping windows; returns (out, arg) with arg the flat index into OH*OW."""
    n, F, OH, OW = z.shape
    ph, pw = poolsize
    QH, QW = OH // ph, OW // pw
    out = np.empty((n, F, QH, QW), dtype=z.dtype)
    arg = np.empty((n, F, QH, QW), dtype=np.int64)
    for qy in range(QH):
        for qx in range(QW):
            win = z[:, :, qy * ph:(qy + 1) * ph, qx * pw:(qx + 1) * pw].reshape(n, F, ph * pw)
            k = np.argmax(win, axis=2)                      # first maximum
            out[:, :, qy, qx] = np.take_along_axis(win, k[:, :, None], 2)[:, :, 0]
            arg[:, :, qy, qx] = (qy * ph + k // pw) * OW + qx * pw + k % pw
    return out, arg


def pool_backward(dout, arg, conv_shape):
    """Route each pooled gradient to its window's winner."""
    n, F, OH, OW = conv_shape
    dz = np.zeros((n, F, OH * OW), dtype=dout.dtype)
    nn, ff = np.meshgrid(np.arange(n), np.arange(F), indexing="ij")
    for qy in range(dout.shape[2]):
        for qx in range(dout.shape[3]):
            dz[nn, ff, arg[:, :, qy, qx]] += dout[:, :, qy, qx]
    return dz.reshape(conv_shape)


# ---- bias + activation, dropout, softmax ---------------------------------------------------

def bias_act_forward(x, b, fn):
    """z = x + b (b broadcast over axis 1), a = act(z)."""
    z = x + b.reshape((1, -1) + (1,) * (x.ndim - 2))
    return z, fn(z)


def bias_act_backward(da, z, a, fn):
    """(dz, db) from da = dL/da."""
    dz = da * act_prime(fn, z, a)
    axes = (0,) + tuple(range(2, dz.ndim))
    return dz, dz.sum(axis=axes)


def dropout_mask(seed, layer, first_example, n, units, p, dtype=np.float64):
    """Keep mask (n, units) of 0/1: unit u of example first_example + r kept when uniform >= p."""
    if p <= 0.0:
        return np.ones((n, units), dtype=dtype)
    e = np.arange(first_example, first_example + n, dtype=np.uint64)[:, None]
    u = np.arange(units, dtype=np.uint64)[None, :]
    return _rng.keep_mask(seed, layer, e, u, p).astype(dtype)


def softmax(z):
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=1, keepdims=True)


def log_likelihood(a, y):
    """Mean over rows of -ln a[r, y[r]]."""
    return -np.mean(np.log(a[np.arange(len(y)), y]))


def softmax_backward(a, y):
    """dL/dz of log_likelihood(softmax(z), y): (a - onehot(y)) / n."""
    dz = a.copy()
    dz[np.arange(len(y)), y] -= 1.0
    return dz / len(y)


# ---- layers --------------------------------------------------------------------------------

class ConvPoolLayer(object):
    """Convolution, max-pooling, then bias and activation (the book's order)."""

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        self.filter_shape, self.image_shape = tuple(filter_shape), tuple(image_shape)
        self.poolsize, self.activation_fn = tuple(poolsize), activation_fn
        n_out = max(1, filter_shape[0] * int(np.prod(filter_shape[2:])) // int(np.prod(poolsize)))
        self.w = np.random.normal(loc=0, scale=np.sqrt(1.0 / n_out), size=filter_shape)
        self.b = np.random.normal(loc=0, scale=1.0, size=(filter_shape[0],))
        self.params = [self.w, self.b]
        self.p_dropout = 0.0
        C, H, W = self.image_shape[1:]
        F, _, KH, KW = self.filter_shape
        self.n_in = C * H * W
        self.n_out = F * ((H - KH + 1) // poolsize[0]) * ((W - KW + 1) // poolsize[1])

    def forward(self, x, mask=None, train=True):
        x = x.reshape((x.shape[0],) + self.image_shape[1:])
        self.x = x
        self.conv = conv_forward(x, self.w)
        pooled, self.arg = pool_forward(self.conv, self.poolsize)
        self.z, self.a = bias_act_forward(pooled, self.b, self.activation_fn)
        return self.a.reshape(x.shape[0], -1)

    def backward(self, da):
        da = da.reshape(self.a.shape)
        dz, db = bias_act_backward(da, self.z, self.a, self.activation_fn)
        dconv = pool_backward(dz, self.arg, self.conv.shape)
        dx, dw = conv_backward(self.x, self.w, dconv)
        return dx.reshape(dx.shape[0], -1), dw, db


class FullyConnectedLayer(object):

    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self.n_in, self.n_out = n_in, n_out
        self.activation_fn, self.p_dropout = activation_fn, p_dropout
        self.w = np.random.normal(loc=0.0, scale=np.sqrt(1.0 / n_out), size=(n_in, n_out))
        self.b = np.random.normal(loc=0.0, scale=1.0, size=(n_out,))
        self.params = [self.w, self.b]

    def _pre(self, x, mask, train):
        if train:
            self.mask = mask if mask is not None else np.ones_like(x)
            self.xd = x * self.mask
            return self.xd @ self.w
        return (1.0 - self.p_dropout) * (x @ self.w)

    def forward(self, x, mask=None, train=True):
        self.z, self.a = bias_act_forward(self._pre(x, mask, train), self.b, self.activation_fn)
        return self.a

    def backward(self, da):
        dz, db = bias_act_backward(da, self.z, self.a, self.activation_fn)
        return (dz @ self.w.T) * self.mask, self.xd.T @ dz, db


class SoftmaxLayer(FullyConnectedLayer):

    def __init__(self, n_in, n_out, p_dropout=0.0):
        self.n_in, self.n_out, self.p_dropout = n_in, n_out, p_dropout
        self.activation_fn = None
        self.w = np.zeros((n_in, n_out))
        self.b = np.zeros((n_out,))
        self.params = [self.w, self.b]

    def forward(self, x, mask=None, train=True):
        self.z = self._pre(x, mask, train) + self.b
        self.a = softmax(self.z)
        return self.a

    def backward_from_labels(self, y):
        dz = softmax_backward(self.a, y)
        return (dz @ self.w.T) * self.mask, self.xd.T @ dz, dz.sum(axis=0)


# ---- network -------------------------------------------------------------------------------

class Network(object):

    def __init__(self, layers, mini_batch_size, dtype=np.float64):
        self.layers = layers
        self.mini_batch_size = mini_batch_size
        for layer in layers:
            layer.w = np.asarray(layer.w, dtype=dtype).copy()
            layer.b = np.asarray(layer.b, dtype=dtype).copy()
            layer.params = [layer.w, layer.b]

    def forward(self, x, train=False, seed=0, first_example=0):
        a = x
        for l, layer in enumerate(self.layers):
            mask = None
            if train:
                mask = dropout_mask(seed, l, first_example, a.shape[0], a.shape[1], layer.p_dropout, a.dtype)
            a = layer.forward(a, mask, train)
        return a

    def cost(self, x, y, seed=0, first_example=0, lmbda=0.0, num_training_batches=1):
        """The book's training cost of one mini-batch (dropout path)."""
        a = self.forward(x, True, seed, first_example)
        l2 = sum((layer.w ** 2).sum() for layer in self.layers)
        return log_likelihood(a, y) + 0.5 * lmbda * l2 / num_training_batches

    def gradients(self, x, y, seed=0, first_example=0):
        """[(dw, db)] per layer of the data term of the cost (no L2)."""
        self.forward(x, True, seed, first_example)
        grads = [None] * len(self.layers)
        da, dw, db = self.layers[-1].backward_from_labels(y)
        grads[-1] = (dw, db)
        for l in range(len(self.layers) - 2, -1, -1):
            da, dw, db = self.layers[l].backward(da)
            grads[l] = (dw, db)
        return grads

    def step(self, x, y, eta, lmbda=0.0, num_training_batches=1, seed=0, first_example=0):
        """One SGD step: param -= eta * grad (grad with the L2 term)."""
        grads = self.gradients(x, y, seed, first_example)
        for layer, (dw, db) in zip(self.layers, grads):
            layer.w -= eta * (dw + lmbda * layer.w / num_training_batches)
            layer.b -= eta * db

    def train(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, seed=0, max_batches=None):
        """SGD over consecutive mini-batches (remainder dropped), no evaluation."""
        x, y = training_data
        ntb = len(y) // mini_batch_size
        steps = 0
        for epoch in range(epochs):
            for i in range(ntb):
                if max_batches is not None and steps >= max_batches:
                    return
                s = slice(i * mini_batch_size, (i + 1) * mini_batch_size)
                self.step(x[s], y[s], eta, lmbda, ntb, seed, (epoch * ntb + i) * mini_batch_size)
                steps += 1

    def predict(self, x):
        return np.argmax(self.forward(x, train=False), axis=1)
