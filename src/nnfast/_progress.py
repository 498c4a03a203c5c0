"""A progress bar for one epoch: examples done, examples per second, time left.

SGD's ``progress=`` argument: None (the default) shows the bar when stderr is
a terminal, True always, False never; a callable ``progress(done, n)`` is
called instead of drawing anything.  The bar is tqdm's when tqdm is
installed, else one line on stderr redrawn with a carriage return.

The native epoch loop reports after each of its ~50 ms calls, and the bar
redraws at most ten times a second, so it costs microseconds per epoch
second.  The book's lines go to stdout: SGD clears the bar before printing
one, so a terminal shows them cleanly and redirected stdout never sees the bar.
"""
import sys
import time

try:  # optional: a nicer bar when installed
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the environment
    _tqdm = None

REDRAW_SECONDS = 0.1


def _wants_bar(progress):
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (ValueError, OSError):   # a closed stream
            return False
    return bool(progress)


def _clock(seconds):
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    return ("%d:%02d:%02d" % (h, rest // 60, rest % 60)) if h else ("%d:%02d" % divmod(rest, 60))


class _PlainBar(object):
    """``Epoch 3  [#####.....]  25,000/50,000  123,456 ex/s  0:02 left`` on stderr."""

    def __init__(self, total, desc, unit):
        self.total, self.desc, self.unit = total, desc, unit
        self.out = sys.stderr
        self.t0 = self.last = time.perf_counter()
        self.width = 0

    def update(self, done):
        now = time.perf_counter()
        if now - self.last < REDRAW_SECONDS and done < self.total:
            return
        self.last = now
        rate = done / (now - self.t0) if now > self.t0 else 0.0
        left = _clock((self.total - done) / rate) if rate > 0 else "?"
        filled = int(20 * done / self.total) if self.total else 20
        line = "%s  [%s%s]  %s/%s  %s %s/s  %s left" % (
            self.desc, "#" * filled, "." * (20 - filled), format(done, ","), format(self.total, ","),
            format(int(rate), ","), self.unit, left)
        pad = " " * max(0, self.width - len(line))
        self.width = len(line)
        self.out.write("\r" + line + pad)
        self.out.flush()

    def clear(self):
        if self.width:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()
            self.width = 0
            self.last = 0.0          # redraw at the next update

    close = clear


class _TqdmBar(object):
    def __init__(self, total, desc, unit):
        self.bar = _tqdm(total=total, desc=desc, unit=unit, unit_scale=False, leave=False,
                         file=sys.stderr, dynamic_ncols=True, mininterval=REDRAW_SECONDS)

    def update(self, done):
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def clear(self):
        self.bar.clear()

    def close(self):
        self.bar.close()


class Progress(object):
    """One SGD call's progress display; ``start(desc, total)`` per epoch, ``hook`` for
    the native loop (None when there is nothing to show), ``clear()`` before a book
    line in mid-epoch, ``close()`` at the end of the epoch."""

    def __init__(self, progress, unit="ex"):
        if progress is not None and not isinstance(progress, bool) and not callable(progress):
            raise TypeError("progress must be None (auto), True, False or a callable progress(done, n), got %r"
                            % (progress,))
        self.callback = progress if callable(progress) and not isinstance(progress, bool) else None
        self.show = self.callback is None and _wants_bar(progress)
        self.unit = unit
        self.bar = None
        self.total = 0
        self.hook = self.update if (self.show or self.callback) else None

    def start(self, desc, total):
        self.close()
        self.total = total
        if self.show:
            self.bar = (_TqdmBar if _tqdm is not None else _PlainBar)(total, desc, self.unit)

    def update(self, done, n=None):
        if self.callback is not None:
            self.callback(done, self.total if n is None else n)
        elif self.bar is not None:
            self.bar.update(done)

    def clear(self):
        if self.bar is not None:
            self.bar.clear()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
