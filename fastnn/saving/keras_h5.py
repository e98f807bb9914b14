"""The HDF5 half of a Keras 3 file (``model.weights.h5`` inside a ``.keras`` archive, or
a ``.weights.h5`` file), read defensively and written as Keras 3 writes it.

Keras keeps each object's variables as datasets ``0``, ``1``, ... of a group
``<path>/vars`` (``layers/dense/vars/0``; the model's own ``vars`` at the root), the
group carrying the object's name as its ``name`` attribute.

Before any data is read, the whole file is walked once: every link must be a hard
link (no soft or external links), every object a group or a dataset, every dataset
contiguous or chunked in the file itself (no external or virtual storage) with a
numeric dtype (no references, strings, compound or variable-length types), and every
attribute free of references. A dataset is read only when its shape and dtype are the
ones the architecture implies, so its size is known before it is read.
"""
import io

import numpy

from fastnn.saving.archive import FormatError

# bounds on the walk of a hostile file (a model of fastnn's layers has far fewer)
MAX_OBJECTS = 100_000
MAX_DEPTH = 32
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def require_h5py():
    """The h5py module, or an ImportError naming the extra that installs it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("reading and writing Keras files (.keras, .weights.h5) needs "
                          "h5py: pip install fastnn[keras]") from None
    return h5py


# ---------------------------------------------------------------------------- reading
class WeightStore:
    """A Keras HDF5 weights file opened for validated reads: `array(path, shape)` gives
    dataset ``<path>/vars/<i>`` after checking its shape and dtype."""

    def __init__(self, data):
        h5py = require_h5py()
        if not data.startswith(_HDF5_SIGNATURE):
            raise FormatError("its weights are not an HDF5 file (bad signature)")
        try:
            self._file = h5py.File(io.BytesIO(data), "r")
        except (OSError, ValueError, RuntimeError) as exc:
            raise FormatError(f"its weights are not a readable HDF5 file ({exc})") from None
        try:
            self.datasets, self._objects = {}, 0
            self._walk(h5py, self._file, "", 0)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the HDF5 file."""
        self._file.close()

    def _walk(self, h5py, group, prefix, depth):
        if depth > MAX_DEPTH:
            raise FormatError(f"its HDF5 groups nest deeper than {MAX_DEPTH} levels")
        _check_attrs(h5py, group, prefix or "/")
        for name in group:
            path = f"{prefix}{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise FormatError(f"HDF5 object {path!r} is a {type(link).__name__} (only "
                                  f"hard links are allowed)")
            kind = group.get(name, getclass=True)
            if kind is h5py.Group:
                self._count(path)
                self._walk(h5py, group[name], path + "/", depth + 1)
            elif kind is h5py.Dataset:
                self._count(path)
                dataset = group[name]
                _check_dataset(h5py, dataset, path)
                self.datasets[path] = dataset
            else:
                raise FormatError(f"HDF5 object {path!r} is a "
                                  f"{getattr(kind, '__name__', kind)} (only groups and "
                                  f"datasets are allowed)")

    def _count(self, path):
        self._objects += 1
        if self._objects > MAX_OBJECTS:
            raise FormatError(f"its HDF5 file holds more than {MAX_OBJECTS} objects")

    def names(self, path):
        """The dataset names under ``<path>/vars`` ('' for the root's own vars)."""
        group = f"{path}/vars/" if path else "vars/"
        return sorted(p[len(group):] for p in self.datasets if p.startswith(group)
                      and "/" not in p[len(group):])

    def array(self, path, index, shape, kinds="f"):
        """Dataset ``<path>/vars/<index>`` as a NumPy array: it must have exactly `shape`
        and a dtype of one of `kinds` ('f' float, 'i' integer)."""
        where = f"{path}/vars/{index}" if path else f"vars/{index}"
        dataset = self.datasets.get(where)
        if dataset is None:
            raise FormatError(f"its HDF5 dataset {where!r} is missing")
        if tuple(dataset.shape) != tuple(shape):
            raise FormatError(f"HDF5 dataset {where!r} must have shape {tuple(shape)}; got "
                              f"{tuple(dataset.shape)}")
        if dataset.dtype.kind not in kinds:
            wanted = " or ".join({"f": "floating-point", "i": "integer"}[k] for k in kinds)
            raise FormatError(f"HDF5 dataset {where!r} must hold {wanted} values; got "
                              f"dtype {dataset.dtype}")
        try:
            return numpy.asarray(dataset[()])
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            raise FormatError(f"HDF5 dataset {where!r} cannot be read ({exc})") from None


def _check_dataset(h5py, dataset, path):
    dtype = dataset.dtype
    if dtype.kind not in "fiu" or dtype.fields is not None or dtype.subdtype is not None \
            or h5py.check_dtype(ref=dtype) is not None or h5py.check_dtype(vlen=dtype):
        raise FormatError(f"HDF5 dataset {path!r} has dtype {dtype}: only numeric values "
                          f"are allowed (no references, strings or compound types)")
    if dataset.external:
        raise FormatError(f"HDF5 dataset {path!r} keeps its data in external files")
    if dataset.is_virtual:
        raise FormatError(f"HDF5 dataset {path!r} is a virtual dataset")
    if dataset.shape is None:
        raise FormatError(f"HDF5 dataset {path!r} has no shape (an empty dataspace)")
    _check_attrs(h5py, dataset, path)


def _check_attrs(h5py, obj, path):
    for name in obj.attrs:
        dtype = obj.attrs.get_id(name).dtype
        if h5py.check_dtype(ref=dtype) is not None or dtype.fields is not None \
                and any(h5py.check_dtype(ref=f[0]) is not None
                        for f in dtype.fields.values()):
            raise FormatError(f"HDF5 attribute {name!r} of {path!r} holds object or "
                              f"region references")


# ---------------------------------------------------------------------------- writing
class WeightWriter:
    """Builds a Keras HDF5 weights file in memory: `add(path, name, arrays)` creates the
    group ``<path>/vars`` (attribute ``name``) with datasets ``0``, ``1``, ..."""

    def __init__(self):
        h5py = require_h5py()
        self._buffer = io.BytesIO()
        self._file = h5py.File(self._buffer, "w")

    def add(self, path, name, arrays):
        """Write one object's variables (NumPy arrays) under ``<path>/vars``."""
        group = self._file.create_group(f"{path}/vars" if path else "vars")
        if name is not None:
            group.attrs["name"] = name
        for i, array in enumerate(arrays):
            group.create_dataset(str(i), data=numpy.asarray(array))

    def getvalue(self):
        """The bytes of the finished file (closes it)."""
        self._file.close()
        return self._buffer.getvalue()
