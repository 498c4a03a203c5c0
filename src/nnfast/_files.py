"""Reading files that may be hostile, and checking where files will be written.

One convention for every file nnfast reads (network2's JSON, network3's .npz,
checkpoints, histories, IDX files, pickles, expanded data): a file that is
malformed, truncated, tampered with, too large or of the wrong kind raises
``nnfast.BadFileError`` (a ValueError) naming the file and what is wrong, and
never costs more memory or time than the file's real size allows:

- a folder, a device or a pipe is refused before it is opened;
- JSON must be UTF-8, nested at most ``MAX_DEPTH`` deep, with integers of at
  most ``MAX_INT_DIGITS`` digits and finite floats (no NaN, Infinity or 1e400);
- an .npz member's header (shape times item size) must match the member's
  real size before a byte of its data is read, and a compressed member may
  claim no more than deflate can give (1032 bytes per compressed byte).

A missing file stays a FileNotFoundError (nothing is wrong with a file that is
not there); a place nnfast cannot write to is an OSError naming the user's path.
"""
import errno
import json
import math
import os
import stat
import tokenize
import zipfile
import zlib

import numpy as np

from . import _atomic
from ._errors import BadFileError

__all__ = ["BadFileError", "MAX_DEPTH", "MAX_INT_DIGITS", "regular_file", "read_bytes", "parse_json",
           "read_json", "read_npz", "check_writable", "finite_array"]

MAX_DEPTH = 32           # nnfast's own files nest at most 5 deep
MAX_INT_DIGITS = 20      # 2**64 has 20 digits: seeds and random states fit
DEFLATE_RATIO = 1032     # the most bytes deflate can inflate from one compressed byte


def regular_file(path, what):
    """``os.stat`` of ``path``, refusing folders, devices, pipes and sockets (reading
    /dev/zero or a FIFO would never end)."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise BadFileError("%s: %s is a folder, not a file" % (what, path), path)
    if not stat.S_ISREG(st.st_mode):
        raise BadFileError("%s: %s is not a regular file (a device, pipe or socket)" % (what, path), path)
    return st


def read_bytes(path, what, limit):
    """The bytes of ``path``, refused when longer than ``limit``."""
    path = os.fspath(path)
    st = regular_file(path, what)
    if st.st_size > limit:
        raise BadFileError("%s: %s holds %d bytes, more than the %d this reader accepts"
                           % (what, path, st.st_size, limit), path)
    with open(path, "rb") as f:
        data = f.read(st.st_size + 1)      # not read(limit): that reserves the whole limit
    if len(data) > st.st_size:
        raise BadFileError("%s: %s grew while being read" % (what, path), path)
    return data


# --------------------------------------------------------------------------- JSON

class _Refused(ValueError):
    pass


def _constant(name):
    raise _Refused("%s is not a number JSON allows (weights and metrics must be finite)" % name)


def _int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused("an integer of %d digits (at most %d accepted)" % (len(text.lstrip("-")), MAX_INT_DIGITS))
    return int(text)


def _float(text):
    v = float(text)
    if not math.isfinite(v):
        raise _Refused("the number %s is beyond the range of a float" % (text[:40],))
    return v


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_int=_int, parse_float=_float)
_FAST_FLOATS = json.JSONDecoder(parse_constant=_constant, parse_int=_int)   # 1e400 becomes inf


def _depth_ok(value, max_depth):
    """Whether ``value`` nests at most ``max_depth`` containers deep (level by level: no recursion)."""
    level = [value] if isinstance(value, (list, dict)) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return False
        level = [e for v in level for e in (v.values() if isinstance(v, dict) else v) if isinstance(e, (list, dict))]
    return True


def parse_json(data, source, what, max_depth=MAX_DEPTH, check_floats=True):
    """Parse JSON text (str or UTF-8 bytes) under the limits above; ``source`` names the file.
    ``check_floats=False`` leaves 1e400 as inf, for a caller that checks its arrays with
    numpy (a per-number hook costs about a second per million numbers)."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = (_DECODER if check_floats else _FAST_FLOATS).decode(text)
    except UnicodeDecodeError as e:
        raise BadFileError("%s: %s is not UTF-8 text (binary data at byte %d)" % (what, source, e.start),
                           source) from None
    except RecursionError:
        raise BadFileError("%s: %s nests JSON more deeply than %d levels" % (what, source, max_depth),
                           source) from None
    except json.JSONDecodeError as e:
        raise BadFileError("%s: %s is not JSON (%s)" % (what, source, e), source) from None
    except ValueError as e:    # _Refused, and int() past sys.get_int_max_str_digits()
        raise BadFileError("%s: %s holds %s" % (what, source, e), source) from None
    if not _depth_ok(value, max_depth):
        raise BadFileError("%s: %s nests JSON more deeply than %d levels" % (what, source, max_depth), source)
    return value


