"""The book's pixel scale: mnist.pkl.gz holds the IDX bytes divided by 256 (largest value
0.99609375); nnfast divides by 255 unless asked for ``pixel_scale=256``."""
import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from nnfast import mnist_loader, network3
from nnfast.data import loader as data_loader
from test_loader import write_split


def _bytes(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, :2] = (0, 255)                     # both ends of the byte range
    return images, rng.integers(0, 10, size=n, dtype=np.uint8)


@pytest.fixture
def small_mnist(tmp_path, monkeypatch):
    """An IDX folder of 25 training images (20 training + 5 validation) and 6 test images, with the
    pickle the deeplearning.net tutorials made from such bytes: float32 bytes / 256, int64 labels."""
    monkeypatch.setattr(data_loader, "_N_TRAIN", 20)
    train, test = _bytes(25, 1), _bytes(6, 2)
    folder = tmp_path / "idx"
    folder.mkdir()
    write_split(str(folder), "train", *train)
    write_split(str(folder), "test", *test)

    def book(images, labels):
        return images.reshape(len(images), 784).astype(np.float32) / 256, labels.astype(np.int64)
    sets = (book(train[0][:20], train[1][:20]), book(train[0][20:], train[1][20:]), book(*test))
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(sets, f, protocol=2)
    return str(folder), str(path), train, test


def test_pixel_scale_256_gives_the_book_pickle_exactly(small_mnist):
    folder, book_pickle, _, _ = small_mnist
    ours = mnist_loader.load_data(folder, pixel_scale=256)
    book = mnist_loader.load_data(book_pickle)
    for (x, y), (bx, by) in zip(ours, book):
        assert x.dtype == bx.dtype == np.float32 and y.dtype == by.dtype == np.int64
        assert x.tobytes() == bx.tobytes()          # bit for bit
        np.testing.assert_array_equal(y, by)
    assert ours[0][0].max() == np.float32(0.99609375) and ours[0][0].min() == 0.0


def test_default_scale_is_255(small_mnist):
    folder, _, train, test = small_mnist
    tr, va, te = mnist_loader.load_data(folder)
    assert tr[0].max() == 1.0
    np.testing.assert_array_equal(tr[0], train[0][:20].reshape(20, 784) / np.float32(255))
    np.testing.assert_array_equal(te[0], test[0].reshape(6, 784) / np.float32(255))
    np.testing.assert_array_equal(mnist_loader.load_data(folder, pixel_scale=255)[2][0], te[0])


def test_every_loader_takes_pixel_scale(small_mnist):
    folder, book_pickle, _, _ = small_mnist
    book = mnist_loader.load_data(book_pickle)
    training, validation, test = mnist_loader.load_data_wrapper(folder, pixel_scale=256)
    np.testing.assert_array_equal(np.hstack([x for x, _ in training]).T, book[0][0])
    np.testing.assert_array_equal(np.hstack([x for x, _ in test]).T, book[2][0])
    shared = network3.load_data_shared(folder, pixel_scale=256)
    np.testing.assert_array_equal(np.asarray(shared[1][0]), book[1][0])
    x, _ = mnist_loader.load_idx(folder, "test", pixel_scale=256)
    np.testing.assert_array_equal(x, book[2][0])


def test_the_pickle_is_returned_as_stored_whatever_the_scale(small_mnist):
    _, book_pickle, _, _ = small_mnist
    a = mnist_loader.load_data(book_pickle)
    b = mnist_loader.load_data(book_pickle, pixel_scale=256)
    np.testing.assert_array_equal(a[0][0], b[0][0])


def test_real_mnist_test_split_at_256(mnist_dir):
    x, _ = mnist_loader.load_idx(mnist_dir, "test", pixel_scale=256)
    raw = mnist_loader.read_idx(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz"))
    assert x.max() == np.float32(0.99609375)
    assert x.tobytes() == (raw.reshape(10000, 784).astype(np.float32) / 256).tobytes()


@pytest.mark.parametrize("bad", [254, 0, 1, 255.5, -256, "256", None, True, float("nan")])
def test_bad_pixel_scale_is_a_value_error_naming_it(bad, tmp_path):
    for load in (lambda: mnist_loader.load_data(tmp_path, pixel_scale=bad),
                 lambda: mnist_loader.load_data_wrapper(tmp_path, pixel_scale=bad),
                 lambda: mnist_loader.load_idx(tmp_path, "test", pixel_scale=bad),
                 lambda: network3.load_data_shared(str(tmp_path), pixel_scale=bad)):
        with pytest.raises(ValueError, match="pixel_scale"):
            load()                                   # refused before any file is looked for


def test_cli_pixel_scale_flag():
    r = subprocess.run([sys.executable, "-m", "nnfast", "chapter1", "--pixel-scale", "250"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--pixel-scale" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "nnfast", "chapter6", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--pixel-scale" in r.stdout
