"""Helpers shared by the benchmark script and the pytest-benchmark suites.

Data: the Fashion-MNIST IDX files under ``$NNFAST_DATA/fashion-mnist`` (the
training file's 60,000 images and the 10,000 t10k images), read with
``nnfast.mnist_loader.load_idx`` when the package has it, else with the small
reader below (same result: X float32 (n, 784) in [0, 1], y int64 (n,)).
"""
import gzip
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def ensure_nnfast_importable():
    """Import nnfast; if it is not installed, fall back to this checkout's src/.

    Returns a short string saying where it came from ("installed", "source tree")
    or None when nnfast cannot be imported at all.
    """
    try:
        import nnfast  # noqa: F401
        src = os.path.normpath(os.path.join(HERE, os.pardir, "src"))
        where = "source tree" if os.path.abspath(nnfast.__file__).startswith(src + os.sep) else "installed"
        return where
    except ImportError:
        pass
    src = os.path.normpath(os.path.join(HERE, os.pardir, "src"))
    if os.path.isdir(os.path.join(src, "nnfast")):
        sys.path.insert(0, src)
        try:
            import nnfast  # noqa: F401
            return "source tree"
        except ImportError:
            sys.path.remove(src)
    return None


def data_root():
    root = os.environ.get("NNFAST_DATA")
    return root if root and os.path.isdir(root) else None


DATASETS = ("mnist", "fashion-mnist")


def dataset_dir(dataset="fashion-mnist"):
    """``$NNFAST_DATA/<dataset>`` (mnist or fashion-mnist), or None when it lacks one of the
    four IDX files (gzip-compressed or not)."""
    root = data_root()
    if root is None:
        return None
    folder = os.path.join(root, dataset)
    for names in IDX_FILES.values():
        for name in names:
            if not any(os.path.exists(os.path.join(folder, f)) for f in (name, name[:-len(".gz")])):
                return None
    return folder


def fashion_dir():
    """The Fashion-MNIST folder, or None when it (or one of its four files) is missing."""
    return dataset_dir("fashion-mnist")


def _read_idx_gz(path, ndim):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    if magic != 0x0800 + ndim:
        raise ValueError("%s: bad IDX magic number %#x" % (os.path.basename(path), magic))
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError("%s: truncated or corrupt (expected %d bytes of data, found %d)"
                         % (os.path.basename(path), int(np.prod(dims)), data.size))
    return data.reshape(dims)


def _local_load_idx(folder, kind):
    img_name, lab_name = IDX_FILES[kind]
    images = _read_idx_gz(os.path.join(folder, img_name), 3)
    labels = _read_idx_gz(os.path.join(folder, lab_name), 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError("%s: %d images but %d labels" % (folder, images.shape[0], labels.shape[0]))
    X = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return X, labels.astype(np.int64)


def load_idx(folder, kind):
    """(X float32 (n, 784) in [0, 1], y int64 (n,)) for kind "train" or "test"."""
    try:
        from nnfast import mnist_loader
        fn = getattr(mnist_loader, "load_idx")
    except (ImportError, AttributeError):
        fn = _local_load_idx
    X, y = fn(folder, kind)
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)


def one_hot(y, k=10, dtype=np.float64):
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


def as_training_list(X, y):
    """The book's training format: list of ((784, 1) float64 column, (10, 1) one-hot)."""
    eye = np.eye(10)
    return [(X[i].reshape(-1, 1).astype(np.float64), eye[int(y[i])].reshape(-1, 1)) for i in range(len(y))]


def as_test_list(X, y):
    """The book's validation/test format: list of ((784, 1) float64 column, int label)."""
    return [(X[i].reshape(-1, 1).astype(np.float64), int(y[i])) for i in range(len(y))]


def chapter1_flops(sizes, n, mini_batch_size):
    """Floating-point operations of one chapter-1 (or chapter-3) training epoch.

    Per example: forward 2*sum(in*out); weight gradients 2*sum(in*out); input
    gradients (delta propagated back) 2*sum(in*out) over the layers after the
    first. Per mini-batch: the update, 2 flops per parameter (scale and subtract).
    Elementwise work (sigmoid, its derivative, cost derivative, bias sums) is not
    counted, so the figure is a lower bound on the work done.
    """
    pairs = list(zip(sizes[:-1], sizes[1:]))
    s_all = sum(i * o for i, o in pairs)
    s_after_first = sum(i * o for i, o in pairs[1:])
    params = sum(i * o + o for i, o in pairs)
    batches = -(-n // mini_batch_size)
    return n * (2 * s_all + 2 * s_all + 2 * s_after_first) + batches * 2 * params
