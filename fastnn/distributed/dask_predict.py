"""`model.predict` on a Dask array or DataFrame: the compiled predict mapped over its
blocks of rows, on whatever scheduler computes the result (Dask's threads by default,
or the workers of a `dask.distributed` Client: a LocalCluster or a remote scheduler).

The model travels as its model file's bytes (fastnn.saving, the format a model also
pickles through), held by one key of the graph on which every block's task depends:
Dask runs that key once and copies its value to each worker once, however many blocks
the worker predicts. Each process parses the bytes once too: the model is cached by
the SHA-256 of the bytes, so the blocks of one predict, and later predicts with the
same weights, reuse it. The bytes are taken when `predict` is called, so training the
model further before `.compute()` does not change the result.

Needs the `fastnn[dask]` extra (dask[array], distributed for a cluster).

Example:
    >>> import dask.array as da                                       # doctest: +SKIP
    >>> x = da.random.default_rng(0).random((1_000_000, 784), chunks=(100_000, 784))
    >>> probs = model.predict(x)            # a lazy dask.array.Array (1_000_000, 10)
    >>> probs[:5].compute()                 # only the first block is predicted
"""
import collections
import hashlib
import sys
import threading

import numpy

from fastnn import _validation

# Models parsed in this process, by the SHA-256 of their bytes (most recent last)
_MODELS = collections.OrderedDict()
_MODELS_LOCK = threading.Lock()
MAX_CACHED_MODELS = 4


def require_dask():
    """The `dask.array` module, or an ImportError naming the extra to install."""
    try:
        import dask.array
    except ImportError as exc:
        raise ImportError("predicting a Dask collection needs dask[array]: "
                          "pip install fastnn[dask]") from exc
    return dask.array


class ModelBytes:
    """A model as its file's bytes, with the function that rebuilds it (the pair its
    pickling uses) and their SHA-256, which names the model in each process's cache."""

    def __init__(self, model):
        self.load, (self.data,) = model.__reduce__()
        self.token = hashlib.sha256(self.data).hexdigest()

    def model(self):
        """The model of these bytes, parsed once per process."""
        with _MODELS_LOCK:
            model = _MODELS.get(self.token)
            if model is None:
                model = _MODELS[self.token] = self.load(self.data)
                while len(_MODELS) > MAX_CACHED_MODELS:
                    _MODELS.popitem(last=False)
            else:
                _MODELS.move_to_end(self.token)
        return model

    def __repr__(self):
        return f"<ModelBytes {self.token[:12]}, {len(self.data)} bytes>"


