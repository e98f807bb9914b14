"""The zip of a Keras 3 ``.keras`` file: ``metadata.json``, ``config.json`` and
``model.weights.h5``, read defensively (nothing else accepted, sizes checked before
anything is decompressed, nothing extracted to disk) and written atomically."""
import json
import zipfile

from fastnn.saving import archive as _archive
from fastnn.saving.archive import FormatError

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
# the weights of a model of fastnn's dense layers; a larger member is refused before
# it is decompressed
MAX_WEIGHTS_BYTES = 2 ** 32
# how much a deflated member may expand (deflate itself cannot exceed about 1032:1)
MAX_EXPANSION = 1100


class KerasArchive:
    """A ``.keras`` file opened for validated reads (use as a context manager)."""

    def __init__(self, source):
        try:
            self._zip = zipfile.ZipFile(source)
            infos = self._zip.infolist()
        except _archive.ZIP_ERRORS as exc:
            raise FormatError(f"it is not a readable zip archive ({exc})") from None
        names = [info.filename for info in infos]
        try:
            for name in names:
                if name not in (CONFIG, METADATA, WEIGHTS):
                    raise FormatError(
                        f"it holds the member {name!r}; a Keras model file of the layers "
                        f"fastnn has holds only {CONFIG}, {METADATA} and {WEIGHTS} (assets "
                        f"and .npz weights are not supported)")
            if len(set(names)) != len(names):
                raise FormatError("it holds duplicate member names")
            for name in (CONFIG, WEIGHTS):
                if name not in names:
                    raise FormatError(f"member {name!r} is missing")
        except FormatError:
            self.close()
            raise
        self.names = set(names)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the underlying zip."""
        self._zip.close()

    def read(self, name, limit):
        """The bytes of member `name`, at most `limit` of them (checked first)."""
        info = self._zip.getinfo(name)
        if info.file_size > limit:
            raise FormatError(f"member {name!r} declares {info.file_size} bytes; at most "
                              f"{limit} are allowed")
        if info.compress_type != zipfile.ZIP_STORED and \
                info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
            raise FormatError(f"member {name!r} declares {info.file_size} bytes from "
                              f"{info.compress_size} compressed ones (a zip bomb)")
        try:
            data = self._zip.read(name)
        except _archive.ZIP_ERRORS as exc:
            raise FormatError(f"member {name!r} is corrupted ({type(exc).__name__}: "
                              f"{exc})") from None
        if len(data) != info.file_size:
            raise FormatError(f"member {name!r} holds {len(data)} bytes; its entry declares "
                              f"{info.file_size}")
        return data

    def json(self, name):
        """A JSON member (an object), parsed with bounded integers and no NaN."""
        return parse_json(self.read(name, _archive.MAX_JSON_BYTES), name)

    def weights(self):
        """The bytes of ``model.weights.h5``."""
        return self.read(WEIGHTS, MAX_WEIGHTS_BYTES)


def holds_fastnn_file(filepath):
    """Whether `filepath` is a zip holding fastnn's own format (``fastnn.json``): a
    ``.keras`` file written by fastnn before it wrote Keras' format."""
    try:
        with zipfile.ZipFile(filepath) as zf:
            return "fastnn.json" in zf.namelist()
    except _archive.ZIP_ERRORS:
        return False


def parse_json(data, name):
    """The JSON object in `data` (bytes of member `name`), or a FormatError."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_archive._reject_constant,
                           parse_int=_archive._bounded_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"member {name!r} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise FormatError(f"member {name!r} must hold a JSON object; got "
                          f"{type(value).__name__}")
    return value


def write(path, metadata, config, weights):
    """Write the ``.keras`` zip of the JSON-safe `metadata` and `config` and the bytes
    of `weights` (model.weights.h5) to `path`, atomically."""
    _archive.write_atomic(path, {
        METADATA: json.dumps(metadata).encode(),
        CONFIG: json.dumps(config, allow_nan=False).encode(),
        WEIGHTS: weights})
