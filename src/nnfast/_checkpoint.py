"""Checkpoints of an SGD run (network, network2, network3): save every k epochs, resume bit for bit.

A checkpoint is one ``.npz`` file (never pickled: loaded with ``allow_pickle=False``):

- ``meta``: a JSON string: format version, the run's options (sizes, dtype, cost, mini-batch
  size, eta, ... and a fingerprint of the training data), the last finished epoch, Python
  ``random``'s state (``random.getstate()`` is a tuple of ints: JSON lists), the parts of
  numpy's global state that are not an array, and what the SGD loop keeps between epochs
  (the current eta, the dropout seed, the schedule's counters, the returned lists so far);
- ``w0``, ``w1``, ... and ``b0``, ... the weights and biases (network3: ``layer0.w``, ...);
  ``vw0``, ... and ``vb0``, ... the momentum velocities; ``order``: the shuffled row indices
  (``random.shuffle`` shuffles them in place epoch after epoch; network3 draws its orders from
  numpy); ``np_keys``: numpy's MT19937 key.

It is written to a temporary file in the same folder and moved over the old one with
``os.replace``: a run killed at any moment leaves the previous checkpoint or the new one,
never half of one.  Resuming with the same arguments continues exactly where the
checkpoint was taken: the weights, random streams and mini-batches are those of the
uninterrupted run, so the end result is identical to the last bit.

Reading trusts nothing: the archive through ``_files.read_npz`` (sizes checked before data is
read, CRCs checked), the metadata field by field with types and ranges, the data by its
fingerprint (BLAKE2b of the inputs and of the labels: any change refuses the resume, saying
which); anything else raises ``nnfast.BadFileError`` naming the file and the field.
"""
import hashlib
import json
import math
import numbers
import os
import random

import numpy as np

from . import _atomic, _files
from ._errors import BadFileError

FORMAT = 2
MAX_EPOCH = 10 ** 7                   # a checkpoint further on than this was tampered with
META_LIMIT = 64 << 20                 # bytes of JSON metadata
_BLOCK = 1 << 22                      # bytes hashed per update


def _digest(a):
    """BLAKE2b of an array's dtype, shape and bytes (row blocks: no copy of a contiguous array)."""
    a = np.asarray(a)
    h = hashlib.blake2b(digest_size=20)
    h.update(("%s%r|" % (a.dtype.str, a.shape)).encode())
    rows = a.reshape(len(a), -1) if a.ndim else a.reshape(1, 1)
    step = max(1, _BLOCK // max(1, rows.strides[0] if rows.ndim and len(rows) else 1))
    for i in range(0, len(rows), step):
        h.update(np.ascontiguousarray(rows[i:i + step]))
    return h.hexdigest()


def _fingerprint(X, Y):
    """Identity of the training data: the number of examples and a cryptographic hash each of
    the inputs and of the labels (any changed pixel or label, any reordering, is seen)."""
    return {"n": len(X), "inputs": _digest(X), "labels": _digest(Y)}


def _jsonable(value):
    """Options as JSON sees them (tuples become lists, numpy scalars plain numbers, NaN and
    infinities None: standard JSON, which the reader insists on)."""
    def finite(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, list):
            return [finite(e) for e in v]
        if isinstance(v, dict):
            return {k: finite(e) for k, e in v.items()}
        return v
    return finite(json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))))


# -- what the metadata may hold: each field's type and range

def _is_int(v, lo, hi):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and lo <= v < hi


def _is_real(v, lo=-math.inf, hi=math.inf):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi


def _opt(check):
    return lambda v: v is None or check(v)


_PROGRESS = {"eta_initial": lambda v: _is_real(v, 0.0) and v > 0,
             "early_stopping_n": _opt(lambda v: _is_int(v, 1, 2 ** 63)),
             "schedule_patience": _opt(lambda v: _is_int(v, 1, 2 ** 63)),
             "schedule_factor": _opt(_is_real), "schedule_stop": _opt(_is_real),
             "active": lambda v: isinstance(v, bool),
             "best": _opt(lambda v: _is_int(v, 0, 2 ** 63)),
             "no_improvement": lambda v: _is_int(v, 0, MAX_EPOCH + 1),
             "since_change": lambda v: _is_int(v, 0, MAX_EPOCH + 1)}


