"""A pickle reader that can only rebuild numpy arrays, tuples and lists.

The book's ``mnist.pkl.gz`` (and ``mnist_expanded.pkl.gz``, written by its
``expand_mnist.py``) are Python 2 pickles.  A pickle is a small program: loading
an untrusted one with :func:`pickle.load` can run any code.  :func:`load`
instead refuses every global except the few numpy needs to rebuild an array, so
a pickle that asks for ``os.system`` (or anything else) is rejected before any
of it runs.  Python 2 ``str`` objects (the array bytes) are read as latin-1,
which is the byte-for-byte reading numpy expects.
"""
import gzip
import io
import pickle

import numpy as np

__all__ = ["UnsafePickleError", "load", "loads", "load_file"]


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something other than numpy arrays, tuples and lists."""


def _reconstruct_fn():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _scalar_fn():
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    return scalar


_np_reconstruct = _reconstruct_fn()
_np_scalar = _scalar_fn()


def _check_dtype(dt):
    if not isinstance(dt, np.dtype):
        raise UnsafePickleError("numpy reconstruct called with %r instead of a dtype" % (dt,))
    if dt.hasobject:
        raise UnsafePickleError("arrays of Python objects are refused (dtype %s)" % dt)
    return dt


def _safe_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise UnsafePickleError("only plain numpy arrays can be rebuilt, not %r" % (subtype,))
    if isinstance(dtype, (bytes, str)):
        dtype = np.dtype(dtype if isinstance(dtype, str) else dtype.decode("latin1"))
    return _np_reconstruct(np.ndarray, shape, _check_dtype(np.dtype(dtype)))


def _safe_dtype(spec, *args):
    if isinstance(spec, bytes):
        spec = spec.decode("latin1")
    if not isinstance(spec, str):
        raise UnsafePickleError("numpy.dtype called with %r" % (spec,))
    dt = np.dtype(spec, *args)
    if dt.hasobject:
        raise UnsafePickleError("arrays of Python objects are refused (dtype %s)" % dt)
    return dt


def _safe_scalar(dtype, data=None):
    _check_dtype(dtype)
    if data is None:
        return _np_scalar(dtype)
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, bytes):
        raise UnsafePickleError("numpy scalar built from %r" % type(data).__name__)
    return _np_scalar(dtype, data)


def _safe_encode(text, encoding="utf-8", errors="strict"):
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError("_codecs.encode is only allowed to turn latin-1 text into bytes")
    return text.encode("latin1")


def _safe_frombuffer(buf, dtype, shape, order):
    # protocol 5 pickles of arrays (numpy >= 1.16)
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) or order not in ("C", "F"):
        raise UnsafePickleError("numpy _frombuffer called with unexpected arguments")
    _check_dtype(dtype)
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy(order=order)


_ALLOWED = {("_codecs", "encode"): _safe_encode}
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _safe_frombuffer
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _safe_reconstruct
    _ALLOWED[(_mod, "scalar")] = _safe_scalar
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = _safe_dtype


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                "refusing to load %s.%s: this reader only rebuilds numpy arrays, tuples "
                "and lists (a pickle can run code; this one asks for something else)"
                % (module, name)) from None

    def persistent_load(self, pid):
        raise UnsafePickleError("persistent ids are not allowed in this pickle")


def load(fileobj):
    """Unpickle from a binary file object, allowing only numpy arrays, tuples and lists."""
    return _Unpickler(fileobj, encoding="latin1").load()


def loads(data):
    """Unpickle bytes, allowing only numpy arrays, tuples and lists."""
    return load(io.BytesIO(data))


def load_file(filename):
    """Unpickle a file, gzip-compressed or not (detected from its first bytes)."""
    with open(filename, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=f) as g:
                return _load_named(g, filename)
        return _load_named(f, filename)


def _load_named(f, filename):
    try:
        return load(f)
    except UnsafePickleError as e:
        raise UnsafePickleError("%s: %s" % (filename, e)) from None
    except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError,
            AttributeError, IndexError, KeyError, UnicodeDecodeError) as e:
        raise ValueError("%s: not a readable pickle of numpy arrays (%s: %s)"
                         % (filename, type(e).__name__, e)) from None
