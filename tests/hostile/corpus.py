"""The hostile-file corpus: for each reader nnfast has, valid files and crafted ones.

``READERS`` maps a reader's name to a function reading a path the way a user would;
``VALID[name](folder)`` writes a valid file for it; ``CORPUS`` lists the hostile
cases as (reader, case, build, match): ``build(folder)`` writes the file and returns
its path, ``match`` a regex the BadFileError's message must contain (besides the
file's name).  Every case must give ``nnfast.BadFileError`` (a ValueError), quickly
and in bounded memory, never another exception.
"""
import contextlib
import gzip
import io
import json
import os
import pickle
import random
import re
import struct
import zipfile

import numpy as np

from nnfast import history, mnist_loader, network2, network3

# --------------------------------------------------------------------------- readers


def ck_data():
    rng = np.random.default_rng(0)
    return rng.random((120, 8)), rng.integers(0, 3, 120)


def ck_run(path=None, resume=None, data=None, epochs=3):
    """A small network2 run with momentum, dropout, a schedule and every monitor."""
    np.random.seed(0)
    random.seed(0)
    X, y = ck_data() if data is None else data
    net = network2.Network([8, 5, 3])
    evaluation = list(zip(list(X[:20].reshape(20, 8, 1)), [int(v) for v in y[:20]]))
    with contextlib.redirect_stdout(io.StringIO()):
        out = net.SGD((X, y), epochs, 10, 0.5, lmbda=0.1, evaluation_data=evaluation, mu=0.5, p_dropout=0.2,
                      monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                      monitor_training_cost=True, monitor_training_accuracy=True, schedule_patience=2,
                      schedule_stop=1e9, checkpoint=path, resume=resume)
    return net, out


def n3_net():
    np.random.seed(1)
    return network3.Network([network3.ConvPoolLayer((2, 1, 3, 3), (4, 1, 8, 8), (2, 2)),
                             network3.FullyConnectedLayer(18, 6, p_dropout=0.1),
                             network3.SoftmaxLayer(6, 3)], 4)


READERS = {
    "network2": network2.load,
    "network3": network3.load,
    "checkpoint": lambda p: ck_run(resume=p),
    "history": history.History.load,
    "idx": mnist_loader.read_idx,
    "pickle": lambda p: mnist_loader.load_data(p),
    "expanded": lambda p: mnist_loader.load_data(p),
}


def _network2(folder):
    np.random.seed(0)
    p = os.path.join(folder, "net.json")
    network2.Network([4, 3, 2]).save(p)
    return p


def _network3(folder):
    p = os.path.join(folder, "net3.npz")
    n3_net().save(p)
    return p


def _checkpoint(folder):
    p = os.path.join(folder, "ck.npz")
    ck_run(path=p, epochs=2)
    return p


def _history(folder):
    h = history.History(os.path.join(folder, "h.json"), {"program": "network2", "eta": 0.5})
    h.epochs = [{"epoch": i, "seconds": 0.1 * i, "evaluation_accuracy": 90 + i, "training_cost": 0.5 / (i + 1)}
                for i in range(3)]
    h.save()
    return h.path


def idx_bytes(arr, code=0x08):
    arr = np.asarray(arr)
    return struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">%dI" % arr.ndim, *arr.shape) + arr.tobytes()


def _idx(folder, gz=True):
    p = os.path.join(folder, "img-idx3-ubyte" + (".gz" if gz else ""))
    data = idx_bytes(np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8))
    with open(p, "wb") as f:
        f.write(gzip.compress(data) if gz else data)
    return p


def book_sets(n=(30, 10, 10)):
    rng = np.random.default_rng(0)
    return tuple((rng.random((k, 784)).astype(np.float32), rng.integers(0, 10, k)) for k in n)


def _pickle(folder):
    p = os.path.join(folder, "mnist.pkl.gz")
    with open(p, "wb") as f:
        f.write(gzip.compress(pickle.dumps(book_sets(), protocol=2)))
    return p


def _expanded(folder):
    p = os.path.join(folder, "mnist_expanded.npz")
    (tx, ty), (vx, vy), (sx, sy) = book_sets()
    np.savez(p, training_x=(tx * 255).astype(np.uint8), training_y=ty, validation_x=vx, validation_y=vy,
             test_x=sx, test_y=sy)
    return p


