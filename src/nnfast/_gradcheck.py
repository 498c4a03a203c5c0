"""Chapter 2 as code: check backpropagation against finite differences.

Backpropagation gives every partial derivative dC/dw of the cost in one
backward pass.  The slow, obvious way gives the same numbers: nudge one
weight by +eps and by -eps, run the network forward both times, and take

    dC/dw ~ (C(w + eps) - C(w - eps)) / (2 eps),

the central difference, whose error falls as eps**2.  ``gradcheck`` does this
for every weight and bias of a network and reports, for each parameter array,
the largest relative difference between the two.

The cost checked is the data term of the network's own cost, averaged over
the examples given: C = (1/m) sum_x C_x with C_x the quadratic cost
0.5*||a - y||^2 (``network``) or ``net.cost.fn(a, y)`` (``network2``), or
network3's mean log-likelihood on its training path.  The regularisation
term is not included: backprop never computes it (the update adds
lmbda/n * w itself), so there is nothing of backprop to check there.

Relative error, per entry: |a - b| / max(|a| + |b|, tiny), with a the
backprop value and b the finite difference; the result keeps the largest per
array.  ``tiny`` keeps entries that are zero in both (a dead ReLU, a
saturated sigmoid) from dividing 0 by 0, and it reflects what a central
difference can resolve: each cost is rounded to about 2.2e-16 * |C|, so the
difference carries an error of about 2.2e-16 * |C| / eps (2e-11 for eps =
1e-5 and C of order 1).  By default ``tiny`` is 1e7 times that (2e-4 for
C ~ 1): derivatives larger than that are compared relatively, smaller ones
in effect absolutely, and rounding alone reads as an error near 1e-7.  A
correct network then gives errors of 1e-10 .. 1e-7; a wrong derivative
gives 1e-2 .. 1.  One caveat: a ReLU whose weighted input lies within eps of
0 has a kink there, and the difference straddles it.
"""
import numbers

import numpy as np

__all__ = ["gradcheck", "GradCheckResult"]


class GradCheckResult(object):
    """What ``gradcheck`` found.

    ``errors``: {array name: largest relative error}, e.g. ``"weights[0]"``,
    ``"biases[1]"`` or, for network3, ``"layers[0].w"``; ``worst``: {name:
    index of that entry}; ``backprop`` / ``numerical``: {name: the two values
    there}; ``checked``: {name: entries compared}; ``max_error``: the largest of
    all.  ``ok(tol)`` is True when every error is below ``tol``.
    """

    def __init__(self, kind, eps, tiny, m):
        self.kind, self.eps, self.tiny, self.examples = kind, eps, tiny, m
        self.errors, self.worst, self.backprop, self.numerical = {}, {}, {}, {}
        self.shapes, self.checked = {}, {}

    @property
    def max_error(self):
        return max(self.errors.values()) if self.errors else 0.0

    def ok(self, tol=1e-6):
        """Every parameter array's largest relative error is below ``tol``."""
        return all(e < tol for e in self.errors.values())

    def report(self):
        """A table: one row per parameter array."""
        lines = ["gradcheck of a %s network on %d example%s, eps=%g: |a-b| / max(|a|+|b|, %g)"
                 % (self.kind, self.examples, "" if self.examples == 1 else "s", self.eps, self.tiny),
                 "%-14s %-14s %8s %12s %14s %14s" % ("array", "shape", "checked", "max rel err",
                                                     "backprop", "numerical")]
        for name, err in self.errors.items():
            lines.append("%-14s %-14s %8d %12.3e %14.6e %14.6e" % (
                name, "x".join(str(s) for s in self.shapes[name]), self.checked[name], err,
                self.backprop[name], self.numerical[name]))
        lines.append("largest relative error: %.3e" % self.max_error)
        return "\n".join(lines)

    __str__ = report

    def __repr__(self):
        return "<GradCheckResult %s: max_error=%.3e over %d arrays>" % (self.kind, self.max_error, len(self.errors))


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------

def _check_eps(eps):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError("eps must be a real number, got %r" % (eps,))
    eps = float(eps)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError("eps must be a finite number > 0, got %r" % (eps,))
    return eps


