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
"""
import json
import os
import random

import numpy as np

from . import _atomic

FORMAT = 1


def _fingerprint(X, Y):
    """Cheap identity of the training data (exact for the same arrays in the same order)."""
    rows = np.sum(np.reshape(Y, (len(Y), -1)), axis=1, dtype=np.float64)
    return [len(X), float(np.sum(X, dtype=np.float64)), float(np.sum(rows)),
            float(np.sum((np.arange(len(X), dtype=np.float64) % 97) * rows))]   # no BLAS: its idle threads spin


def _jsonable(value):
    """Options as JSON sees them (tuples become lists, numpy scalars plain numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


class Checkpoint(object):
    """Saving (``path`` every ``every`` epochs) and resuming (from ``resume``) for one SGD call.

    ``options``: what must agree between the saved and the resuming run.  ``params``: for
    networks other than network/network2's (network3), the parameter arrays by name, restored
    in place; the dense networks' ``weights`` and ``biases`` lists are the default."""

    def __init__(self, net, path, every, resume, options, X, Y, params=None):
        if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError("checkpoint must be a file path, got %r" % (path,))
        if resume is not None and not isinstance(resume, (str, bytes, os.PathLike)):
            raise TypeError("resume must be a file path, got %r" % (resume,))
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError("checkpoint_every must be an integer >= 1, got %r" % (every,))
        self.net = net
        self.params = params
        self.path = None if path is None else os.fspath(path)
        self.every = int(every)
        self.options = None
        if self.path is not None or resume is not None:   # a pass over the data: only when it is needed
            self.options = _jsonable(dict(options, sizes=list(getattr(net, "sizes", [])),
                                          dtype=str(np.dtype(net.dtype)), data=_fingerprint(X, Y)))
        self.state = None
        if resume is not None:
            self.state = self._read(os.fspath(resume))

    # -- reading

    def _read(self, path):
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            raise ValueError("resume: %s is not an nnfast checkpoint (%s)" % (path, e)) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("resume: %s: unknown checkpoint format" % path)
        saved = meta.get("options", {})
        diff = sorted(k for k in set(saved) | set(self.options) if saved.get(k) != self.options.get(k))
        if diff:
            raise ValueError("resume: %s was saved by a different run: %s"
                             % (path, "; ".join("%s is %r there, %r here" % (k, saved.get(k), self.options.get(k))
                                                for k in diff)))
        n = self.options["data"][0]
        for key, shape in self._shapes():
            a = arrays.get(key)
            if a is None or a.shape != shape or a.dtype != self.net.dtype or not np.isfinite(a).all():
                raise ValueError("resume: %s: %s missing or not a finite %s array of shape %s"
                                 % (path, key, np.dtype(self.net.dtype), shape))
        order = arrays.get("order")
        if self.params is None and (order is None or order.shape != (n,)
                                    or not np.array_equal(np.sort(order), np.arange(n))):
            raise ValueError("resume: %s: the saved order is not a permutation of the %d examples" % (path, n))
        if not isinstance(meta.get("epoch"), int) or meta["epoch"] < 0:
            raise ValueError("resume: %s: bad epoch number" % path)
        try:
            version, internal, gauss = meta["random"]
            self.py_state = (int(version), tuple(int(v) for v in internal), None if gauss is None else float(gauss))
            np_meta = meta["numpy"]
            self.np_state = (str(np_meta[0]), np.asarray(arrays["np_keys"], dtype=np.uint32), int(np_meta[1]),
                             int(np_meta[2]), float(np_meta[3]))
            random.Random().setstate(self.py_state)          # validates before anything changes
            np.random.RandomState().set_state(self.np_state)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError("resume: %s: bad random state (%s)" % (path, e)) from None
        self.meta, self.arrays = meta, arrays
        return meta

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
        if self.params is not None:
            for key, arr in self.params().items():
                arr[...] = a[key]
        for l in range(L if self.params is None else 0):
            self.net.weights[l] = np.ascontiguousarray(a["w%d" % l])
            self.net.biases[l] = np.ascontiguousarray(a["b%d" % l])
        if velocities is not None:
            for l in range(L):
                for vs, key in ((velocities[0], "vw%d" % l), (velocities[1], "vb%d" % l)):
                    v = a.get(key)
                    if v is None or v.shape != vs[l].shape:
                        raise ValueError("resume: the checkpoint has no momentum velocity %s of shape %s"
                                         % (key, vs[l].shape))
                    vs[l][...] = v
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
        arrays = {"meta": np.array(json.dumps(meta)), "np_keys": np.asarray(np_state[1], dtype=np.uint32)}
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
        _atomic.write_atomic(self.path, lambda f: np.savez(f, **arrays), fsync=True, prefix=".nnfast-checkpoint-")
