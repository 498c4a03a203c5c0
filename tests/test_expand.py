"""expand_mnist: the book's expansion (vectorised), extra shifts and rotations, main(), and
load_data(expanded=True)."""
import gzip
import os
import pickle
import tracemalloc

import numpy as np
import pytest

from nnfast import expand_mnist, mnist_loader
from nnfast.cli.expand import main as expand_main


def book_expand(images, labels):
    """The book's expand_mnist.py loop, unshuffled: original, down, up, right, left."""
    out_x, out_y = [], []
    for x, y in zip(images, labels):
        out_x.append(x)
        out_y.append(y)
        image = np.reshape(x, (-1, 28))
        for d, axis, index_position, index in [(1, 0, "first", 0), (-1, 0, "first", 27),
                                               (1, 1, "last", 0), (-1, 1, "last", 27)]:
            new_img = np.roll(image, d, axis)
            if index_position == "first":
                new_img[index, :] = np.zeros(28)
            else:
                new_img[:, index] = np.zeros(28)
            out_x.append(np.reshape(new_img, 784))
            out_y.append(y)
    return np.array(out_x), np.array(out_y)


def some_images(n=40, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 256, (n, 784)).astype(np.uint8)
    if dtype != np.uint8:
        x = x.astype(dtype) / dtype(255)
    return x


def test_matches_the_book_unshuffled():
    x = some_images()
    y = np.arange(len(x)) % 10
    ex, ey = book_expand(x, y)
    gx, gy = expand_mnist.expand(x, y, shuffle=False)
    np.testing.assert_array_equal(gx, ex)
    np.testing.assert_array_equal(gy, ey)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.float64])
def test_shuffled_holds_the_same_images(dtype):
    x = some_images(30, dtype)
    ids = np.arange(30)
    ex, ey = book_expand(x, ids)
    gx, gy = expand_mnist.expand(x, ids, seed=3)
    assert gx.shape == (150, 784) and gx.dtype == x.dtype and gy.shape == (150,)
    assert not np.array_equal(gy, ey)                 # shuffled
    assert list(np.bincount(gy)) == [5] * 30
    for i in range(30):                               # each image's five copies, with its label
        got = gx[gy == i]
        want = ex[ey == i]
        assert sorted(map(bytes, got)) == sorted(map(bytes, want))


def test_seed_and_layout():
    x = some_images(20, np.uint8).reshape(20, 28, 28)
    y = np.arange(20)
    a = expand_mnist.expand(x, y, seed=1)
    b = expand_mnist.expand(x, y, seed=1)
    c = expand_mnist.expand(x, y, seed=2)
    assert a[0].shape == (100, 28, 28) and a[0].dtype == np.uint8
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(expand_mnist.expand(x, y, seed=1)[0].reshape(100, 784),
                                  expand_mnist.expand(x.reshape(20, 784), y, seed=1)[0])


def test_shifts_zero_filled():
    img = np.arange(1, 785, dtype=np.float32).reshape(1, 28, 28)
    down = expand_mnist.shift(img, 1, 0)[0]
    assert (down[0] == 0).all() and (down[1:] == img[0, :-1]).all()
    left2 = expand_mnist.shift(img, 0, -2)[0]
    assert (left2[:, -2:] == 0).all() and (left2[:, :-2] == img[0, :, 2:]).all()


def test_further_shifts_and_rotations():
    x = some_images(12)
    ids = np.arange(12)
    gx, gy = expand_mnist.expand(x, ids, shifts=2, rotations=True, seed=0)
    assert gx.shape == (12 * 11, 784)                  # 1 + 8 shifts + 2 rotations
    assert list(np.bincount(gy)) == [11] * 12
    mine = {bytes(r) for r in gx[gy == 4]}
    img = x[4:5]
    for want in (expand_mnist.shift(img, 2, 0), expand_mnist.shift(img, 0, -2),
                 expand_mnist.rotate(img, 10), expand_mnist.rotate(img, -10)):
        assert bytes(want[0]) in mine
    assert expand_mnist.expand(x, ids, rotations=[5, 10, 15])[0].shape == (12 * 8, 784)
    assert expand_mnist.expand(x, ids, shifts=0, rotations=7.5)[0].shape == (36, 784)


def test_rotation_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = some_images(4).reshape(4, 28, 28)
    for angle in (10, -10, 3.7, 90):
        want = np.stack([ndimage.rotate(im, angle, reshape=False, order=1, mode="grid-constant")
                         for im in x])
        np.testing.assert_allclose(expand_mnist.rotate(x, angle), want, atol=2e-6)
    xu = (x * 255).round().astype(np.uint8)
    ru = expand_mnist.rotate(xu, 10)
    assert ru.dtype == np.uint8
    want = np.stack([ndimage.rotate(im.astype(np.float64), 10, reshape=False, order=1,
                                    mode="grid-constant") for im in xu])
    assert np.abs(ru - want).max() <= 0.5 + 1e-6


