"""What network.py and network2.py share: laying data out once per SGD call,
the book's functions in numpy (activations, feedforward and backprop of
examples as columns), and their layer list on the one engine of all three
networks (csrc/net3.c: training, as the harness ``nnfast._train`` drives it,
and the batched evaluation path).

Chapter 1's network is chapter 3's with the quadratic cost and the large
initialiser, so both modules are thin faces of this one engine.
"""
import numbers
import operator

import numpy as np

from . import _checks, _config, _core, _train

# codes shared with csrc/nnfast.h
LINEAR, SIGMOID, TANH, RELU, SOFTMAX = 0, 1, 2, 3, 4
ACTIVATIONS = {"linear": LINEAR, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}
QUADRATIC, CROSS_ENTROPY, LOG_LIKELIHOOD = 0, 1, 2
REG_L2, REG_L1 = 0, 1
MAX_MATRIX = _checks.MAX_MATRIX


# ---------------------------------------------------------------------------
# the book's functions, in numpy (one example or many, as columns)
# ---------------------------------------------------------------------------

def sigmoid(z):
    """The sigmoid function (exp overflow gives 0.0, silently)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(z)))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    s = sigmoid(z)
    return s * (1 - s)


tanh = np.tanh


def tanh_prime(z):
    return 1.0 - np.square(np.tanh(z))


def relu(z):
    """Rectified linear: max(z, 0)."""
    return np.maximum(z, 0.0)


def relu_prime(z):
    """1 where z > 0, else 0 (0 at z == 0)."""
    return np.greater(z, 0).astype(np.float64)


def softmax(z):
    """exp(z - max) / sum(exp(z - max)) down each column."""
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


HIDDEN = {"sigmoid": (sigmoid, sigmoid_prime), "tanh": (tanh, tanh_prime), "relu": (relu, relu_prime)}


def feedforward(weights, biases, a, act=sigmoid, output=sigmoid, scale=1.0):
    """The network's output for input column(s) ``a``; hidden activations times ``scale``
    (1 - p_dropout for a network trained with dropout)."""
    last = len(weights) - 1
    for i, (b, w) in enumerate(zip(biases, weights)):
        z = np.dot(w, a) + b
        if i == last:
            return output(z)
        a = act(z)
        if scale != 1.0:
            a = a * scale
    return a


def backprop(weights, biases, x, y, delta_out, act=sigmoid, act_prime=sigmoid_prime, output=sigmoid,
             masks=None, scale=1.0):
    """Backpropagation, as the book: the cost's gradient ``(nabla_b, nabla_w)`` summed over the
    examples that are the columns of ``x`` and ``y``; ``delta_out(z, a, y)`` is the output
    layer's error.  ``masks`` (one 0/1 array per hidden layer) drop hidden units (dropout's
    training path); else hidden activations are times ``scale``.  Also returns whether every
    weighted input and the output error were finite."""
    activation, activations, zs = x, [x], []
    last = len(weights) - 1
    for i, (b, w) in enumerate(zip(biases, weights)):
        z = np.dot(w, activation) + b
        zs.append(z)
        if i == last:
            activation = output(z)
        else:
            activation = act(z)
            if masks is not None:
                activation = activation * masks[i]
            elif scale != 1.0:
                activation = activation * scale
        activations.append(activation)
    nabla_b, nabla_w = [None] * len(biases), [None] * len(weights)
    delta = delta_out(zs[-1], activations[-1], y)
    finite = all(np.isfinite(z).all() for z in zs) and np.isfinite(delta).all()
    for l in range(1, len(weights) + 1):
        if l > 1:
            delta = np.dot(weights[-l + 1].transpose(), delta) * act_prime(zs[-l])
            if masks is not None:
                delta = delta * masks[-l + 1]
            elif scale != 1.0:
                delta = delta * scale
        nabla_b[-l] = delta if delta.shape[1] == 1 else np.sum(delta, axis=1, keepdims=True)
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w, finite


# ---------------------------------------------------------------------------
# data: the book's lists of (x, y) tuples, or array pairs (X, Y)
# ---------------------------------------------------------------------------

def _input_matrix(X, name, n_in, dtype):
    """(n, n_in) C-contiguous inputs: float32 kept (exactly promoted in C), else the net's dtype."""
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError("%s: inputs must be numeric arrays, got dtype %s" % (name, X.dtype))
    if np.iscomplexobj(X):
        raise TypeError("%s: inputs must be real, got dtype %s" % (name, X.dtype))
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError("%s: inputs must have %d values each (sizes[0]), got an array of shape %s"
                         % (name, n_in, X.shape))
    keep = X.dtype == np.float32 and dtype == np.float64
    check_float_range(X, name, dtype)
    X = np.ascontiguousarray(X, dtype=X.dtype if keep else dtype)
    bad = first_nonfinite_row(X)
    if bad is not None:
        raise ValueError("%s: input %d contains NaN or infinity" % (name, bad))
    return X


