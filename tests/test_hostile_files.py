"""Hostile files (issue 16): every reader nnfast has (network2's JSON, network3's .npz,
checkpoints, histories, IDX files, pickles, expanded data) answers every crafted file
of the corpus in tests/hostile/corpus.py with nnfast.BadFileError (a ValueError)
naming the file and what is wrong: never RecursionError, MemoryError, OverflowError,
UnicodeDecodeError, zipfile.BadZipFile or a hang, and in bounded memory."""
import os
import re
import tracemalloc

import numpy as np
import pytest

import nnfast
from nnfast import mnist_loader, network2
from nnfast.data import safe_pickle

from hostile import corpus


def test_bad_file_error_is_exported_and_a_value_error():
    assert issubclass(nnfast.BadFileError, ValueError) and "BadFileError" in nnfast.__all__
    from nnfast.history import HistoryFormatError
    assert issubclass(HistoryFormatError, nnfast.BadFileError)
    assert issubclass(safe_pickle.UnsafePickleError, ValueError)


@pytest.mark.parametrize("kind", sorted(corpus.VALID))
def test_valid_files_load(kind, tmp_path):
    corpus.READERS[kind](corpus.VALID[kind](str(tmp_path)))


@pytest.mark.parametrize("reader, case, build, match", corpus.CORPUS,
                         ids=["%s: %s" % (c[0], c[1]) for c in corpus.CORPUS])
def test_hostile_file_gets_bad_file_error(reader, case, build, match, tmp_path):
    built = build(str(tmp_path))
    path, data = built if isinstance(built, tuple) else (built, None)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as e:
            if data is not None:
                corpus.ck_run(resume=path, data=data)
            else:
                corpus.READERS[reader](path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(e.value)
    assert isinstance(e.value, nnfast.BadFileError), (type(e.value), message)
    assert path in message or os.path.basename(path) in message, message
    assert re.search(match, message), message
    assert peak < 200 << 20, "%d MB to refuse a file" % (peak >> 20)


def test_corpus_size_is_what_readme_says():
    """README's Reliability section quotes the corpus's size."""
    readme = open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md"), encoding="utf-8").read()
    assert "%d crafted files" % len(corpus.CORPUS) in readme


# ---------------------------------------------------------------------------- bounded memory

def test_gzip_bomb_stops_at_the_header_size(tmp_path):
    """A gzip file whose header says 6,000 images but that inflates to 1,000 times more than
    its size is refused after the declared bytes plus one block, not at its end."""
    import zlib
    header = corpus.idx_bytes(np.zeros((6000, 28, 28), np.uint8))[:16]
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [comp.compress(header)] + [comp.compress(block) for _ in range(200)] + [comp.flush()]
    p = tmp_path / "bomb-idx3-ubyte.gz"
    p.write_bytes(b"".join(parts))
    assert p.stat().st_size < 300 << 10             # 200 MiB inflated from < 300 KB
    tracemalloc.start()
    try:
        with pytest.raises(nnfast.BadFileError, match="unexpected bytes"):
            mnist_loader.read_idx(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4.7e6 + (8 << 20), peak           # the 4.7 MB declared, plus a block or two


def test_pickle_reader_stops_at_its_limit(tmp_path, monkeypatch):
    import gzip
    import pickle
    monkeypatch.setattr(safe_pickle, "MAX_BYTES", 1 << 20)
    p = tmp_path / "big.pkl.gz"
    p.write_bytes(gzip.compress(pickle.dumps(np.zeros(1 << 20), protocol=2)))
    with pytest.raises(nnfast.BadFileError, match="more than 1048576 bytes"):
        safe_pickle.load_file(str(p))


# ---------------------------------------------------------------------------- non-finite saves

def test_network2_save_refuses_nan_and_keeps_the_old_file(tmp_path):
    np.random.seed(0)
    net = network2.Network([3, 2])
    p = tmp_path / "n.json"
    net.save(str(p))
    before = p.read_bytes()
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="weights\\[0\\].*NaN"):
        net.save(str(p))
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["n.json"]
    assert b"NaN" not in before


def test_network3_save_refuses_infinity(tmp_path):
    net = corpus.n3_net()
    net.layers[1].w[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinit"):
        net.save(str(tmp_path / "n.npz"))
    assert os.listdir(tmp_path) == []
