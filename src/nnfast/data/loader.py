"""MNIST and Fashion-MNIST, the way the book's ``mnist_loader`` hands them out.

Drop-in for the book's module::

    from nnfast import mnist_loader
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()

:func:`load_data` returns ``(training_data, validation_data, test_data)``, each a
pair ``(x, y)``: ``x`` float32 of shape (n, 784) with pixels in [0, 1] (one row
per image, 28x28 row-major), ``y`` int64 of shape (n,).  Sizes are 50,000 /
10,000 / 10,000: training is the first 50,000 images of the IDX training file,
validation the last 10,000, test the t10k file, exactly the book's split.

The data can come from

* a folder holding the four IDX files (``train-images-idx3-ubyte.gz`` ...,
  gzip-compressed or not), as distributed by MNIST and Fashion-MNIST;
* the book's ``mnist.pkl.gz``, read with a restricted unpickler that only
  rebuilds numpy arrays (a pickle can run code; this reader does not let it).

Pixel scale.  IDX files hold bytes 0..255; nnfast divides them by 255 by
default, so white is exactly 1.0 and the pixels fill [0, 1].  The book's
``mnist.pkl.gz`` (from the deeplearning.net tutorials) holds the same bytes
divided by 256 (largest value 0.99609375): ``pixel_scale=256`` gives exactly
its arrays from the IDX files.  A pickle's floats are returned as stored
(``pixel_scale`` applies to bytes: IDX files and uint8 expanded sets).

With no ``path`` the loader looks in ``$NNFAST_DATA/<dataset>/``, then in the
download cache (``$XDG_CACHE_HOME/nnfast/<dataset>``, by default
``~/.cache/nnfast/<dataset>``), then (MNIST only) at the book's
``../data/mnist.pkl.gz``.  ``download=True`` fetches missing IDX files into the
first of those folders, checking each file's SHA-256.
"""
import gzip
import os
import struct
import zlib

import numpy as np

from .. import _atomic, _files
from .._errors import BadFileError
from .registry import (DATASETS, IDX_FILENAMES, _IDX_FILES, candidate_dirs, check_dataset,  # noqa: F401
                       default_data_dir, expanded_filename)

__all__ = ["load_data", "load_data_wrapper", "vectorized_result", "load_idx", "read_idx",
           "DATASETS", "default_data_dir", "PIXEL_SCALES"]

_N_TRAIN = 50000
_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_BOOK_PICKLE = os.path.join("..", "data", "mnist.pkl.gz")
_BOOK_EXPANDED = os.path.join("..", "data", "mnist_expanded.pkl.gz")


# --------------------------------------------------------------------------- IDX files

_CHUNK = 1 << 20


def _read_exact(stream, n, filename, what):
    data = stream.read(n)
    if len(data) < n:
        raise BadFileError("%s: truncated %s (%d of %d bytes)" % (filename, what, len(data), n), filename)
    return data


def _read_idx_stream(stream, filename, size, gz):
    """Header, then exactly the data it declares, read in blocks into one array: a file
    (or a gzip bomb) holding more than the header says is refused after one byte too many,
    and a header claiming more than the file can hold is refused before reading data."""
    head = _read_exact(stream, 4, filename, "IDX header")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise BadFileError("%s: bad magic number 0x%s: not an IDX file (expected 00 00, a type "
                           "code such as 08 for uint8, and the number of dimensions)"
                           % (filename, head.hex()), filename)
    header = 4 + 4 * ndim
    shape = struct.unpack(">%dI" % ndim, _read_exact(stream, header - 4, filename, "IDX header"))
    dtype = _IDX_DTYPES[code]
    count = 1
    for d in shape:
        count *= d
    need = count * dtype.itemsize
    can_hold = (size * _files.DEFLATE_RATIO) if gz else size - header
    if need > can_hold:
        raise BadFileError("%s: truncated or damaged: the header says shape %s (%d bytes of data) but %s"
                           % (filename, shape, need, ("a gzip file of %d bytes cannot hold that much" % size) if gz
                              else "the file holds %d" % can_hold), filename)
    out = np.empty(need, dtype=np.uint8)
    view = memoryview(out)
    have = 0
    while have < need:
        got = stream.readinto(view[have:have + _CHUNK])
        if not got:
            raise BadFileError("%s: truncated: header says shape %s (%d bytes of data) but the file "
                               "holds %d" % (filename, shape, need, have), filename)
        have += got
    extra = len(stream.read(_CHUNK))     # a bounded look past the end
    if extra:
        raise BadFileError("%s: %s%d unexpected bytes after the data of shape %s (wrong or damaged file)"
                           % (filename, "at least " if extra == _CHUNK else "", extra, shape), filename)
    return out.view(dtype).reshape(shape)


