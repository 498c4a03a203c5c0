"""Saves and resumes (issue 16): checkpoints that know their data, output paths checked
before training, temporary files named after their target and never left behind
(any exception, SIGTERM; after SIGKILL the next save cleans up), modes from the umask."""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from nnfast import _atomic, _checkpoint, history, network, network2, network3

from hostile import corpus

from conftest import child_env

POSIX = pytest.mark.skipif(os.name != "posix", reason="signals and umask are POSIX")


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


# ---------------------------------------------------------------------------- checkpoints know their data

def test_fingerprint_is_a_hash_of_bytes_shapes_and_dtypes():
    X, y = corpus.ck_data()
    fp = _checkpoint._fingerprint(X, y)
    assert fp["n"] == 120 and len(fp["inputs"]) == len(fp["labels"]) == 40
    assert _checkpoint._fingerprint(np.asfortranarray(X), y) == fp          # layout does not matter
    assert _checkpoint._digest(X[::-1][::-1]) == fp["inputs"]
    assert _checkpoint._digest(X.astype(np.float32)) != fp["inputs"]        # dtype does
    assert _checkpoint._digest(X.reshape(60, 16)) != fp["inputs"]           # so does shape
    Z = X.copy()
    Z[119, 7] = np.nextafter(Z[119, 7], 2.0)                               # one ulp, last element
    assert _checkpoint._digest(Z) != fp["inputs"]


def test_resume_names_what_changed_in_the_data(tmp_path):
    p = str(tmp_path / "c.npz")
    corpus.ck_run(path=p, epochs=2)
    X, y = corpus.ck_data()
    with pytest.raises(ValueError, match="its inputs and labels differ"):
        corpus.ck_run(resume=p, data=(X[::-1].copy(), y[::-1].copy()))
    with pytest.raises(ValueError, match="other training data: 120 examples there, 100 here"):
        corpus.ck_run(resume=p, data=(X[:100], y[:100]))
    net, out = corpus.ck_run(resume=p)                                      # the same data resumes
    assert len(out[0]) == 3


# ---------------------------------------------------------------------------- output paths checked first

def _three_runs(**kw):
    """One SGD call of each network on tiny data; returns (network, parameters before)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 6)), rng.integers(0, 3, 40)
    np.random.seed(0)
    n1, n2 = network.Network([6, 4, 3]), network2.Network([6, 4, 3])
    n3 = network3.Network([network3.FullyConnectedLayer(6, 4), network3.SoftmaxLayer(4, 3)], 10)
    runs = [(n1, lambda: n1.SGD((X, y), 2, 10, 0.5, **kw), lambda: [w.copy() for w in n1.weights]),
            (n2, lambda: n2.SGD((X, y), 2, 10, 0.5, **kw), lambda: [w.copy() for w in n2.weights]),
            (n3, lambda: n3.SGD((X.astype(np.float32), y), 2, 10, 0.5, **kw), lambda: [p.copy() for p in n3.params])]
    return runs


@pytest.mark.parametrize("where, error", [("missing/c.npz", FileNotFoundError),
                                          ("/proc/nnfast-c.npz", OSError), (".", IsADirectoryError)])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_checkpoint_path_is_checked_before_training(tmp_path, where, error, which):
    path = where if where.startswith("/") else str(tmp_path / where)
    net, run, params = _three_runs(checkpoint=path)[which]
    before = params()
    with quiet(), pytest.raises(error) as e:
        run()
    assert path in str(e.value) and "checkpoint" in str(e.value)
    assert all(np.array_equal(a, b) for a, b in zip(params(), before)), "trained before refusing"


@pytest.mark.parametrize("which", [0, 1, 2])
def test_history_path_in_proc_is_refused_naming_it(which):
    net, run, params = _three_runs(history="/proc/nnfast-h.json")[which]
    before = params()
    with quiet(), pytest.raises(OSError, match="/proc/nnfast-h.json"):
        run()
    assert all(np.array_equal(a, b) for a, b in zip(params(), before))


def test_cli_checks_history_and_save_before_loading():
    for flag in ("--history", "--save"):
        r = subprocess.run([sys.executable, "-m", "nnfast", "chapter1", flag, "/proc/nnfast-x.json",
                            "--data", "/nonexistent"], capture_output=True, text=True, timeout=120,
                           env=child_env())
        assert r.returncode == 2 and "%s: cannot save to /proc/nnfast-x.json" % flag in r.stderr, r.stderr
        assert "nonexistent" not in r.stderr             # refused before looking for the data


# ---------------------------------------------------------------------------- temporary files

def test_temporary_file_is_named_after_its_target_and_removed_on_error(tmp_path):
    target = tmp_path / "model.json"
    seen = []

    def write(f):
        f.write(b"half")
        seen.extend(os.listdir(tmp_path))
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        _atomic.write_atomic(str(target), write)
    assert len(seen) == 1 and seen[0].startswith(".model.json.nnfast-tmp-")
    assert os.listdir(tmp_path) == []


def test_stale_temporary_files_go_unless_a_live_writer_holds_them(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    target = str(tmp_path / "h.json")
    stale = tmp_path / ".h.json.nnfast-tmp-dead1234"
    live = tmp_path / ".h.json.nnfast-tmp-live5678"
    other = tmp_path / ".other.json.nnfast-tmp-dead9999"
    for p in (stale, live, other):
        p.write_bytes(b"x" * 100)
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        history.write_atomic(target, "{}")
        assert sorted(os.listdir(tmp_path)) == sorted([".h.json.nnfast-tmp-live5678", ".other.json.nnfast-tmp-dead9999",
                                                       "h.json"])
    history.write_atomic(target, "{}")
    assert sorted(os.listdir(tmp_path)) == [".other.json.nnfast-tmp-dead9999", "h.json"]


CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_DFL)       # a runner may have started us with it ignored
from nnfast import _atomic
mode = sys.argv[2]
calls = []
if mode == "handler":
    signal.signal(signal.SIGTERM, lambda s, f: calls.append(int(s)))

def slow(f):
    f.write(b"x" * 1000)
    f.flush()
    calls.append("write")
    if calls.count("write") == 1:
        print("writing", flush=True)
        time.sleep(60)
_atomic.write_atomic(sys.argv[1], slow)
print("saved", calls, signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, flush=True)
"""


