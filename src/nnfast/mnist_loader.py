"""The book's ``mnist_loader``: MNIST and Fashion-MNIST as the book hands them out.

    from nnfast import mnist_loader
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()

The reading, caching and downloading live in :mod:`nnfast.data`; this module is
the book's face of it (see :mod:`nnfast.data.loader` for the details).
"""
from .data.loader import (DATASETS, IDX_FILENAMES, PIXEL_SCALES, default_data_dir, expanded_filename,  # noqa: F401
                          load_data, load_data_wrapper, load_idx, read_idx, vectorized_result)

__all__ = ["load_data", "load_data_wrapper", "vectorized_result", "load_idx", "read_idx",
           "DATASETS", "default_data_dir", "PIXEL_SCALES"]
