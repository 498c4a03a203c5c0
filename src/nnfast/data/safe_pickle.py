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
import os
import pickle
import zlib

import numpy as np

from .. import _files
from .._errors import BadFileError

__all__ = ["UnsafePickleError", "load", "loads", "load_file", "MAX_BYTES"]

# The book's largest pickle, mnist_expanded.pkl.gz, holds about 0.85 GB once unzipped.
MAX_BYTES = 2 << 30


class UnsafePickleError(pickle.UnpicklingError, BadFileError):
    """The pickle asks for something other than numpy arrays, tuples and lists
    (a ``nnfast.BadFileError`` too, so a ValueError, as every bad file nnfast reads)."""


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


def _check_size(shape, dtype):
    """An array this pickle could really hold (numpy's own pickles start from shape (0,))."""
    try:
        dims = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except (TypeError, ValueError):
        raise UnsafePickleError("numpy array shape %r is not a tuple of integers" % (shape,)) from None
    n = 1
    for d in dims:
        if d < 0:
            raise UnsafePickleError("numpy array shape %r has a negative size" % (dims,))
        n *= d
    if n * dtype.itemsize > MAX_BYTES:
        raise UnsafePickleError("numpy array of shape %r is larger than any pickle this reader accepts" % (dims,))
    return dims


def _ndarray(*args, **kwargs):
    """``numpy.ndarray`` as a pickle sees it: a marker for _reconstruct; calling it directly
    (``numpy.ndarray((3,), 'O')`` builds an object array) is refused."""
    raise UnsafePickleError("numpy.ndarray called directly: numpy's pickles never do that "
                            "(it could build arrays of Python objects)")


def _safe_reconstruct(subtype, shape, dtype):
    if subtype is not _ndarray:
        raise UnsafePickleError("only plain numpy arrays can be rebuilt, not %r" % (subtype,))
    if isinstance(dtype, (bytes, str)):
        dtype = np.dtype(dtype if isinstance(dtype, str) else dtype.decode("latin1"))
    dtype = _check_dtype(np.dtype(dtype))
    return _np_reconstruct(np.ndarray, _check_size(shape, dtype), dtype)


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
    _check_size(shape, _check_dtype(dtype))
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy(order=order)


_ALLOWED = {("_codecs", "encode"): _safe_encode}
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _safe_frombuffer
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _safe_reconstruct
    _ALLOWED[(_mod, "scalar")] = _safe_scalar
_ALLOWED[("numpy", "ndarray")] = _ndarray
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


class _Bounded(object):
    """A file object that refuses to give more than ``limit`` bytes in all (a gzip bomb
    stops there, not at the end of its 1032-fold inflation)."""

    def __init__(self, f, limit, name):
        self.f, self.left, self.name = f, limit, name

    def _take(self, data):
        self.left -= len(data)
        if self.left < 0:
            raise BadFileError("%s: more than %d bytes of pickle once unzipped; refused" % (self.name, MAX_BYTES),
                               self.name)
        return data

    def read(self, n=-1):
        return self._take(self.f.read(self.left + 1 if n is None or n < 0 else min(n, self.left + 1)))

    def readline(self):
        return self._take(self.f.readline(self.left + 1))

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def load(fileobj):
    """Unpickle from a binary file object, allowing only numpy arrays, tuples and lists."""
    return _Unpickler(fileobj, encoding="latin1").load()


def loads(data):
    """Unpickle bytes, allowing only numpy arrays, tuples and lists."""
    return load(io.BytesIO(data))


def load_file(filename):
    """Unpickle a file, gzip-compressed or not (detected from its first bytes), reading at
    most ``MAX_BYTES`` of pickle."""
    filename = os.fspath(filename)
    _files.regular_file(filename, "pickle")
    with open(filename, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=f) as g:
                return _load_named(_Bounded(g, MAX_BYTES, filename), filename)
        return _load_named(_Bounded(f, MAX_BYTES, filename), filename)


def _load_named(f, filename):
    try:
        return load(f)
    except UnsafePickleError as e:
        raise UnsafePickleError("%s: %s" % (filename, e), filename) from None
    except BadFileError:
        raise
    except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, UnicodeDecodeError, RecursionError, OverflowError, MemoryError, zlib.error) as e:
        raise BadFileError("%s: not a readable pickle of numpy arrays (%s: %s)"
                           % (filename, type(e).__name__, e), filename) from None