def first_nonfinite_row(X):
    """The first row of the 2-D array X holding a NaN or an infinity, or None: one native pass
    (csrc/dense_impl.h's finite_block, the training loop's own test) over a C-contiguous float32 or
    float64 X, else numpy's test over blocks."""
    if X.ndim == 2 and X.dtype in (np.float32, np.float64) and X.flags.c_contiguous:
        r = _core.first_nonfinite_row(X)
        return None if r < 0 else r
    return first_row_where(X, lambda block: ~np.isfinite(block))


def first_row_where(X, test, block_rows=4096):
    """The first row of the 2-D array X where test(rows) is true somewhere, or None.

    Works through blocks of rows, so that a check of the 60,000-image set needs
    a few MB of temporaries instead of a boolean array as large as the data."""
    if X.size == 0:
        return None
    X2 = X.reshape(len(X), -1)
    for r in range(0, len(X2), block_rows):
        hit = test(X2[r:r + block_rows])
        if hit.any():
            return r + int(np.argmax(hit.reshape(len(hit), -1).any(axis=1)))
    return None


def check_float_range(X, name, dtype):
    """Inputs beyond ``dtype``'s range (1e300 into float32) would turn into inf with a
    cast warning: say so instead."""
    if X.dtype.kind == "f" and X.dtype.itemsize > np.dtype(dtype).itemsize and X.size and X.ndim >= 1:
        big = np.finfo(dtype).max
        with np.errstate(invalid="ignore"):
            bad = first_row_where(X, lambda block: np.abs(block) > big)
        if bad is not None:
            raise ValueError("%s: input %d holds values beyond the range of %s" % (name, bad, np.dtype(dtype)))


def _stack_inputs(data, name, n_in):
    xs = []
    for i, item in enumerate(data):
        try:
            x, _ = item
        except (TypeError, ValueError):
            raise TypeError("%s[%d] must be an (x, y) pair, got %r" % (name, i, type(item).__name__)) from None
        x = np.asarray(x)
        if x.size != n_in:
            raise ValueError("%s[%d]: input has %d values, expected %d (sizes[0]); shape %s"
                             % (name, i, x.size, n_in, x.shape))
        xs.append(x.reshape(1, n_in))
    return np.concatenate(xs, axis=0)