def task_threads():
    """fastnn's threads for one block's predict, or None to keep the process's count.
    Dask's local thread pool runs as many blocks at once as there are cores, so each
    gets its share of the count rather than the whole (which would oversubscribe the
    cores). A distributed worker is left to its own setting: its processes start with
    OMP_NUM_THREADS=1 (distributed's default), and each runs threads_per_worker tasks."""
    if threading.current_thread() is threading.main_thread():
        return None
    distributed = sys.modules.get("distributed")     # a worker has imported it
    if distributed is not None:
        try:
            distributed.get_worker()
            return None
        except ValueError:       # not in a distributed worker
            pass
    import dask
    import dask.system
    from fastnn._threads import get_num_threads
    pool = dask.config.get("num_workers", None) or dask.system.CPU_COUNT
    return max(1, get_num_threads() // pool)


def _predict_block(block, payload, batch_size, out_shape, dtype):
    """The outputs of one block of rows (run on a worker)."""
    if block.shape[0] == 0:
        return numpy.empty((0,) + out_shape, dtype)
    model, block = payload.model(), numpy.asarray(block)
    n_threads = task_threads()
    if n_threads is None:
        return model.predict(block, batch_size=batch_size, verbose=0)
    from fastnn._threads import threads
    with threads(n_threads):
        return model.predict(block, batch_size=batch_size, verbose=0)


def _as_array(x):
    """A Dask array of `x` (a Dask array, DataFrame or Series), else a TypeError. The
    type's attributes are looked at, since a Delayed object has any attribute."""
    kind = type(x)
    if hasattr(kind, "map_blocks") and hasattr(kind, "chunks"):
        return x
    if hasattr(kind, "to_dask_array"):
        # partition lengths stay unknown (NaN): counting them would read the frame
        return x.to_dask_array()
    raise TypeError(f"`x` must be a Dask array, DataFrame or Series to predict lazily; got "
                    f"{kind.__module__}.{kind.__name__}")


def _checked(model, x):
    """`x` with one chunk across each sample axis, checked against the model's input."""
    if x.dtype.kind not in _validation.NUMERIC_KINDS:
        raise TypeError(f"`x` must hold real numbers; got a Dask array of dtype {x.dtype}")
    shape = model.input_shape[1:] if model.built else model._declared_input_shape()
    if shape is not None and tuple(shape) == (1,) and x.ndim == 1:
        x = x[:, None]      # one feature per sample, as Keras expands
    _validation.sample_shape(x.shape, shape, "x", got="a Dask array of shape")
    if any(n > 1 for n in x.numblocks[1:]):
        x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    if not model.built:
        model.build((None,) + tuple(x.shape[1:]))
    return x


def _eager_arguments(callbacks, steps, batch_size):
    """`batch_size` checked, or a ValueError for the arguments of an eager loop."""
    if callbacks:
        raise ValueError("`callbacks` cannot be given when `x` is a Dask collection: "
                         "predict returns a lazy Dask array (follow its progress with "
                         "dask.diagnostics.ProgressBar or the distributed dashboard)")
    if steps is not None:
        raise ValueError("`steps` cannot be given when `x` is a Dask collection: slice "
                         "the Dask array instead (x[:n])")
    if batch_size is None:
        return None
    from fastnn import _validation
    return _validation.positive_int(batch_size, "batch_size")


def predict(model, x, batch_size=None, callbacks=None, steps=None):
    """`model`'s outputs for the Dask collection `x`, as a lazy Dask array.

    Args:
        model: a fastnn Sequential or functional Model.
        x: a Dask array (n_samples, n_features) — chunked along the samples; chunks
            across the features are joined — or a Dask DataFrame / Series (its
            partitions become row blocks of unknown length).
        batch_size: rows per forward call within a block (as `predict`'s).
        callbacks, steps: not supported (they belong to an eager loop); `verbose`
            does not apply either: nothing runs until the result is computed.

    Returns:
        A `dask.array.Array` (n_samples, n_outputs) of the model's dtype, chunked along
        the samples as `x`; block i holds `model.predict` of block i of `x`.

    Example:
        >>> out = model.predict(dask.array.ones((10_000, 784), chunks=2_500))  # doctest: +SKIP
        >>> out.compute().shape                                               # doctest: +SKIP
        (10000, 10)
    """
    require_dask()
    batch_size = _eager_arguments(callbacks, steps, batch_size)
    x = _checked(model, _as_array(x))
    import dask
    payload = ModelBytes(model)
    # one key for the model's bytes, named by them: each worker fetches it once
    shipped = dask.delayed(payload, name="fastnn-model-" + payload.token, pure=True)
    out_shape = tuple(model.output_shape[1:])
    dtype = numpy.dtype(model._dtype())
    out_ndim = 1 + len(out_shape)
    axes = {} if x.ndim == out_ndim else \
        {"drop_axis": list(range(out_ndim, x.ndim))} if x.ndim > out_ndim else \
        {"new_axis": list(range(x.ndim, out_ndim))}
    return x.map_blocks(_predict_block, shipped, batch_size, out_shape, dtype,
                        chunks=(x.chunks[0],) + tuple((n,) for n in out_shape),
                        dtype=dtype, meta=numpy.empty((0,) * out_ndim, dtype),
                        token="fastnn-predict", **axes)
