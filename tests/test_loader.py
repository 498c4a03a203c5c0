"""mnist_loader: the book's API on the real files, the IDX reader, the cache, and bad input."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from nnfast import mnist_loader
from nnfast.data import loader as data_loader, registry


def write_idx(path, arr, gz=None, magic=None, extra=b"", cut=0):
    """Write ``arr`` as an IDX file (uint8); optionally damage it."""
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = struct.pack(">HBB", 0, 0x08, arr.ndim)
    data = magic + struct.pack(">%dI" % arr.ndim, *arr.shape) + arr.tobytes() + extra
    if cut:
        data = data[:-cut]
    if gz is None:
        gz = str(path).endswith(".gz")
    if gz:
        data = gzip.compress(data, compresslevel=1)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def small_set(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), \
        rng.integers(0, 10, size=n, dtype=np.uint8)


def write_split(folder, split, images, labels, gz=True):
    img, lab = registry._IDX_FILES[split]
    suffix = ".gz" if gz else ""
    write_idx(os.path.join(folder, img + suffix), images)
    write_idx(os.path.join(folder, lab + suffix), labels)


@pytest.fixture(scope="module")
def fashion(fashion_dir):
    return mnist_loader.load_data(fashion_dir)


# --------------------------------------------------------------------------- real files

def test_mnist_test_split(mnist_test_arrays, mnist_dir):
    X, y = mnist_test_arrays
    assert X.shape == (10000, 784) and X.dtype == np.float32 and X.flags.c_contiguous
    assert y.shape == (10000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert list(y[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert list(np.bincount(y, minlength=10)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                  974, 1009]
    raw = mnist_loader.read_idx(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz"))
    assert raw.dtype == np.uint8 and raw.shape == (10000, 28, 28) and raw.flags.writeable
    np.testing.assert_array_equal(X, raw.reshape(10000, 784).astype(np.float32) / np.float32(255))


def test_fashion_load_data(fashion, fashion_dir):
    (tx, ty), (vx, vy), (sx, sy) = fashion
    for x, y, n in ((tx, ty, 50000), (vx, vy, 10000), (sx, sy, 10000)):
        assert x.shape == (n, 784) and x.dtype == np.float32 and x.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        assert 0.0 <= x.min() and x.max() <= 1.0
    raw = mnist_loader.read_idx(os.path.join(fashion_dir, "train-images-idx3-ubyte.gz"))
    lab = mnist_loader.read_idx(os.path.join(fashion_dir, "train-labels-idx1-ubyte.gz"))
    assert raw.shape == (60000, 28, 28) and lab.shape == (60000,)
    for i in (0, 1, 49999):
        np.testing.assert_array_equal(tx[i], raw[i].ravel() / np.float32(255))
    for i in (0, 9999):
        np.testing.assert_array_equal(vx[i], raw[50000 + i].ravel() / np.float32(255))
    np.testing.assert_array_equal(np.concatenate([ty, vy]), lab)
    # Fashion-MNIST is balanced: 6,000 of each class in training, 1,000 in test.
    assert list(np.bincount(np.concatenate([ty, vy]), minlength=10)) == [6000] * 10
    assert list(np.bincount(sy, minlength=10)) == [1000] * 10
    assert list(ty[:5]) == [9, 0, 0, 3, 0] and list(sy[:5]) == [9, 2, 1, 1, 6]


def test_fashion_found_through_env(fashion_dir, monkeypatch, fashion):
    monkeypatch.setenv("NNFAST_DATA", os.path.dirname(fashion_dir))
    tr, va, te = mnist_loader.load_data(dataset="fashion-mnist")
    np.testing.assert_array_equal(te[1], fashion[2][1])
    np.testing.assert_array_equal(tr[0][123], fashion[0][0][123])


def test_wrapper_formats(fashion_dir, fashion):
    training, validation, test = mnist_loader.load_data_wrapper(fashion_dir)
    assert type(training) is list and type(validation) is list and type(test) is list
    assert (len(training), len(validation), len(test)) == (50000, 10000, 10000)
    for i in (0, 777, 49999):
        x, y = training[i]
        assert isinstance(training[i], tuple)
        assert x.shape == (784, 1) and x.dtype == np.float32
        assert y.shape == (10, 1) and y.dtype == np.float64
        assert y.sum() == 1.0 and int(np.argmax(y)) == fashion[0][1][i]
        np.testing.assert_array_equal(x[:, 0], fashion[0][0][i])
    for data, (X, Y) in ((validation, fashion[1]), (test, fashion[2])):
        x, y = data[5]
        assert x.shape == (784, 1) and x.dtype == np.float32
        assert type(y) is int and y == Y[5]
        np.testing.assert_array_equal(x[:, 0], X[5])
    # slicing works (the book's zip objects did not), and one-hots do not alias
    assert len(training[:10]) == 10
    training[0][1][:] = 0
    assert training[1][1].sum() == 1.0


def test_vectorized_result():
    for j in range(10):
        e = mnist_loader.vectorized_result(j)
        assert e.shape == (10, 1) and e.dtype == np.float64
        assert e[j, 0] == 1.0 and e.sum() == 1.0


# --------------------------------------------------------------------------- folders and pickles

def test_folder_variants(tmp_path):
    images, labels = small_set(30)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)           # not compressed
    write_idx(tmp_path / "t10k-labels.idx1-ubyte.gz", labels)        # the dotted spelling
    X, y = mnist_loader.load_idx(tmp_path, "test")
    np.testing.assert_array_equal(X, images.reshape(30, 784) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="split"):
        mnist_loader.load_idx(tmp_path, "validation")


def test_book_pickle(tmp_path):
    rng = np.random.default_rng(1)
    sets = tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n))
                 for n in (7, 3, 4))
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(sets, f, protocol=2)
    out = mnist_loader.load_data(str(path))
    for (x, y), (ex, ey) in zip(out, sets):
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)
    wrapped = mnist_loader.load_data_wrapper(path)
    assert wrapped[0][2][1].shape == (10, 1) and wrapped[2][1][1] == sets[2][1][1]


def test_book_pickle_relative_default(tmp_path, monkeypatch):
    """With nothing else around, the book's ../data/mnist.pkl.gz is found."""
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    (tmp_path / "src").mkdir()
    sets = tuple((np.zeros((n, 784), np.float32), np.zeros(n, np.int64)) for n in (2, 1, 1))
    with gzip.open(tmp_path / "data" / "mnist.pkl.gz", "wb") as f:
        pickle.dump(sets, f, protocol=2)
    monkeypatch.chdir(tmp_path / "src")
    tr, va, te = mnist_loader.load_data()
    assert tr[0].shape == (2, 784) and te[1].shape == (1,)


