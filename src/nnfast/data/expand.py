"""Expanded training data: the book's ``expand_mnist.py``, vectorised.

The book grows MNIST's 50,000 training images to 250,000 by adding, for each
image, its four one-pixel shifts (down, up, right, left; the row or column that
moves in is zero) and shuffling the lot.  :func:`expand` does the same on whole
arrays in well under a second, writing every copy straight into its shuffled
place (peak memory about 1.4x the output), and optionally adds further shifts
and small rotations, as chapter 3 suggests::

    from nnfast import expand_mnist, mnist_loader
    (x, y), va, te = mnist_loader.load_data()
    big_x, big_y = expand_mnist.expand(x, y, seed=0)            # 250,000 images
    more_x, more_y = expand_mnist.expand(x, y, shifts=2, rotations=True)

``nnfast expand`` (nnfast.cli.expand) writes ``<dataset>_expanded.npz``
beside the IDX files (and, with ``--pickle``, the book's
``mnist_expanded.pkl.gz`` layout); ``mnist_loader.load_data(expanded=True)``
reads it.
"""
import gzip
import os
import pickle

import numpy as np

from .. import _atomic

__all__ = ["expand", "shift", "rotate", "save_npz", "save_book_pickle"]

_SIDE = 28
_DEFAULT_ANGLES = (-10.0, 10.0)


def _as_stack(images):
    a = np.asarray(images)
    if a.ndim == 2 and a.shape[1] == _SIDE * _SIDE:
        return a.reshape(len(a), _SIDE, _SIDE), True
    if a.ndim == 3 and a.shape[1:] == (_SIDE, _SIDE):
        return a, False
    raise ValueError("images must have shape (n, 784) or (n, 28, 28), not %s" % (a.shape,))


def _shift_into(out, src, dy, dx):
    """out[...] = src moved by (dy, dx) pixels (down/right positive), zeros moving in."""
    out[...] = 0
    h, w = src.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = src[..., ys, xs]


def shift(images, dy, dx):
    """Images moved ``dy`` rows down and ``dx`` columns right (negative: up/left), zero-filled."""
    stack, flat = _as_stack(images)
    out = np.empty_like(stack)
    _shift_into(out, stack, int(dy), int(dx))
    return out.reshape(len(out), -1) if flat else out