def _labels_to_onehot(labels, name, n_out, dtype):
    labels = np.asarray(labels)
    if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError("%s: integer labels expected, got dtype %s" % (name, labels.dtype))
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError("%s: labels must be in 0..%d (sizes[-1] - 1), got range %d..%d"
                         % (name, n_out - 1, labels.min(), labels.max()))
    Y = np.zeros((labels.shape[0], n_out), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _targets(ys, name, n, n_out, dtype):
    """Targets as (n, n_out) in the net's dtype, from one-hot/real vectors or integer labels."""
    if isinstance(ys, np.ndarray) and ys.ndim == 1 or (isinstance(ys, list) and ys and
                                                       all(isinstance(y, numbers.Integral) for y in ys)):
        return _labels_to_onehot(ys, name, n_out, dtype)
    if isinstance(ys, list):
        rows = []
        for i, y in enumerate(ys):
            if isinstance(y, numbers.Integral) and not isinstance(y, bool):
                rows.append(_labels_to_onehot([y], "%s[%d]" % (name, i), n_out, dtype))
                continue
            y = np.asarray(y)
            if y.size != n_out:
                raise ValueError("%s[%d]: target has %d values, expected %d (sizes[-1]); shape %s"
                                 % (name, i, y.size, n_out, y.shape))
            rows.append(y.reshape(1, n_out))
        Y = np.concatenate(rows, axis=0)
    else:
        Y = np.asarray(ys)
        if Y.ndim != 2 or Y.shape != (n, n_out):
            raise ValueError("%s: targets must have shape (%d, %d) or be %d integer labels, got shape %s"
                             % (name, n, n_out, n, Y.shape))
    if Y.dtype == object or not (np.issubdtype(Y.dtype, np.number) or Y.dtype == np.bool_):
        raise TypeError("%s: targets must be numeric, got dtype %s" % (name, Y.dtype))
    Y = np.ascontiguousarray(Y, dtype=dtype)
    if not np.isfinite(Y).all():
        raise ValueError("%s: targets contain NaN or infinity" % name)
    return Y


def _list_of_rows(data, n_in, n_out, dtype):
    """A ``_train.TrainingSet`` over the matrices the book's list is made of, without a copy,
    or None when ``data`` is not such a list (then the ordinary path reads it).

    Such a list (``load_data_wrapper()``'s, shuffled or not) holds ``(x, y)`` tuples whose
    x are rows of one matrix (``_train.rows_of``) of float32 or the net's dtype (what the
    ordinary path would keep), finite where the list's rows lie, one row each, and whose y
    are integer labels or float arrays of one shape (read as values: 50,000 one-hot columns
    are 4 MB).  The examples are what the ordinary path would stack, so training on them
    gives the same bits."""
    if not data or set(map(type, data)) != {tuple} or set(map(len, data)) != {2}:
        return None
    found = _train.rows_of([item[0] for item in data], n_in, (np.dtype(np.float32), dtype))
    if found is None:
        return None
    X, rows = found
    ys = [item[1] for item in data]
    if set(map(type, ys)) == {int}:
        labels = np.array(ys, dtype=np.int64)
        if labels.min() < 0 or labels.max() >= n_out:
            return None
        targets = _labels_to_onehot(labels, "", n_out, dtype)
    else:
        first = ys[0]
        if (set(map(type, ys)) != {np.ndarray} or first.size != n_out or first.dtype.kind != "f"
                or set(map(operator.attrgetter("shape"), ys)) != {first.shape}
                or set(map(operator.attrgetter("dtype"), ys)) != {first.dtype}):
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            targets = np.array(ys).reshape(len(ys), n_out).astype(dtype, copy=False)
        if not np.isfinite(targets).all():
            return None
    if first_nonfinite_row(X) is not None:
        return None
    if len(rows) == len(X) and np.array_equal(rows, np.arange(len(X))):
        return _train.TrainingSet(X, targets)     # the matrix's own order: the examples as they are
    Y = np.zeros((len(X), n_out), dtype=dtype)
    Y[rows] = targets
    return _train.TrainingSet(X, Y, rows, targets)


def training_set(data, name, n_in, n_out, dtype):
    """Training data as a ``_train.TrainingSet``: the book's list of views into one matrix
    as that matrix and the row order (no copy), anything else as ``as_arrays`` lays it out."""
    if isinstance(data, list):
        found = _list_of_rows(data, n_in, n_out, dtype)
        if found is not None:
            return found
    X, Y, _ = as_arrays(data, name, n_in, n_out, dtype)
    return _train.TrainingSet(X, Y)


def as_arrays(data, name, n_in, n_out, dtype):
    """Data as ``(X, Y, is_list)``: X (n, n_in), Y (n, n_out) targets in ``dtype``.

    ``data`` is the book's list of ``(x, y)`` tuples (x a column of n_in values,
    y a column of n_out targets or an integer label) or an array pair ``(X, Y)``.
    A list of views into one matrix (``load_data_wrapper()``'s) is read from the
    matrix: a view when in the matrix's order, else one gather of its rows.
    """
    is_list = isinstance(data, list)
    if is_list:
        found = _list_of_rows(data, n_in, n_out, dtype)
        if found is not None:
            return found.inputs(), found.targets(), True
    data = _train.materialize(data, name)
    if data is None:
        raise ValueError("%s is empty" % name)
    if _train.is_array_pair(data):
        X = _input_matrix(data[0], name, n_in, dtype)
        if len(X) == 0:
            raise ValueError("%s is empty" % name)
        ys = data[1] if isinstance(data[1], (list, np.ndarray)) else np.asarray(data[1])
        if len(ys) != len(X):
            raise ValueError("%s: %d inputs but %d targets" % (name, len(X), len(ys)))
        return X, _targets(ys, name, len(X), n_out, dtype), False
    if len(data) == 0:
        raise ValueError("%s is empty" % name)
    X = _input_matrix(_stack_inputs(data, name, n_in), name, n_in, dtype)
    Y = _targets([item[1] for item in data], name, len(X), n_out, dtype)
    return X, Y, is_list


def as_eval_arrays(data, name, n_in, n_out, dtype):
    """Evaluation data as ``(X, labels)``: integer labels, or argmax of one-hot targets."""
    X, Y, _ = as_arrays(data, name, n_in, n_out, dtype)
    return X, Y


def labels_of(Y):
    """Integer labels from (n, n_out) targets: argmax per row, as the book's accuracy(convert=True)."""
    return np.argmax(Y, axis=1)




# ---------------------------------------------------------------------------
# the native engine
# ---------------------------------------------------------------------------

class Evaluator(object):
    """Batched forward passes over whole data sets on the engine's evaluation path (``_core.Plan``,
    blocks of EVAL_ROWS rows) with the parameter arrays of ``params`` (a ``_train.Params``):
    predictions, and per-row costs or outputs when asked.  Hidden activations are times
    ``hidden_scale`` (1 - p_dropout): the plan scales each layer's product above them."""

    EVAL_ROWS = 1024

    def __init__(self, net, params, act_hidden=SIGMOID, act_out=SIGMOID, cost=QUADRATIC):
        self.net, self.params, self.codes, self.plans = net, params, (act_hidden, act_out, cost), {}

    def _plan(self, hidden_scale):
        if hidden_scale not in self.plans:
            self.plans[hidden_scale] = _plan(self.net, self.params, self.codes, self.EVAL_ROWS, 1.0 - hidden_scale,
                                             train=False)
        return self.plans[hidden_scale]

    def __call__(self, X, Y=None, hidden_scale=1.0, want_cost=False, want_output=False):
        with _config.blas_limit(1):
            pred, out, cost = self._plan(hidden_scale).predict(X, _config.effective_threads(), want_output,
                                                               Y if want_cost else None)
        return pred, cost, out


def evaluate_arrays(net, X, Y=None, act_hidden=SIGMOID, act_out=SIGMOID, cost=QUADRATIC,
                    hidden_scale=1.0, want_cost=False, want_output=False):
    """The network's parameters as it holds them now (checked), one batched native forward
    pass: (argmax per row, cost per row or None, outputs or None)."""
    params = _train.dense_params(net)
    params.load()
    return Evaluator(net, params, act_hidden, act_out, cost)(X, Y, hidden_scale, want_cost, want_output)


def _plan(net, params, codes, rows, p, velocities=None, train=True):
    """network's or network2's layer list for the engine (``_core.Plan``, buffers for ``rows`` rows
    at a time): fully connected layers over the working arrays of ``params`` (weights as (inputs,
    units): their transposes), the hidden ones' outputs dropped with probability ``p`` (training) or
    scaled by 1 - p (evaluation), the last a sigmoid with the cost codes[2] or softmax; velocities
    (momentum) as the parameters; ``train`` False: for the evaluation path only (no buffers only training uses)."""
    sizes, L = net.sizes, len(net.sizes) - 1
    act_hidden, act_out, cost = codes
    specs = []
    for l in range(L):
        last = l == L - 1
        spec = dict(kind="softmax" if last and act_out == SOFTMAX else "fc", act=act_out if last else act_hidden,
                    I=sizes[l], O=sizes[l + 1], w=params.arrays[l].T, b=params.arrays[L + l].reshape(-1),
                    p=p if l > 0 else 0.0)
        if velocities is not None:
            spec.update(vw=velocities[0][l].T, vb=velocities[1][l].reshape(-1))
        specs.append(spec)
    return _core.Plan(specs, rows, net.dtype, targets=True, cost=cost, training=train)


class Engine(object):
    """network's and network2's SGD: their fully connected layers on the one training loop of
    all three networks (csrc/net3.c, through ``_core.Plan``), on the working arrays of ``params``,
    as ``_train.Run`` drives it.  The engine's weights are (inputs, units), the working arrays'
    memory (``_train.dense_params``: each weights[l] a transposed view).  ``kw``: lmbda_over_n,
    reg, mu, p_dropout, seed (read at each call: a resumed run sets them)."""

    def __init__(self, net, params, X, Y, eta, codes, mbs, momentum=False, dropout=False, rows=None, **kw):
        L = len(net.sizes) - 1
        self.rows = rows             # example i is row rows[i] of X and Y (None: row i)
        self.n = len(X) if rows is None else len(rows)
        self.mbs = mbs
        self.params, self.X, self.Y, self.eta = params, X, Y, eta
        self.kw = dict(dict(lmbda_over_n=0.0, reg=REG_L2, mu=0.0, p_dropout=0.0, seed=0), **kw)
        self.velocities = None
        if momentum:
            self.velocities = (_train.transposed_zeros([w.shape for w in params.arrays[:L]], net.dtype),
                               [np.zeros_like(b) for b in params.arrays[L:]])
        self.plan = _plan(net, params, codes, mbs, self.kw["p_dropout"] if dropout else 0.0, self.velocities)
        self.threads = _config.effective_threads()
        self.base = 0
        self._order = self._rows = None

    def start_epoch(self, j):
        self.base = self.plan.batches_done

    @property
    def examples_done(self):
        return min(self.n, (self.plan.batches_done - self.base) * self.mbs)

    def train(self, j, order, first, count):
        if order is not self._order:       # the epoch's order as rows of X and Y, once per epoch
            self._order, self._rows = order, order if self.rows is None else self.rows[order]
        kw = self.kw
        self.plan.train(self.X, None, self.Y, self._rows, self.n, first, count, self.eta,
                        self.eta * kw["lmbda_over_n"], kw["reg"] == REG_L1, kw["mu"], kw["seed"], (j or 0) * self.n,
                        self.threads)

    def check(self, j, first, end):
        """TrainingDiverged when the last call met an inf or NaN.

        The loop checks every weighted input and output delta before a
        mini-batch's update and stops there.  An update can itself overflow
        (eta times a gradient beyond the largest float): the next mini-batch's
        forward pass then sees it, or, after the last one of a call, the check
        of the parameters here (a few microseconds per call of ~50 ms)."""
        arrays = self.params.arrays + ([] if self.velocities is None else self.velocities[0] + self.velocities[1])
        finite = _train.all_finite(arrays)
        k = self.plan.batches_done - self.base
        if self.plan.nonfinite and finite:
            raise _train.diverged(j, k if j is not None else None,
                                  "a weighted input or output delta became infinite or NaN", _train.BEFORE)
        if self.plan.nonfinite or not finite:
            raise _train.diverged(j, k - 1 if j is not None else None, *_train.OVERFLOWED)


def one_step(net, X, Y, make_engine):
    """update_mini_batch: one gradient step on all rows of X, Y, from the network's arrays
    (checked) to new ones, as the book's ``self.weights = [...]``; returns the engine."""
    params = _train.dense_params(net)
    params.load()
    engine = make_engine(params)
    engine.start_epoch(None)
    params.trained = True
    try:
        with _config.blas_limit(1):   # a large step takes BLAS products, threaded unless held
            engine.train(None, np.arange(len(X), dtype=np.int64), 0, 1)
        engine.check(None, 0, 1)
    finally:
        params.publish()
    return engine
