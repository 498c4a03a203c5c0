"""The small-batch fully connected kernels network3's layers run (csrc/dense_fc3.h, through net3.h's
nn_fc3_*: dense3.c's products at mini-batches of at most 64 rows) against numpy, float64 and float32,
on the slices dense3.c gives them; and the evaluation path of network and network2 (BLAS by chunks
of rows)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from nnfast import _core, _testing

TOL = {np.float64: 1e-12, np.float32: 2e-4}
# (nb, I, O): register blocks of 5 rows and remainders of 1 to 4 (nb 1 to 64), vectors of 4 doubles or 8
# floats (16 floats, 8 doubles in the AVX-512 forward product) and tails of every length, chunks of 64
# inputs (forward), of 256 units (input gradient), pairs of w's rows and a single last one (update)
SHAPES = [(10, 784, 30), (10, 30, 10), (7, 13, 5), (1, 1, 1), (11, 37, 9), (3, 5, 2), (64, 100, 10), (2, 3, 17),
          (5, 800, 300), (64, 129, 257), (63, 65, 33), (4, 257, 301), (9, 64, 16), (1, 300, 7), (6, 2, 1)]
ZEROS = [0.0, 0.7]    # share of x that is 0: 0.7 takes the forward product's sparse path, the update skips rows


def part(n, which):
    """[lo, hi) of range(n): all of it, or a slice from an odd start to short of the end (as dense3.c's
    parts and blocks), empty only when n is."""
    if which == "all" or n < 3:
        return 0, n
    return n // 3 | 1, n - n // 5 - 1


def operands(dtype, shape, zeros, seed):
    """x (nb, I) with that share of zeros and, when it has any, columns 0 in every row (a pair and a single
    one: the update leaves their rows of w as they are); w (I, O); dz (nb, O); float64 copies of the three."""
    nb, I, O = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((nb, I)).astype(dtype)
    if zeros:
        x[rng.random(x.shape) < zeros] = 0
        x[:, I // 2:I // 2 + 2] = 0
        x[:, I - 1] = 0
    w = rng.standard_normal((I, O)).astype(dtype)
    dz = rng.standard_normal((nb, O)).astype(dtype)
    return x, w, dz, x.astype(np.float64), w.astype(np.float64), dz.astype(np.float64)


def check(kernel, dtype, shape, zeros, which):
    """One kernel on one case against numpy: the slice it writes within tolerance, the rest as it was
    to the bit, and the same bits again from the same call on copies."""
    nb, I, O = shape
    x, w, dz, x64, w64, dz64 = operands(dtype, shape, zeros, seed=nb * 1000 + I * 10 + O)
    tol = TOL[dtype]
    before = np.random.default_rng(O).standard_normal((nb, O if kernel == "forward" else I)).astype(dtype)
    if kernel == "forward":            # z[:, lo:hi] = scale x[:, ilo:ihi] w[ilo:ihi, lo:hi]
        (lo, hi), (ilo, ihi) = part(O, which), part(I, which)
        scale = 1.0 if which == "all" else -0.7
        before[:, lo:hi] = np.nan     # overwritten, not added to
        out = _testing.fc_small_forward(x, w, scale, lo, hi, ilo, ihi, out=before.copy())
        again = _testing.fc_small_forward(x.copy(), w.copy(), scale, lo, hi, ilo, ihi, out=before.copy())
        expect = scale * x64[:, ilo:ihi] @ w64[ilo:ihi, lo:hi]
        atol = tol * (np.sqrt(ihi - ilo) + 1)
    elif kernel == "backward_x":       # dx[:, lo:hi] = dz w[lo:hi]^T
        lo, hi = part(I, which)
        before[:, lo:hi] = np.nan
        out = _testing.fc_small_backward_x(dz, w, lo, hi, out=before.copy())
        again = _testing.fc_small_backward_x(dz.copy(), w.copy(), lo, hi, out=before.copy())
        expect = dz64 @ w64[lo:hi].T
        atol = tol * (np.sqrt(O) + 1)
    else:                              # w[lo:hi] -= eta x[:, lo:hi]^T dz
        lo, hi = part(I, which)
        eta = 0.3
        before, out, again = w, w.copy(), w.copy()
        _testing.fc_small_update(x, dz, out, eta, lo, hi)
        _testing.fc_small_update(x.copy(), dz.copy(), again, eta, lo, hi)
        expect = w64[lo:hi] - eta * x64[:, lo:hi].T @ dz64
        atol = tol * (np.sqrt(nb) + 1)
        idle = [i for i in range(lo, hi) if not x[:, i].any()]     # columns of x 0 in every row
        np.testing.assert_array_equal(out[idle], w[idle])
    if kernel == "update":
        np.testing.assert_allclose(out[lo:hi], expect, rtol=0, atol=atol)
        np.testing.assert_array_equal(out[:lo], before[:lo])
        np.testing.assert_array_equal(out[hi:], before[hi:])
    else:
        np.testing.assert_allclose(out[:, lo:hi], expect, rtol=0, atol=atol)
        np.testing.assert_array_equal(out[:, :lo], before[:, :lo])
        np.testing.assert_array_equal(out[:, hi:], before[:, hi:])
    np.testing.assert_array_equal(out, again)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("zeros", ZEROS)
@pytest.mark.parametrize("which", ["all", "part"])
@pytest.mark.parametrize("kernel", ["forward", "backward_x", "update"])
def test_small_batch_kernels_match_numpy(kernel, which, zeros, shape, dtype):
    check(kernel, dtype, shape, zeros, which)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("zeros", ZEROS)
def test_slices_make_the_bits_of_the_whole(dtype, zeros):
    """Each element of the forward product is one sequence of operations wherever its column falls (its
    lanes are independent, the tail goes through the vector block), so any cut of z's columns gives the
    bits of one call over them all; the input gradient and the update, cut at even rows of w (their
    register blocks take pairs of w's rows, dense3.c's blocks are even), likewise."""
    nb, I, O = 13, 301, 203
    x, w, dz = operands(dtype, (nb, I, O), zeros, seed=5)[:3]
    cuts = {"O": [0, 1, 8, 37, 38, 150, O], "I": [0, 2, 16, 96, 300, I]}
    whole = _testing.fc_small_forward(x, w, 0.5)
    pieces = np.zeros_like(whole)
    for lo, hi in zip(cuts["O"][:-1], cuts["O"][1:]):
        _testing.fc_small_forward(x, w, 0.5, lo, hi, out=pieces)
    np.testing.assert_array_equal(pieces, whole)
    whole = _testing.fc_small_backward_x(dz, w)
    pieces = np.zeros_like(whole)
    for lo, hi in zip(cuts["I"][:-1], cuts["I"][1:]):
        _testing.fc_small_backward_x(dz, w, lo, hi, out=pieces)
    np.testing.assert_array_equal(pieces, whole)
    whole, pieces = w.copy(), w.copy()
    _testing.fc_small_update(x, dz, whole, 0.1)
    for lo, hi in zip(cuts["I"][:-1], cuts["I"][1:]):
        _testing.fc_small_update(x, dz, pieces, 0.1, lo, hi)
    np.testing.assert_array_equal(pieces, whole)


def test_small_batch_kernels_refuse_what_they_cannot_take():
    """At most 64 rows (the kernels' arrays on the stack), slices within range, one float dtype, C order."""
    x, w, dz = operands(np.float64, (64, 9, 7), 0.0, seed=1)[:3]
    for rows in (x, np.vstack([x, x[:1]])):
        n = len(rows)
        d = np.vstack([dz] * 2)[:n]
        calls = [lambda: _testing.fc_small_forward(rows, w), lambda: _testing.fc_small_backward_x(d, w),
                 lambda: _testing.fc_small_update(rows, d, w.copy(), 0.1)]
        for call in calls:
            if n <= 64:
                call()
            else:
                with pytest.raises(ValueError, match="64 rows"):
                    call()
    for n, calls in ((7, [lambda lo, hi: _testing.fc_small_forward(x, w, 1.0, lo, hi)]),
                     (9, [lambda lo, hi: _testing.fc_small_forward(x, w, 1.0, 0, 7, lo, hi),
                          lambda lo, hi: _testing.fc_small_backward_x(dz, w, lo, hi),
                          lambda lo, hi: _testing.fc_small_update(x, dz, w.copy(), 0.1, lo, hi)])):
        for call in calls:
            call(n, n)                                   # an empty slice at the end is one
            for lo, hi in ((-1, 3), (4, 3), (0, n + 1), (n + 1, n + 1)):
                with pytest.raises(ValueError, match="slice"):
                    call(lo, hi)
    with pytest.raises(TypeError):
        _testing.fc_small_forward(x, w.astype(np.float32))
    with pytest.raises(TypeError):
        _testing.fc_small_update(x, dz, w.astype(np.float32), 0.1)
    with pytest.raises(TypeError):
        _testing.fc_small_forward(x, w, out=np.zeros((64, 7), np.float32))
    with pytest.raises(ValueError):
        _testing.fc_small_forward(np.asfortranarray(x), w)
    with pytest.raises(ValueError):
        _testing.fc_small_forward(x, w, out=np.zeros((64, 8))[:, :7])
    with pytest.raises(ValueError):                      # out over an input
        _testing.fc_small_backward_x(dz, np.zeros((7, 7)), out=dz)
    w.setflags(write=False)
    with pytest.raises(ValueError):
        _testing.fc_small_update(x, dz, w, 0.1)


# The baseline instantiation (SSE2, no FMA), forced in a child process: every case of check() above.
BASELINE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import test_kernels_dense as T
from nnfast import _core
assert _core.simd_level() == 0
for kernel in ("forward", "backward_x", "update"):
    for which in ("all", "part"):
        for zeros in T.ZEROS:
            for shape in T.SHAPES:
                for dtype in (np.float64, np.float32):
                    T.check(kernel, dtype, shape, zeros, which)
print("ok")
"""


def test_baseline_instruction_set_matches_numpy():
    from conftest import child_env
    r = subprocess.run([sys.executable, "-c", BASELINE, os.path.dirname(os.path.abspath(__file__))],
                       env=child_env(NNFAST_SIMD="baseline"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "ok"


# The forward product's AVX-512 instantiation against the AVX2 one, on every shape and slice of check().
WIDE = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import test_kernels_dense as T
from nnfast import _core, _testing
h = hashlib.sha256()
for which in ("all", "part"):
    for zeros in T.ZEROS:
        for shape in T.SHAPES:
            for dtype in (np.float64, np.float32):
                x, w = T.operands(dtype, shape, zeros, seed=3)[:2]
                (lo, hi), (ilo, ihi) = T.part(shape[2], which), T.part(shape[1], which)
                h.update(_testing.fc_small_forward(x, w, 0.7, lo, hi, ilo, ihi).tobytes())
print(_core.simd_level(), h.hexdigest())
"""


def test_avx512_forward_gives_the_avx2_bits():
    from conftest import avx512_and_avx2_outputs
    wide, avx2 = avx512_and_avx2_outputs(WIDE, os.path.dirname(os.path.abspath(__file__)))
    assert wide == avx2


class _Net(object):
    def __init__(self, sizes, dtype, rng):
        self.sizes, self.dtype = sizes, np.dtype(dtype)
        self.weights = [rng.standard_normal((j, k)).astype(dtype) for k, j in zip(sizes[:-1], sizes[1:])]
        self.biases = [rng.standard_normal((j, 1)).astype(dtype) for j in sizes[1:]]


@pytest.mark.parametrize("dtype,x_dtype,tol", [(np.float64, np.float64, 1e-12), (np.float64, np.float32, 1e-12),
                                               (np.float32, np.float32, 1e-5)])
@pytest.mark.parametrize("n", [1, 255, 256, 1001])
def test_batched_evaluation_matches_numpy_for_any_thread_count(dtype, x_dtype, tol, n):
    """The BLAS path of evaluation (chunks of rows over threads): outputs, argmax and
    cross-entropy cost equal a plain numpy forward pass, bit for bit across thread counts."""
    from nnfast import _config, _dense
    rng = np.random.default_rng(n)
    net = _Net([37, 23, 11, 10], dtype, rng)
    X = rng.random((n, 37)).astype(x_dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    a = X.astype(np.float64)
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        a = 1 / (1 + np.exp(-(a @ w.T.astype(np.float64) + b.ravel())))
        if l < 2:
            a = a * 0.75          # hidden_scale (dropout's 1 - p at evaluation)
    cost = np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a)), axis=1)
    runs = []
    for t in (1, 2, 3):
        with _config.num_threads(t):
            runs.append(_dense.evaluate_arrays(net, X, Y, act_out=_dense.SIGMOID, cost=_dense.CROSS_ENTROPY,
                                               hidden_scale=0.75, want_cost=True, want_output=True))
    pred, c, out = runs[0]
    np.testing.assert_allclose(out, a, rtol=0, atol=tol)
    np.testing.assert_allclose(c, cost, rtol=tol * 10, atol=tol * 10)
    assert np.array_equal(pred, np.argmax(out, axis=1))
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            assert np.array_equal(x, y)


