"""Fetch MNIST / Fashion-MNIST's IDX files from public mirrors, checked against SHA-256.

Used by ``mnist_loader.load_data(..., download=True)``.  Each file is tried on
each mirror in turn (one retry per mirror for a failed or cut-short transfer),
streamed into a temporary file in the destination folder while its SHA-256 is
computed, and renamed into place only when size and hash match the values
below, so a failed download never leaves a partial or wrong file behind.

``NNFAST_MIRROR`` replaces the mirror list: each file is then fetched from
``$NNFAST_MIRROR/<file name>`` (any URL urllib understands, ``file://`` too).
"""
import hashlib
import os
import sys
import tempfile
import time
import http.client
import urllib.error
import urllib.parse
import urllib.request

from .. import _atomic
from .registry import FILES, MIRRORS, check_dataset, default_data_dir

__all__ = ["download", "DownloadError", "MIRRORS", "FILES", "urls_for"]

_CHUNK = 1 << 16
_TIMEOUT = 30
_USER_AGENT = "nnfast (MNIST loader)"


class DownloadError(OSError):
    """No mirror delivered a file with the expected size and SHA-256."""


class _BadFile(Exception):
    """The transfer finished but the bytes are wrong: retrying the same URL won't help."""


def urls_for(dataset, name):
    """The URLs ``name`` is fetched from, in order (``$NNFAST_MIRROR`` overrides)."""
    mirror = os.environ.get("NNFAST_MIRROR")
    if mirror:
        return [mirror.rstrip("/") + "/" + name]
    return [m + name for m in MIRRORS[dataset]]


def _human(n):
    return "%.1f MB" % (n / 1e6) if n >= 1e5 else "%.0f kB" % (n / 1e3)


class _Progress:
    def __init__(self, name, url, total, quiet):
        self.name, self.total, self.quiet = name, total, quiet
        self.host = urllib.parse.urlsplit(url).netloc or url
        self.last = 0.0

    def update(self, done, final=False):
        if self.quiet:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.2:
            return
        self.last = now
        pct = " %3d%%" % (100 * done // self.total) if self.total else ""
        sys.stderr.write("\rnnfast: downloading %s from %s:%s %s"
                         % (self.name, self.host, pct, _human(done)))
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self, done):
        self.update(done, final=True)


def _fetch_one(url, name, size, sha, folder, quiet, timeout):
    """Download url into folder/name atomically; raise on any problem (nothing left behind)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + name + ".", suffix=".part")
    try:
        h = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                progress = _Progress(name, url, length or size, quiet)
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    if done > size:
                        raise _BadFile("more than the expected %d bytes: not the right file"
                                       % size)
                    progress.update(done)
                progress.close(done)
            if length is not None and done < length:
                raise http.client.IncompleteRead(b"", length - done)
            out.flush()
            os.fsync(out.fileno())
        if done != size:
            # a short body without a Content-Length to tell us: treat it as cut short
            if done < size:
                raise http.client.IncompleteRead(b"", size - done)
            raise _BadFile("%d bytes, expected %d" % (done, size))
        digest = h.hexdigest()
        if digest != sha:
            raise _BadFile("SHA-256 mismatch: got %s, expected %s" % (digest, sha))
        os.chmod(tmp, _atomic.umask_mode())
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _describe(e):
    if isinstance(e, _BadFile):
        return "rejected: %s" % e
    if isinstance(e, urllib.error.HTTPError):
        return "HTTP %s %s" % (e.code, e.reason)
    if isinstance(e, urllib.error.URLError):
        return "cannot connect (%s)" % (e.reason,)
    if isinstance(e, http.client.IncompleteRead):
        return "transfer cut short (%d bytes missing)" % e.expected
    if isinstance(e, http.client.RemoteDisconnected):
        return "server closed the connection without a response"
    return "%s: %s" % (type(e).__name__, e)


def download(dataset="mnist", folder=None, *, files=None, quiet=False, timeout=_TIMEOUT):
    """Fetch the IDX files of ``dataset`` that ``folder`` lacks; return the folder.

    folder: default ``$NNFAST_DATA/<dataset>``, else ``~/.cache/nnfast/<dataset>``.
    files:  names to fetch (default: the four IDX files); present files are kept.
    Raises DownloadError (an OSError) listing every URL tried and what went wrong,
    and PermissionError when the folder cannot be written.
    """
    check_dataset(dataset)
    if folder is None:
        folder = default_data_dir(dataset)
    folder = os.fspath(folder)
    table = FILES[dataset]
    names = list(table) if files is None else list(files)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError("unknown %s file(s) %s; known: %s"
                         % (dataset, ", ".join(unknown), ", ".join(table)))
    names = [n for n in names if not os.path.exists(os.path.join(folder, n))]
    if not names:
        return folder
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise PermissionError("cannot create the data folder %s (%s); set NNFAST_DATA to a "
                              "writable folder" % (folder, e)) from None
    if not _atomic.folder_writable(folder):
        raise PermissionError("cannot write to the data folder %s; set NNFAST_DATA to a "
                              "writable folder, or place the files there by hand" % folder)
    failures = {}
    for name in names:
        size, sha = table[name]
        tried = []
        for url in urls_for(dataset, name):
            for attempt in (1, 2):
                try:
                    _fetch_one(url, name, size, sha, folder, quiet, timeout)
                    tried = None
                    break
                except _BadFile as e:
                    tried.append("%s: %s" % (url, _describe(e)))
                    break  # the same bytes would come again
                except urllib.error.HTTPError as e:
                    tried.append("%s: %s" % (url, _describe(e)))
                    if e.code < 500:
                        break
                except (OSError, http.client.HTTPException) as e:
                    if isinstance(e, PermissionError) and not isinstance(e, urllib.error.URLError):
                        raise
                    tried.append("%s: %s%s" % (url, _describe(e),
                                               " (retried)" if attempt == 2 else ""))
                if not quiet:
                    sys.stderr.write("nnfast: %s\n" % tried[-1])
            if tried is None:
                break
        if tried is not None:
            failures[name] = tried
    if failures:
        lines = ["could not download %s into %s:" % (", ".join(failures), folder)]
        for name, tried in failures.items():
            lines.append("  %s, tried:" % name)
            lines += ["    - %s" % t for t in tried]
        lines.append("To place the files by hand, download them from any MNIST mirror and put "
                     "them (gzip-compressed, names unchanged) in %s. Expected SHA-256:" % folder)
        lines += ["    %s  %s" % (table[n][1], n) for n in failures]
        raise DownloadError("\n".join(lines))
    return folder
