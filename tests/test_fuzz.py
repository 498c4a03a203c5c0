"""Property tests (hypothesis) of every public function that reaches native code.

Random shapes, sizes, dtypes (float64/32/16, integers, bool, object, complex),
layouts (C, Fortran, negative strides, non-contiguous slices), read-only and
zero-size arrays, and sizes too large for a C int.  For each input the result
equals the reference (``nnfast.reference.*``, the book's algorithms) or a
ValueError / TypeError names the problem; it never crashes, hangs or silently
reads memory it should not (tools/sanitize.sh runs this file under ASan/UBSan).
"""
import contextlib
import io
import random

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnfast import _testing, network, network2, network3  # noqa: E402
from nnfast.reference import network as ref1  # noqa: E402
from nnfast.reference import network2 as ref2  # noqa: E402
from nnfast.reference import network3 as ref3  # noqa: E402

# derandomize: the same examples on every run, so CI cannot fail on a draw it never made before
# (`pytest --hypothesis-seed=N` explores others)
FUZZ = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# dtype name -> accepted as numeric input?
DTYPES = {"float64": True, "float32": True, "float16": True, "int64": True, "int32": True, "uint8": True,
          "bool": True, "object": False, "complex128": False}
LAYOUTS = ["C", "F", "reversed", "strided", "readonly"]
BAD = (ValueError, TypeError)


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def cast(values, dtype):
    """``values`` (float array in [0, 1)) in ``dtype``: the canonical float64 version and the cast."""
    if dtype == "bool":
        a = values > 0.5
    elif dtype in ("int64", "int32", "uint8"):
        a = np.floor(values * 3).astype(dtype)
    elif dtype == "object":
        a = values.astype(object)
    else:
        a = values.astype(dtype)
    canon = None if dtype in ("object", "complex128") else np.asarray(a, dtype=np.float64)
    return canon, a


def layout(a, how):
    """The same values in another memory layout."""
    if how == "F":
        return np.asfortranarray(a)
    if how == "reversed":
        return np.ascontiguousarray(a[::-1])[::-1]           # negative stride on axis 0
    if how == "strided" and a.ndim == 2:
        wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
        wide[:, ::2] = a
        return wide[:, ::2]                                    # non-contiguous slice
    if how == "readonly":
        a = a.copy()
        a.setflags(write=False)
        return a
    return a


@st.composite
def arrays(draw, n, m):
    dtype = draw(st.sampled_from(sorted(DTYPES)))
    how = draw(st.sampled_from(LAYOUTS))
    seed = draw(st.integers(0, 2 ** 16))
    values = np.random.default_rng(seed).random((n, m))
    canon, a = cast(values, dtype)
    return canon, layout(a, how), dtype, how


@st.composite
def problems(draw, min_n=0):
    """A small fully connected problem: sizes, inputs (canonical, as given), labels, targets."""
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    n = draw(st.integers(min_n, 25))
    canon, X, dtype, how = draw(arrays(n, sizes[0]))
    y = np.random.default_rng(draw(st.integers(0, 99))).integers(0, sizes[-1], n)
    target_form = draw(st.sampled_from(["labels", "onehot", "onehot-F", "labels-int32", "labels-float"]))
    Y = np.eye(sizes[-1])[y]
    if target_form == "labels":
        targets = y
    elif target_form == "labels-int32":
        targets = y.astype(np.int32)
    elif target_form == "labels-float":
        targets = y.astype(np.float64)
    elif target_form == "onehot-F":
        targets = np.asfortranarray(Y)
    else:
        targets = Y
    return dict(sizes=sizes, n=n, canon=canon, X=X, dtype=dtype, how=how, y=y, Y=Y, targets=targets)


def valid(p):
    return DTYPES[p["dtype"]] and p["n"] > 0


