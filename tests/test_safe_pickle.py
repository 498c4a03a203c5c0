"""The restricted unpickler: Python 2 numpy pickles load; anything that wants code is refused."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from nnfast import mnist_loader
from nnfast.data import safe_pickle as _safe_pickle
from nnfast.data.safe_pickle import UnsafePickleError


# --------------------------------------------------------------------------- Python 2 pickles
# What Python 2.7 with numpy 1.x writes for pickle.dump(obj, f, protocol=2), byte by byte:
# globals by module path ``numpy.core.multiarray``, and every byte string as a Python 2
# ``str`` (SHORT_BINSTRING 'U' below 256 bytes, BINSTRING 'T' above).

def py2_str(b):
    if len(b) < 256:
        return b"U" + bytes([len(b)]) + b
    return b"T" + struct.pack("<I", len(b)) + b


def py2_int(i):
    return b"K" + bytes([i]) if 0 <= i < 256 else b"J" + struct.pack("<i", i)


def py2_array(a):
    """protocol-2 bytes (no PROTO/STOP) of a numpy array as Python 2 pickles it."""
    a = np.ascontiguousarray(a)
    kind = a.dtype.str[1:]            # e.g. 'f4', 'i8'
    order = b"<" if a.dtype.itemsize > 1 else b"|"
    shape = b"(" + b"".join(py2_int(d) for d in a.shape) + b"t"
    return (b"cnumpy.core.multiarray\n_reconstruct\n"
            b"cnumpy\nndarray\n" + py2_int(0) + b"\x85" + py2_str(b"b") + b"\x87R"
            + b"(" + py2_int(1) + shape
            + b"cnumpy\ndtype\n" + py2_str(kind.encode()) + py2_int(0) + py2_int(1) + b"\x87R"
            + b"(" + py2_int(3) + py2_str(order) + b"NNN" + py2_int(-1) + py2_int(-1)
            + py2_int(0) + b"tb"
            + b"\x89" + py2_str(a.tobytes()) + b"tb")


def py2_pickle_sets(sets):
    """The layout of the book's mnist.pkl.gz: ((x, y), (x, y), (x, y))."""
    body = b"".join(py2_array(x) + py2_array(y) + b"\x86" for x, y in sets)
    return b"\x80\x02" + body + b"\x87."


def book_like_sets(seed=0, sizes=(12, 5, 6)):
    rng = np.random.default_rng(seed)
    # the book's file scales pixels by 1/256, so values are multiples of 1/256
    return tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
                  rng.integers(0, 10, n).astype(np.int64)) for n in sizes)


def test_python2_array():
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    out = _safe_pickle.loads(b"\x80\x02" + py2_array(a) + b".")
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_array_equal(out, a)
    # bytes above 127 in the array data: the latin-1 reading keeps them intact
    b = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(_safe_pickle.loads(b"\x80\x02" + py2_array(b) + b"."), b)


def test_python2_book_file(tmp_path):
    sets = book_like_sets()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(py2_pickle_sets(sets)))
    raw = _safe_pickle.load_file(str(path))
    assert isinstance(raw, tuple) and len(raw) == 3
    # plain pickle with latin1 agrees (this file is benign), the check on the hand-made bytes
    with gzip.open(path) as f:
        plain = pickle.load(f, encoding="latin1")
    for (x, y), (px, py), (ex, ey) in zip(raw, plain, sets):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(px, ex)
        np.testing.assert_array_equal(y, ey)
    tr, va, te = mnist_loader.load_data(str(path))
    assert tr[0].shape == (12, 784) and tr[0].dtype == np.float32 and tr[1].dtype == np.int64
    np.testing.assert_array_equal(te[0], sets[2][0])
    wrapped = mnist_loader.load_data_wrapper(path)
    assert int(np.argmax(wrapped[0][3][1])) == sets[0][1][3]


def test_python3_pickles_and_lists():
    obj = [np.arange(5), (np.float32(1.5), np.int64(7)), [np.zeros((2, 2), np.float64)]]
    for protocol in (2, 3, 4, 5):
        out = _safe_pickle.loads(pickle.dumps(obj, protocol=protocol))
        np.testing.assert_array_equal(out[0], obj[0])
        assert out[1] == (1.5, 7) and isinstance(out[2], list)


# --------------------------------------------------------------------------- refusals

def test_os_system_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = ("cos\nsystem\n(S'touch %s'\ntR." % marker).encode()
    with pytest.raises(UnsafePickleError, match="os.system"):
        _safe_pickle.loads(payload)
    assert not marker.exists()
    # the same, protocol 2, hidden inside the book's layout, through load_data
    evil = (b"\x80\x02" + py2_array(np.zeros((1, 784), np.float32))
            + b"cposix\nsystem\n" + py2_str(b"touch " + str(marker).encode()) + b"\x85R"
            + b"\x86" + b"N\x87.")
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(evil))
    with pytest.raises(pickle.UnpicklingError, match="mnist.pkl.gz.*posix.system"):
        mnist_loader.load_data(path)
    assert not marker.exists()


class Evil:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("payload", [
    pickle.dumps(Evil(), protocol=2),
    pickle.dumps(Evil(), protocol=5),
    b"c__builtin__\neval\n(S'1'\ntR.",
    b"cbuiltins\ngetattr\n(cbuiltins\nobject\nS'__subclasses__'\ntR.",
    pickle.dumps(np.array([None, 1], dtype=object), protocol=2),
])
def test_refused(payload):
    with pytest.raises((UnsafePickleError, ValueError)):
        _safe_pickle.loads(payload)


def test_numpy_globals_cannot_be_misused():
    # _reconstruct with a subtype other than ndarray
    payload = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\n"
               b"K\x00\x85U\x01b\x87R.")
    with pytest.raises(UnsafePickleError, match="plain numpy arrays"):
        _safe_pickle.loads(payload)
    # object dtype
    with pytest.raises(UnsafePickleError, match="objects"):
        _safe_pickle.loads(b"\x80\x02cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R.")
    # _codecs.encode is only a latin-1 bytes maker
    with pytest.raises(UnsafePickleError, match="latin-1"):
        _safe_pickle.loads(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.")


def test_garbage_is_a_value_error(tmp_path):
    p = tmp_path / "junk.pkl.gz"
    p.write_bytes(gzip.compress(b"\x80\x02this is not a pickle"))
    with pytest.raises(ValueError, match="junk.pkl.gz"):
        _safe_pickle.load_file(str(p))
    p.write_bytes(gzip.compress(py2_pickle_sets(book_like_sets()))[:-40])
    with pytest.raises(ValueError, match="junk.pkl.gz"):
        mnist_loader.load_data(p)
