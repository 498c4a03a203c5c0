"""Each network3 kernel (float64) against the numpy oracle, on random shapes."""
import numpy as np
import pytest

from nnfast import _core, _testing
from nnfast.reference import _rng
from nnfast.reference import network3 as R

TOL = 1e-10
ACTS = {0: R.linear, 1: R.sigmoid, 2: R.tanh, 3: R.ReLU}
# (n, C, H, W, F, KH, KW, PH, PW): several input maps, non-square images and filters, remainders
SHAPES = [(1, 1, 5, 5, 1, 1, 1, 1, 1), (3, 1, 28, 28, 4, 5, 5, 2, 2), (2, 3, 9, 13, 5, 3, 4, 2, 3),
          (4, 20, 12, 12, 6, 5, 5, 2, 2), (5, 2, 7, 6, 3, 7, 2, 1, 2), (2, 4, 11, 10, 2, 2, 3, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("max_parts", [1, 4])
def test_conv_forward_backward(shape, max_parts):
    n, C, H, W, F, KH, KW, _, _ = shape
    rng = np.random.default_rng(sum(shape))
    x, w = rng.normal(size=(n, C, H, W)), rng.normal(size=(F, C, KH, KW))
    out, _ = _testing.k_conv_forward(x, w, max_parts)
    ref = R.conv_forward(x, w)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=TOL)
    dout = rng.normal(size=ref.shape)
    dx, dw = _testing.k_conv_backward(x, w, dout, max_parts)
    rdx, rdw = R.conv_backward(x, w, dout)
    np.testing.assert_allclose(dx, rdx, rtol=0, atol=TOL)
    np.testing.assert_allclose(dw, rdw, rtol=0, atol=TOL)


def test_conv_is_cross_correlation():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0       # picks the top-left of each patch
    out, _ = _testing.k_conv_forward(x, w)
    np.testing.assert_array_equal(out[0, 0], x[0, 0, :2, :2])


@pytest.mark.parametrize("shape", SHAPES)
def test_pool_forward_backward(shape):
    n, _, OH, OW, F, _, _, PH, PW = shape
    PH, PW = min(PH, OH), min(PW, OW)
    rng = np.random.default_rng(7 + sum(shape))
    z = rng.normal(size=(n, F, OH, OW))
    out, arg = _testing.k_pool_forward(z, (PH, PW))
    rout, rarg = R.pool_forward(z, (PH, PW))
    assert out.shape == (n, F, OH // PH, OW // PW)
    np.testing.assert_array_equal(out, rout)
    np.testing.assert_array_equal(arg, rarg)
    dout = rng.normal(size=out.shape)
    np.testing.assert_array_equal(_testing.k_pool_backward(dout, arg, z.shape), R.pool_backward(dout, rarg, z.shape))


def test_pool_ties_go_to_first_maximum():
    z = np.zeros((1, 1, 2, 2))
    out, arg = _testing.k_pool_forward(z, (2, 2))
    assert arg[0, 0, 0, 0] == 0
    d = _testing.k_pool_backward(np.ones((1, 1, 1, 1)), arg, z.shape)
    np.testing.assert_array_equal(d[0, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("act", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(3, 5), (4, 6, 3, 5), (1, 1, 1, 1)])
def test_bias_act(act, shape):
    rng = np.random.default_rng(act)
    x, b = rng.normal(size=shape) * 3, rng.normal(size=shape[1])
    z, a = _testing.k_bias_act_forward(x, b, act)
    rz, ra = R.bias_act_forward(x, b, ACTS[act])
    np.testing.assert_allclose(z, rz, rtol=0, atol=TOL)
    np.testing.assert_allclose(a, ra, rtol=0, atol=TOL)
    da = rng.normal(size=shape)
    dz, db = _testing.k_bias_act_backward(da, z, a, act)
    rdz, rdb = R.bias_act_backward(da, rz, ra, ACTS[act])
    np.testing.assert_allclose(dz, rdz, rtol=0, atol=TOL)
    np.testing.assert_allclose(db, rdb, rtol=0, atol=TOL)


def test_sigmoid_no_overflow_warning():
    with np.errstate(all="raise"):
        _, a = _testing.k_bias_act_forward(np.array([[-1000.0, 1000.0]]), np.zeros(2), 1)
    np.testing.assert_array_equal(a, [[0.0, 1.0]])


@pytest.mark.parametrize("n,O", [(1, 2), (10, 10), (7, 3)])
def test_softmax_log_likelihood(n, O):
    rng = np.random.default_rng(n * O)
    z, b, y = rng.normal(size=(n, O)) * 5, rng.normal(size=O), rng.integers(0, O, n)
    a, loss, dz = _testing.k_softmax(z, b, y)
    ra = R.softmax(z + b)
    np.testing.assert_allclose(a, ra, rtol=0, atol=TOL)
    np.testing.assert_allclose(loss.mean(), R.log_likelihood(ra, y), rtol=0, atol=TOL)
    np.testing.assert_allclose(dz, R.softmax_backward(ra, y), rtol=0, atol=TOL)


def test_softmax_extreme_inputs_finite():
    a, loss, dz = _testing.k_softmax(np.array([[1000.0, -1000.0, 0.0]]), np.zeros(3), np.array([1]))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(loss)) and np.all(np.isfinite(dz))
    np.testing.assert_allclose(loss, [2000.0])


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_masks_match_rng_and_keep_fraction(p):
    n, I, seed, stream, first = 400, 300, 12345, 2, 777
    x = np.random.default_rng(0).normal(size=(n, I))
    mask, xd = _core.k_dropout_forward(x, p, seed, stream, first)
    np.testing.assert_array_equal(mask, R.dropout_mask(seed, stream, first, n, I, p))
    np.testing.assert_array_equal(xd, x * mask)
    e = np.arange(first, first + n, dtype=np.uint64)[:, None]
    u = np.arange(I, dtype=np.uint64)[None, :]
    np.testing.assert_array_equal(mask.astype(bool), _rng.keep_mask(seed, stream, e, u, p))
    kept = mask.mean()
    sigma = np.sqrt(p * (1 - p) / mask.size)
    assert abs(kept - (1 - p)) <= 5 * sigma + 1e-12
