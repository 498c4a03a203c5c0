"""nnfast's own exceptions."""


class TrainingDiverged(FloatingPointError):
    """Training met an infinity or NaN (the learning rate is usually too large).

    Raised instead of carrying on with NaN weights.  ``epoch`` and
    ``mini_batch`` (both 0-based, the mini-batch counted within its epoch) say
    where; the message says in which state the weights were left.
    """

    def __init__(self, message, epoch=None, mini_batch=None):
        self.epoch = epoch
        self.mini_batch = mini_batch
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.args[0], self.epoch, self.mini_batch)


class BadFileError(ValueError):
    """A file nnfast reads is malformed, truncated, tampered with, too large or of the
    wrong kind.  The message names the file and what is wrong with it; ``path`` holds
    the file's name (None when unknown).  A ValueError, so ``except ValueError`` sees it."""

    def __init__(self, message, path=None):
        self.path = path
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.args[0], self.path)