def test_peak_memory_under_twice_the_output():
    x = some_images(3000)
    y = np.arange(3000) % 10
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        gx, gy = expand_mnist.expand(x, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 2 * (gx.nbytes + gy.nbytes)


def test_bad_input():
    with pytest.raises(ValueError, match="784"):
        expand_mnist.expand(np.zeros((3, 100)), np.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        expand_mnist.expand(np.zeros((3, 784)), np.zeros(4))


# --------------------------------------------------------------------------- files

def small_book_pickle(path, sizes=(60, 10, 12)):
    rng = np.random.default_rng(5)
    sets = tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
                  rng.integers(0, 10, n).astype(np.int64)) for n in sizes)
    with gzip.open(path, "wb") as f:
        pickle.dump(sets, f, protocol=2)
    return sets


def test_main_from_book_pickle(tmp_path, capsys):
    sets = small_book_pickle(tmp_path / "mnist.pkl.gz")
    out = tmp_path / "mnist_expanded.npz"
    assert expand_main(["--data", str(tmp_path / "mnist.pkl.gz"), "--out", str(out),
                              "--pickle", "--seed", "4"]) == 0
    assert "300 training images" in capsys.readouterr().out
    assert os.stat(out).st_mode & 0o044 == 0o044 or os.umask(os.umask(0)) & 0o044
    assert sorted(os.listdir(tmp_path)) == ["mnist.pkl.gz", "mnist_expanded.npz",
                                            "mnist_expanded.pkl.gz"]
    tr, va, te = mnist_loader.load_data(out)
    assert tr[0].shape == (300, 784) and tr[0].dtype == np.float32 and tr[1].dtype == np.int64
    want = expand_mnist.expand(sets[0][0], sets[0][1], seed=4)
    np.testing.assert_array_equal(tr[0], want[0])
    np.testing.assert_array_equal(va[0], sets[1][0])
    np.testing.assert_array_equal(te[1], sets[2][1])
    # the book's layout, read by the safe reader, and found by name in the folder
    tr2, va2, te2 = mnist_loader.load_data(tmp_path / "mnist_expanded.pkl.gz")
    np.testing.assert_array_equal(tr2[0], tr[0])
    tr3, _, _ = mnist_loader.load_data(tmp_path, expanded=True)
    np.testing.assert_array_equal(tr3[1], tr[1])
    wrapped = mnist_loader.load_data_wrapper(out)
    assert len(wrapped[0]) == 300 and wrapped[0][0][1].shape == (10, 1)


def test_expanded_found_in_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m nnfast expand"):
        mnist_loader.load_data(dataset="fashion-mnist", expanded=True)
    (tmp_path / "fashion-mnist").mkdir()
    x = some_images(10, np.uint8)
    y = np.arange(10, dtype=np.uint8)
    expand_mnist.save_npz(tmp_path / "fashion-mnist" / "fashion-mnist_expanded.npz",
                          expand_mnist.expand(x, y), (x[:3], y[:3]), (x[3:], y[3:]))
    tr, va, te = mnist_loader.load_data(dataset="fashion-mnist", expanded=True)
    assert tr[0].shape == (50, 784) and va[0].shape == (3, 784) and te[1].shape == (7,)
    assert tr[0].dtype == np.float32 and 0 <= tr[0].min() and tr[0].max() <= 1
    assert not [n for n in os.listdir(tmp_path / "fashion-mnist") if "nnfast-tmp" in n]


def test_main_unwritable_and_wrong_input(tmp_path, capsys, monkeypatch):
    small_book_pickle(tmp_path / "mnist.pkl.gz")
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        assert expand_main(["--data", str(tmp_path / "mnist.pkl.gz"),
                                  "--out", str(ro / "x.npz"), "--quiet"]) == 2
        assert "cannot write" in capsys.readouterr().err
        assert os.listdir(ro) == []
    finally:
        os.chmod(ro, 0o755)
    (tmp_path / "notes.txt").write_text("hello")
    assert expand_main(["--data", str(tmp_path / "notes.txt"),
                              "--out", str(tmp_path / "x.npz")]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    # an existing output survives a failed run
    (tmp_path / "x.npz").write_bytes(b"old")
    assert expand_main(["--data", str(tmp_path / "notes.txt"),
                              "--out", str(tmp_path / "x.npz")]) == 2
    assert (tmp_path / "x.npz").read_bytes() == b"old"
    # a file of the wrong kind given as expanded data
    with pytest.raises(ValueError, match="x.npz"):
        mnist_loader.load_data(tmp_path / "x.npz")