def test_pickle_of_wrong_shape(tmp_path):
    path = tmp_path / "odd.pkl"
    with open(path, "wb") as f:
        pickle.dump((np.zeros((2, 5)), np.zeros(2)), f, protocol=2)
    with pytest.raises(ValueError, match="odd.pkl"):
        mnist_loader.load_data(path)


# --------------------------------------------------------------------------- bad input

def test_truncated_gzip(tmp_path):
    images, labels = small_set(20)
    p = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    data = open(p, "rb").read()
    with open(p, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*(corrupt|truncated)"):
        mnist_loader.read_idx(p)


def test_short_data(tmp_path):
    images, _ = small_set(20)
    p = write_idx(tmp_path / "img", images, cut=100)
    with pytest.raises(ValueError, match="img: truncated"):
        mnist_loader.read_idx(p)
    p = write_idx(tmp_path / "img2.gz", images, extra=b"xx")
    with pytest.raises(ValueError, match="img2.gz: 2 unexpected bytes"):
        mnist_loader.read_idx(p)
    p = tmp_path / "tiny"
    p.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="tiny: truncated IDX header"):
        mnist_loader.read_idx(p)


def test_bad_magic(tmp_path):
    images, _ = small_set(5)
    p = write_idx(tmp_path / "img", images, magic=b"\x12\x34\x08\x03")
    with pytest.raises(ValueError, match="img: bad magic number 0x12340803"):
        mnist_loader.read_idx(p)
    p = tmp_path / "text.gz"
    p.write_bytes(gzip.compress(b"hello, this is not an IDX file"))
    with pytest.raises(ValueError, match="text.gz: bad magic"):
        mnist_loader.read_idx(p)


def test_count_mismatch(tmp_path):
    images, labels = small_set(20)
    write_split(tmp_path, "test", images, labels[:19])
    with pytest.raises(ValueError, match="20 images.*19 labels"):
        mnist_loader.load_idx(tmp_path, "test")


def test_wrong_dims(tmp_path):
    images, labels = small_set(20)
    write_split(tmp_path, "test", images.reshape(20, 784), labels)
    with pytest.raises(ValueError, match="28x28"):
        mnist_loader.load_idx(tmp_path, "test")
    write_split(tmp_path, "test", images[:, :20, :20], labels)
    with pytest.raises(ValueError, match="28x28"):
        mnist_loader.load_idx(tmp_path, "test")
    # images and labels swapped
    img, lab = registry._IDX_FILES["test"]
    write_idx(tmp_path / (img + ".gz"), labels)
    write_idx(tmp_path / (lab + ".gz"), images)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        mnist_loader.load_idx(tmp_path, "test")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'kmnist'.*mnist, fashion-mnist"):
        mnist_loader.load_data(dataset="kmnist")
    with pytest.raises(ValueError, match="known datasets"):
        mnist_loader.load_data_wrapper("/nowhere", dataset="MNIST")


