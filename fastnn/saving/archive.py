"""The container of a model file: a zip of JSON and .npy members, written atomically and
read defensively (sizes checked before reading, no pickle, nothing extracted to disk)."""
import io
import json
import os
import re
import stat
import tempfile
import zipfile
import zlib

import numpy
from numpy.lib import format as npy_format

# Bounds checked against the sizes a zip declares, before anything is decompressed.
MAX_JSON_BYTES = 16 * 2 ** 20
MAX_NPY_HEADER = 64 * 2 ** 10
# how much a deflated member may expand (deflate itself cannot exceed about 1032:1)
MAX_EXPANSION = 1100
_MEMBER = re.compile(r"\A(?:fastnn\.json|model\.json|(?:weights|optimizer)/[0-9]{4,9}\.npy)\Z")
_DTYPES = {"float32": numpy.dtype("<f4"), "float64": numpy.dtype("<f8"),
           "int8": numpy.dtype("i1")}   # a quantized layer's kernel


class FormatError(ValueError):
    """A fault in a model file; `load` turns it into a ValueError naming the file."""


# What zipfile and zlib raise on a damaged archive: a bad header, a truncated member, a
# corrupt deflate stream, an unsupported zip version or compression method.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
              NotImplementedError, zlib.error, OverflowError, KeyError)


# ---------------------------------------------------------------------------- writing
def npy_bytes(array):
    """`array` as the bytes of a .npy file (little-endian, C order, no pickle)."""
    buf = io.BytesIO()
    arr = numpy.ascontiguousarray(array)
    numpy.save(buf, arr.astype(arr.dtype.newbyteorder("<"), copy=False), allow_pickle=False)
    return buf.getvalue()


def _write_member(zf, name, data):
    compress = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
    zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                compress_type=compress)


def archive_bytes(members):
    """The zip holding `members` ({name: bytes}, in order) as bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            _write_member(zf, name, data)
    return buf.getvalue()


def write_atomic(path, members):
    """Write the zip of `members` to `path` atomically (see `replace_atomic`)."""
    def write(f):
        with zipfile.ZipFile(f, "w") as zf:
            for name, data in members.items():
                _write_member(zf, name, data)
    replace_atomic(path, write)


def replace_atomic(path, write):
    """Write a file at `path` with `write(f)` (f: a binary file object) so that `path`
    holds either its previous content or the complete new file, never a partial one:
    the file is written to a temporary file in the same directory, flushed to disk, then
    renamed over `path`, with the permissions of the file it replaces (0o644 for a new
    one)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    # makes the rename itself durable; not possible on every platform
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- reading
class Archive:
    """A model file opened for validated reads (use as a context manager).

    Subclasses for other zip formats override `_check_names`; the reads (sizes checked
    before anything is decompressed, JSON parsed with bounded integers) are shared."""

    def __init__(self, source):
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes)
                                        else source)
        except ZIP_ERRORS as exc:
            raise FormatError(f"it is not a readable zip archive ({exc})") from None
        names = [info.filename for info in self._zip.infolist()]
        try:
            self._check_names(names)
            if len(set(names)) != len(names):
                raise FormatError("it holds duplicate member names")
        except FormatError:
            self.close()
            raise
        self.names = set(names)

    def _check_names(self, names):
        """A FormatError unless each of `names` (the members, in order) belongs in a
        model file."""
        for name in names:
            if not _MEMBER.match(name):
                raise FormatError(f"it holds an unexpected member {name!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the underlying zip."""
        self._zip.close()

    def read(self, name, limit):
        """The bytes of member `name`, at most `limit` of them (checked first, as is the
        ratio of a deflated member's size to its compressed size)."""
        if name not in self.names:
            raise FormatError(f"member {name!r} is missing")
        info = self._zip.getinfo(name)
        size = info.file_size
        if size > limit:
            raise FormatError(f"member {name!r} declares {size} bytes; at most {limit} "
                              f"are allowed")
        if info.compress_type != zipfile.ZIP_STORED and \
                size > MAX_EXPANSION * max(info.compress_size, 1):
            raise FormatError(f"member {name!r} declares {size} bytes from "
                              f"{info.compress_size} compressed ones (a zip bomb)")
        try:
            data = self._zip.read(name)
        except ZIP_ERRORS as exc:
            raise FormatError(f"member {name!r} is corrupted ({type(exc).__name__}: "
                              f"{exc})") from None
        if len(data) != size:
            raise FormatError(f"member {name!r} holds {len(data)} bytes; its entry "
                              f"declares {size}")
        return data

    def json(self, name):
        """A JSON member (an object), parsed with bounded integers and no NaN."""
        return parse_json(self.read(name, MAX_JSON_BYTES), name)

    def array(self, name, shape, dtype):
        """An .npy member that must have exactly `shape` and `dtype` ('float32' or
        'float64'); its header is checked before the data is read."""
        expected = _DTYPES[dtype]
        nbytes = int(numpy.prod(shape, dtype=numpy.int64)) * expected.itemsize
        data = self.read(name, nbytes + MAX_NPY_HEADER)
        stream = io.BytesIO(data)
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                got_shape, fortran, got_dtype = npy_format.read_array_header_1_0(stream)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = npy_format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, TypeError, SyntaxError, OverflowError) as exc:
            raise FormatError(f"member {name!r} has an invalid .npy header ({exc})") from None
        if got_dtype.hasobject or got_dtype != expected:
            raise FormatError(f"member {name!r} must hold {dtype} (little-endian) values; "
                              f"got dtype {got_dtype}")
        if tuple(got_shape) != tuple(shape) or fortran:
            raise FormatError(f"member {name!r} must have shape {tuple(shape)} in C order; "
                              f"got shape {tuple(got_shape)}"
                              + (" in Fortran order" if fortran else ""))
        if len(data) - stream.tell() != nbytes:
            raise FormatError(f"member {name!r} must hold {nbytes} bytes of data; got "
                              f"{len(data) - stream.tell()}")
        return numpy.load(io.BytesIO(data), allow_pickle=False)


def parse_json(data, name):
    """The JSON object in `data` (the bytes of member `name`), or a FormatError."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant,
                           parse_int=_bounded_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # too deep: the
        # decoder stops at the interpreter's recursion limit
        raise FormatError(f"member {name!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise FormatError(f"member {name!r} must hold a JSON object; got "
                          f"{type(value).__name__}")
    return value


def _reject_constant(token):
    raise ValueError(f"non-standard JSON constant {token}")


def _bounded_int(token):
    """A JSON integer of at most 20 digits (a model file holds no larger one): a huge
    literal is rejected instead of being converted, which takes quadratic time."""
    if len(token.lstrip("-")) > 20:
        raise ValueError(f"integer literal of {len(token)} digits")
    return int(token)

