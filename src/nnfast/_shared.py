"""Theano's face on numpy arrays: what the book's code asks of a shared variable.

The book's network3 kept its data and parameters in ``theano.shared`` variables, and
its scripts read them with ``.get_value(borrow=True)``, ``.eval()`` and
``.set_value(v)`` (src/conv.py plots ``net.layers[0].w.eval()``).  ``SharedArray``
is an ``ndarray`` that also answers those three calls, so such lines run unchanged;
for everything else it is the numpy array it views (no copy: ``shared(a)`` is a view
of ``a``, and ``np.asarray`` gives the plain array back without copying, which is how
the native code takes it).
"""
import numpy as np

__all__ = ["SharedArray", "shared", "param"]


class SharedArray(np.ndarray):
    """A numpy array with Theano's ``get_value``, ``set_value`` and ``eval``."""

    def get_value(self, borrow=False, return_internal_type=False):
        """The value as a plain numpy array: a copy, or (``borrow=True``) a view of this one."""
        value = self.view(np.ndarray)
        return value if borrow else value.copy()

    def set_value(self, value, borrow=False):
        """Write ``value`` into this array, in place, so that every holder of it (a network's
        layers, its parameter list) sees the new value.  The shape must be this one's: a
        network's layer sizes are fixed.  ``borrow`` is accepted and changes nothing."""
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError("set_value: value has shape %r but this variable holds shape %r (nnfast writes "
                             "the new value into the existing array)" % (value.shape, self.shape))
        try:
            np.copyto(self.view(np.ndarray), value, casting="same_kind")
        except TypeError:
            raise TypeError("set_value: cannot store a value of dtype %s in this %s variable"
                            % (value.dtype, self.dtype)) from None

    def eval(self, inputs_to_values=None):
        """The value, as Theano's ``eval()`` of a shared variable gives it: a plain numpy copy."""
        return self.view(np.ndarray).copy()


def shared(value):
    """``value`` as a SharedArray: a view of the same memory when it is already an ndarray."""
    if type(value) is SharedArray:
        return value
    return np.asarray(value).view(SharedArray)


def param(name, doc):
    """A property for a layer's ``w`` or ``b``: whatever is assigned is kept as a SharedArray
    (a view of it), so arrays published later get the face too.  The value lives in the
    instance's ``__dict__`` under ``name``, as a plain attribute did (old pickles load)."""
    def get(self):
        try:
            value = self.__dict__[name]
        except KeyError:
            raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name)) from None
        if type(value) is not SharedArray:
            value = self.__dict__[name] = shared(value)
        return value

    def set(self, value):
        self.__dict__[name] = shared(value)
    return property(get, set, doc=doc)