def _check_extra(kind, extra, epoch, options, bad):
    """The SGD loop's saved state, field by field, for each network's SGD."""
    if kind == "network":
        if extra != {}:
            bad("extra state where network keeps none")
        return
    if kind == "network3":
        state = extra.get("state") if isinstance(extra, dict) and set(extra) == {"state"} else None
        if not (isinstance(state, list) and len(state) == 4):
            bad("extra: expected {\"state\": [seed, best validation accuracy, best iteration, test accuracy]}")
        seed, best, iteration, test = state
        if not (_is_int(seed, 0, 2 ** 63) and _is_real(best, 0.0, 1.0) and _opt(lambda v: _is_int(v, 0, 2 ** 63))(iteration)
                and _opt(lambda v: _is_real(v, 0.0, 1.0))(test)):
            bad("extra state %r out of range" % (state,))
        return
    if kind != "network2":
        bad("unknown kind of network %r" % (kind,))
    if not (isinstance(extra, dict) and set(extra) == {"eta", "seed", "progress", "lists"}):
        bad("extra: expected the keys eta, seed, progress and lists")
    top = options.get("eta")
    if not (_is_real(extra["eta"]) and extra["eta"] > 0 and _is_real(top) and extra["eta"] <= top):
        # the schedule only divides the run's eta (schedule_factor > 1)
        bad("extra: eta %r is not a positive number at most the run's eta %r" % (extra["eta"], top))
    if not _opt(lambda v: _is_int(v, 0, 2 ** 63))(extra["seed"]):
        bad("extra: dropout seed %r out of range" % (extra["seed"],))
    progress = extra["progress"]
    if not (isinstance(progress, dict) and set(progress) == set(_PROGRESS)
            and all(_PROGRESS[k](v) for k, v in progress.items())):
        bad("extra: schedule state %r out of range" % (progress,))
    fixed = {k: options.get(k) for k in ("early_stopping_n", "schedule_patience", "schedule_factor", "schedule_stop")}
    fixed.update(eta_initial=options.get("eta"),
                 active=options.get("early_stopping_n") is not None or options.get("schedule_patience") is not None)
    if any(k in progress and progress[k] != v for k, v in fixed.items()):
        bad("extra: schedule state %r disagrees with the run's options" % (progress,))
    lists = extra["lists"]
    monitor = options.get("monitor") or [True] * 4
    if not (isinstance(lists, list) and len(lists) == 4 and all(isinstance(l, list) for l in lists)):
        bad("extra: lists must be the four lists SGD returns")
    for name, l, on, count in zip(("evaluation_cost", "evaluation_accuracy", "training_cost", "training_accuracy"),
                                  lists, monitor, (False, True, False, True)):
        if len(l) != (epoch + 1 if on else 0):
            bad("extra: %s holds %d values after epoch %d" % (name, len(l), epoch))
        if not all(_is_int(v, 0, 2 ** 63) if count else _is_real(v) for v in l):
            bad("extra: %s holds a value that is not a %s" % (name, "count" if count else "finite number"))


