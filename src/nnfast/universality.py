"""Chapter 4 as code: a visual proof that neural nets can compute any function.

The chapter builds, by hand and without any training, a network whose output
is close to a given function f on an interval:

- a sigmoid neuron with a large weight w and bias -w*s is (almost) a step
  function of its input, jumping from 0 to 1 at x = s;
- two such neurons, stepping up at s_i and down at s_{i+1}, make a "bump" on
  [s_i, s_{i+1}]; with output weights +h_i and -h_i the bump has height h_i
  in the output neuron's weighted input;
- n bumps side by side make the weighted input a staircase that follows any
  function we like (softer steps round its corners into a smooth curve).  The output neuron is itself a sigmoid, so the staircase
  must follow sigma^-1(f): h_i = sigma^-1(f(m_i)) at the bump's midpoint m_i,
  and then the output is sigma(h_i) = f(m_i) over bump i.

``approximate`` returns that network as an ``nnfast.network2.Network([1, 2n,
1])``.  With steep steps the error is that of a staircase through the
midpoints, at most max|f'| * (width of a bump) / 2, falling like 1/n; the
default softer steps do better (see ``approximate``).

For two inputs, ``approximate2d`` builds the chapter's "towers": a bump in x
plus a bump in y gives weighted input 1 + 1 = 2 where they cross and 1 on
the arms; a second hidden layer of sigmoid neurons with threshold 1.5 (a
large weight and bias -1.5 times it) keeps only the crossing, a tower, and
the output neuron adds towers of height sigma^-1(f) at each cell's centre.

Nothing here draws from numpy's global generator: the networks are built,
not initialised.
"""
import numbers

import numpy as np

__all__ = ["approximate", "approximate2d", "evaluate", "max_error", "inverse_sigmoid", "chapter_function"]

#: default steepness of ``approximate``'s steps, per bump width: soft steps, see its docstring
SOFT_STEPS = 4.0
#: default steepness of ``approximate2d``'s steps, per bump width: towers need bumps that reach 1
SHARP_STEPS = 40.0
#: weights of the threshold neurons that turn crossings into towers (sigma(30) = 1 - 1e-13)
TOWER_WEIGHT = 60.0


def inverse_sigmoid(a):
    """sigma^-1(a) = ln(a / (1 - a)), for a in (0, 1)."""
    a = np.asarray(a, dtype=np.float64)
    return np.log(a) - np.log1p(-a)


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------

def _check_bumps(n_bumps):
    if isinstance(n_bumps, bool) or not isinstance(n_bumps, numbers.Integral):
        raise TypeError("n_bumps must be an integer, got %r" % (n_bumps,))
    if n_bumps < 1:
        raise ValueError("n_bumps must be >= 1, got %d" % n_bumps)
    return int(n_bumps)


def _check_interval(interval, name="interval"):
    try:
        lo, hi = interval
    except (TypeError, ValueError):
        raise TypeError("%s must be a pair (start, end), got %r" % (name, interval)) from None
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
            raise ValueError("%s must hold two finite numbers, got %r" % (name, interval))
    if not lo < hi:
        raise ValueError("%s must have start < end, got %r (ends reversed or equal)" % (name, interval))
    return float(lo), float(hi)


def _check_steepness(steepness, per_width, width):
    """The step neurons' weight; None gives ``per_width`` / (width of a bump)."""
    if steepness is None:
        return per_width / width
    if isinstance(steepness, bool) or not isinstance(steepness, numbers.Real):
        raise TypeError("steepness must be a real number or None, got %r" % (steepness,))
    if not (np.isfinite(steepness) and steepness > 0):
        raise ValueError("steepness must be a finite number > 0, got %r" % (steepness,))
    return float(steepness)