def _rotation_taps(angle):
    """Bilinear sampling of a 28x28 image rotated by ``angle`` degrees about its centre.

    Returns (index (4, 784) into the flat source, weight (4, 784) float32); taps
    outside the image get weight 0 (the area rotated in is black).  Same result
    as ``scipy.ndimage.rotate(img, angle, reshape=False, order=1,
    mode="grid-constant")``, without its per-image Python loop.
    """
    t = np.deg2rad(angle)
    c0 = (_SIDE - 1) / 2.0
    r, c = np.meshgrid(np.arange(_SIDE, dtype=np.float64), np.arange(_SIDE, dtype=np.float64),
                       indexing="ij")
    r, c = r.ravel() - c0, c.ravel() - c0
    sr = np.cos(t) * r + np.sin(t) * c + c0
    sc = -np.sin(t) * r + np.cos(t) * c + c0
    r0, c0f = np.floor(sr), np.floor(sc)
    fr, fc = sr - r0, sc - c0f
    idx = np.zeros((4, r.size), dtype=np.intp)
    wts = np.zeros((4, r.size), dtype=np.float64)
    for k, (dr, dc, w) in enumerate(((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                                     (1, 0, fr * (1 - fc)), (1, 1, fr * fc))):
        rr, cc = r0 + dr, c0f + dc
        inside = (rr >= 0) & (rr < _SIDE) & (cc >= 0) & (cc < _SIDE)
        idx[k] = np.where(inside, rr * _SIDE + cc, 0).astype(np.intp)
        wts[k] = np.where(inside, w, 0.0)
    return idx, wts.astype(np.float32)


def _rotate_into(out, src, angle, chunk=4096):
    """out (m, 28, 28) = src (m, 28, 28) rotated; rounded back for integer dtypes."""
    idx, wts = _rotation_taps(angle)
    flat_src = src.reshape(len(src), -1)
    flat_out = out.reshape(len(out), -1)
    integer = np.issubdtype(out.dtype, np.integer)
    for a in range(0, len(src), chunk):
        part = flat_src[a:a + chunk]
        acc = part[:, idx[0]].astype(np.float32) * wts[0]
        for k in range(1, 4):
            acc += part[:, idx[k]] * wts[k]
        if integer:
            info = np.iinfo(out.dtype)
            np.rint(acc, out=acc)
            np.clip(acc, info.min, info.max, out=acc)
        flat_out[a:a + chunk] = acc


def rotate(images, angle):
    """Images rotated by ``angle`` degrees about their centre (bilinear, black corners)."""
    stack, flat = _as_stack(images)
    out = np.empty_like(stack)
    _rotate_into(out, stack, float(angle))
    return out.reshape(len(out), -1) if flat else out


def _variants(shifts, rotations):
    """The copies made of each image, in the book's order: original, then shifts, rotations."""
    v = [("orig", 0)]
    for d in range(1, int(shifts) + 1):
        # the book's order: down, up, right, left
        v += [("shift", (d, 0)), ("shift", (-d, 0)), ("shift", (0, d)), ("shift", (0, -d))]
    if rotations is True:
        rotations = _DEFAULT_ANGLES
    elif rotations is False or rotations is None:
        rotations = ()
    elif np.isscalar(rotations):
        rotations = (-float(rotations), float(rotations))
    v += [("rotate", float(a)) for a in rotations]
    return v


def expand(images, labels, seed=0, rotations=False, shifts=1, shuffle=True):
    """The book's expanded training set: each image plus its shifted copies, shuffled.

    images:    (n, 784) or (n, 28, 28), any dtype (uint8 and float32 are typical);
               the result has the same layout and dtype.
    labels:    (n,) labels; the result repeats each image's label for its copies.
    seed:      seed of the shuffle (numpy's default_rng), so runs are reproducible.
    shifts:    largest shift in pixels; 1 (the book) gives the four one-pixel shifts,
               2 adds the four two-pixel shifts, and so on (4 copies per step).
    rotations: False; True for -10 and +10 degrees; a number a for -a and +a; or a
               sequence of angles in degrees.  One copy per angle (bilinear).
    shuffle:   False keeps the book's pre-shuffle order (image by image: original,
               down, up, right, left, then rotations).

    Returns ``(images, labels)`` with ``n * (1 + 4 * shifts + len(angles))`` rows,
    originals included.  With the defaults, MNIST's 50,000 become 250,000.
    """
    stack, flat = _as_stack(images)
    labels = np.asarray(labels)
    if labels.shape != (len(stack),):
        raise ValueError("labels must have shape (%d,), not %s" % (len(stack), labels.shape))
    if int(shifts) < 0 or int(shifts) >= _SIDE:
        raise ValueError("shifts must be between 0 and 27, not %r" % (shifts,))
    variants = _variants(shifts, rotations)
    n, k = len(stack), len(variants)
    total = n * k
    out = np.empty((total, _SIDE, _SIDE), dtype=stack.dtype)
    if shuffle:
        # slot i of the result holds copy perm[i] of the book's unshuffled order,
        # i.e. variant perm[i] % k of image perm[i] // k
        perm = np.random.default_rng(seed).permutation(total)
    else:
        perm = np.arange(total)
    kind = perm % k
    source = perm // k
    out_labels = labels[source]
    del perm
    for j, (what, arg) in enumerate(variants):
        slots = np.flatnonzero(kind == j)
        src = source[slots]
        if shuffle:
            block = stack[src]  # gathered once, 1/k of the output
        else:
            block = stack
        if what == "orig":
            out[slots] = block
            continue
        tmp = np.empty_like(block)
        if what == "shift":
            _shift_into(tmp, block, *arg)
        else:
            _rotate_into(tmp, block, arg)
        del block
        out[slots] = tmp
        del tmp
    if flat:
        out = out.reshape(total, _SIDE * _SIDE)
    return out, out_labels


# --------------------------------------------------------------------------- files

def _atomic_write(path, write):
    _atomic.write_atomic(path, write)


def save_npz(path, training, validation, test):
    """Write the three (x, y) sets as an uncompressed .npz (fast to read), atomically."""
    def w(f):
        np.savez(f, training_x=training[0], training_y=training[1],
                 validation_x=validation[0], validation_y=validation[1],
                 test_x=test[0], test_y=test[1])
    _atomic_write(path, w)


def save_book_pickle(path, training, validation, test):
    """Write the book's ``mnist_expanded.pkl.gz`` layout: a gzip'd pickle of three
    pairs (x float32 (n, 784) in [0, 1], y int64 (n,)), atomically."""
    def fl(x):
        x = np.asarray(x)
        if x.dtype == np.uint8:
            return x.reshape(len(x), -1).astype(np.float32) / np.float32(255)
        return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32)
    sets = tuple((fl(x), np.asarray(y, dtype=np.int64)) for x, y in (training, validation, test))

    def w(f):
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=6) as g:
            pickle.dump(sets, g, protocol=2)
    _atomic_write(path, w)


def _source_sets(dataset, data, download):
    """(training, validation, test) as uint8 (n, 784) when from IDX files, else float32."""
    from . import loader as mnist_loader
    if data is None:
        data = mnist_loader._locate(dataset, False, download)
    elif download and os.path.isdir(data) and mnist_loader._missing_idx(data):
        from . import download as _download
        _download.download(dataset, data)
    if os.path.isdir(data):
        images, labels = mnist_loader._read_split_uint8(data, "train")
        test_x, test_y = mnist_loader._read_split_uint8(data, "test")
        n = mnist_loader._N_TRAIN
        flat = images.reshape(len(images), -1)
        return data, ((flat[:n], labels[:n]), (flat[n:], labels[n:]),
                      (test_x.reshape(len(test_x), -1), test_y))
    return os.path.dirname(os.path.abspath(data)), mnist_loader.load_data(data, dataset)
