"""The book's ``expand_mnist.py``: each training image plus its four one-pixel
shifts, shuffled (250,000 images from 50,000), vectorised.

    from nnfast import expand_mnist, mnist_loader
    (x, y), va, te = mnist_loader.load_data()
    big_x, big_y = expand_mnist.expand(x, y, seed=0)

``nnfast expand`` writes the expanded set where ``load_data(expanded=True)``
finds it; the work is done in :mod:`nnfast.data.expand`.
"""
from .data.expand import expand, rotate, save_book_pickle, save_npz, shift  # noqa: F401

__all__ = ["expand", "shift", "rotate", "save_npz", "save_book_pickle"]
