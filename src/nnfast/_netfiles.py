"""The saved networks' files, read as hostile input and written as standard JSON.

``read_network2`` checks the book's network2 JSON field by field (and nnfast's
optional ``activation``, ``p_dropout``, ``regularization``); ``read_network3``
checks network3's .npz architecture before any layer is built.  Both raise
``BadFileError`` (a ValueError) naming the file and the field; ``write_json``
refuses NaN and infinities instead of writing JSON's non-standard ``NaN``.
"""
import json
import math
import numbers

import numpy as np

from . import _atomic, _files
from ._errors import BadFileError

NETWORK2_LIMIT = 2 << 30        # bytes of network2 JSON (a 50-million-weight network)
ARCH_LIMIT = 1 << 20            # characters of network3 architecture JSON
MAX_LAYERS = 10000


def _bad(path, problem):
    raise BadFileError("%s: %s" % (path, problem), path)


def _int(v, lo=1, hi=2 ** 31):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and lo <= v < hi


def _real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _matrix(value, shape, name, path):
    """A list of ``shape[0]`` lists of ``shape[1]`` numbers, as a float64 array."""
    rows, cols = shape
    if not isinstance(value, list) or len(value) != rows:
        _bad(path, "%s must be a list of %d rows (sizes say shape %s)" % (name, rows, shape))
    for r in value:
        if not isinstance(r, list) or len(r) != cols:
            _bad(path, "%s has a row that is not a list of %d numbers (sizes say shape %s)" % (name, cols, shape))
        if not all(type(e) in (int, float) for e in r):
            _bad(path, "%s has non-numeric entries" % name)
    a = np.array(value, dtype=np.float64)
    if not np.isfinite(a).all():
        _bad(path, "%s holds a number beyond the range of a float" % name)
    return a


def read_network2(path, costs, activations, regularizations):
    """The checked fields of a network2 JSON file: sizes, weights, biases (float64 arrays),
    cost (a name in ``costs``), activation, regularization, p_dropout."""
    data = _files.read_json(path, "network2", NETWORK2_LIMIT, check_floats=False)   # arrays checked below
    if not isinstance(data, dict):
        _bad(path, "expected a JSON object")
    for key in ("sizes", "weights", "biases", "cost"):
        if key not in data:
            _bad(path, "missing key %r" % key)
    unknown = set(data) - {"sizes", "weights", "biases", "cost", "activation", "p_dropout", "regularization"}
    if unknown:
        _bad(path, "unknown keys %s" % ", ".join(sorted(unknown)))
    sizes = data["sizes"]
    if not (isinstance(sizes, list) and 2 <= len(sizes) <= MAX_LAYERS and all(_int(s) for s in sizes)):
        _bad(path, "bad sizes: expected a list of at least two positive integers below 2**31, got %.200r" % (sizes,))
    cost = data["cost"]
    if not isinstance(cost, str) or cost not in costs:
        _bad(path, "unknown cost %.100r (known: %s)" % (cost, ", ".join(costs)))
    activation = data.get("activation", "sigmoid")
    if not isinstance(activation, str) or activation not in activations:
        _bad(path, "unknown activation %.100r (known: %s)" % (activation, ", ".join(activations)))
    regularization = data.get("regularization", "L2")
    if not isinstance(regularization, str) or regularization not in regularizations:
        _bad(path, "unknown regularization %.100r (known: %s)" % (regularization, ", ".join(regularizations)))
    p_dropout = data.get("p_dropout", 0.0)
    if not (_real(p_dropout) and 0.0 <= p_dropout < 1.0):
        _bad(path, "p_dropout must be a number in [0, 1), not %.100r" % (p_dropout,))
    out = {"sizes": sizes, "cost": cost, "activation": activation, "regularization": regularization,
           "p_dropout": float(p_dropout)}
    for key, shapes in (("weights", [(y, x) for x, y in zip(sizes[:-1], sizes[1:])]),
                        ("biases", [(y, 1) for y in sizes[1:]])):
        value = data[key]
        if not isinstance(value, list) or len(value) != len(shapes):
            _bad(path, "%r must be a list of %d arrays" % (key, len(shapes)))
        out[key] = [_matrix(v, shape, "%s[%d]" % (key, i), path) for i, (v, shape) in enumerate(zip(value, shapes))]
    return out