VALID = {"network2": _network2, "network3": _network3, "checkpoint": _checkpoint, "history": _history,
         "idx": _idx, "pickle": _pickle, "expanded": _expanded}

# --------------------------------------------------------------------------- crafting


def npy(shape, dtype, data=b"", version=(1, 0)):
    """An .npy member whose header says ``shape`` and ``dtype``, followed by ``data``."""
    f = io.BytesIO()
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(f, d) if version == (1, 0) else np.lib.format.write_array_header_2_0(f, d)
    return f.getvalue() + data


def npz_members(path, members, compress=False):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return path


def arrays_of(path):
    """The members of one of our own (trusted) .npz files."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def npy_of(a):
    f = io.BytesIO()
    np.lib.format.write_array(f, np.asanyarray(a), allow_pickle=True)
    return f.getvalue()


def rewrite_npz(path, change):
    """Our own .npz with ``change(members)`` applied to its {name: .npy bytes}."""
    with zipfile.ZipFile(path) as z:
        members = {n[:-4]: z.read(n) for n in z.namelist()}
    change(members)
    return npz_members(path, members)


class Raw(str):
    """What a change returns to replace the whole JSON text."""


def edit_json_member(path, member, change):
    def apply(members):
        doc = json.loads(str(np.lib.format.read_array(io.BytesIO(members[member]))))
        text = change(doc)
        members[member] = npy_of(np.array(text if isinstance(text, Raw) else json.dumps(doc)))
    return rewrite_npz(path, apply)


def edit_json(path, change):
    with open(path) as f:
        doc = json.load(f)
    text = change(doc)
    with open(path, "w") as f:
        f.write(text if isinstance(text, Raw) else json.dumps(doc))
    return path


def flip(path, offset, bit=0x10):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ bit]))
    return path


def cut(path, keep):
    with open(path, "r+b") as f:
        f.truncate(int(keep(os.path.getsize(path))))
    return path


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def setter(*keys, value):
    """A change that sets doc[k0][k1]... to value."""
    def change(doc):
        d = doc
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return change


DEEP = "[" * 100000 + "]" * 100000
JUNK = bytes(range(256)) * 8

# --------------------------------------------------------------------------- the corpus


def _generic(reader):
    """Cases every reader meets: a folder, binary junk, an empty file, a device, a FIFO
    (load_data, the pickles' and expanded data's reader, reads the IDX files of a folder)."""
    return [(reader, "folder", lambda d: d, "folder")] * (reader not in ("expanded", "pickle")) + [
        (reader, "binary junk", lambda d: put(os.path.join(d, "junk"), JUNK), ""),
        (reader, "empty file", lambda d: put(os.path.join(d, "empty"), b""), ""),
        (reader, "character device", lambda d: "/dev/zero", "not a regular file"),
        (reader, "fifo", lambda d: (os.mkfifo(os.path.join(d, "fifo")), os.path.join(d, "fifo"))[1],
         "not a regular file"),
    ]


def _v(kind, change):
    return lambda d: change(VALID[kind](d))


_NUMBER = {"network2": r'("weights": \[\[\[)[-0-9.e+]+', "history": r'("seconds": )[-0-9.e+]+'}


def _inject(kind, token):
    """A valid file of ``kind`` with ``token`` in place of its first weight (or seconds)."""
    def build(d):
        p = VALID[kind](d)
        text, n = re.subn(_NUMBER[kind], lambda m: m.group(1) + token, open(p).read(), count=1)
        assert n == 1
        return put(p, text.encode())
    return build


def _json_cases(kind):
    return [
        (kind, "nested 100,000 deep", lambda d: put(os.path.join(d, "deep.json"), DEEP.encode()), "nests"),
        (kind, "truncated", _v(kind, lambda p: cut(p, lambda n: n // 2)), "not JSON"),
        (kind, "UTF-16 text", _v(kind, lambda p: put(p, open(p).read().encode("utf-16"))), "UTF-8"),
        (kind, "NaN", _inject(kind, "NaN"), "NaN"),
        (kind, "Infinity", _inject(kind, "-Infinity"), "Infinity"),
        (kind, "1e400", _inject(kind, "1e400"), "range"),
        (kind, "10**400", _inject(kind, "1" + "0" * 400), "digits"),
        (kind, "a JSON list", lambda d: put(os.path.join(d, "list.json"), b"[1, 2, 3]"), ""),
        (kind, "3 GiB (sparse)", _v(kind, lambda p: (os.truncate(p, 3 << 30), p)[1]), "more than"),
    ]


def _network2_cases():
    k = "network2"
    bad = [
        ("missing cost", lambda doc: doc.pop("cost"), "cost"),
        ("unknown cost", setter("cost", value="os.system"), "cost"),
        ("cost not a string", setter("cost", value=["CrossEntropyCost"]), "cost"),
        ("unknown key", setter("eval", value=1), "unknown keys"),
        ("sizes of bools", setter("sizes", value=[True, True, True]), "sizes"),
        ("sizes 2**40", setter("sizes", value=[4, 2 ** 40, 2]), "sizes"),
        ("sizes negative", setter("sizes", value=[4, -3, 2]), "sizes"),
        ("sizes a string", setter("sizes", value="432"), "sizes"),
        ("weights shape", setter("weights", 0, value=[[0.5] * 4] * 2), "weights"),
        ("ragged row", lambda doc: doc["weights"][0][1].pop(), "weights"),
        ("string weight", setter("weights", 0, 0, 0, value="0.5"), "non-numeric"),
        ("bool weight", setter("weights", 0, 0, 0, value=True), "non-numeric"),
        ("null weight", setter("weights", 0, 0, 0, value=None), "non-numeric"),
        ("nested weight", setter("weights", 0, 0, 0, value=[0.5]), "non-numeric"),
        ("biases flat", setter("biases", 0, value=[0.1, 0.2, 0.3]), "biases"),
        ("p_dropout 1", setter("p_dropout", value=1.0), "p_dropout"),
        ("p_dropout string", setter("p_dropout", value="0.5"), "p_dropout"),
        ("activation eval", setter("activation", value="eval"), "activation"),
        ("regularization L3", setter("regularization", value="L3"), "regularization"),
    ]
    return [(k, name, _v(k, lambda p, c=c: edit_json(p, c)), m) for name, c, m in bad]


def _history_cases():
    k = "history"
    bad = [
        ("not a history", setter("format", value="something"), "not an nnfast history"),
        ("version 2", setter("version", value=2), "version"),
        ("epochs a string", setter("epochs", value="abcd"), "epochs"),
        ("epoch -1", setter("epochs", 0, "epoch", value=-1), "epoch"),
        ("epoch a string", setter("epochs", 0, "epoch", value="0"), "epoch"),
        ("settings a list", setter("settings", value=[1]), "settings"),
    ]
    return [(k, name, _v(k, lambda p, c=c: edit_json(p, c)), m) for name, c, m in bad]


def _npz_cases(kind):
    """What any .npz reader meets: not a zip, truncated, a flipped bit, huge claims."""
    def header_bomb(p):
        def change(m):
            name = sorted(n for n in m if n not in ("meta", "architecture"))[0]
            m[name] = npy((65536, 131072), "<f4", b"\0" * 64)          # claims 32 GiB
        return rewrite_npz(p, change)

    def deflate_bomb(p):
        def change(m):
            name = sorted(n for n in m if n not in ("meta", "architecture"))[0]
            m[name] = npy((2048, 2048), "<f8") + b"\0" * (2048 * 2048 * 8)   # 32 MiB of zeros
        with zipfile.ZipFile(p) as z:
            members = {n[:-4]: z.read(n) for n in z.namelist()}
        change(members)
        npz_members(p, members, compress=True)
        return p

    def object_member(p):
        def change(m):
            name = sorted(n for n in m if n not in ("meta", "architecture"))[0]
            m[name] = npy_of(np.array([{"a": 1}, None], dtype=object))
        return rewrite_npz(p, change)

    def fortran_short(p):
        def change(m):
            name = sorted(n for n in m if n not in ("meta", "architecture"))[0]
            m[name] = m[name][:-8]
        return rewrite_npz(p, change)

    def zip_dir_offset(p):
        data = bytearray(open(p, "rb").read())
        end = data.rfind(b"PK\x05\x06")
        data[end + 16:end + 20] = struct.pack("<I", 0xFFFFFFF0)
        return put(p, bytes(data))

    return [
        (kind, "not a zip", lambda d: put(os.path.join(d, "x.npz"), b"PK\x03\x04 not really a zip"), "npz"),
        (kind, "truncated", _v(kind, lambda p: cut(p, lambda n: n * 0.6)), "npz"),
        (kind, "truncated to the zip header", _v(kind, lambda p: cut(p, lambda n: 30)), "npz"),
        (kind, "bit flipped in the data", _v(kind, lambda p: flip(p, os.path.getsize(p) // 3)), ""),
        (kind, "bit flipped in the central directory", _v(kind, lambda p: flip(p, os.path.getsize(p) - 30, 0x01)),
         ""),
        (kind, "central directory offset past the end", _v(kind, zip_dir_offset), "npz"),
        (kind, "member header claims 32 GiB", _v(kind, header_bomb), "header says"),
        (kind, "member header longer than its data", _v(kind, fortran_short), "header says"),
        (kind, "deflated member of 32 MiB", _v(kind, deflate_bomb), ""),
        (kind, "pickled object member", _v(kind, object_member), ""),
    ]


def _network3_cases():
    k = "network3"
    bad = [
        ("architecture deep", lambda doc: Raw(DEEP), "nests"),
        ("architecture NaN", lambda doc: Raw(json.dumps(doc).replace("0.1", "NaN")), "NaN"),
        ("no n_in", lambda doc: doc["layers"][1].pop("n_in"), "keys"),
        ("n_in a string", setter("layers", 1, "n_in", value="18"), "n_in"),
        ("n_in 10**400", lambda doc: Raw(json.dumps(doc).replace('"n_in": 18', '"n_in": 1' + "0" * 400)), "digits"),
        ("n_in 2**40", setter("layers", 1, "n_in", value=2 ** 40), "n_in"),
        ("n_in disagrees", setter("layers", 2, "n_in", value=7), "inputs"),
        ("unknown type", setter("layers", 0, "type", value="os.system"), "type"),
        ("layer not an object", setter("layers", 0, value="ConvPoolLayer"), "type"),
        ("activation os.system", setter("layers", 0, "activation_fn", value="os.system"), "activation_fn"),
        ("poolsize of floats", setter("layers", 0, "poolsize", value=[2.5, 2]), "poolsize"),
        ("filter larger than image", setter("layers", 0, "filter_shape", value=[2, 1, 9, 9]), "larger"),
        ("mini_batch_size a string", setter("mini_batch_size", value="4"), "mini_batch_size"),
        ("dtype object", setter("dtype", value="object"), "dtype"),
        ("layers empty", setter("layers", value=[]), "layers"),
        ("layers a dict", setter("layers", value={}), "layers"),
        ("extra key", setter("pickle", value=True), "keys"),
        ("version 2", setter("version", value=2), "version"),
    ]
    cases = [(k, name, _v(k, lambda p, c=c: edit_json_member(p, "architecture", c)), m) for name, c, m in bad]

    def member(change):
        return _v(k, lambda p: rewrite_npz(p, change))
    cases += [
        (k, "b2 missing", member(lambda m: m.pop("b2")), "b2"),
        (k, "architecture missing", member(lambda m: m.pop("architecture")), "architecture"),
        (k, "architecture a number", member(lambda m: m.update(architecture=npy_of(np.array(1.5)))), "text"),
        (k, "w1 NaN", member(lambda m: m.update(w1=npy_of(np.full((18, 6), np.nan, np.float32)))), "NaN"),
        (k, "w1 shape", member(lambda m: m.update(w1=npy_of(np.zeros((6, 18), np.float32)))), "shape"),
        (k, "w1 integers", member(lambda m: m.update(w1=npy_of(np.zeros((18, 6), np.int32)))), "floating"),
        (k, "w1 structured", member(lambda m: m.update(w1=npy_of(np.zeros(3, "i4,f4")))), "plain"),
    ]
    return cases


def _checkpoint_cases():
    k = "checkpoint"

    def meta(change):
        return _v(k, lambda p: edit_json_member(p, "meta", change))

    def member(change):
        return _v(k, lambda p: rewrite_npz(p, change))

    def inputs_moved(d):
        p = _checkpoint(d)
        X, y = ck_data()
        X = X.copy()
        X[3, 4] -= 0.25                  # moving 0.25 from one pixel to its neighbour keeps every sum
        X[3, 5] += 0.25
        return p, (X, y)

    def labels_swapped(d):
        p = _checkpoint(d)
        X, y = ck_data()
        y = y.copy()
        i = int(np.flatnonzero(y[:-97] != y[97:])[0])
        y[i], y[i + 97] = y[i + 97], y[i]
        return p, (X, y)

    cases = [
        (k, "epoch 10**9", meta(setter("epoch", value=10 ** 9)), "epoch"),
        (k, "epoch -1", meta(setter("epoch", value=-1)), "epoch"),
        (k, "epoch a string", meta(setter("epoch", value="1")), "epoch"),
        (k, "epoch true", meta(setter("epoch", value=True)), "epoch"),
        (k, "epoch 10**400", meta(lambda doc: Raw(json.dumps(doc).replace('"epoch": 1', '"epoch": 1' + "0" * 400))),
         "digits"),
        (k, "lists abcd", meta(setter("extra", "lists", value="abcd")), "lists"),
        (k, "lists too short", meta(lambda doc: doc["extra"]["lists"][0].pop()), "evaluation_cost"),
        (k, "lists of strings", meta(lambda doc: doc["extra"]["lists"][1].__setitem__(0, "9")),
         "evaluation_accuracy"),
        (k, "eta NaN", meta(lambda doc: Raw(json.dumps(doc).replace('"eta": 0.5', '"eta": NaN'))), "NaN"),
        (k, "eta negative", meta(setter("extra", "eta", value=-0.5)), "eta"),
        (k, "seed -1", meta(setter("extra", "seed", value=-1)), "seed"),
        (k, "schedule injects an attribute", meta(setter("extra", "progress", "__class__", value=1)), "schedule"),
        (k, "schedule best a list", meta(setter("extra", "progress", "best", value=[1])), "schedule"),
        (k, "random state short", meta(lambda doc: doc["random"][1].pop()), "random state"),
        (k, "random state 2**40", meta(setter("random", 1, 0, value=2 ** 40)), "random state"),
        (k, "numpy position 10**6", meta(setter("numpy", 1, value=10 ** 6)), "random state"),
        (k, "numpy state a dict", meta(setter("numpy", value={})), "random state"),
        (k, "format 1", meta(setter("format", value=1)), "format"),
        (k, "unknown key", meta(setter("exec", value="print(1)")), "keys"),
        (k, "options a list", meta(setter("options", value=[])), "options"),
        (k, "meta nested deep", meta(lambda doc: Raw(DEEP)), "nests"),
        (k, "meta a number", member(lambda m: m.update(meta=npy_of(np.array(3.0)))), "text"),
        (k, "order not a permutation", member(lambda m: m.update(order=npy_of(np.zeros(120, np.int64)))),
         "permutation"),
        (k, "order floats", member(lambda m: m.update(order=npy_of(np.arange(120.0)))), "permutation"),
        (k, "w0 NaN", member(lambda m: m.update(w0=npy_of(np.full((5, 8), np.nan)))), "NaN"),
        (k, "w0 float32", member(lambda m: m.update(w0=npy_of(np.zeros((5, 8), np.float32)))), "float64"),
        (k, "np_keys short", member(lambda m: m.update(np_keys=npy_of(np.zeros(5, np.uint32)))), "random state"),
        (k, "vw0 NaN", member(lambda m: m.update(vw0=npy_of(np.full((5, 8), np.inf)))), "NaN"),
        (k, "b1 missing", member(lambda m: m.pop("b1")), "b1"),
        (k, "inputs changed, every sum kept", inputs_moved, "inputs differs"),
        (k, "two labels swapped 97 rows apart", labels_swapped, "labels differs"),
    ]
    return cases


def _idx_cases():
    k = "idx"
    imgs = np.zeros((6, 28, 28), np.uint8)

    def raw(name, data, gz=False):
        return lambda d: put(os.path.join(d, name), gzip.compress(data, 1) if gz else data)

    huge_header = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 2 ** 32 - 1, 28, 28)
    return [
        (k, "bad magic", raw("m", b"\x12\x34\x08\x03" + idx_bytes(imgs)[4:]), "magic"),
        (k, "unknown type code", raw("t", b"\0\0\x07\x03" + idx_bytes(imgs)[4:]), "magic"),
        (k, "header only", raw("h", idx_bytes(imgs)[:10]), "truncated"),
        (k, "data cut", raw("c", idx_bytes(imgs)[:-5]), "truncated"),
        (k, "trailing bytes", raw("x", idx_bytes(imgs) + b"\0\0"), "unexpected bytes"),
        (k, "gzip trailing bytes", raw("x.gz", idx_bytes(imgs) + b"\0" * 3, True), "unexpected bytes"),
        (k, "header claims 3.3 TB", raw("big", huge_header + b"\0" * 1000), "cannot hold|holds"),
        (k, "gzip header claims 3.3 TB", raw("big.gz", huge_header + b"\0" * 100000, True), "cannot hold"),
        (k, "gzip truncated", _v(k, lambda p: cut(p, lambda n: n - 20)), "gzip"),
        (k, "gzip bit flipped", _v(k, lambda p: flip(p, os.path.getsize(p) // 2)), "gzip"),
        (k, "gzip of junk", raw("j.gz", JUNK, True), "magic"),
    ]


def _pickle_cases():
    k = "pickle"

    def pk(name, data, gz=True):
        return lambda d: put(os.path.join(d, name), gzip.compress(data) if gz else data)

    huge = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
            b"\x8a\x05\x00\x00\x00\x00\x01\x85U\x01b\x87R.")                      # shape (2**32,)
    return [
        (k, "numpy.ndarray((3,), 'O')", pk("o.pkl", b"\x80\x02cnumpy\nndarray\nK\x03\x85U\x01O\x86R."),
         "ndarray called directly"),
        (k, "object array", pk("o2.pkl", pickle.dumps(np.array([None, 1], dtype=object), protocol=2)), "objects"),
        (k, "os.system", pk("s.pkl", b"cos\nsystem\n(S'true'\ntR."), "refusing"),
        (k, "reconstruct of 2**32 elements", pk("h.pkl", huge), "larger"),
        (k, "truncated", _v(k, lambda p: cut(p, lambda n: n // 2)), ""),
        (k, "not a pickle", pk("n.pkl", b"\x80\x02this is not a pickle"), "pickle"),
        (k, "deep nesting", pk("d.pkl", b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b"."), ""),
        (k, "bytes claimed 2**60", pk("b.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 60) + b"abc"), ""),
        (k, "wrong structure", pk("w.pkl", pickle.dumps((1, 2, 3), protocol=2)), "expected"),
    ]


def _expanded_cases():
    k = "expanded"

    def member(change):
        return _v(k, lambda p: rewrite_npz(p, change))
    return [
        (k, "no training_x", member(lambda m: m.pop("training_x")), "training_x"),
        (k, "training_x of 3 columns", member(lambda m: m.update(training_x=npy_of(np.zeros((30, 3), np.uint8)))),
         "784"),
        (k, "labels of floats", member(lambda m: m.update(training_y=npy_of(np.zeros(30)))), "labels"),
    ]


CORPUS = (_generic("network2") + _json_cases("network2") + _network2_cases()
          + _generic("history") + _json_cases("history") + _history_cases()
          + _generic("network3") + _npz_cases("network3") + _network3_cases()
          + _generic("checkpoint") + _npz_cases("checkpoint") + _checkpoint_cases()
          + _generic("idx") + _idx_cases()
          + _generic("pickle") + _pickle_cases()
          + _generic("expanded") + _npz_cases("expanded") + _expanded_cases())