class Checkpoint(object):
    """Saving (``path`` every ``every`` epochs) and resuming (from ``resume``) for one SGD call.

    ``options``: what must agree between the saved and the resuming run.  ``X`` and ``Y``: the
    training data in its order, or functions returning it (called only when it is needed).  ``params``: for
    networks other than network/network2's (network3), the parameter arrays by name, restored
    in place; the dense networks' ``weights`` and ``biases`` lists are the default."""

    def __init__(self, net, path, every, resume, options, X, Y, params=None):
        if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError("checkpoint must be a file path, got %r" % (path,))
        if resume is not None and not isinstance(resume, (str, bytes, os.PathLike)):
            raise TypeError("resume must be a file path, got %r" % (resume,))
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError("checkpoint_every must be an integer >= 1, got %r" % (every,))
        _files.check_writable(path, "checkpoint")         # now, not after the first epoch
        self.net = net
        self.params = params
        self.path = None if path is None else os.fspath(path)
        self.every = int(every)
        self.options = None
        if self.path is not None or resume is not None:   # a pass over the data: only when it is needed
            if callable(X):                               # the data in its own order, laid out on demand
                X, Y = X(), Y()
            self.options = _jsonable(dict(options, sizes=list(getattr(net, "sizes", [])),
                                          dtype=str(np.dtype(net.dtype)), data=_fingerprint(X, Y)))
        self.state = None
        self.resume_path = None if resume is None else os.fspath(resume)
        if resume is not None:
            self.state = self._read(self.resume_path)

    # -- reading

    def _read(self, path):
        """Read and check the checkpoint ``path`` field by field; BadFileError (a ValueError)
        naming the file and the field for anything damaged, tampered with or of another run."""
        def bad(problem):
            raise BadFileError("resume: %s: %s" % (path, problem), path)

        names = [k for k, _ in self._shapes()] + ["meta", "np_keys"] + (["order"] if self.params is None else [])
        L = len(getattr(self.net, "sizes", [])) - 1
        velocities = ["v%s%d" % (wb, l) for wb in "wb" for l in range(max(L, 0))]
        try:
            arrays = _files.read_npz(path, "resume", names, optional=velocities)
            text = _files.text_member(arrays, "meta", "resume", path)
            if len(text) > META_LIMIT:
                raise BadFileError("metadata of %d characters, more than %d" % (len(text), META_LIMIT), path)
            meta = _files.parse_json(text, path, "resume")
        except FileNotFoundError:
            raise BadFileError("resume: %s is not an nnfast checkpoint (no such file)" % path, path) from None
        except BadFileError as e:
            raise BadFileError("resume: %s is not an nnfast checkpoint (%s)" % (path, e), path) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            bad("not a checkpoint of format %d (this nnfast's)" % FORMAT)
        if set(meta) != {"format", "options", "epoch", "random", "numpy", "extra"}:
            bad("metadata keys %s, expected format, options, epoch, random, numpy, extra" % sorted(meta))
        saved = meta["options"]
        if not isinstance(saved, dict):
            bad("options must be an object")
        self._compare(path, saved)
        n = self.options["data"]["n"]
        epoch = meta["epoch"]
        if not _is_int(epoch, 0, MAX_EPOCH) or (epoch + 1) * max(n, 1) >= 2 ** 62:
            bad("epoch %r is not an epoch number (0 to %d)" % (epoch, MAX_EPOCH - 1))
        for key, shape in self._shapes():
            _files.finite_array(arrays[key], "resume: " + key, path, shape, np.dtype(self.net.dtype))
        order = arrays.get("order")
        if self.params is None and (order is None or order.shape != (n,) or order.dtype.kind not in "iu"
                                    or not np.array_equal(np.sort(order), np.arange(n))):
            bad("the saved order is not a permutation of the %d examples" % n)
        for key in velocities:
            if key in arrays:
                _files.finite_array(arrays[key], "resume: " + key, path, dtype=np.dtype(self.net.dtype))
        _check_extra(saved.get("kind"), meta["extra"], epoch, saved, bad)
        self.py_state, self.np_state = self._random_states(meta, arrays, bad)
        self.meta, self.arrays = meta, arrays
        return meta

    def _compare(self, path, saved):
        """The saved run's options against this one's, the training data last (by its hashes)."""
        here = self.options
        diff = sorted(k for k in set(saved) | set(here) if k != "data" and saved.get(k) != here.get(k))
        if diff:
            raise BadFileError("resume: %s was saved by a different run: %s"
                               % (path, "; ".join("%s is %r there, %r here" % (k, saved.get(k), here.get(k))
                                                  for k in diff)), path)
        theirs, ours = saved.get("data"), here["data"]
        if not isinstance(theirs, dict) or set(theirs) != set(ours):
            raise BadFileError("resume: %s: no fingerprint of its training data" % path, path)
        if theirs["n"] != ours["n"]:
            raise BadFileError("resume: %s was saved by a run on other training data: %r examples there, %d here"
                               % (path, theirs["n"], ours["n"]), path)
        changed = [key for key in ("inputs", "labels") if theirs[key] != ours[key]]
        if changed:
            raise BadFileError("resume: %s was saved by a run on other training data: its %s differ%s"
                               % (path, " and ".join(changed), "" if len(changed) > 1 else "s"), path)

    @staticmethod
    def _random_states(meta, arrays, bad):
        """Python's and numpy's generator states, checked by building them on spare generators."""
        rnd, npm, keys = meta["random"], meta["numpy"], arrays["np_keys"]
        if not (isinstance(rnd, list) and len(rnd) == 3 and rnd[0] == 3 and isinstance(rnd[1], list)
                and len(rnd[1]) == 625 and all(_is_int(v, 0, 2 ** 32) for v in rnd[1])
                and _opt(_is_real)(rnd[2])):
            bad("Python random state is not a Mersenne Twister state")
        if not (isinstance(npm, list) and len(npm) == 4 and npm[0] == "MT19937" and _is_int(npm[1], 0, 625)
                and npm[2] in (0, 1) and _is_real(npm[3]) and keys.shape == (624,) and keys.dtype == np.uint32):
            bad("numpy random state is not an MT19937 state")
        py_state = (3, tuple(int(v) for v in rnd[1]), None if rnd[2] is None else float(rnd[2]))
        np_state = ("MT19937", np.asarray(keys, dtype=np.uint32), int(npm[1]), int(npm[2]), float(npm[3]))
        try:
            random.Random().setstate(py_state)          # validates before anything changes
            np.random.RandomState().set_state(np_state)
        except (TypeError, ValueError, OverflowError) as e:
            bad("bad random state (%s)" % e)
        return py_state, np_state

    def _shapes(self):
        if self.params is not None:
            return [(k, v.shape) for k, v in self.params().items()]
        sizes = self.net.sizes
        return [item for l in range(len(sizes) - 1)
                for item in (("w%d" % l, (sizes[l + 1], sizes[l])), ("b%d" % l, (sizes[l + 1], 1)))]

    def restore(self, shuffler=None, velocities=None):
        """Put the saved state in place; returns (first epoch to run, the loop's saved extras)."""
        if self.state is None:
            return 0, {}
        a, L = self.arrays, len(getattr(self.net, "sizes", [])) - 1
        for l in range(L if velocities is not None else 0):   # all checked before anything is put in place
            for vs, key in ((velocities[0], "vw%d" % l), (velocities[1], "vb%d" % l)):
                v = a.get(key)
                if v is None or v.shape != vs[l].shape:
                    raise BadFileError("resume: %s has no momentum velocity %s of shape %s"
                                       % (self.resume_path, key, vs[l].shape), self.resume_path)
        if self.params is not None:
            for key, arr in self.params().items():
                arr[...] = a[key]
        for l in range(L if self.params is None else 0):
            self.net.weights[l] = np.ascontiguousarray(a["w%d" % l])
            self.net.biases[l] = np.ascontiguousarray(a["b%d" % l])
        if velocities is not None:
            for l in range(L):
                for vs, key in ((velocities[0], "vw%d" % l), (velocities[1], "vb%d" % l)):
                    vs[l][...] = a[key]
        if shuffler is not None:
            shuffler.idx = [int(i) for i in a["order"]]
        random.setstate(self.py_state)
        np.random.set_state(self.np_state)
        return self.meta["epoch"] + 1, self.meta.get("extra", {})

    # -- writing

    def after_epoch(self, j, shuffler=None, velocities=None, extra=None):
        """Save after epoch j when a checkpoint is due."""
        if self.path is None or (j + 1) % self.every:
            return
        np_state = np.random.get_state()
        meta = {"format": FORMAT, "options": self.options, "epoch": j, "random": random.getstate(),
                "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
                "extra": _jsonable(extra or {})}
        arrays = {"meta": np.array(json.dumps(meta, allow_nan=False)), "np_keys": np.asarray(np_state[1], dtype=np.uint32)}
        if shuffler is not None:
            arrays["order"] = np.array(shuffler.idx, dtype=np.int64)
        if self.params is not None:
            arrays.update(self.params())
        else:
            for l, (w, b) in enumerate(zip(self.net.weights, self.net.biases)):
                arrays["w%d" % l], arrays["b%d" % l] = w, b
        if velocities is not None:
            for l, (vw, vb) in enumerate(zip(*velocities)):
                arrays["vw%d" % l], arrays["vb%d" % l] = vw, vb
        _atomic.write_atomic(self.path, lambda f: np.savez(f, **arrays), fsync=True)