def test_missing_data_message(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    os.makedirs(tmp_path / "data" / "mnist")
    write_split(str(tmp_path / "data" / "mnist"), "test", *small_set(3))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        mnist_loader.load_data()
    msg = str(err.value)
    assert str(tmp_path / "data" / "mnist") in msg
    assert "missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in msg
    assert str(tmp_path / "cache" / "nnfast" / "mnist") in msg
    assert "mnist.pkl.gz" in msg
    assert "download=True" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    with pytest.raises(FileNotFoundError) as err:
        mnist_loader.load_data(dataset="fashion-mnist")
    assert "pkl" not in str(err.value) and "fashion-mnist" in str(err.value)
    with pytest.raises(FileNotFoundError, match="missing train-images"):
        mnist_loader.load_data(tmp_path / "data" / "mnist")
    with pytest.raises(FileNotFoundError, match="no such file"):
        mnist_loader.load_data(tmp_path / "absent.pkl.gz")


# --------------------------------------------------------------------------- cache

def test_cache_written_and_used(tmp_path, monkeypatch):
    images, labels = small_set(50)
    write_split(tmp_path, "test", images, labels)
    X1, y1 = mnist_loader.load_idx(tmp_path, "test")
    cache = tmp_path / "nnfast-cache-test.npz"
    assert cache.exists()
    assert not [p for p in os.listdir(tmp_path) if "nnfast-tmp" in p]

    def boom(*a):
        raise AssertionError("IDX file read although the cache is fresh")
    monkeypatch.setattr(data_loader, "_read_idx_file", boom)
    X2, y2 = mnist_loader.load_idx(tmp_path, "test")
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    monkeypatch.undo()

    # newer IDX files win over the cache, and refresh it
    images2, labels2 = small_set(50, seed=5)
    write_split(tmp_path, "test", images2, labels2)
    later = os.stat(cache).st_mtime + 10
    for name in registry._IDX_FILES["test"]:
        os.utime(tmp_path / (name + ".gz"), (later, later))
    X3, y3 = mnist_loader.load_idx(tmp_path, "test")
    np.testing.assert_array_equal(y3, labels2)
    assert os.stat(cache).st_mtime >= later - 10


def test_damaged_cache_is_ignored(tmp_path):
    images, labels = small_set(10)
    write_split(tmp_path, "test", images, labels)
    (tmp_path / "nnfast-cache-test.npz").write_bytes(b"PK\x03\x04 garbage")
    later = os.stat(tmp_path / "t10k-images-idx3-ubyte.gz").st_mtime + 10
    os.utime(tmp_path / "nnfast-cache-test.npz", (later, later))
    X, y = mnist_loader.load_idx(tmp_path, "test")
    np.testing.assert_array_equal(y, labels)


def test_bad_idx_leaves_cache_untouched(tmp_path):
    images, labels = small_set(10)
    write_split(tmp_path, "test", images, labels)
    mnist_loader.load_idx(tmp_path, "test")
    cache = tmp_path / "nnfast-cache-test.npz"
    before = cache.read_bytes()
    p = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, cut=5)
    later = os.stat(cache).st_mtime + 10
    os.utime(p, (later, later))
    with pytest.raises(ValueError, match="truncated"):
        mnist_loader.load_idx(tmp_path, "test")
    assert cache.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["nnfast-cache-test.npz", "t10k-images-idx3-ubyte.gz",
                                            "t10k-labels-idx1-ubyte.gz"]


def test_read_only_folder_no_cache(tmp_path):
    """A folder without write permission gets no cache, even when we run as root."""
    images, labels = small_set(10)
    write_split(tmp_path, "test", images, labels)
    os.chmod(tmp_path, 0o555)
    try:
        X, y = mnist_loader.load_idx(tmp_path, "test")
        np.testing.assert_array_equal(y, labels)
        assert not (tmp_path / "nnfast-cache-test.npz").exists()
    finally:
        os.chmod(tmp_path, 0o755)


def test_unwritable_folder_no_cache(tmp_path, monkeypatch):
    """Whoever we run as, a folder that refuses new files just goes without a cache."""
    images, labels = small_set(10)
    write_split(tmp_path, "test", images, labels)

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")
    import tempfile
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    X, y = mnist_loader.load_idx(tmp_path, "test")
    np.testing.assert_array_equal(y, labels)
    assert not (tmp_path / "nnfast-cache-test.npz").exists()


def test_shared_data_folder_untouched(mnist_dir):
    before = sorted(os.listdir(mnist_dir))
    mnist_loader.load_idx(mnist_dir, "test")
    assert sorted(os.listdir(mnist_dir)) == before


def test_all_of_mnist_as_the_book_splits_it(mnist_full_dir):
    """The 60,000 training images: the book's 50,000 / 10,000 split, the canonical label counts
    and first labels (../shared/data/README.md), and the book's pixel scale on request."""
    tr, va, te = mnist_loader.load_data(mnist_full_dir)
    assert (len(tr[1]), len(va[1]), len(te[1])) == (50000, 10000, 10000)
    assert list(tr[1][:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    counts = np.bincount(np.concatenate([tr[1], va[1]]), minlength=10)
    assert list(counts) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert tr[0].max() == 1.0
    book = mnist_loader.load_data(mnist_full_dir, pixel_scale=256)
    assert book[0][0].max() == np.float32(0.99609375)
    np.testing.assert_array_equal(book[0][0] * np.float32(256), np.rint(tr[0] * np.float32(255)))