def _as_float_array(v, name):
    try:
        a = np.asarray(v)
    except Exception:  # noqa: BLE001 - anything not array-like
        raise TypeError("%s must be a numeric array, got %s" % (name, type(v).__name__)) from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
        raise TypeError("%s must be a real numeric array, got %s" % (name, type(v).__name__))
    if not np.all(np.isfinite(a)):
        raise ValueError("%s contains NaN or infinity" % name)
    return a


def _is_labels(a):
    return np.issubdtype(a.dtype, np.integer) and a.ndim <= 1


def _columns(x, y, n_in, n_out):
    """Book-style examples as columns: X (n_in, m), Y (n_out, m).

    ``x``: one column (n_in, 1) or (n_in,), or m examples as columns (n_in, m).
    ``y``: the same for targets, or integer label(s)."""
    X = _as_float_array(x, "x")
    if X.ndim == 1 and X.shape[0] == n_in:
        X = X.reshape(n_in, 1)
    if X.ndim != 2 or X.shape[0] != n_in or X.shape[1] < 1:
        raise ValueError("x must have shape (%d, 1) for one example or (%d, m) for m examples as columns "
                         "(sizes[0] = %d), got shape %s" % (n_in, n_in, n_in, X.shape))
    m = X.shape[1]
    Y = _as_float_array(y, "y")
    if _is_labels(Y):
        labels = Y.reshape(-1)
        if labels.size != m:
            raise ValueError("y: %d label(s) for %d example(s)" % (labels.size, m))
        if labels.min() < 0 or labels.max() >= n_out:
            raise ValueError("y: labels must be in 0..%d (sizes[-1] - 1), got %s" % (n_out - 1, labels))
        Y = np.zeros((n_out, m))
        Y[labels, np.arange(m)] = 1.0
    else:
        if Y.ndim == 1 and Y.shape[0] == n_out and m == 1:
            Y = Y.reshape(n_out, 1)
        if Y.shape != (n_out, m):
            raise ValueError("y must have shape (%d, %d) to match x (targets as columns, sizes[-1] = %d) "
                             "or be %d integer label(s), got shape %s" % (n_out, m, n_out, m, Y.shape))
    return np.array(X, dtype=np.float64), np.array(Y, dtype=np.float64)


def _rows(x, y, n_in, n_out, max_m):
    """network3-style examples as rows: X (m, n_in), integer labels (m,)."""
    X = _as_float_array(x, "x")
    if X.ndim == 1 and X.shape[0] == n_in:
        X = X.reshape(1, n_in)
    elif X.ndim == 2 and X.shape == (n_in, 1):
        X = X.reshape(1, n_in)
    if X.ndim != 2 or X.shape[1] != n_in or not 1 <= X.shape[0] <= max_m:
        raise ValueError("x must have shape (m, %d) with 1 <= m <= %d (network3: examples as rows, "
                         "m at most the mini-batch size), got shape %s" % (n_in, max_m, X.shape))
    m = X.shape[0]
    Y = _as_float_array(y, "y")
    if not _is_labels(Y) or Y.size != m:
        raise ValueError("y must be %d integer label(s) for network3, got %s of shape %s" % (m, Y.dtype, Y.shape))
    Y = Y.reshape(-1).astype(np.int64)
    if Y.min() < 0 or Y.max() >= n_out:
        raise ValueError("y: labels must be in 0..%d, got %s" % (n_out - 1, Y))
    return np.ascontiguousarray(X, dtype=np.float64), Y


# ---------------------------------------------------------------------------
# the comparison
# ---------------------------------------------------------------------------