def read_json(path, what, limit, max_depth=MAX_DEPTH, check_floats=True):
    """``parse_json`` of the file ``path`` (at most ``limit`` bytes)."""
    path = os.fspath(path)
    return parse_json(read_bytes(path, what, limit), path, what, max_depth, check_floats)


# --------------------------------------------------------------------------- .npz

def _member_header(zf, info, where):
    """(shape, dtype, header length) of one .npy member, read without its data."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise BadFileError("%s: .npy format version %s is not one nnfast writes" % (where, version))
        return shape, dtype, f.tell()


def read_npz(path, what, names, optional=()):
    """{name: array} for the members ``names`` (required) and ``optional`` of the .npz
    ``path``, each checked before it is read: a plain numeric dtype, a header whose
    shape times item size is exactly the member's size, a member no larger than the
    archive allows, and a CRC that matches.  Other members are not read."""
    path = os.fspath(path)
    st = regular_file(path, what)
    with open(path, "rb") as raw:       # opening may fail as any file would (permissions)
        try:
            return _read_members(raw, path, what, st.st_size, names, optional)
        except BadFileError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError,
                NotImplementedError, UnicodeDecodeError, SyntaxError, tokenize.TokenError, KeyError, TypeError,
                OverflowError, MemoryError, RuntimeError) as e:   # all a tampered archive or header
                # gives (numpy tokenizes a header it must repair; zipfile refuses a member flagged encrypted)
            raise BadFileError("%s: %s is not a readable .npz (%s: %s)" % (what, path, type(e).__name__, e),
                               path) from None


def _read_members(raw, path, what, size, names, optional):
    out = {}
    with zipfile.ZipFile(raw) as zf:
        infos = {}
        for info in zf.infolist():
            infos.setdefault(info.filename, info)
        for name in list(names) + list(optional):
            info = infos.get(name + ".npy")
            if info is None:
                if name in optional:
                    continue
                raise BadFileError("%s: %s has no member %r (it has %s)"
                                   % (what, path, name, ", ".join(sorted(n[:-4] for n in infos)) or "none"), path)
            where = "%s: %s, member %r" % (what, path, name)
            ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_RATIO
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise BadFileError("%s: compression method %d is not one numpy writes" % (where, info.compress_type),
                                   path)
            if info.compress_size > size or info.file_size > ratio * info.compress_size + 64:
                raise BadFileError("%s: claims %d bytes, more than the %d-byte file can hold"
                                   % (where, info.file_size, size), path)
            shape, dtype, header = _member_header(zf, info, where)
            if dtype.hasobject or dtype.kind not in "biufcU" or dtype.fields is not None:
                raise BadFileError("%s: dtype %s is not a plain numeric or text type" % (where, dtype), path)
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if header + nbytes != info.file_size:
                raise BadFileError("%s: the header says shape %s of %s (%d bytes), the member holds %d"
                                   % (where, shape, dtype, nbytes, info.file_size - header), path)
            with zf.open(info) as f:
                out[name] = np.lib.format.read_array(f, allow_pickle=False)
                if f.read(1):
                    raise BadFileError("%s: bytes after the array" % where, path)
    return out


def text_member(arrays, name, what, path):
    """A 0-d unicode member (JSON kept inside an .npz) as str."""
    a = arrays[name]
    if a.shape != () or a.dtype.kind != "U":
        raise BadFileError("%s: %s: member %r is not a text scalar" % (what, path, name), path)
    return str(a)


def finite_array(value, what, path, shape=None, dtype=None):
    """``value`` as an array of ``shape`` with only finite numbers, or BadFileError."""
    a = np.asarray(value)
    if shape is not None and a.shape != tuple(shape):
        raise BadFileError("%s: %s has shape %s, expected %s" % (path, what, a.shape, tuple(shape)), path)
    if dtype is not None and a.dtype != dtype:
        raise BadFileError("%s: %s is %s, expected %s" % (path, what, a.dtype, np.dtype(dtype)), path)
    if a.dtype.kind not in "biuf":
        raise BadFileError("%s: %s does not hold real numbers (dtype %s)" % (path, what, a.dtype), path)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise BadFileError("%s: %s holds NaN or infinite values" % (path, what), path)
    return a


# --------------------------------------------------------------------------- writing

def check_writable(path, what):
    """Fail now, naming ``path``, when a file cannot be saved there: before training, not
    after.  Tries what a save does (a temporary file in the target's folder), so a
    read-only disk, /proc or a folder without write permission is found, even as root.
    Raises an OSError (FileNotFoundError, PermissionError, IsADirectoryError, ...)."""
    if path is None:
        return
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "%s: cannot save to %s, it is a folder" % (what, path), path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "%s: cannot save to %s, there is no folder %s"
                                % (what, path, folder), path)
    try:
        _atomic.probe(path)
    except OSError as e:
        raise OSError(e.errno, "%s: cannot save to %s (%s)" % (what, path, e.strerror or e), path) from None