def _read_idx_file(filename):
    """The IDX array in ``filename``, gunzipped as it streams when it is gzip."""
    size = _files.regular_file(filename, "IDX file").st_size
    with open(filename, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not gz:
            return _read_idx_stream(f, filename, size, False)
        try:
            with gzip.GzipFile(fileobj=f) as g:
                return _read_idx_stream(g, filename, size, True)
        except (OSError, EOFError, zlib.error) as e:
            raise BadFileError("%s: corrupt or truncated gzip data (%s); delete it and fetch it "
                               "again" % (filename, e), filename) from None


def read_idx(filename):
    """Read one IDX file (gzip-compressed or not) into a numpy array of the header's shape.

    MNIST's files hold uint8, so that is what comes back for them (the other IDX
    type codes are read too, in native byte order).  A damaged file raises
    ValueError naming the file and the problem.
    """
    filename = os.fspath(filename)
    arr = _read_idx_file(filename)
    return arr.astype(arr.dtype.newbyteorder("="), copy=True)


def _find_idx(folder, base):
    """Path of the IDX file ``base`` in ``folder`` (``.gz`` or not, ``-idx`` or ``.idx``)."""
    dotted = base.replace("-idx", ".idx")
    for name in (base + ".gz", base, dotted + ".gz", dotted):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    return None


def _missing_idx(folder, splits=("train", "test")):
    return [base + ".gz" for s in splits for base in _IDX_FILES[s] if _find_idx(folder, base) is None]


def _check_pair(images, labels, img_file, lab_file):
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise BadFileError("%s: expected images of 28x28 pixels (a 3-D IDX file), found shape %s"
                           % (img_file, images.shape), img_file)
    if images.dtype != np.uint8:
        raise BadFileError("%s: expected uint8 pixels, found %s" % (img_file, images.dtype), img_file)
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise BadFileError("%s: expected a 1-D uint8 label file, found shape %s of %s"
                           % (lab_file, labels.shape, labels.dtype), lab_file)
    if images.shape[0] != labels.shape[0]:
        raise BadFileError("%s holds %d images but %s holds %d labels"
                           % (img_file, images.shape[0], lab_file, labels.shape[0]), lab_file)


PIXEL_SCALES = (255, 256)


def check_pixel_scale(pixel_scale):
    """255 (nnfast's default: bytes / 255, white = 1.0) or 256 (the book's mnist.pkl.gz)."""
    if (isinstance(pixel_scale, (bool, np.bool_)) or not isinstance(pixel_scale, (int, float, np.integer, np.floating))
            or pixel_scale not in PIXEL_SCALES):
        raise ValueError("pixel_scale must be 255 (bytes / 255, the default) or 256 (the book's "
                         "mnist.pkl.gz), got %r" % (pixel_scale,))
    return int(pixel_scale)


def _to_float(images, pixel_scale=255):
    """uint8 images (n, 28, 28) or (n, 784) -> C-contiguous float32 (n, 784): bytes / pixel_scale."""
    n = images.shape[0]
    out = np.empty((n, 784), dtype=np.float32)
    np.divide(images.reshape(n, 784), np.float32(pixel_scale), out=out, dtype=np.float32)
    return out


def _read_split_uint8(folder, split):
    """(images uint8 (n, 28, 28), labels uint8 (n,)) of one split, through the cache."""
    if split not in _IDX_FILES:
        raise ValueError("split must be 'train' or 'test', not %r" % (split,))
    img_base, lab_base = _IDX_FILES[split]
    img_file, lab_file = _find_idx(folder, img_base), _find_idx(folder, lab_base)
    missing = [b + ".gz" for b, p in ((img_base, img_file), (lab_base, lab_file)) if p is None]
    if missing:
        raise FileNotFoundError("%s: missing %s" % (folder, ", ".join(missing)))
    cached = _cache_read(folder, split, (img_file, lab_file))
    if cached is not None:
        return cached
    images = _read_idx_file(img_file)
    labels = _read_idx_file(lab_file)
    _check_pair(images, labels, img_file, lab_file)
    _cache_write(folder, split, (img_file, lab_file), images, labels)
    return images, labels


# --------------------------------------------------------------------------- cache
#
# The first read of a split stores its uint8 arrays in an uncompressed .npz beside
# the IDX files (gunzipping the 60,000 training images is most of a load's time).
# A cache is used only when it is at least as new as both IDX files and matches
# their sizes; it is written to a temporary file and renamed into place, and a
# folder we cannot write to, or whose permission bits say nobody may write to it
# (a shared read-only data folder, even when we run as root), goes without one.

def _cache_path(folder, split):
    return os.path.join(folder, "nnfast-cache-%s.npz" % split)


def _source_sig(sources):
    return np.array([os.stat(p).st_size for p in sources], dtype=np.int64)


def _cache_read(folder, split, sources):
    path = _cache_path(folder, split)
    try:
        mtime = os.stat(path).st_mtime
        if any(os.stat(p).st_mtime > mtime for p in sources):
            return None
        z = _files.read_npz(path, "cache", ("images", "labels", "sources"))
        images, labels, sig = z["images"], z["labels"], z["sources"]
        if (images.dtype != np.uint8 or labels.dtype != np.uint8 or images.ndim != 3
                or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]
                or not np.array_equal(sig, _source_sig(sources))):
            return None
        return images, labels
    except Exception:  # missing, stale or damaged cache: read the IDX files instead
        return None


