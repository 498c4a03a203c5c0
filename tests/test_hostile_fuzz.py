"""Fuzzing the readers (issue 16): valid files of every kind, mutated by hypothesis (bytes
flipped, overwritten, inserted, deleted, the file cut short; for the JSON inside, any
value put anywhere), must either load or raise nnfast.BadFileError, the documented
ValueError: never another exception."""
import json
import os
import tempfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nnfast  # noqa: E402

from hostile import corpus  # noqa: E402

# NNFAST_FUZZ_EXAMPLES=2000 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("NNFAST_FUZZ_EXAMPLES", 60)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID_BYTES = {}


def valid(kind):
    """The bytes of a valid file of ``kind`` (made once)."""
    if kind not in VALID_BYTES:
        with tempfile.TemporaryDirectory() as d:
            p = corpus.VALID[kind](d)
            with open(p, "rb") as f:
                VALID_BYTES[kind] = (os.path.basename(p), f.read())
    return VALID_BYTES[kind]


def read_or_refuse(kind, name, data):
    """Write ``data`` as a file and read it: a load, or BadFileError naming the file."""
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        try:
            corpus.READERS[kind](p)
        except nnfast.BadFileError as e:
            assert name in str(e), str(e)


mutation = st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "cut"]),
                     st.floats(0, 1, exclude_max=True), st.integers(0, 255))


def mutate(data, mutations):
    b = bytearray(data)
    for op, where, value in mutations:
        if not b:
            break
        i = int(where * len(b))
        if op == "flip":
            b[i] ^= 1 << (value % 8)
        elif op == "set":
            b[i] = value
        elif op == "insert":
            b[i:i] = bytes([value]) * (1 + value % 4)
        elif op == "delete":
            del b[i:i + 1 + value % 4]
        else:
            del b[i:]
    return bytes(b)


@pytest.mark.parametrize("kind", sorted(corpus.VALID))
@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
# found by CI: a flipped bit in a checkpoint's zip directory renamed its momentum velocity
@example(mutations=[("flip", 0.9949309314153646, 0)])
# and: a damaged .npy header that numpy's header repair fails to tokenize (tokenize.TokenError)
@example(mutations=[("insert", 0.5, 2), ("delete", 0.00390625, 2)])
# and: a flipped bit marking a member encrypted (zipfile's RuntimeError)
@example(mutations=[("flip", 0.9699073487846203, 0)])
def test_mutated_files_load_or_get_bad_file_error(kind, mutations):
    name, data = valid(kind)
    read_or_refuse(kind, name, mutate(data, mutations))


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_plain_idx_loads_or_gets_bad_file_error(mutations):
    with tempfile.TemporaryDirectory() as d:
        with open(corpus.VALID["idx"](d), "rb") as f:
            import gzip
            raw = gzip.decompress(f.read())
    read_or_refuse("idx", "plain-idx3-ubyte", mutate(raw, mutations))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(doc, prefix=()):
    """Every place in a JSON document (as key paths), the document itself first."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i in sorted(set(range(min(3, len(doc)))) | set(range(max(0, len(doc) - 2), len(doc)))):
            yield from _paths(doc[i], prefix + (i,))


def _replace(doc, path, value):
    if not path:
        return value
    d = doc
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    return doc


def _json_of(kind):
    """(load the document, write it back) for the JSON of ``kind``: the file, or a member."""
    name, data = valid(kind)
    if kind in ("network2", "history"):
        return name, json.loads(data), lambda doc: json.dumps(doc).encode()
    member = "meta" if kind == "checkpoint" else "architecture"
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        arrays = corpus.arrays_of(p)

    def back(doc):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, name)
            np.savez(p, **dict(arrays, **{member: np.array(json.dumps(doc))}))
            with open(p, "rb") as f:
                return f.read()
    return name, json.loads(str(arrays[member])), back


@pytest.mark.parametrize("kind", ["network2", "history", "network3", "checkpoint"])
@FUZZ
@given(data=st.data())
def test_any_json_value_anywhere_loads_or_gets_bad_file_error(kind, data):
    name, doc, back = _json_of(kind)
    places = list(_paths(doc))
    path = data.draw(st.sampled_from(places))
    value = data.draw(json_values)
    read_or_refuse(kind, name, back(_replace(doc, path, value)))


def test_checkpoint_with_an_eta_above_the_runs_is_refused():
    """Found by the fuzz test above: a saved schedule eta of 3.8e28 resumed and diverged.  The
    schedule only divides the run's eta, so a larger one is a damaged file."""
    name, doc, back = _json_of("checkpoint")
    doc["extra"]["eta"] = 3.763123229759973e+28
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(back(doc))
        with pytest.raises(nnfast.BadFileError, match="at most the run's eta"):
            corpus.READERS["checkpoint"](p)