def book_list(canon, Y):
    return [(canon[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in range(len(canon))]


def assert_params_close(net, ref, rtol=1e-9):
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


# ---------------------------------------------------------------------------
# network (chapter 1)
# ---------------------------------------------------------------------------

@FUZZ
@given(p=problems(), mbs=st.integers(1, 30), epochs=st.integers(0, 2), eta=st.floats(0.01, 5.0),
       as_list=st.booleans())
def test_network_sgd(p, mbs, epochs, eta, as_list):
    np.random.seed(0)
    net = network.Network(p["sizes"])
    np.random.seed(0)
    ref = ref1.Network(p["sizes"])
    data = list(zip(list(p["X"].reshape(p["n"], -1, 1)) if p["n"] else [], list(p["Y"]))) if as_list else \
        (p["X"], p["targets"])
    random.seed(1)
    try:
        with quiet():
            net.SGD(data, epochs, mbs, eta, test_data=(p["X"], p["y"]) if p["n"] else None)
    except BAD:
        assert not valid(p)
        return
    assert valid(p)
    hypothesis.event("valid input")
    random.seed(1)
    with quiet():
        ref.SGD(book_list(p["canon"], p["Y"]), epochs, mbs, eta)
    assert_params_close(net, ref)
    assert net.evaluate((p["X"], p["y"])) == ref.evaluate(list(zip(list(p["canon"].reshape(p["n"], -1, 1)),
                                                                   p["y"])))


@FUZZ
@given(p=problems(), eta=st.floats(0.01, 5.0))
def test_network_update_mini_batch_and_feedforward(p, eta):
    np.random.seed(0)
    net = network.Network(p["sizes"])
    np.random.seed(0)
    ref = ref1.Network(p["sizes"])
    try:
        net.update_mini_batch((p["X"], p["targets"]), eta)
    except BAD:
        assert not valid(p)
        return
    assert valid(p)
    hypothesis.event("valid input")
    ref.update_mini_batch(book_list(p["canon"], p["Y"]), eta)
    assert_params_close(net, ref)
    col = p["canon"][:1].T
    np.testing.assert_allclose(net.feedforward(col), ref.feedforward(col), rtol=1e-12)


# ---------------------------------------------------------------------------
# network2 (chapter 3)
# ---------------------------------------------------------------------------

COSTS = [network2.QuadraticCost, network2.CrossEntropyCost, network2.LogLikelihoodCost]


@FUZZ
@given(p=problems(), mbs=st.integers(1, 30), eta=st.floats(0.01, 2.0), lmbda=st.floats(0.0, 3.0),
       cost=st.integers(0, 2), activation=st.sampled_from(["sigmoid", "tanh", "relu"]),
       mu=st.sampled_from([0.0, 0.5]), reg=st.sampled_from(["L2", "L1"]), p_dropout=st.sampled_from([0.0, 0.3]))
def test_network2_sgd_accuracy_total_cost(p, mbs, eta, lmbda, cost, activation, mu, reg, p_dropout):
    kw = dict(cost=COSTS[cost], activation=activation)
    np.random.seed(0)
    net = network2.Network(p["sizes"], **kw)
    np.random.seed(0)
    ref = ref2.Network(p["sizes"], cost=getattr(ref2, COSTS[cost].__name__), activation=activation)
    opts = dict(regularization=reg, mu=mu, p_dropout=p_dropout)
    random.seed(2)
    np.random.seed(3)
    try:
        with quiet():
            out = net.SGD((p["X"], p["targets"]), 2, mbs, eta, lmbda, evaluation_data=(p["X"], p["y"]),
                          monitor_evaluation_accuracy=True, monitor_training_cost=True, **opts)
    except BAD:
        assert not valid(p)
        return
    assert valid(p)
    hypothesis.event("valid input")
    random.seed(2)
    np.random.seed(3)
    with quiet():
        want = ref.SGD(book_list(p["canon"], p["Y"]), 2, mbs, eta, lmbda,
                       evaluation_data=list(zip(list(p["canon"].reshape(p["n"], -1, 1)), [int(v) for v in p["y"]])),
                       monitor_evaluation_accuracy=True, monitor_training_cost=True, **opts)
    assert_params_close(net, ref, rtol=1e-8)
    assert out[1] == want[1]
    np.testing.assert_allclose(out[2], want[2], rtol=1e-8)
    test = list(zip(list(p["canon"].reshape(p["n"], -1, 1)), [int(v) for v in p["y"]]))
    assert net.accuracy((p["X"], p["y"])) == ref.accuracy(test)
    np.testing.assert_allclose(net.total_cost((p["X"], p["targets"]), lmbda),
                               ref.total_cost(book_list(p["canon"], p["Y"]), lmbda), rtol=1e-8)
    col = p["canon"][:1].T   # through weights that agree to 1e-8 (above), so to 1e-8
    np.testing.assert_allclose(net.feedforward(col), ref.feedforward(col), rtol=1e-8)


@FUZZ
@given(p=problems())
def test_network2_evaluation_of_any_input(p):
    np.random.seed(0)
    net = network2.Network(p["sizes"])
    np.random.seed(0)
    ref = ref2.Network(p["sizes"])
    try:
        acc = net.accuracy((p["X"], p["y"]))
        cost = net.total_cost((p["X"], p["targets"]), 0.5)
    except BAD:
        assert not valid(p)
        return
    assert valid(p)
    hypothesis.event("valid input")
    assert acc == ref.accuracy(list(zip(list(p["canon"].reshape(p["n"], -1, 1)), [int(v) for v in p["y"]])))
    np.testing.assert_allclose(cost, ref.total_cost(book_list(p["canon"], p["Y"]), 0.5), rtol=1e-9)


# ---------------------------------------------------------------------------
# network3 (chapter 6)
# ---------------------------------------------------------------------------

@st.composite
def net3_problems(draw):
    B = draw(st.integers(1, 4))
    C, H, W = draw(st.integers(1, 2)), draw(st.integers(3, 6)), draw(st.integers(3, 6))
    F, KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW = draw(st.integers(1, H - KH + 1)), draw(st.integers(1, W - KW + 1))
    n_conv = F * ((H - KH + 1) // PH) * ((W - KW + 1) // PW)
    hidden, classes = draw(st.integers(1, 5)), draw(st.integers(2, 4))
    acts = draw(st.sampled_from(["sigmoid", "tanh", "ReLU", "linear"]))
    n = draw(st.integers(0, 12))
    canon, X, dtype, how = draw(arrays(n, C * H * W))
    y = np.random.default_rng(draw(st.integers(0, 99))).integers(0, classes, n)
    seed = draw(st.integers(0, 99))

    def build(mod):
        np.random.seed(seed)
        act = getattr(mod, acts)
        return [mod.ConvPoolLayer((F, C, KH, KW), (B, C, H, W), (PH, PW), activation_fn=act),
                mod.FullyConnectedLayer(n_conv, hidden, activation_fn=act),
                mod.SoftmaxLayer(hidden, classes)]
    return dict(B=B, build=build, canon=canon, X=X, dtype=dtype, n=n, y=y)


@FUZZ
@given(p=net3_problems(), eta=st.floats(0.01, 1.0))
def test_network3_sgd_predict_accuracy_feedforward(p, eta):
    net = network3.Network(p["build"](network3), p["B"], dtype=np.float64)
    ref = ref3.Network(p["build"](ref3), p["B"])
    for a, b in zip(net.layers, ref.layers):
        b.w[...] = a.w.reshape(b.w.shape)
        b.b[...] = a.b
        a.w[...] += 0.1       # the softmax layer starts at zero: make every layer matter
        b.w[...] += 0.1
    ok = DTYPES[p["dtype"]]
    try:
        pred = net.predict(p["X"])
        out = net.feedforward(p["X"])
    except BAD:
        assert not ok
        return
    assert ok
    np.testing.assert_allclose(out, ref.forward(p["canon"]) if p["n"] else out, rtol=1e-9, atol=1e-12)
    if p["n"]:
        assert np.array_equal(pred, np.argmax(out, axis=1))
        assert net.accuracy(p["X"], p["y"]) == np.mean(pred == p["y"])
    else:
        with pytest.raises(ValueError):
            net.accuracy(p["X"], p["y"])
    try:
        with quiet():
            net.SGD((p["X"], p["y"]), 1, p["B"], eta)
    except BAD:
        assert p["n"] < p["B"]
        return
    ref.train((p["canon"], p["y"]), 1, p["B"], eta)
    for a, b in zip(net.layers, ref.layers):
        np.testing.assert_allclose(a.w, b.w.reshape(a.w.shape), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(a.b, b.b, rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------------------
# the kernels' test entry points
# ---------------------------------------------------------------------------

@st.composite
def fc_small_args(draw):
    """Operands of the small-batch kernels with up to two flaws (a wrong dtype, layout or shape, more than
    their 64 rows, a slice out of range; none as often as not, or few draws would get past the checks):
    sizes, a dtype, a layout each, and slices [lo, hi) of z's columns (forward) and of the inputs."""
    flaws = draw(st.sets(st.sampled_from(["dtype", "layout", "shape", "rows", "slice"]), max_size=2))
    nb = draw(st.integers(65, 70) if "rows" in flaws else st.one_of(st.integers(0, 9), st.integers(60, 64)))
    I, O = draw(st.integers(0, 40)), draw(st.integers(0, 40))
    dtype = draw(st.sampled_from(["float16", "int64", "object"] if "dtype" in flaws else ["float64", "float32"]))
    rng = np.random.default_rng(draw(st.integers(0, 99)))
    shapes = {"x": (nb, I), "w": (I, O), "dz": (nb, O)}
    if "shape" in flaws:
        name = draw(st.sampled_from(sorted(shapes)))
        shapes[name] = tuple(s + draw(st.integers(1, 3)) for s in shapes[name])
    bad = draw(st.sampled_from(sorted(shapes))) if "layout" in flaws else None
    arrs = {k: layout(rng.standard_normal(s).astype(dtype),
                      draw(st.sampled_from(["F", "reversed", "strided"] if k == bad else ["C", "C", "readonly"])))
            for k, s in shapes.items()}
    wrong = draw(st.sampled_from(["cols", "ins"])) if "slice" in flaws else None
    slices = []
    for which, n in (("cols", O), ("ins", I)):
        if which == wrong:
            slices.append(draw(st.tuples(st.integers(-2, n + 2), st.integers(-2, n + 2)).filter(
                lambda s, n=n: not 0 <= s[0] <= s[1] <= n)))
        else:
            lo = draw(st.integers(0, n))
            slices.append((lo, draw(st.integers(lo, n))))
    return nb, I, O, dtype, shapes, arrs, slices[0], slices[1]


@FUZZ
@given(args=fc_small_args(), scale=st.sampled_from([1.0, 0.5, -3.0]), eta=st.sampled_from([0.1, 2.0, -0.5]))
def test_small_batch_kernels(args, scale, eta):
    """nnfast._testing.fc_small_*: numpy's numbers on the slice (zeros, or w as it was, elsewhere), or a
    TypeError (dtype) or ValueError (shape, layout, read-only w, more than 64 rows, a slice out of range)."""
    nb, I, O, dtype, shapes, arrs, (lo, hi), (ilo, ihi) = args
    x, w, dz = arrs["x"], arrs["w"], arrs["dz"]
    right = {"x": (nb, I), "w": (I, O), "dz": (nb, O)}
    ok_type = dtype in ("float64", "float32")
    tol = 1e-4 if dtype == "float32" else 1e-10
    x64, w64, dz64 = (v.astype(np.float64) if ok_type else None for v in (x, w, dz))

    def run(call, names, *slices):
        """call(), which must fail unless its arrays (names) and slices (lo, hi, n) are right; True when it ran."""
        good = ok_type and nb <= 64 and all(0 <= a <= b <= n for a, b, n in slices) and all(
            shapes[k] == right[k] and arrs[k].flags.c_contiguous for k in names)
        try:
            call()
        except BAD as e:
            assert not good
            assert isinstance(e, ValueError if ok_type else TypeError), e
            return False
        assert good
        return True
    out = {}
    if run(lambda: out.setdefault("z", _testing.fc_small_forward(x, w, scale, lo, hi, ilo, ihi)), ["x", "w"],
           (lo, hi, O), (ilo, ihi, I)):
        expect = np.zeros((nb, O))
        expect[:, lo:hi] = scale * x64[:, ilo:ihi] @ w64[ilo:ihi, lo:hi]
        np.testing.assert_allclose(out["z"], expect, rtol=tol, atol=tol)
    if run(lambda: out.setdefault("dx", _testing.fc_small_backward_x(dz, w, ilo, ihi)), ["dz", "w"], (ilo, ihi, I)):
        expect = np.zeros((nb, I))
        expect[:, ilo:ihi] = dz64 @ w64[ilo:ihi].T
        np.testing.assert_allclose(out["dx"], expect, rtol=tol, atol=tol)
    if not w.flags.writeable:     # the update writes w
        with pytest.raises(BAD):
            _testing.fc_small_update(x, dz, w, eta, ilo, ihi)
    elif run(lambda: _testing.fc_small_update(x, dz, w, eta, ilo, ihi), ["x", "dz", "w"], (ilo, ihi, I)):
        expect = w64.copy()
        expect[ilo:ihi] -= eta * x64[:, ilo:ihi].T @ dz64
        np.testing.assert_allclose(w, expect, rtol=tol, atol=tol)


@FUZZ
@given(n=st.integers(0, 3), C=st.integers(1, 2), H=st.integers(1, 6), W=st.integers(1, 6), F=st.integers(1, 3),
       KH=st.integers(1, 7), KW=st.integers(1, 7), PH=st.integers(0, 4), PW=st.integers(1, 4),
       how=st.sampled_from(LAYOUTS), act=st.integers(-1, 5), seed=st.integers(0, 99))
def test_net3_kernels(n, C, H, W, F, KH, KW, PH, PW, how, act, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C, H, W))
    w = rng.standard_normal((F, C, KH, KW))
    xl = layout(x, how)
    try:
        out, _ = _testing.k_conv_forward(xl, w)
    except BAD:
        assert n < 1 or KH > H or KW > W
    else:
        np.testing.assert_allclose(out, ref3.conv_forward(x, w), rtol=1e-10, atol=1e-10)
        dout = rng.standard_normal(out.shape)
        dx, dw = _testing.k_conv_backward(xl, w, layout(dout, how))
        rdx, rdw = ref3.conv_backward(x, w, dout)
        np.testing.assert_allclose(dx, rdx, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dw, rdw, rtol=1e-10, atol=1e-10)
        try:
            pooled, arg = _testing.k_pool_forward(layout(out, how), (PH, PW))
        except BAD:
            assert PH < 1 or PH > out.shape[2] or PW > out.shape[3]
        else:
            rp, rarg = ref3.pool_forward(out, (PH, PW))
            np.testing.assert_array_equal(pooled, rp)
            back = _testing.k_pool_backward(layout(pooled, how), arg, out.shape)
            np.testing.assert_array_equal(np.nan_to_num(back), np.nan_to_num(ref3.pool_backward(pooled, rarg, out.shape)))
    b = rng.standard_normal(C)
    z, a = _testing.k_bias_act_forward(xl, b, act) if n else (None, None)
    if n:
        np.testing.assert_allclose(z, x + b[None, :, None, None], rtol=1e-12)
        assert np.isfinite(a).all()
    logits = layout(rng.standard_normal((n, F + 1)), how)
    labels = rng.integers(0, F + 1, n)
    try:
        sa, loss, dz = _testing.k_softmax(logits, np.zeros(F + 1), labels)
    except BAD:
        assert n == 0
    else:
        np.testing.assert_allclose(sa, ref3.softmax(np.asarray(logits)), rtol=1e-12)
        np.testing.assert_allclose(sa.sum(axis=1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------------------
# sizes beyond a C int, bad scalars
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[2 ** 31, 1], [1, 2 ** 40], [2 ** 63, 2], [3, 2 ** 64, 2], [0, 2], [-1, 2],
                                   [2.0, 3], [True, 2], [2], [], "784,30,10", None])
@pytest.mark.parametrize("module", [network, network2])
def test_network_sizes_out_of_range(module, sizes):
    with pytest.raises(BAD):
        module.Network(sizes)


@pytest.mark.parametrize("bad", [dict(mini_batch_size=2 ** 63), dict(mini_batch_size=2 ** 64), dict(epochs=-1),
                                 dict(mini_batch_size=0), dict(eta=float("nan")), dict(eta=float("inf")),
                                 dict(epochs=1.5), dict(mini_batch_size="10")])
@pytest.mark.parametrize("module", [network, network2])
def test_sgd_scalars_out_of_range(module, bad):
    np.random.seed(0)
    net = module.Network([3, 2])
    args = dict(epochs=1, mini_batch_size=2, eta=0.5)
    args.update(bad)
    X, y = np.zeros((4, 3)), np.zeros(4, dtype=int)
    if isinstance(bad.get("mini_batch_size"), int) and bad["mini_batch_size"] >= 2 ** 63:
        # larger than the data: one mini-batch of everything, as the book's slicing gives
        with quiet():
            net.SGD((X, y), args["epochs"], args["mini_batch_size"], args["eta"])
        return
    with pytest.raises(BAD):
        with quiet():
            net.SGD((X, y), args["epochs"], args["mini_batch_size"], args["eta"])


@pytest.mark.parametrize("B", [0, -1, 2 ** 31, 2 ** 63, 2 ** 64, 1.5, None])
def test_network3_mini_batch_size_out_of_range(B):
    with pytest.raises(BAD):
        network3.Network([network3.FullyConnectedLayer(4, 3), network3.SoftmaxLayer(3, 2)], B)


@pytest.mark.parametrize("make", [lambda: network3.FullyConnectedLayer(2 ** 16, 2 ** 16),
                                  lambda: network3.SoftmaxLayer(2 ** 40, 2),
                                  lambda: network3.ConvPoolLayer((2, 1, 5, 5), (2 ** 20, 1, 28, 28)),
                                  lambda: network3.ConvPoolLayer((2 ** 16, 2 ** 16, 1, 1), (1, 2 ** 16, 1, 1), (1, 1))])
def test_network3_layers_beyond_a_c_int_are_refused(make):
    with pytest.raises(ValueError, match="more than the"):
        make()
