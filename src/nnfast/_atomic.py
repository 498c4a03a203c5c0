"""Files written whole or not at all: a temporary file in the target's folder,
then ``os.replace`` onto the target, so a reader (or a run killed at any moment)
sees the old file or the new one, never half of one.

The temporary file is named after its target, ``.NAME.nnfast-tmp-XXXXXXXX``, so a
leftover says what it belonged to.  It is removed on any exception, Ctrl-C
included, and on SIGTERM (a handler installed only while the save runs, in the
main thread, then the previous one is restored and the signal passed on).  A run
killed outright (SIGKILL, power loss) can still leave one: the next save to the
same target removes every such file that no live process holds (the writer keeps
an exclusive ``flock`` on its own while it writes).  New files get the mode a
plain ``open()`` would give them (0o666 less the umask)."""
import os
import signal
import tempfile
import threading

try:
    import fcntl
except ImportError:      # Windows: a file another process has open cannot be removed anyway
    fcntl = None

TMP_MARK = ".nnfast-tmp-"


def umask_mode():
    """0o666 less the process umask: the mode a plain open() would give a new file
    (tempfile.mkstemp makes files 0o600, too strict for shared data folders)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def folder_writable(folder):
    """Whether we may add files to ``folder``.

    The folder's permission bits are honoured even for root (who could write
    anyway): a folder nobody may write to is a read-only data folder, left alone.
    """
    try:
        st = os.stat(folder)
    except OSError:
        return False
    return bool(st.st_mode & 0o222) and os.access(folder, os.W_OK)


def _tmp_prefix(path):
    return "." + os.path.basename(path) + TMP_MARK


def _lock(fd):
    """Hold an exclusive lock on the open temporary file: a sign of life for cleanup."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale(path):
    """Remove the temporary files of earlier saves to ``path`` that no process is
    writing (their writer was killed).  Returns how many were removed."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _tmp_prefix(path)
    removed = 0
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return 0
    for name in names:
        p = os.path.join(folder, name)
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            _lock(fd)                 # fails while a live writer holds it
            os.unlink(p)
            removed += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _new_tmp(path):
    """(fd, name) of a new locked temporary file beside ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_tmp_prefix(path))
    except OSError as e:      # say the user's path, not the temporary one
        raise OSError(e.errno, e.strerror or str(e), path) from None
    try:
        _lock(fd)
    except OSError:
        pass                  # a file system without locks: still written, just not protected
    return fd, tmp


def probe(path):
    """Create and remove a temporary file beside ``path``: what a save needs, tried now."""
    fd, tmp = _new_tmp(path)
    os.close(fd)
    os.unlink(tmp)


class _Terminated(BaseException):
    """SIGTERM arrived during a save (raised by the handler, caught in write_atomic)."""


def _unlink_quietly(p):
    try:
        os.unlink(p)
    except OSError:
        pass


def write_atomic(path, write, text=False, fsync=False):
    """Call ``write(f)`` on a new temporary file beside ``path`` (binary, or UTF-8 text
    with ``text=True``), optionally fsync it, give it the mode a plain open() would, and
    move it onto ``path``.  On any error, Ctrl-C included, the temporary file is removed,
    ``path`` is left as it was, and the error propagates; on SIGTERM the temporary file
    is removed and the signal then does what it would have done without us."""
    path = os.fspath(path)
    remove_stale(path)
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if on_main else None
    watch = previous not in (None, signal.SIG_IGN)
    caught = []

    def on_sigterm(signum, frame):
        caught.append(frame)
        raise _Terminated()

    while True:
        if watch:
            signal.signal(signal.SIGTERM, on_sigterm)
        try:
            _write_once(path, write, text, fsync)
        except _Terminated:
            pass
        finally:
            if watch:
                signal.signal(signal.SIGTERM, previous)
        if not caught:
            return
        # pass SIGTERM on, now that nothing is left behind; if the program lives on (its
        # own handler returned), the save is done again as it asked
        frame = caught.pop()
        if callable(previous):
            previous(signal.SIGTERM, frame)
        else:
            os.kill(os.getpid(), signal.SIGTERM)


def _write_once(path, write, text, fsync):
    fd, tmp = _new_tmp(path)
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
