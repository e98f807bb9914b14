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


class KerasArchive(_archive.Archive):
    """A ``.keras`` file opened for validated reads (use as a context manager): the reads
    of fastnn's own model file (fastnn.saving.archive.Archive) on Keras' members."""

    def _check_names(self, names):
        for name in names:
            if name not in (CONFIG, METADATA, WEIGHTS):
                raise FormatError(
                    f"it holds the member {name!r}; a Keras model file of the layers "
                    f"fastnn has holds only {CONFIG}, {METADATA} and {WEIGHTS} (assets "
                    f"and .npz weights are not supported)")
        for name in (CONFIG, WEIGHTS):
            if name not in names:
                raise FormatError(f"member {name!r} is missing")

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


def write(path, metadata, config, weights):
    """Write the ``.keras`` zip of the JSON-safe `metadata` and `config` and the bytes
    of `weights` (model.weights.h5) to `path`, atomically."""
    _archive.write_atomic(path, {
        METADATA: json.dumps(metadata).encode(),
        CONFIG: json.dumps(config, allow_nan=False).encode(),
        WEIGHTS: weights})