def _child(path, mode):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, path, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
    return proc


@POSIX
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_save_leaves_nothing_or_a_file_the_next_save_removes(tmp_path, sig):
    target = str(tmp_path / "net.npz")
    proc = _child(target, "default")
    try:
        names = os.listdir(tmp_path)
        assert len(names) == 1 and names[0].startswith(".net.npz.nnfast-tmp-")
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -sig
    if sig == signal.SIGTERM:
        assert os.listdir(tmp_path) == []          # removed by the handler, then the signal went on
    else:
        assert os.listdir(tmp_path) == names       # SIGKILL cannot be caught ...
        network3.Network.save(corpus.n3_net(), target)
        assert os.listdir(tmp_path) == ["net.npz"]  # ... the next save to the same target cleans up


@POSIX
def test_sigterm_during_a_save_reaches_the_programs_handler_and_the_save_completes(tmp_path):
    target = str(tmp_path / "out.bin")
    proc = _child(target, "handler")
    try:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "saved ['write', %d, 'write'] True" % signal.SIGTERM
    assert os.listdir(tmp_path) == ["out.bin"] and os.path.getsize(target) == 1000


def test_sigterm_handler_is_restored_after_a_save(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    history.write_atomic(str(tmp_path / "a.json"), "{}")
    assert signal.getsignal(signal.SIGTERM) is before


# ---------------------------------------------------------------------------- modes follow the umask

@POSIX
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_every_save_gets_the_mode_the_umask_gives(tmp_path, mask):
    old = os.umask(mask)
    try:
        np.random.seed(0)
        network2.Network([3, 2]).save(str(tmp_path / "n2.json"))
        corpus.n3_net().save(str(tmp_path / "n3.npz"))
        history.History(str(tmp_path / "h.json")).save()
        corpus.ck_run(path=str(tmp_path / "c.npz"), epochs=1)
    finally:
        os.umask(old)
    for name in ("n2.json", "n3.npz", "h.json", "c.npz"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o666 & ~mask, name


def test_network2_file_is_standard_json(tmp_path):
    np.random.seed(0)
    p = tmp_path / "n.json"
    network2.Network([3, 2]).save(str(p))
    json.loads(p.read_text(), parse_constant=lambda c: pytest.fail("non-standard JSON constant %s" % c))
