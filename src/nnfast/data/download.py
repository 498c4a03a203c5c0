"""Fetch MNIST / Fashion-MNIST's IDX files from public mirrors through pooch.

Used by ``mnist_loader.load_data(..., download=True)`` and ``nnfast download``.
``pooch.retrieve`` does the careful part: it streams each file into a temporary
file in the destination folder, checks its SHA-256 against the value shipped in
:mod:`nnfast.data.registry`, and moves it into place only when it matches, so a
failed download never leaves a partial or wrong file behind.  Around it this
module keeps nnfast's rules:

* each file is tried on each mirror in turn;
* a transfer cut short (or a server error) is retried once on the same mirror;
  wrong bytes (bad hash, wrong size) and 4xx answers are not, the same bytes
  would come again;
* no attempt waits more than 10 s to connect, and a mirror that cannot be
  reached is not asked again for the other files: offline, a call costs one
  attempt per mirror, not one per file;
* a mirror that sends more bytes than the file has is cut off at that point.

``NNFAST_MIRROR`` replaces the mirror list: each file is then fetched from
``$NNFAST_MIRROR/<file name>`` (``http://``, ``https://`` or ``file://``).
"""
import hashlib
import logging
import os
import re
import shutil
import sys
import time
import urllib.parse
import urllib.request

from .. import _atomic
from .registry import FILES, MIRRORS, check_dataset, default_data_dir

__all__ = ["download", "DownloadError", "MIRRORS", "FILES", "urls_for"]

_CHUNK = 1 << 16
CONNECT_TIMEOUT = 10    # seconds to wait for a mirror to accept the connection
READ_TIMEOUT = 30       # seconds without a byte before a transfer is given up
_USER_AGENT = "nnfast (MNIST loader)"


class DownloadError(OSError):
    """No mirror delivered a file with the expected size and SHA-256.

    ``attempts``: (file name, URL, what went wrong) for every attempt;
    ``tried``: per mirror host, the distinct reasons it failed;
    ``folder``, ``dataset`` and ``missing`` (the file names not fetched).
    """

    def __init__(self, message, *, dataset=None, folder=None, missing=(), attempts=()):
        super().__init__(message)
        self.dataset, self.folder = dataset, folder
        self.missing, self.attempts = list(missing), list(attempts)

    @property
    def tried(self):
        """mirror host -> the distinct reasons it failed, in the order met."""
        tried = {}
        for _name, url, reason in self.attempts:
            reasons = tried.setdefault(_host(url), [])
            if reason not in reasons:
                reasons.append(reason)
        return tried

    def tried_line(self):
        """One short line: the mirrors tried and why each failed (mirrors failing
        the same way share their reason)."""
        by_reason = {}
        for host, reasons in self.tried.items():
            by_reason.setdefault(", ".join(reasons[:2]) + (", ..." if len(reasons) > 2 else ""),
                                 []).append(host)
        return "tried " + "; ".join("%s: %s" % (", ".join(hosts), reason)
                                    for reason, hosts in by_reason.items())


class _BadFile(Exception):
    """The transfer finished but the bytes are wrong: retrying the same URL won't help."""


class _CutShort(Exception):
    """Fewer bytes than the file has: the transfer stopped early."""


def urls_for(dataset, name):
    """The URLs ``name`` is fetched from, in order (``$NNFAST_MIRROR`` overrides)."""
    mirror = os.environ.get("NNFAST_MIRROR")
    if mirror:
        return [mirror.rstrip("/") + "/" + name]
    return [m + name for m in MIRRORS[dataset]]


def _host(url):
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or os.path.dirname(parts.path) or url


def _human(n):
    return "%.1f MB" % (n / 1e6) if n >= 1e5 else "%.0f kB" % (n / 1e3)


