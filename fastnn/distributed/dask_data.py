"""Training data from a chunked array — a Dask array, or a Zarr, HDF5 (h5py) or xarray
array: anything with `shape`, `dtype`, `chunks` and row slicing — read a block of rows
at a time and never whole (fastnn.models.data_adapters.ArraySource uses it).

A block is a chunk of rows, cut into pieces of at most WINDOW_BYTES. Reading one is
``x[start:stop]`` (then ``.compute()`` where the slice is lazy, as a Dask array's is:
on the active scheduler, a distributed Client's workers included). The last block read
is kept, so in-order batches read each block once, and the block after it is read in a
thread meanwhile, so reading overlaps training.

Shuffling is the in-memory `fit`'s, as for a numpy.memmap: each epoch's permutation of
all the rows (fastnn.models.fit_data.epoch_order), so the batches, and the trained
weights, are those of the same data in memory, bit for bit. Since the rows of a batch
lie anywhere, the batches are read a window at a time: the rows of as many consecutive
batches as fit in WINDOW_BYTES, gathered in one pass over the blocks they fall in. A
shuffled epoch therefore reads the array about (array bytes / WINDOW_BYTES) times over;
where that is too slow, `persist()` the Dask array on a cluster, or pass `shuffle=False`
(one read per epoch) on data stored in random order. What is held at once is about two
blocks in order, and three windows' worth shuffled (the window being gathered, the one
whose batches are training, a block and the one read ahead). Targets and sample weights,
a value or a few per row, are read whole.
"""
import concurrent.futures

import numpy

# Bytes of rows held by a window of shuffled batches, and the most read as one block
WINDOW_BYTES = 64 * 2**20


def is_chunked(x):
    """Whether `x` is an array stored or computed in chunks, read by slices. The type's
    attributes are looked at, since a Dask Delayed object has any attribute."""
    kind = type(x)
    return not isinstance(x, numpy.ndarray) and \
        all(hasattr(kind, a) for a in ("chunks", "shape", "dtype", "__getitem__"))


def _row_chunks(x):
    """The sizes of `x`'s chunks along the rows, or None when not known (a contiguous
    HDF5 dataset, an xarray not backed by Dask)."""
    chunks = x.chunks
    first = chunks[0] if chunks else None
    if isinstance(first, tuple):         # Dask and xarray: the size of each chunk
        return [int(c) for c in first]
    if isinstance(first, (int, numpy.integer)) and first > 0:   # Zarr, HDF5: one size
        n, size = int(x.shape[0]), int(first)
        return [size] * (n // size) + ([n % size] if n % size else [])
    return None


def block_bounds(x, max_rows):
    """[0, ..., n_rows]: where each block of rows starts, and the end; a block is a
    chunk, or a piece of at most `max_rows` rows of one."""
    sizes = _row_chunks(x) or [int(x.shape[0])]
    bounds = [0]
    for size in sizes:
        pieces = -(-size // max_rows) if size else 0
        for i in range(pieces):
            bounds.append(bounds[-1] + min(max_rows, size - i * max_rows))
    return numpy.asarray(bounds, dtype=numpy.int64)


class ChunkedRows:
    """Rows of a chunked array `x`, read a block at a time (see the module's text)."""

    def __init__(self, x):
        self.x, self.n = x, int(x.shape[0])
        self.sample_shape = tuple(int(d) for d in x.shape[1:])
        row_bytes = numpy.dtype(x.dtype).itemsize * int(numpy.prod(self.sample_shape))
        self.window_rows = max(1, WINDOW_BYTES // max(row_bytes, 1))
        self.bounds = block_bounds(x, self.window_rows)
        self._last = (None, None)     # (block number, its rows)
        self._ahead = None            # (block number, the Future of its rows)
        self._reader = None

    def __repr__(self):
        return (f"<ChunkedRows of {type(self.x).__name__} {(self.n,) + self.sample_shape}, "
                f"{len(self.bounds) - 1} blocks>")

    def _read(self, k):
        part = self.x[int(self.bounds[k]):int(self.bounds[k + 1])]
        if hasattr(part, "compute"):
            part = part.compute()
        return numpy.asarray(part)

    def block(self, k):
        """The rows of block k as a NumPy array. The last block read is kept, and the
        next one is read meanwhile in a thread, while the batches of this one train."""
        if self._last[0] != k:
            self._last = (None, None)    # freed before the next block is read
            ahead, self._ahead = self._ahead, None
            rows = ahead[1].result() if ahead is not None and ahead[0] == k else self._read(k)
            if k + 2 < len(self.bounds):
                if self._reader is None:
                    self._reader = concurrent.futures.ThreadPoolExecutor(
                        1, thread_name_prefix="fastnn-chunk-reader")
                self._ahead = (k + 1, self._reader.submit(self._read, k + 1))
            self._last = (k, rows)
        return self._last[1]

    def _runs(self, rows):
        """(block, lo, hi) for each run rows[lo:hi] of ascending `rows` in one block."""
        blocks = numpy.searchsorted(self.bounds, rows, side="right") - 1
        cuts = (numpy.flatnonzero(numpy.diff(blocks)) + 1).tolist()
        return [(int(blocks[lo]), lo, hi) for lo, hi in zip([0] + cuts, cuts + [len(rows)])]

    def range(self, start, stop):
        """Rows start..stop-1: a view of a block where they lie in one, else a copy."""
        k = int(numpy.searchsorted(self.bounds, start, side="right") - 1)
        if stop <= self.bounds[k + 1]:
            return self.block(k)[start - self.bounds[k]:stop - self.bounds[k]]
        out = numpy.empty((stop - start,) + self.sample_shape, self.x.dtype)
        at = start
        while at < stop:
            k = int(numpy.searchsorted(self.bounds, at, side="right") - 1)
            end = min(stop, int(self.bounds[k + 1]))
            out[at - start:end - start] = self.block(k)[at - self.bounds[k]:end - self.bounds[k]]
            at = end
        return out

    def gather(self, rows):
        """The rows `rows` (any order) as a new array, each block read once."""
        place = numpy.argsort(rows, kind="stable")
        ascending = rows[place]
        out = numpy.empty((len(rows),) + self.sample_shape, self.x.dtype)
        for k, lo, hi in self._runs(ascending):
            out[place[lo:hi]] = self.block(k)[ascending[lo:hi] - self.bounds[k]]
        return out

    def batches(self, order, steps, batch_size):
        """(rows, x of those rows) for `steps` batches of `batch_size`: in order where
        `order` is None (rows a slice), else the batches of the permutation `order`
        (rows an index array), read a window of batches at a time."""
        if order is None:
            for s in range(steps):
                start, stop = s * batch_size, min((s + 1) * batch_size, self.n)
                yield slice(start, stop), self.range(start, stop)
            return
        per_window = max(1, self.window_rows // batch_size)
        for first in range(0, steps, per_window):
            last = min(steps, first + per_window)
            window = self.gather(order[first * batch_size:last * batch_size])
            self._last = (None, None)    # the window holds what the next one needs
            for s in range(first, last):
                at = (s - first) * batch_size
                yield order[s * batch_size:(s + 1) * batch_size], window[at:at + batch_size]
