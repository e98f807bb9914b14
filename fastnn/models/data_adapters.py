"""What fit / evaluate / predict accept besides in-memory arrays, as Keras 3 does:
pandas objects (converted with `.to_numpy()`), generators and other iterables of
batches, PyDataset-like objects (`__len__` and `__getitem__(index)` giving a batch) and
arrays too large for memory (`numpy.memmap`, a chunked array such as a Dask, Zarr or
HDF5 one (see fastnn.distributed.dask_data), or any object with `shape`, `dtype` and
row indexing), read one batch at a time.

Sources here produce each epoch's raw batches; `Batches` checks and converts each one
to the arrays the executor takes. The loops over them are in fastnn.models.streaming.
"""
import mmap
import numbers
import os
import warnings

import numpy

from fastnn import _validation
from fastnn.models import fit_data

# What `kind` calls each input
ARRAY, LAZY, DATASET, ITERABLE = "array", "lazy", "dataset", "iterable"
STREAMS = (DATASET, ITERABLE)


def is_pandas(obj):
    """Whether `obj` is a pandas object (found by its module: pandas is never imported)."""
    return type(obj).__module__.partition(".")[0] == "pandas" and hasattr(obj, "to_numpy")


def unpandas(obj):
    """A pandas DataFrame or Series as a NumPy array; anything else unchanged."""
    return obj.to_numpy() if is_pandas(obj) else obj


def kind(x, name="x"):
    """ARRAY (in memory, or anything NumPy converts), LAZY (a numpy.memmap or another
    array-like read row by row), DATASET (PyDataset-like) or ITERABLE (a generator,
    iterator or other iterable of batches). Objects of none of these shapes that NumPy
    would loop over without end raise a TypeError."""
    if isinstance(x, numpy.memmap):
        return LAZY
    if x is None or isinstance(x, (numpy.ndarray, list, tuple, dict, set, frozenset, str,
                                   bytes, numbers.Number, numpy.generic)) or is_pandas(x):
        return ARRAY
    from fastnn.distributed import dask_data
    if dask_data.is_chunked(x):     # Dask, Zarr, HDF5: read a block of rows at a time
        return LAZY
    if any(hasattr(x, a) for a in ("__array__", "__array_interface__", "__array_struct__")):
        return ARRAY
    if hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__"):
        return LAZY
    if hasattr(x, "__len__") and hasattr(x, "__getitem__"):
        return DATASET
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        return ITERABLE
    if hasattr(x, "__getitem__"):
        raise TypeError(
            f"`{name}` must be an array, a pandas DataFrame, a generator or iterable of "
            f"batches, or a PyDataset-like object with `__len__` and `__getitem__`; got "
            f"{type(x).__name__}, which has `__getitem__` but no `__len__` (its number of "
            f"batches cannot be known)")
    return ARRAY


def counts(**values):
    """The positive integers (or None) given as keyword arguments, in order."""
    return [None if v is None else _validation.positive_int(v, k) for k, v in values.items()]


def is_streamed(x):
    """Whether `x` is read batch by batch (not converted to one array up front)."""
    return kind(x) != ARRAY


def _describe(x):
    return "a PyDataset" if kind(x) == DATASET else "a generator"


def reject_arguments(x, name="x", **given):
    """Keras' errors for arguments that batches carry themselves (y, sample_weight) or
    decide themselves (batch_size)."""
    for arg, value in given.items():
        if value is None:
            continue
        if arg == "batch_size":
            raise ValueError(f"`batch_size` must not be given when `{name}` is "
                             f"{_describe(x)}: each batch it yields has its own size")
        raise ValueError(f"`{arg}` must not be given when `{name}` is {_describe(x)}: "
                         f"its batches carry it, as (x, y) or (x, y, sample_weight)")


# ------------------------------------------------------------------ sources
class IterableSource:
    """Batches from a generator, iterator or other iterable. An iterator is one stream
    across epochs (an epoch takes `steps` batches of it, or all that are left); another
    iterable is iterated afresh each epoch."""

    def __init__(self, data, steps):
        self.data, self.steps = data, steps
        self._iterator = data if hasattr(data, "__next__") else None
        self.ran_out = False

    def epoch(self, epoch):
        it = self._iterator if self._iterator is not None else iter(self.data)
        done = 0
        while self.steps is None or done < self.steps:
            try:
                batch = next(it)
            except StopIteration:
                if self.steps is not None or done == 0:
                    self.ran_out = True
                return
            yield batch
            done += 1

    def end_epoch(self):
        pass


