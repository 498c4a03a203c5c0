"""Training histories: what each epoch measured, kept as JSON.

The book prints a line per epoch and forgets it; its figures (accuracy and
cost against epoch, for training and evaluation data) come from those
numbers.  Every ``SGD`` in nnfast takes ``history=`` to keep them:

- a path: after every epoch the whole history is written there atomically
  (a temporary file in the same folder, then ``os.replace``), so a run that is
  interrupted keeps the epochs it finished;
- a ``History`` object: filled in memory (and written too if it has a path).

The file is versioned JSON::

    {"format": "nnfast-history", "version": 1,
     "settings": {"program": "network2", "sizes": [784, 30, 10], "eta": 0.5, ...},
     "epochs": [{"epoch": 0, "seconds": 1.2, "training_cost": 0.41,
                 "evaluation_accuracy": 9120, ...}, ...]}

Accuracies are stored as the program reports them: counts for network and
network2 (out of ``settings["n_training"]`` / ``settings["n_evaluation"]``),
fractions for network3.  ``History.load(path)`` reads one back and checks it.
"""
import json
import math
import numbers
import os
import time

from . import _atomic, _files
from ._errors import BadFileError

FORMAT = "nnfast-history"
VERSION = 1

__all__ = ["History", "HistoryFormatError", "FORMAT", "VERSION"]


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder and
    ``os.replace``: a reader sees the old file or the new one, never half of one."""
    _atomic.write_atomic(path, lambda f: f.write(text), text=True)


LIMIT = 256 << 20      # bytes of history JSON (a million epochs)


class HistoryFormatError(BadFileError):
    """A file that is not an nnfast history (or not a version this nnfast reads):
    a ``nnfast.BadFileError``, so a ValueError."""


def _plain(value, where):
    """``value`` as plain JSON types (numpy scalars and arrays become floats, ints and lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, dict):
        return {str(k): _plain(v, "%s[%r]" % (where, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist(), where)
    raise TypeError("history: %s holds %r, which is not JSON-serialisable" % (where, type(value).__name__))


class History(object):
    """Per-epoch records of one or more ``SGD`` runs plus the settings they ran with.

    ``settings`` is a dict (SGD adds its own: program, sizes, eta, ...; keys
    already present are kept); ``epochs`` a list of dicts, one per epoch.
    With ``path``, ``SGD`` saves the history there after every epoch."""

    def __init__(self, path=None, settings=None):
        self.path = None if path is None else os.fspath(path)
        self.settings = dict(settings or {})
        self.epochs = []

    def __len__(self):
        return len(self.epochs)

    def __repr__(self):
        return "History(%d epochs, settings=%r)" % (len(self.epochs), self.settings)

    def column(self, key):
        """The values of ``key`` over the epochs that have it, as (epochs, values)."""
        pairs = [(r.get("epoch", i), r[key]) for i, r in enumerate(self.epochs)
                 if r.get(key) is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def keys(self):
        """Every key some epoch record has, in first-seen order."""
        seen = {}
        for r in self.epochs:
            for k in r:
                seen.setdefault(k, None)
        return list(seen)

    def to_dict(self):
        return {"format": FORMAT, "version": VERSION, "settings": _plain(self.settings, "settings"),
                "epochs": [_plain(r, "epoch record") for r in self.epochs]}

    def save(self, path=None):
        """Write the history as JSON to ``path`` (default: its own), atomically."""
        path = os.fspath(path if path is not None else self.path)
        if path is None:
            raise ValueError("history: no path to save to")
        write_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data, source="history"):
        """A History from the parsed JSON, checked: format, version, settings, epochs."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise HistoryFormatError("%s: not an nnfast history (expected a JSON object with "
                                     "\"format\": \"%s\")" % (source, FORMAT))
        if data.get("version") != VERSION:
            raise HistoryFormatError("%s: nnfast history version %r; this nnfast reads version %d"
                                     % (source, data.get("version"), VERSION))
        settings, epochs = data.get("settings", {}), data.get("epochs")
        if not isinstance(settings, dict):
            raise HistoryFormatError("%s: \"settings\" must be an object" % source)
        if not isinstance(epochs, list) or not all(isinstance(r, dict) for r in epochs):
            raise HistoryFormatError("%s: \"epochs\" must be a list of objects, one per epoch" % source)
        for i, r in enumerate(epochs):
            e = r.get("epoch", 0)
            if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e < 2 ** 31:
                raise HistoryFormatError("%s: epochs[%d] has epoch %.100r, not an epoch number" % (source, i, e))
            for k, v in r.items():
                if isinstance(v, float) and not math.isfinite(v):
                    raise HistoryFormatError("%s: epochs[%d][%r] is not a finite number" % (source, i, k))
        h = cls(settings=settings)
        h.epochs = epochs
        return h

    @classmethod
    def load(cls, path):
        """Read a history written by ``save`` (or by ``SGD(history=path)``)."""
        path = os.fspath(path)
        try:
            data = _files.read_json(path, "history", LIMIT)
        except BadFileError as e:
            raise HistoryFormatError("%s (not an nnfast history)" % e, path) from None
        h = cls.from_dict(data, path)
        h.path = path
        return h


def as_history(history):
    """``history=`` argument of SGD as a History, or None: a path becomes History(path)."""
    if history is None or isinstance(history, History):
        return history
    if isinstance(history, (str, bytes, os.PathLike)):
        return History(os.fsdecode(history))
    raise TypeError("history must be a path or an nnfast.history.History, got %r" % type(history).__name__)


class Recorder(object):
    """What an SGD call does with ``history=`` and ``on_epoch=``: one ``epoch(...)``
    call per finished epoch builds the record (epoch number, seconds since the
    previous epoch ended, the metrics), lets ``on_epoch(net, epoch, record)``
    add keys, appends it and saves the file.  Made by ``recorder()``, which
    returns None when neither is asked for, so SGD pays nothing then."""

    def __init__(self, history, on_epoch, settings):
        self.history = history
        self.on_epoch = on_epoch
        if history is not None:
            for k, v in settings.items():
                history.settings.setdefault(k, v)
            if history.path is not None:
                history.save()       # fail now, before training, if the path cannot be written
        self.t0 = time.perf_counter()

    def epoch(self, net, epoch, **metrics):
        record = {"epoch": int(epoch), "seconds": time.perf_counter() - self.t0}
        record.update((k, v) for k, v in metrics.items() if v is not None)
        if self.on_epoch is not None:
            self.on_epoch(net, epoch, record)
        if self.history is not None:
            self.history.epochs.append(_plain(record, "epoch record"))
            if self.history.path is not None:
                self.history.save()
        self.t0 = time.perf_counter()
        return record


def recorder(history, on_epoch, settings):
    """A Recorder for SGD's ``history`` / ``on_epoch`` arguments, or None if both are None."""
    history = as_history(history)
    if history is None and on_epoch is None:
        return None
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError("on_epoch must be a callable on_epoch(net, epoch, record), got %r" % (on_epoch,))
    from ._version import __version__
    from ._config import effective_threads
    base = {"nnfast": __version__, "threads": effective_threads(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    base.update(settings)
    return Recorder(history, on_epoch, base)