# ---- evaluation over many chunks: every activation and cost, any thread count ----------------

def _numpy_forward(weights, biases, X, act, out, hidden_scale):
    """The forward pass in float64 numpy, examples as rows."""
    hidden = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
              "linear": lambda z: z}[act]
    a = X.astype(np.float64)
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T.astype(np.float64) + b.astype(np.float64).ravel()
        if l < len(weights) - 1:
            a = hidden(z) * hidden_scale
        elif out == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = 1 / (1 + np.exp(-z))
    return a


COSTS = {"quadratic": lambda a, Y: 0.5 * np.sum((a - Y) ** 2, axis=1),
         "cross-entropy": lambda a, Y: np.sum(np.nan_to_num(-Y * np.log(a) - (1 - Y) * np.log(1 - a)), axis=1),
         "log-likelihood": lambda a, Y: np.sum(np.nan_to_num(-Y * np.log(a)), axis=1)}


@pytest.mark.parametrize("dtype,x_dtype,tol", [(np.float64, np.float64, 1e-12), (np.float64, np.float32, 1e-12),
                                               (np.float32, np.float32, 2e-5)])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("act,out,cost", [("sigmoid", "sigmoid", "cross-entropy"), ("tanh", "softmax", "log-likelihood"),
                                          ("relu", "sigmoid", "quadratic"), ("linear", "softmax", "log-likelihood")])
