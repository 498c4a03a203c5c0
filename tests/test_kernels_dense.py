"""The dense kernels against the naive C reference and numpy (float64 and float32)."""
import numpy as np
import pytest

from nnfast import _core

SHAPES = [(10, 784, 30), (10, 30, 10), (7, 13, 5), (1, 1, 1), (11, 37, 9), (3, 5, 2), (100, 100, 10), (2, 3, 17)]


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-4)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_forward_backward_match_naive_and_numpy(dtype, tol, shape, threads):
    B, K, J = shape
    rng = np.random.default_rng(B * 1000 + K * 10 + J)
    A = rng.standard_normal((B, K)).astype(dtype)
    W = rng.standard_normal((J, K)).astype(dtype)
    b = rng.standard_normal(J).astype(dtype)
    D = rng.standard_normal((B, J)).astype(dtype)
    scale = np.sqrt(K) + 1
    Z = _core.dense_forward(A, W, b, False, threads)
    Zn = _core.dense_forward(A, W, b, True, 1)
    np.testing.assert_allclose(Z, A.astype(np.float64) @ W.T.astype(np.float64) + b, atol=tol * scale, rtol=0)
    np.testing.assert_allclose(Z, Zn, atol=tol * scale, rtol=0)
    grads = []
    for naive in (False, True):
        dA, dW, db = np.ones((B, K), dtype), np.ones((J, K), dtype), np.ones(J, dtype)  # backward accumulates
        _core.dense_backward(A, W, D, dA, dW, db, naive, threads)
        grads.append((dA, dW, db))
    (dA, dW, db), (dAn, dWn, dbn) = grads
    np.testing.assert_allclose(dA, 1 + D.astype(np.float64) @ W, atol=tol * (np.sqrt(J) + 1), rtol=0)
    np.testing.assert_allclose(dW, 1 + D.T.astype(np.float64) @ A, atol=tol * (np.sqrt(B) + 1), rtol=0)
    np.testing.assert_allclose(db, 1 + D.sum(axis=0, dtype=np.float64), atol=tol * (np.sqrt(B) + 1), rtol=0)
    for fast, naive in zip(grads[0], grads[1]):
        np.testing.assert_allclose(fast, naive, atol=tol * (np.sqrt(max(B, J)) + 1), rtol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_count_does_not_change_a_bit(dtype):
    rng = np.random.default_rng(5)
    A, W, b = (rng.standard_normal(s).astype(dtype) for s in [(13, 301), (29, 301), (29,)])
    D = rng.standard_normal((13, 29)).astype(dtype)
    outs = []
    for t in (1, 2, 3, 4):
        dA, dW, db = np.zeros((13, 301), dtype), np.zeros((29, 301), dtype), np.zeros(29, dtype)
        _core.dense_backward(A, W, D, dA, dW, db, False, t)
        outs.append((_core.dense_forward(A, W, b, False, t), dA, dW, db))
    for other in outs[1:]:
        for x, y in zip(outs[0], other):
            assert np.array_equal(x, y)