def _compare(result, params, grads, cost, eps, tiny, samples, rng):
    """Central differences of ``cost()`` for each array of ``params`` (perturbed
    in place and put back exactly), compared with ``grads``."""
    if tiny is None:
        tiny = 1e7 * np.finfo(np.float64).eps * max(abs(cost()), 1.0) / eps
    result.tiny = tiny
    for (name, p), g in zip(params, grads):
        flat = p.reshape(-1)
        if not np.shares_memory(flat, p):
            raise RuntimeError("gradcheck: parameter %s is not contiguous" % name)
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        if g.size != flat.size:
            raise ValueError("gradcheck: the gradient of %s has %d entries, the array %d" % (name, g.size, flat.size))
        idx = np.arange(flat.size)
        if samples is not None and flat.size > samples:
            idx = np.sort(rng.choice(flat.size, size=samples, replace=False))
        numerical = np.empty(len(idx))
        for k, i in enumerate(idx):
            old = flat[i]
            flat[i] = old + eps
            c_plus = cost()
            flat[i] = old - eps
            c_minus = cost()
            flat[i] = old
            numerical[k] = (c_plus - c_minus) / (2.0 * eps)
        analytic = g[idx]
        rel = np.abs(analytic - numerical) / np.maximum(np.abs(analytic) + np.abs(numerical), tiny)
        k = int(np.argmax(rel)) if rel.size else 0
        result.errors[name] = float(rel[k]) if rel.size else 0.0
        result.worst[name] = np.unravel_index(int(idx[k]), p.shape) if rel.size else ()
        result.backprop[name] = float(analytic[k]) if rel.size else 0.0
        result.numerical[name] = float(numerical[k]) if rel.size else 0.0
        result.shapes[name] = p.shape
        result.checked[name] = len(idx)
    return result


def _dense_kind(net):
    return all(hasattr(net, a) for a in ("sizes", "weights", "biases", "backprop", "feedforward"))


def _net3_kind(net):
    return hasattr(net, "layers") and (hasattr(net, "_gradients") or hasattr(net, "gradients"))


def gradcheck(net, x, y, eps=1e-5, *, tiny=None, samples=None, seed=0, first_example=0):
    """Compare every backpropagated partial derivative of ``net`` with a central
    finite difference; return a ``GradCheckResult`` (``.errors``,
    ``.max_error``, ``.ok(tol)``, ``print(result)`` for a table).

    ``net``: an ``nnfast.network.Network``, ``nnfast.network2.Network`` (any
    cost, activation, dropout-trained), ``nnfast.network3.Network`` or one of
    ``nnfast.reference``'s networks.  It is not changed: the check runs in
    float64 on copies of its parameters, and every attribute it touches is put
    back (the same array objects) before returning.

    ``x``, ``y``: for network/network2 one example as the book's columns, x
    (n_in, 1) and y (n_out, 1) or an integer label, or m examples as the
    columns of x (n_in, m) and y (n_out, m) (or m labels).  For network3, x
    (m, n_in) rows and y m integer labels, m at most the mini-batch size.

    The cost is the unregularised data term averaged over the m examples
    (see the module notes).  Gradients come from the network's own code: ``backprop(x, y)`` per example
    (network, network2, the book's), ``_gradients`` (network3's native
    kernels) or ``gradients`` (reference network3), both on the training
    path with dropout masks fixed by ``seed`` and ``first_example``.

    ``eps`` the nudge; ``tiny`` the floor of the relative error's
    denominator (default: 1e7 * 2.2e-16 * max(|C|, 1) / eps, see the module
    notes); ``samples``: check at most that many entries of each array
    (chosen at random, numpy's global generator untouched), for big networks.
    """
    eps = _check_eps(eps)
    if tiny is not None:
        if isinstance(tiny, bool) or not isinstance(tiny, numbers.Real) or not (0 < tiny < np.inf):
            raise ValueError("tiny must be a finite number > 0 or None, got %r" % (tiny,))
        tiny = float(tiny)
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
            raise ValueError("samples must be a positive integer or None, got %r" % (samples,))
    rng = np.random.default_rng(12345)
    if _dense_kind(net):
        return _check_dense(net, x, y, eps, tiny, samples, rng)
    if _net3_kind(net):
        return _check_net3(net, x, y, eps, tiny, samples, rng, seed, first_example)
    raise TypeError("net must be a network of nnfast.network, network2, network3 or nnfast.reference "
                    "(with backprop or gradients), got %s" % type(net).__name__)