class _Progress:
    """One self-overwriting stderr line per file, in the shape pooch's downloaders
    drive a progress bar (``total``, ``update``, ``reset``, ``close``)."""

    def __init__(self, name, url, size, quiet):
        self.name, self.host, self.quiet = name, _host(url), quiet
        self.total, self.done, self.last, self.shown = size, 0, 0.0, False

    def update(self, n):
        self.done += n
        if self.total:
            self.done = min(self.done, self.total)
        self._show(False)

    def reset(self):
        self.done = 0

    def close(self):
        self._show(True)

    def abandon(self):
        """End a line left open by a failed transfer."""
        if self.shown and not self.quiet:
            sys.stderr.write("\n")
            self.shown = False

    def _show(self, final):
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < 0.2):
            return
        self.last, self.shown = now, not final
        pct = " %3d%%" % (100 * self.done // self.total) if self.total else ""
        sys.stderr.write("\rnnfast: downloading %s from %s:%s %s%s"
                         % (self.name, self.host, pct, _human(self.done), "\n" if final else ""))
        sys.stderr.flush()


class _Checked:
    """A write-only file that counts and hashes what passes, and refuses more than ``size`` bytes."""

    def __init__(self, f, size):
        self.f, self.size, self.n, self.sha = f, size, 0, hashlib.sha256()

    def write(self, chunk):
        self.n += len(chunk)
        if self.n > self.size:
            raise _BadFile("more than the expected %d bytes" % self.size)
        self.sha.update(chunk)
        return self.f.write(chunk)

    def flush(self):
        self.f.flush()


class _Downloader:
    """The downloader pooch.retrieve calls: pooch's HTTPDownloader (requests, with our
    timeouts and progress line) for http(s), a plain copy for file:// URLs; both write
    through _Checked so the size is enforced while the bytes arrive."""

    def __init__(self, name, size, sha, quiet):
        self.name, self.size, self.sha, self.quiet = name, size, sha, quiet
        self.got = None     # (bytes, SHA-256) of the last transfer, for the message on a mismatch

    def __call__(self, url, output_file, pooch_instance):
        import pooch
        progress = _Progress(self.name, url, self.size, self.quiet)
        try:
            with open(output_file, "wb") as f:
                out = _Checked(f, self.size)
                if url.startswith("file:"):
                    with open(urllib.request.url2pathname(urllib.parse.urlsplit(url).path), "rb") as src:
                        shutil.copyfileobj(src, out, _CHUNK)
                else:
                    pooch.HTTPDownloader(progressbar=progress, chunk_size=_CHUNK,
                                         timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                                         headers={"User-Agent": _USER_AGENT})(url, out, pooch_instance)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            progress.abandon()
            raise
        self.got = (out.n, out.sha.hexdigest())
        if out.n < self.size:
            raise _CutShort("%d of %d bytes" % (out.n, self.size))


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _classify(e, downloader):
    """(what went wrong in a few words, what to do): 'retry' once on the same URL,
    'next' mirror, or 'dead' (the mirror cannot be reached: skip it for the other files)."""
    import requests
    if isinstance(e, _BadFile):
        return "rejected: %s" % e, "next"
    if isinstance(e, ValueError) and downloader.got is not None:   # pooch's hash check
        return "SHA-256 mismatch (got %s...)" % downloader.got[1][:12], "next"
    if isinstance(e, _CutShort):
        return "transfer cut short (%s)" % e, "retry"
    if isinstance(e, requests.HTTPError) and e.response is not None:
        r = e.response
        return "HTTP %d %s" % (r.status_code, r.reason), ("retry" if r.status_code >= 500 else "next")
    if isinstance(e, requests.ConnectTimeout):
        return "no answer within %d s" % CONNECT_TIMEOUT, "dead"
    if isinstance(e, requests.ReadTimeout):
        return "no data for %d s" % READ_TIMEOUT, "retry"
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        return "transfer cut short", "retry"
    if isinstance(e, requests.ConnectionError):
        text = str(e)
        if "RemoteDisconnected" in text or "Connection aborted" in text or "reset by peer" in text:
            return "server closed the connection without a response", "retry"
        m = _ERRNO.search(text)
        why = m.group(1).strip().lower() if m else ""
        if "name" in why or "resolution" in why or "nodename" in why or "NameResolution" in text:
            return "name lookup failed", "dead"
        return ("cannot connect (%s)" % why if why else "cannot connect"), "dead"
    if isinstance(e, FileNotFoundError):
        return "no such file", "next"
    return "%s: %s" % (type(e).__name__, " ".join(str(e).split())[:80]), "retry"


def _fetch(dataset, name, folder, quiet, dead, attempts):
    """Fetch one file into ``folder`` from the first mirror that delivers it; True when done."""
    import pooch
    import requests
    size, sha = FILES[dataset][name]
    for url in urls_for(dataset, name):
        if _host(url) in dead:
            continue
        for attempt in (1, 2):
            downloader = _Downloader(name, size, sha, quiet)
            try:
                pooch.retrieve(url, known_hash="sha256:" + sha, fname=name, path=folder,
                               downloader=downloader, progressbar=False)
            except (OSError, ValueError, _BadFile, _CutShort, requests.RequestException) as e:
                if isinstance(e, PermissionError):
                    raise
                reason, then = _classify(e, downloader)
                attempts.append((name, url, reason + (" (retried)" if attempt == 2 else "")))
                if then == "dead":
                    dead.add(_host(url))
                if then == "retry" and attempt == 1:
                    if not quiet:
                        sys.stderr.write("nnfast: %s from %s: %s; trying again\n" % (name, _host(url), reason))
                    continue
                break
            os.chmod(os.path.join(folder, name), _atomic.umask_mode())
            return True
    return False


def _missing_parents(folder):
    """The folders that makedirs(folder) would create, deepest first."""
    made = []
    f = os.path.abspath(folder)
    while not os.path.isdir(f):
        made.append(f)
        parent = os.path.dirname(f)
        if parent == f:
            break
        f = parent
    return made, f


def _quiet_pooch():
    """pooch logs each download at INFO on stderr; nnfast draws its own line."""
    import pooch
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    return lambda: logger.setLevel(level)


def download(dataset="mnist", folder=None, *, files=None, quiet=False):
    """Fetch the IDX files of ``dataset`` that ``folder`` lacks; return the folder.

    folder: default ``$NNFAST_DATA/<dataset>``, else ``~/.cache/nnfast/<dataset>``.
    files:  names to fetch (default: the four IDX files); present files are kept.
    Raises DownloadError (an OSError; a few short lines saying what was tried, the
    details in its ``attempts``), and PermissionError when the folder cannot be
    written.  A folder this call had to create is removed again when nothing came.
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
    made, existing = _missing_parents(folder)
    if made and os.path.exists(made[-1]):
        raise NotADirectoryError("cannot create the data folder %s: %s is a file" % (folder, made[-1]))
    if not _atomic.folder_writable(existing):
        what = "write to the data folder %s" % folder if not made else \
            "create the data folder %s (%s is not writable)" % (folder, existing)
        raise PermissionError("cannot %s; set NNFAST_DATA to a writable folder, or place the "
                              "files there by hand" % what)
    import pooch  # noqa: F401  (a dependency; imported here so that `import nnfast` stays light)
    os.makedirs(folder, exist_ok=True)
    restore = _quiet_pooch()
    attempts, dead, failed = [], set(), []
    try:
        for name in names:
            if not _fetch(dataset, name, folder, quiet, dead, attempts):
                failed.append(name)
    finally:
        restore()
        if failed and len(failed) == len(names):
            for f in made:          # deepest first; only folders still empty go
                try:
                    os.rmdir(f)
                except OSError:
                    break
    if failed:
        err = DownloadError("", dataset=dataset, folder=folder, missing=failed, attempts=attempts)
        more = " and %d more" % (len(failed) - 1) if len(failed) > 1 else ""
        err.args = ("could not download %s's %s%s into %s\n  %s\n  place the files there by hand "
                    "(sizes and SHA-256 in nnfast.data.registry.FILES), or give the loader a "
                    "folder that holds them" % (dataset, failed[0], more, folder, err.tried_line()),)
        raise err
    return folder