def test_evaluation_over_many_chunks_matches_numpy_bit_for_bit_across_threads(dtype, x_dtype, tol, threads, act,
                                                                               out, cost):
    """network and network2's evaluation on the engine's evaluation path (_core.Plan.predict through
    _dense.Evaluator): several blocks and a short last one, outputs, argmax and costs as numpy's,
    hidden activations times 0.75, and the same bits on 1 thread, on ``threads`` and with the count
    changing after every block, from one object."""
    import nnfast
    from nnfast import _config, _core, _dense, _train, network2
    sizes = [200, 90, 30, 10]
    rng = np.random.default_rng(len(act) * 7 + threads)
    weights = [(rng.standard_normal((j, k)) / np.sqrt(k)).astype(dtype) for k, j in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(j).astype(dtype) for j in sizes[1:]]
    codes = (_dense.ACTIVATIONS[act], _dense.SOFTMAX if out == "softmax" else _dense.SIGMOID,
             {"quadratic": _dense.QUADRATIC, "cross-entropy": _dense.CROSS_ENTROPY,
              "log-likelihood": _dense.LOG_LIKELIHOOD}[cost])
    net = network2.Network(sizes, dtype=dtype)
    net.weights, net.biases = weights, [b.reshape(-1, 1) for b in biases]
    params = _train.dense_params(net)
    params.load()
    evaluate = _dense.Evaluator(net, params, *codes)
    rows = _dense.Evaluator.EVAL_ROWS
    n = 2 * rows + 37
    X = rng.random((n, sizes[0])).astype(x_dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    runs = []
    try:
        for mode, t in ((_core.FIXED, 1), (_core.FIXED, threads), (_core.CYCLE, threads), (_core.FIXED, 1)):
            with nnfast.num_threads(t, adapt=False):
                _config.set_thread_mode(mode)
                runs.append(evaluate(X, Y, 0.75, True, True))
    finally:
        _config.set_thread_mode(_core.ADAPT)
    pred, c, a = runs[0]
    expect = _numpy_forward(weights, biases, X, act, out, 0.75)
    np.testing.assert_allclose(a, expect, rtol=0, atol=tol)
    np.testing.assert_allclose(c, COSTS[cost](expect, Y.astype(np.float64)), rtol=tol * 10, atol=tol * 10)
    assert np.array_equal(pred, np.argmax(a, axis=1))
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            assert np.array_equal(x, y)