def _heights(f, points):
    """h = sigma^-1(f(points)), checking that f gives finite values in (0, 1)."""
    if not callable(f):
        raise TypeError("f must be a function, got %r" % (f,))
    values = np.array([_call(f, p) for p in points], dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError("f must return finite numbers; f(%s) = %r" % (_fmt(points[int(np.argmax(bad))]),
                                                                        values[int(np.argmax(bad))]))
    out = (values <= 0) | (values >= 1)
    if out.any():
        k = int(np.argmax(out))
        raise ValueError("f must take values strictly between 0 and 1 (the output neuron is a sigmoid, and "
                         "sigma^-1 is needed): f(%s) = %r" % (_fmt(points[k]), values[k]))
    return inverse_sigmoid(values)


def _call(f, p):
    v = f(*p) if isinstance(p, tuple) else f(p)       # f's own errors are f's
    try:
        return float(np.asarray(v, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise TypeError("f must return one real number per point; f(%s) returned %r" % (_fmt(p), v)) from None


def _fmt(p):
    return ", ".join("%g" % v for v in p) if isinstance(p, tuple) else "%g" % p


def _edges(lo, hi, n_bumps, steepness):
    """n_bumps + 1 step positions: evenly spaced, with the outermost two moved
    10 / steepness outside the interval so that the ends are fully inside the
    first and last bump (sigma(10) = 1 - 5e-5)."""
    edges = np.linspace(lo, hi, n_bumps + 1)
    edges[0] -= 10.0 / steepness
    edges[-1] += 10.0 / steepness
    return edges


def _step_pairs(edges, steepness):
    """Weights (2n, 1) and biases (2n, 1) of n step pairs: neuron 2i steps up at
    edges[i], neuron 2i+1 at edges[i+1]."""
    n = len(edges) - 1
    at = np.empty(2 * n)
    at[0::2], at[1::2] = edges[:-1], edges[1:]
    return np.full((2 * n, 1), steepness), (-steepness * at).reshape(-1, 1)


def _empty_network(sizes):
    """A network2.Network of the given shape, numpy's global generator left as it was."""
    from . import network2
    state = np.random.get_state()
    try:
        net = network2.Network(sizes, cost=network2.QuadraticCost)
    finally:
        np.random.set_state(state)
    return net


# ---------------------------------------------------------------------------
# one input
# ---------------------------------------------------------------------------

def approximate(f, n_bumps, steepness=None, interval=(0, 1)):
    """A network [1, 2*n_bumps, 1] whose output follows f on ``interval``, built
    as chapter 4 does: n_bumps bumps made of evenly spaced sigmoid steps, bump
    i of height h_i = sigma^-1(f(m_i)) in the output's weighted input, m_i its
    midpoint.

    The midpoints are n_bumps evenly spaced points from one end of the
    interval to the other, ends included (one bump: the interval's centre),
    so the bumps are d = (end - start) / (n_bumps - 1) wide and the two outer
    ones reach half a bump beyond the interval.  The steps sit halfway
    between midpoints, at start + (i - 1/2) d.

    ``f`` maps a number to a value strictly inside (0, 1) (the output neuron
    is a sigmoid).  ``steepness`` is the step neurons' weight w (bias -w*s
    for a step at s).  The chapter draws very steep steps (w = 1000) so the
    bumps are plain to see; the staircase they make is off by up to
    max|f'| * d / 2 within a bump.  By default the steps are soft, 4 per bump
    width (each rises over about one bump): neighbouring bumps then blend
    into a smooth curve through the values at the midpoints, and the error
    falls like 1/n_bumps**2 instead of 1/n_bumps (for the chapter's function
    at 50 bumps: 0.010, against 0.069 with the chapter's steep steps).

    Evaluate with ``net.feedforward(np.array([[x]]))``, or at many points at
    once with ``evaluate(net, xs)``.
    """
    n_bumps = _check_bumps(n_bumps)
    lo, hi = _check_interval(interval)
    if n_bumps == 1:
        width, midpoints = hi - lo, np.array([0.5 * (lo + hi)])
    else:
        width = (hi - lo) / (n_bumps - 1)
        midpoints = np.linspace(lo, hi, n_bumps)
    w = _check_steepness(steepness, SOFT_STEPS, width)
    h = _heights(f, [float(m) for m in midpoints])
    edges = np.concatenate([midpoints - 0.5 * width, [midpoints[-1] + 0.5 * width]])
    edges[0] -= 10.0 / w                  # the ends of the interval well inside the outer bumps
    edges[-1] += 10.0 / w
    net = _empty_network([1, 2 * n_bumps, 1])
    weights_in, biases_in = _step_pairs(edges, w)
    weights_out = np.empty((1, 2 * n_bumps))
    weights_out[0, 0::2], weights_out[0, 1::2] = h, -h
    net.weights = [weights_in, weights_out]
    net.biases = [biases_in, np.zeros((1, 1))]
    net.interval = (lo, hi)
    return net


# ---------------------------------------------------------------------------
# two inputs: towers
# ---------------------------------------------------------------------------

def approximate2d(f, n_bumps, steepness=None, interval=((0, 1), (0, 1))):
    """A network [2, 4*n_bumps, n_bumps**2, 1] whose output follows f(x, y) on
    the rectangle ``interval`` = ((x0, x1), (y0, y1)), built from the chapter's
    towers.

    First hidden layer: n_bumps step pairs in x (neurons 0 .. 2n-1, weights
    only from x) then n_bumps in y (2n .. 4n-1), as in ``approximate``.
    Second hidden layer: one neuron per cell (i, j), reading +1/-1 from the
    pair of x-bump i and the pair of y-bump j, times TOWER_WEIGHT, with bias
    -1.5 * TOWER_WEIGHT: it fires only where both bumps are up, a tower.
    Output: tower (i, j) weighted by sigma^-1(f) at the cell's centre.

    ``steepness`` defaults to 40 per bump width: the towers need bumps that
    really reach 1 (soft steps would leave x-bump + y-bump below the 1.5
    threshold).  Where four cells meet, each tower is only half up in x and
    y and none fires: the output drops towards sigma(0) = 0.5 in a spot
    about 10 / steepness across around each inner corner, the chapter's
    "glitches".  Away from those spots the error falls like 1/n_bumps.
    """
    n_bumps = _check_bumps(n_bumps)
    try:
        ix, iy = interval
    except (TypeError, ValueError):
        raise TypeError("interval must be ((x0, x1), (y0, y1)), got %r" % (interval,)) from None
    (x0, x1), (y0, y1) = _check_interval(ix, "interval[0] (x)"), _check_interval(iy, "interval[1] (y)")
    wx, wy = (x1 - x0) / n_bumps, (y1 - y0) / n_bumps
    w = _check_steepness(steepness, SHARP_STEPS, min(wx, wy))
    n = n_bumps
    cx = x0 + wx * (np.arange(n) + 0.5)
    cy = y0 + wy * (np.arange(n) + 0.5)
    centres = [(float(a), float(b)) for a in cx for b in cy]        # cell (i, j) at row i * n + j
    h = _heights(f, centres)
    net = _empty_network([2, 4 * n, n * n, 1])

    steps_x_w, steps_x_b = _step_pairs(_edges(x0, x1, n, w), w)
    steps_y_w, steps_y_b = _step_pairs(_edges(y0, y1, n, w), w)
    weights_1 = np.zeros((4 * n, 2))
    weights_1[:2 * n, 0:1], weights_1[2 * n:, 1:2] = steps_x_w, steps_y_w
    biases_1 = np.vstack([steps_x_b, steps_y_b])

    weights_2 = np.zeros((n * n, 4 * n))
    cells = np.arange(n * n)
    i, j = cells // n, cells % n
    weights_2[cells, 2 * i] = TOWER_WEIGHT
    weights_2[cells, 2 * i + 1] = -TOWER_WEIGHT
    weights_2[cells, 2 * n + 2 * j] = TOWER_WEIGHT
    weights_2[cells, 2 * n + 2 * j + 1] = -TOWER_WEIGHT
    biases_2 = np.full((n * n, 1), -1.5 * TOWER_WEIGHT)

    net.weights = [weights_1, weights_2, h.reshape(1, -1)]
    net.biases = [biases_1, biases_2, np.zeros((1, 1))]
    net.interval = ((x0, x1), (y0, y1))
    return net


# ---------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------

def evaluate(net, points):
    """The network's output at many points at once: ``points`` of shape (k,) for
    one input or (k, 2) for two; returns (k,).  Numerically the same as
    ``net.feedforward`` column by column."""
    from ._dense import sigmoid
    a = np.asarray(points, dtype=np.float64)
    a = a.reshape(1, -1) if a.ndim == 1 else a.T
    for b, w in zip(net.biases, net.weights):
        a = sigmoid(np.dot(w, a) + b)
    return a.reshape(-1)


def max_error(net, f, points):
    """max |f(p) - network(p)| over ``points`` ((k,) or (k, 2) as in ``evaluate``)."""
    pts = np.asarray(points, dtype=np.float64)
    target = np.array([f(*p) if pts.ndim == 2 else f(p) for p in pts], dtype=np.float64)
    return float(np.max(np.abs(target - evaluate(net, pts))))


def chapter_function(x):
    """The function the chapter approximates: 0.2 + 0.4 x^2 + 0.3 x sin(15 x) + 0.05 cos(50 x)."""
    return 0.2 + 0.4 * x ** 2 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(50 * x)
