"""The data layer: IDX and pickle readers, the loader's cache, downloads, the
expanded training set, and the registry of datasets.  It imports nothing above
it (no network, no CLI); the book's ``mnist_loader`` and ``expand_mnist`` are
its faces."""
