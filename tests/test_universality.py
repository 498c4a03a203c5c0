"""Chapter 4: networks built (not trained) from bumps and towers follow the function, better
with more bumps; bad functions and arguments are refused by name."""
import numpy as np
import pytest

from nnfast import network2
from nnfast import universality as U

f = U.chapter_function
XS = np.linspace(0.0, 1.0, 4001)


def test_the_network_is_a_network2_of_bumps():
    net = U.approximate(f, 7)
    assert isinstance(net, network2.Network) and net.sizes == [1, 14, 1]
    midpoints = np.linspace(0, 1, 7)                           # ends included
    h = U.inverse_sigmoid(f(midpoints))
    np.testing.assert_allclose(net.weights[1][0, 0::2], h, rtol=1e-15)      # up-step of bump i: +h_i
    np.testing.assert_allclose(net.weights[1][0, 1::2], -h, rtol=1e-15)     # down-step: -h_i
    assert np.all(net.weights[0] > 0) and np.all(np.diff(-net.biases[0][:, 0] / net.weights[0][:, 0]) >= 0)
    for x in (0.0, 0.37, 1.0):
        out = net.feedforward(np.array([[x]]))
        assert out.shape == (1, 1) and abs(out[0, 0] - U.evaluate(net, [x])[0]) < 1e-15


def test_error_falls_as_bumps_grow():
    errors = {n: U.max_error(U.approximate(f, n), f, XS) for n in (5, 50, 200)}
    assert errors[50] < errors[5] / 10 and errors[200] < errors[50] / 5
    assert errors[50] < 0.015 and errors[200] < 0.002


def test_steep_steps_make_the_chapters_staircase():
    """With w = 1000 per bump width the output is sigma(h_i) = f(midpoint_i) across bump i,
    so the error is at most max|f'| * width / 2."""
    slope = np.max(np.abs(np.gradient(f(XS), XS)))
    for n in (11, 51):
        d = 1.0 / (n - 1)
        net = U.approximate(f, n, steepness=1000.0 / d)
        midpoints = np.linspace(0, 1, n)
        np.testing.assert_allclose(U.evaluate(net, midpoints), f(midpoints), atol=1e-9)
        steps = XS / d - 0.5
        inside = np.abs(steps - np.round(steps)) > 0.01       # away from the steps themselves
        err = np.max(np.abs(U.evaluate(net, XS[inside]) - f(XS[inside])))
        assert slope * d / 8 < err <= slope * d / 2 * 1.01
    one = U.approximate(lambda x: 0.3, 1)                       # one bump: a constant
    np.testing.assert_allclose(U.evaluate(one, XS), 0.3, atol=1e-4)


def test_any_interval_and_numpys_generator_untouched():
    np.random.seed(4)
    before = np.random.get_state()[1].copy()
    g = lambda x: 0.5 + 0.4 * np.sin(x)                    # noqa: E731
    net = U.approximate(g, 60, interval=(-3.0, 2.0))
    assert np.array_equal(np.random.get_state()[1], before)
    assert U.max_error(net, g, np.linspace(-3, 2, 1001)) < 0.006


def g2(x, y):
    return 0.3 + 0.25 * x * y + 0.2 * np.sin(3 * x) * np.cos(2 * y)


def test_towers_follow_a_function_of_two_inputs():
    grid = (np.arange(61) + 0.5) / 61
    points = np.array([(a, b) for a in grid for b in grid])
    target = np.array([g2(*p) for p in points])
    mean, far_max = {}, {}
    for n in (4, 16):
        net = U.approximate2d(g2, n)
        assert net.sizes == [2, 4 * n, n * n, 1]
        err = np.abs(U.evaluate(net, points) - target)
        edges = np.linspace(0, 1, n + 1)
        w = 40.0 * n
        dx = np.min(np.abs(points[:, :1] - edges), axis=1)
        dy = np.min(np.abs(points[:, 1:] - edges), axis=1)
        far = (dx > 5 / w) | (dy > 5 / w)                     # away from the glitches at inner corners
        mean[n], far_max[n] = err.mean(), err[far].max()
        centres = (np.arange(n) + 0.5) / n
        c = np.array([(a, b) for a in centres for b in centres])
        np.testing.assert_allclose(U.evaluate(net, c), [g2(*p) for p in c], atol=1e-6)
        assert abs(net.feedforward(np.array([[c[0, 0]], [c[0, 1]]]))[0, 0] - g2(*c[0])) < 1e-6
    assert mean[16] < mean[4] / 3 and far_max[16] < far_max[4] / 2 and far_max[16] < 0.04


@pytest.mark.parametrize("bad,error,needle", [
    (lambda x: np.nan, ValueError, "finite"),
    (lambda x: np.inf if x > 0.5 else 0.5, ValueError, "finite"),
    (lambda x: 1.2, ValueError, "between 0 and 1"),
    (lambda x: 0.0, ValueError, "between 0 and 1"),
    (lambda x: -x, ValueError, "between 0 and 1"),
    (lambda x: "half", TypeError, "f must return"),
    (0.5, TypeError, "f must be a function"),
])
def test_bad_functions_are_refused(bad, error, needle):
    with pytest.raises(error, match=needle):
        U.approximate(bad, 5)
    with pytest.raises(error, match=needle):
        U.approximate2d(bad if not callable(bad) else (lambda x, y: bad(x)), 3)


def test_bad_arguments_name_themselves():
    for n, error in ((0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError), ("5", TypeError)):
        with pytest.raises(error, match="n_bumps"):
            U.approximate(f, n)
        with pytest.raises(error, match="n_bumps"):
            U.approximate2d(g2, n)
    for interval in ((1, 0), (0.5, 0.5), (0, np.inf)):
        with pytest.raises(ValueError, match="interval"):
            U.approximate(f, 5, interval=interval)
    with pytest.raises(TypeError, match="interval"):
        U.approximate(f, 5, interval=1.0)
    with pytest.raises(ValueError, match=r"interval\[1\] \(y\)"):
        U.approximate2d(g2, 3, interval=((0, 1), (1, 0)))
    for steepness, error in ((0, ValueError), (-5.0, ValueError), (np.nan, ValueError), ("x", TypeError)):
        with pytest.raises(error, match="steepness"):
            U.approximate(f, 5, steepness=steepness)
