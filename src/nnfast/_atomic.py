"""Files written whole or not at all: a temporary file in the target's folder,
then ``os.replace`` onto the target, so a reader (or a run killed at any moment)
sees the old file or the new one, never half of one."""
import os
import tempfile


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



def write_atomic(path, write, text=False, fsync=False, prefix=".nnfast-"):
    """Call ``write(f)`` on a new temporary file beside ``path`` (binary, or UTF-8 text
    with ``text=True``), optionally fsync it, give it the mode a plain open() would, and
    move it onto ``path``.  On any error, Ctrl-C included, the temporary file is removed,
    ``path`` is left as it was, and the error propagates."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