# ---------------------------------------------------------------------------
# network and network2: the book's backprop, per example
# ---------------------------------------------------------------------------

def _quadratic(a, y):
    return 0.5 * float(np.sum((a - y) ** 2))


def _check_dense(net, x, y, eps, tiny, samples, rng):
    sizes = list(net.sizes)
    X, Y = _columns(x, y, sizes[0], sizes[-1])
    m = X.shape[1]
    cost = getattr(net, "cost", None)
    fn = cost.fn if cost is not None else _quadratic
    examples = [(X[:, [j]], Y[:, [j]]) for j in range(m)]
    kind = "%s.%s" % (type(net).__module__, type(net).__name__)
    saved = (net.weights, net.biases)
    try:
        net.weights = [np.array(w, dtype=np.float64) for w in saved[0]]
        net.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in saved[1]]
        nabla_b = [np.zeros_like(b) for b in net.biases]
        nabla_w = [np.zeros_like(w) for w in net.weights]
        for xj, yj in examples:
            delta_nabla_b, delta_nabla_w = net.backprop(xj, yj)
            nabla_b = [nb + dnb / m for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw / m for nw, dnw in zip(nabla_w, delta_nabla_w)]

        def total_cost():
            return sum(float(fn(net.feedforward(xj), yj)) for xj, yj in examples) / m

        params, grads = [], []
        for l in range(len(net.weights)):
            params += [("weights[%d]" % l, net.weights[l]), ("biases[%d]" % l, net.biases[l])]
            grads += [nabla_w[l], nabla_b[l]]
        return _compare(GradCheckResult(kind, eps, tiny, m), params, grads, total_cost, eps, tiny, samples, rng)
    finally:
        net.weights, net.biases = saved


# ---------------------------------------------------------------------------
# network3: the network's own gradients and cost, on float64 copies
# ---------------------------------------------------------------------------

def _check_net3(net, x, y, eps, tiny, samples, rng, seed, first_example):
    """network3's gradients against central differences of its training-path cost (dropout
    masks from seed and first_example): nnfast's from its native kernels in float64 (the
    mean of the per-row log-likelihood of a forward pass), a reference network's from its
    ``gradients`` and ``cost``."""
    for name, v in (("seed", seed), ("first_example", first_example)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError("%s must be a non-negative integer, got %r" % (name, v))
    X, Y = _rows(x, y, net.layers[0].n_in, net.layers[-1].n_out, net.mini_batch_size)
    kind = "%s.%s" % (type(net).__module__, type(net).__name__)
    native = hasattr(net, "_gradients")
    saved_layers = [(layer.w, layer.b, layer.params) for layer in net.layers]
    saved_net = (getattr(net, "dtype", None), getattr(net, "params", None))
    try:
        for layer in net.layers:
            layer.w = np.array(layer.w, dtype=np.float64)
            layer.b = np.array(layer.b, dtype=np.float64)
            layer.params = [layer.w, layer.b]
        if native:
            net.dtype = np.dtype(np.float64)
            grads = net._gradients(X, Y, seed=seed, first_example=first_example)
            plan = net._plan(with_grads=True)          # its kernels read the copies perturbed below

            def total_cost():
                plan.gradients(X, Y, seed, first_example)
                return float(np.mean(plan.loss[:len(Y)]))
        else:
            grads = net.gradients(X, Y, seed=seed, first_example=first_example)

            def total_cost():
                return float(net.cost(X, Y, seed=seed, first_example=first_example))

        params, flat_grads = [], []
        for l, (layer, (dw, db)) in enumerate(zip(net.layers, grads)):
            params += [("layers[%d].w" % l, layer.w), ("layers[%d].b" % l, layer.b)]
            flat_grads += [dw, db]
        return _compare(GradCheckResult(kind, eps, tiny, len(Y)), params, flat_grads, total_cost, eps, tiny,
                        samples, rng)
    finally:
        for layer, (w, b, params) in zip(net.layers, saved_layers):
            layer.w, layer.b, layer.params = w, b, params
        if native:
            net.dtype, net.params = saved_net
