"""nnfast: the code of Michael Nielsen's "Neural Networks and Deep Learning", made fast.

Drop-in replacements for the book's programs::

    from nnfast import mnist_loader, network     # chapter 1
    from nnfast import network2                  # chapter 3
    from nnfast import network3                  # chapter 6, no Theano needed

The training loops run in C with OpenMP; ``nnfast.reference`` keeps the book's
algorithms in plain numpy as the oracle the fast paths are tested against.
Every ``SGD`` can keep a per-epoch ``nnfast.history``; ``nnfast.plot`` draws
the book's figures from it.
"""
from ._version import __version__
from ._config import get_num_threads, num_threads, set_num_threads, show_config
from ._errors import BadFileError, TrainingDiverged

__all__ = ["__version__", "show_config", "get_num_threads", "set_num_threads", "num_threads",
           "TrainingDiverged", "BadFileError"]
from ._gradcheck import gradcheck, GradCheckResult  # noqa: E402 - chapter 2: nnfast.gradcheck(net, x, y)

__all__ += ["gradcheck", "GradCheckResult"]


_SUBMODULES = ("history", "plot", "universality", "diagnostics", "sweep")


def __getattr__(name):
    """``nnfast.plot``, ``nnfast.history``, ``nnfast.universality``, ``nnfast.diagnostics`` and ``nnfast.sweep`` without
    importing them first (matplotlib loads only when drawing)."""
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError("module 'nnfast' has no attribute %r" % name)