def network2_dict(net):
    """What network2's ``save`` writes: the book's keys, plus nnfast's options when not the defaults."""
    data = {"sizes": [int(s) for s in net.sizes],
            "weights": [np.asarray(w, dtype=np.float64).tolist() for w in net.weights],
            "biases": [np.asarray(b, dtype=np.float64).tolist() for b in net.biases],
            "cost": str(getattr(net.cost, "__name__", type(net.cost).__name__))}   # a class or an instance
    if getattr(net, "activation", "sigmoid") != "sigmoid":
        data["activation"] = net.activation
    if getattr(net, "p_dropout", 0.0) != 0.0:
        data["p_dropout"] = float(net.p_dropout)
    if getattr(net, "regularization", "L2") != "L2":
        data["regularization"] = net.regularization
    return data


def check_finite(arrays, where):
    """ValueError naming the first array holding NaN or an infinity (nothing is saved then)."""
    for name, a in arrays:
        if not np.isfinite(np.asarray(a, dtype=np.float64)).all():
            raise ValueError("%s: %s holds NaN or infinite values; not saved (a file must load back)"
                             % (where, name))


def write_json(path, data, indent=None):
    """``data`` as standard JSON (no NaN), written atomically, mode from the umask."""
    text = json.dumps(data, allow_nan=False, indent=indent)
    _atomic.write_atomic(path, lambda f: f.write(text), text=True, fsync=True)


# --------------------------------------------------------------------------- network3

_LAYER_KEYS = {"ConvPoolLayer": {"type", "filter_shape", "image_shape", "poolsize", "activation_fn"},
               "FullyConnectedLayer": {"type", "n_in", "n_out", "activation_fn", "p_dropout"},
               "SoftmaxLayer": {"type", "n_in", "n_out", "p_dropout"}}


def read_network3(path, activations):
    """(architecture, {name: array}) of a network3 .npz, the architecture checked key by key
    and value by value (``activations``: the known activation names), the arrays
    ``w0, b0, ...`` read only once the architecture says how many there are."""
    arrays = _files.read_npz(path, "network3", ["architecture"])
    text = _files.text_member(arrays, "architecture", "network3", path)
    if len(text) > ARCH_LIMIT:
        _bad(path, "architecture of %d characters is too long" % len(text))
    arch = _files.parse_json(text, path, "network3")
    if not isinstance(arch, dict) or arch.get("format") != "nnfast.network3" or arch.get("version") != 1:
        _bad(path, "not an nnfast network3 file of version 1")
    if set(arch) != {"format", "version", "mini_batch_size", "dtype", "layers"}:
        _bad(path, "architecture keys %s, expected format, version, mini_batch_size, dtype, layers" % sorted(arch))
    if not _int(arch["mini_batch_size"]):
        _bad(path, "mini_batch_size %.100r is not a positive integer" % (arch["mini_batch_size"],))
    if arch["dtype"] not in ("float32", "float64"):
        _bad(path, "dtype %.100r is not float32 or float64" % (arch["dtype"],))
    layers = arch["layers"]
    if not (isinstance(layers, list) and 1 <= len(layers) <= MAX_LAYERS):
        _bad(path, "layers must be a non-empty list")
    for j, d in enumerate(layers):
        kind = d.get("type") if isinstance(d, dict) else None
        if not isinstance(kind, str) or kind not in _LAYER_KEYS:
            _bad(path, "layer %d has unknown type %.100r" % (j, kind))
        if set(d) != _LAYER_KEYS[kind]:
            _bad(path, "layer %d (%s) has keys %s, expected %s" % (j, kind, sorted(d), sorted(_LAYER_KEYS[kind])))
        if "activation_fn" in d and not (isinstance(d["activation_fn"], str) and d["activation_fn"] in activations):
            _bad(path, "layer %d has unknown activation_fn %.100r" % (j, d["activation_fn"]))
        for key in ("filter_shape", "image_shape", "poolsize"):
            if key in d and not (isinstance(d[key], list) and len(d[key]) == (2 if key == "poolsize" else 4)
                                 and all(_int(v) for v in d[key])):
                _bad(path, "layer %d: %s %.100r is not a list of positive integers" % (j, key, d[key]))
        for key in ("n_in", "n_out"):
            if key in d and not _int(d[key]):
                _bad(path, "layer %d: %s %.100r is not a positive integer" % (j, key, d[key]))
        if "p_dropout" in d and not (_real(d["p_dropout"]) and 0.0 <= d["p_dropout"] < 1.0):
            _bad(path, "layer %d: p_dropout %.100r is not in [0, 1)" % (j, d["p_dropout"]))
    names = ["%s%d" % (wb, j) for j in range(len(layers)) for wb in "wb"]
    arrays = _files.read_npz(path, "network3", names)
    for name in names:
        _files.finite_array(arrays[name], name, path)
        if arrays[name].dtype.kind != "f":
            _bad(path, "%s is %s, not floating point" % (name, arrays[name].dtype))
    return arch, arrays