def _cache_write(folder, split, sources, images, labels):
    if not _atomic.folder_writable(folder):
        return False
    try:
        _atomic.write_atomic(_cache_path(folder, split),
                             lambda f: np.savez(f, images=images, labels=labels, sources=_source_sig(sources)))
        return True
    except Exception:
        return False  # read-only or otherwise unwritable folder, a full disk: no cache


def load_idx(folder, split, pixel_scale=255):
    """One split of an IDX folder: ``split`` "train" (60,000 for MNIST) or "test" (10,000).

    Returns ``(X, y)``: X float32 (n, 784), the bytes divided by ``pixel_scale`` (255 or 256),
    y int64 (n,).
    """
    pixel_scale = check_pixel_scale(pixel_scale)
    folder = os.fspath(folder)
    images, labels = _read_split_uint8(folder, split)
    return _to_float(images, pixel_scale), labels.astype(np.int64)


# --------------------------------------------------------------------------- the book's API

def vectorized_result(j):
    """A (10, 1) float64 column with 1.0 at row ``j`` and zeros elsewhere."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


def _validate_sets(sets, source):
    """Normalise three (x, y) pairs to float32 (n, 784) / int64 (n,)."""
    try:
        if len(sets) != 3:
            raise ValueError
        out = []
        for x, y in sets:
            x = np.asarray(x)
            y = np.asarray(y)
            if x.ndim != 2 or x.shape[1] != 784 or y.ndim != 1 or len(y) != len(x):
                raise ValueError
            if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.integer)):
                raise ValueError
            x = np.ascontiguousarray(x, dtype=np.float32)
            out.append((x, y.astype(np.int64)))
        return tuple(out)
    except (ValueError, TypeError):
        raise BadFileError("%s: expected (training, validation, test), each a pair (x of shape "
                           "(n, 784), y of n integer labels)" % source, source) from None


def _load_pickle(path):
    from . import safe_pickle as _safe_pickle
    return _validate_sets(_safe_pickle.load_file(path), path)


def _load_npz(path, dataset, pixel_scale=255):
    """An expanded-data .npz: training_x/y (uint8 or float), plus validation/test if stored."""
    parts = _files.read_npz(path, "expanded data", ("training_x", "training_y"),
                            optional=("validation_x", "validation_y", "test_x", "test_y"))
    keys = set(parts)
    if 0 < len(keys) - 2 < 4:
        raise BadFileError("%s: holds %s but not all of validation_x/y and test_x/y" % (path, ", ".join(sorted(keys))),
                           path)

    def fl(x):
        x = np.asarray(x)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != 784:
            raise BadFileError("%s: images of shape %s, expected (n, 784) or (n, 28, 28)" % (path, x.shape), path)
        if x.dtype == np.uint8:
            return _to_float(x, pixel_scale)
        return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32)

    training = (fl(parts["training_x"]), parts["training_y"])
    if {"validation_x", "validation_y", "test_x", "test_y"} <= keys:
        validation = (fl(parts["validation_x"]), parts["validation_y"])
        test = (fl(parts["test_x"]), parts["test_y"])
    else:
        folder = os.path.dirname(os.path.abspath(path))
        _, validation, test = _load_folder(folder, pixel_scale)
    return _validate_sets((training, validation, test), path)


def _load_folder(folder, pixel_scale=255):
    images, labels = _read_split_uint8(folder, "train")
    if images.shape[0] <= _N_TRAIN:
        raise ValueError("%s: the training file holds %d images; the 50,000/10,000 split needs "
                         "more than 50,000" % (folder, images.shape[0]))
    X = _to_float(images, pixel_scale)
    y = labels.astype(np.int64)
    test = load_idx(folder, "test", pixel_scale)
    return (X[:_N_TRAIN], y[:_N_TRAIN]), (X[_N_TRAIN:], y[_N_TRAIN:]), test


def _load_path(path, dataset, expanded, pixel_scale=255):
    path = os.fspath(path)
    if os.path.isdir(path):
        if expanded:
            for name in (expanded_filename(dataset), "mnist_expanded.pkl.gz"):
                p = os.path.join(path, name)
                if os.path.isfile(p) and (dataset == "mnist" or name.endswith(".npz")):
                    return _load_path(p, dataset, False, pixel_scale)
            raise FileNotFoundError(
                "%s: no expanded training set (%s) there; make it with "
                "`python -m nnfast expand` (see nnfast.expand_mnist)"
                % (path, expanded_filename(dataset)))
        missing = _missing_idx(path)
        if missing:
            raise FileNotFoundError("%s: missing %s (the folder must hold the four IDX files)"
                                    % (path, ", ".join(missing)))
        return _load_folder(path, pixel_scale)
    if not os.path.exists(path):
        raise FileNotFoundError("%s: no such file or folder" % path)
    _files.regular_file(path, "data")      # a FIFO or a device is never opened
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        return _load_npz(path, dataset, pixel_scale)
    return _load_pickle(path)


def _not_found(dataset, expanded, looked):
    target = default_data_dir(dataset)
    lines = ["%s data not found. Looked in:" % dataset]
    lines += ["  - %s" % s for s in looked]
    if expanded:
        lines.append("Make the expanded training set with `python -m nnfast expand` "
                     "(it writes %s beside the IDX files)." % expanded_filename(dataset))
    else:
        lines.append("To get it: call load_data(..., download=True), or place the four IDX "
                     "files (%s) in %s (or set NNFAST_DATA to a folder holding %s/ with them)."
                     % (", ".join(IDX_FILENAMES), target, dataset))
    return FileNotFoundError("\n".join(lines))


def _locate(dataset, expanded, download):
    """Find the data for ``dataset`` with no path given: a folder or a pickle path."""
    looked = []
    dirs = candidate_dirs(dataset)
    for d in dirs:
        if expanded:
            p = os.path.join(d, expanded_filename(dataset))
            if os.path.isfile(p):
                return p
            looked.append("%s (no %s)" % (d, expanded_filename(dataset)))
            continue
        if not os.path.isdir(d):
            looked.append("%s (no such folder)" % d)
            continue
        missing = _missing_idx(d)
        if not missing:
            return d
        looked.append("%s (missing %s)" % (d, ", ".join(missing)))
    if dataset == "mnist":
        book = _BOOK_EXPANDED if expanded else _BOOK_PICKLE
        if os.path.isfile(book):
            return book
        looked.append("%s (the book's location, relative to %s: not there)"
                      % (book, os.getcwd()))
    if download and not expanded:
        from . import download as _download
        return _download.download(dataset)
    raise _not_found(dataset, expanded, looked)


def load_data(path=None, dataset="mnist", *, expanded=False, download=False, pixel_scale=255):
    """Return ``(training_data, validation_data, test_data)``, each a pair ``(x, y)``.

    ``x`` is float32 (n, 784) in [0, 1]; ``y`` int64 (n,).  Sizes 50,000 / 10,000 /
    10,000 (the training set of the expanded data is 250,000 or more).

    path:     a folder with the four IDX files, the book's ``mnist.pkl.gz`` (read
              safely), or an expanded-data ``.npz`` / ``mnist_expanded.pkl.gz``.
              None: search ``$NNFAST_DATA/<dataset>``, ``~/.cache/nnfast/<dataset>``,
              then ``../data/mnist.pkl.gz`` (see the module docstring).
    dataset:  "mnist" or "fashion-mnist".
    expanded: take the training set from the expanded file made by
              ``python -m nnfast expand`` (``<dataset>_expanded.npz`` in the data folder).
    download: fetch missing IDX files from public mirrors (SHA-256 checked).
    pixel_scale: 255 (default: bytes / 255, white is 1.0) or 256 (the book's
              ``mnist.pkl.gz``: bytes / 256, the largest value 0.99609375); a pickle's
              floats come back as stored.
    """
    check_dataset(dataset)
    pixel_scale = check_pixel_scale(pixel_scale)
    if path is None:
        path = _locate(dataset, expanded, download)
    elif download and not expanded:
        p = os.fspath(path)
        as_folder = os.path.isdir(p) or (
            not os.path.exists(p) and not p.endswith((".gz", ".pkl", ".npz")))
        if as_folder and _missing_idx(p):
            from . import download as _download
            _download.download(dataset, p)
    return _load_path(path, dataset, expanded, pixel_scale)


def load_data_wrapper(path=None, dataset="mnist", *, expanded=False, download=False, pixel_scale=255):
    """The book's format: lists of tuples.

    training_data:   list of ``(x, y)``, x a (784, 1) float32 column, y a (10, 1)
                     one-hot float64 column;
    validation_data, test_data: lists of ``(x, label)``, x a (784, 1) column, label an int.

    Every column is a view of one row of a contiguous matrix the loader made: the x of
    a set are rows of the images' (n, 784) float32 matrix (``x_i = M[i].reshape(784, 1)``),
    the training y rows of one (n, 10) one-hot matrix.  Building the lists is fast, and
    SGD, seeing such a list (shuffled or not), trains on the matrix through the list's
    order instead of stacking 50,000 columns into a new one.
    """
    tr, va, te = load_data(path, dataset, expanded=expanded, download=download, pixel_scale=pixel_scale)
    return _training_list(*tr), _eval_list(*va), _eval_list(*te)


def _columns(x):
    """(784, 1) views of the rows of x, whose memory is one C-contiguous array's (x's own, or
    the one x is a slice of; a copy is made when x's memory belongs to anything else)."""
    owner = x if x.base is None else x.base
    if not (isinstance(owner, np.ndarray) and owner.flags.c_contiguous and x.flags.c_contiguous):
        x = np.array(x, order="C")
    return list(x.reshape(len(x), 784, 1))


def _training_list(x, y):
    onehot = np.zeros((len(y), 10))
    onehot[np.arange(len(y)), y] = 1.0
    return list(zip(_columns(x), list(onehot.reshape(len(y), 10, 1))))


def _eval_list(x, y):
    return list(zip(_columns(x), y.tolist()))