class DatasetSource:
    """Batches `data[0]`, `data[1]`, ... of a PyDataset-like object: `steps` of them per
    epoch (at most its length), then its `on_epoch_end()` where it has one."""

    def __init__(self, data, steps, name="x"):
        n = len(data)
        if n == 0:
            raise ValueError(f"`{name}` must hold at least one batch; got len() == 0")
        if steps is not None and steps > n:
            warnings.warn(f"{steps} steps asked of `{name}`, which has {n} batches: an epoch "
                          f"takes {n}", UserWarning, stacklevel=4)
        self.data, self.steps = data, n if steps is None else min(steps, n)
        self.ran_out = False

    def epoch(self, epoch):
        for i in range(self.steps):
            yield self.data[i]

    def end_epoch(self):
        hook = getattr(self.data, "on_epoch_end", None)
        if callable(hook):
            hook()


class ArraySource:
    """Batches of rows of arrays (x, y, w or None) where x may be larger than memory:
    each batch's rows are read from it alone, in ascending index order (for locality),
    and put in the epoch order's. A numpy.memmap's rows are read from its file (os.pread)
    rather than through the mapping, so what is read stays in the page cache and not in
    the process's resident memory: reading pages through a mapping keeps them resident
    (whole large folios at a time), however little of them is used."""

    def __init__(self, x, y, w, batch_size, shuffle=False, seed=0, steps=None):
        self.x, self.y, self.w = x, y, w
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        per_epoch = -(-len(x) // batch_size)
        self.steps = per_epoch if steps is None else min(steps, per_epoch)
        self.ran_out = False
        self._file = _file_layout(x)
        from fastnn.distributed import dask_data
        self._chunked = dask_data.ChunkedRows(x) if dask_data.is_chunked(x) else None

    def epoch(self, epoch):
        n, bs, x = len(self.x), self.batch_size, self.x
        order = fit_data.epoch_order(self.seed, epoch, n) if self.shuffle else None
        if self._chunked is not None:
            for rows, bx in self._chunked.batches(order, self.steps, bs):
                yield (bx, None if self.y is None else self.y[rows],
                       None if self.w is None else self.w[rows])
            return
        fd = None if self._file is None else os.open(self._file[0], os.O_RDONLY)
        try:
            for s in range(self.steps):
                if order is None:
                    rows = slice(s * bs, min((s + 1) * bs, n))
                    idx = numpy.arange(rows.start, rows.stop)
                    place = None
                else:
                    rows = idx = order[s * bs:(s + 1) * bs]
                    place = numpy.argsort(idx)
                bx = numpy.empty((len(idx),) + tuple(x.shape[1:]), x.dtype)
                if fd is not None:
                    _read_rows(fd, self._file, idx, place, bx)
                elif place is None:
                    bx[...] = x[rows]
                else:
                    bx[place] = x[idx[place]]
                yield (bx, None if self.y is None else self.y[rows],
                       None if self.w is None else self.w[rows])
        finally:
            if fd is not None:
                os.close(fd)

    def end_epoch(self):
        pass


def _file_layout(x):
    """(path, file position of row 0, bytes from one row to the next, bytes of a row)
    of a numpy.memmap whose rows are each contiguous in its file, else None."""
    mm, path = getattr(x, "_mmap", None), getattr(x, "filename", None)
    # a copy-on-write map's own writes are not in its file
    if not isinstance(x, numpy.memmap) or mm is None or not path or x.mode == "c" \
            or x.ndim < 2 or not len(x) or not x[0].flags.c_contiguous:
        return None
    try:
        mapped_at = numpy.frombuffer(mm, numpy.uint8, count=1).ctypes.data
    except (TypeError, ValueError):
        return None
    # the mapping starts at the allocation boundary at or below the array's offset
    map_start = x.offset - x.offset % mmap.ALLOCATIONGRANULARITY
    first = map_start + (x.__array_interface__["data"][0] - mapped_at)
    row_bytes = x.dtype.itemsize * int(numpy.prod(x.shape[1:], dtype=numpy.int64))
    if x.strides[0] < 0:
        return None
    return path, first, int(x.strides[0]), row_bytes


def _read_rows(fd, layout, idx, place, out):
    """Rows `idx` of the file's array into `out` (row j of out gets row idx[j]): one
    read for a run of consecutive rows in order, else one read per row, in ascending
    file order."""
    path, first, stride, row_bytes = layout
    buffer = memoryview(out.reshape(-1).view(numpy.uint8))
    if place is None and stride == row_bytes and len(idx) and idx[-1] - idx[0] == len(idx) - 1:
        reads = [(0, first + int(idx[0]) * stride, len(idx) * row_bytes)]
    else:
        srt, dest = (idx, range(len(idx))) if place is None else (idx[place], place.tolist())
        positions = (first + srt.astype(numpy.int64) * stride).tolist()
        reads = [(d * row_bytes, pos, row_bytes) for d, pos in zip(dest, positions)]
    preadv = os.preadv
    for at, pos, size in reads:
        if preadv(fd, [buffer[at:at + size]], pos) != size:
            raise ValueError(f"the file of `x` ({path}) is shorter than its shape says")


def source(x, steps, name="x"):
    """The source of batches of a generator / iterable or PyDataset-like `x`."""
    return DatasetSource(x, steps, name) if kind(x, name) == DATASET else \
        IterableSource(x, steps)


# ------------------------------------------------------------------ batches
class Batches:
    """Raw batches checked and converted for `model`: x as the model's dtype (building
    the model on the first), targets as its loss takes them, weights with class and
    loss weights applied. Each batch is named by its number in errors; a batch whose
    sample shape differs from the first's is an error naming both."""

    def __init__(self, model, name="x", targets=True, class_weight=None, arrays=False):
        self.model, self.name, self.targets = model, name, targets
        self.class_weight, self.arrays = class_weight, arrays
        self.shapes = {}
        self.index = 0

    def _items(self, batch, i):
        if not self.targets:
            if isinstance(batch, tuple):
                if not 1 <= len(batch) <= 3:
                    raise ValueError(f"batch {i} of `{self.name}` has {len(batch)} items; "
                                     f"a batch must be x, (x,), (x, y) or (x, y, "
                                     f"sample_weight)")
                return batch[0], None, None
            return batch, None, None
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            what = (f"has {len(batch)} items" if isinstance(batch, (tuple, list))
                    else f"is a {type(batch).__name__}, not a tuple")
            raise ValueError(f"batch {i} of `{self.name}` {what}; each batch must be a "
                             f"tuple (x, y) or (x, y, sample_weight)")
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None

    def _same_shape(self, part, value, i):
        shape = numpy.shape(value)
        first = self.shapes.setdefault(part, (i, shape))
        if first[1][1:] != shape[1:]:
            raise ValueError(f"batch {i} of `{self.name}` has {part} of shape {shape}, but "
                             f"batch {first[0]} had {part} of shape {first[1]}: every batch "
                             f"must have the same sample shape")

    def prepare(self, batch):
        """The batch (x, y, w) as the executor takes them (y and w None without
        targets). With `arrays`, y and w come prepared already (rows of whole arrays)."""
        i = self.index
        self.index += 1
        model = self.model
        if self.arrays:
            return (numpy.asarray(model._prepare_x(batch[0], self.name)),) + tuple(batch[1:])
        bx, by, bw = self._items(batch, i)
        if type(bx) is not numpy.ndarray or type(by) is not numpy.ndarray:
            bx, by, bw = unpandas(bx), unpandas(by), unpandas(bw)
        elif bw is not None:
            bw = unpandas(bw)
        self._same_shape("x", bx, i)
        bx = numpy.asarray(model._prepare_x(bx, f"x of batch {i} of `{self.name}`"))
        if not self.targets:
            return bx, None, None
        self._same_shape("y", by, i)
        by = numpy.asarray(model._prepare_y(by, len(bx), f"y of batch {i} of `{self.name}`"))
        dtype = model._dtype()
        if bw is not None:
            bw = _validation.sample_weights(
                bw, len(bx), dtype, f"sample_weight of batch {i} of `{self.name}`")
        bw = fit_data.apply_class_weight(self.class_weight, by, bw, dtype)
        return bx, by, model._loss_weights(bw, len(bx))

    def __call__(self, raw):
        for batch in raw:
            yield self.prepare(batch)

