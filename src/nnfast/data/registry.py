"""The datasets nnfast knows: their names, IDX files (with the published sizes and
SHA-256 values), mirrors, and the folders searched for them.  Plain data and
path rules: imported by the loader, the downloader and the CLI, importing none."""
import os

__all__ = ["DATASETS", "IDX_FILENAMES", "FILES", "MIRRORS", "default_data_dir",
           "candidate_dirs", "expanded_filename", "check_dataset"]

#: Datasets the loader knows, with the file names of their IDX files.
DATASETS = ("mnist", "fashion-mnist")

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_FILENAMES = tuple(name + ".gz" for pair in (_IDX_FILES["train"], _IDX_FILES["test"])
                      for name in pair)

#: Public mirrors, tried in order.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}

#: file name -> (size in bytes, SHA-256) of the gzip files as published.
FILES = {
    "mnist": {
        "train-images-idx3-ubyte.gz":
            (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz":
            (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz":
            (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz":
            (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            (26421856, "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        "train-labels-idx1-ubyte.gz":
            (29491, "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        "t10k-images-idx3-ubyte.gz":
            (4422079, "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        "t10k-labels-idx1-ubyte.gz":
            (5125, "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    },
}


def check_dataset(dataset):
    if dataset not in DATASETS:
        raise ValueError("unknown dataset %r; known datasets: %s"
                         % (dataset, ", ".join(DATASETS)))


def _cache_home():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nnfast")


def default_data_dir(dataset="mnist"):
    """Where downloads go: ``$NNFAST_DATA/<dataset>``, else ``~/.cache/nnfast/<dataset>``."""
    check_dataset(dataset)
    root = os.environ.get("NNFAST_DATA")
    return os.path.join(root if root else _cache_home(), dataset)


def candidate_dirs(dataset):
    dirs = []
    root = os.environ.get("NNFAST_DATA")
    if root:
        dirs.append(os.path.join(root, dataset))
    cache = os.path.join(_cache_home(), dataset)
    if cache not in dirs:
        dirs.append(cache)
    return dirs


def expanded_filename(dataset="mnist"):
    """File name of the expanded training set in a data folder: ``<dataset>_expanded.npz``."""
    check_dataset(dataset)
    return "%s_expanded.npz" % dataset
