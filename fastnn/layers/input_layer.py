"""The model's input, as ``keras.Input`` / ``keras.layers.InputLayer``: its shape only."""
from fastnn import _validation


class InputLayer:
    """The input of a model: the shape of one sample (and optionally the batch size).

    A `Sequential` whose first entry is an InputLayer (or `Input(...)`) knows its input
    shape at once, as with `input_shape=` on the first layer; it is not one of the
    model's `layers`, as in Keras 3.

    Args:
        shape: one sample's shape, e.g. (784,).
        batch_size: accepted for Keras compatibility (any batch size runs).
        dtype: 'float32' or 'float64' (None: fastnn.config.floatx()).
        batch_shape: (batch_size, *shape), instead of `shape` and `batch_size`.
        name: a name.

    Example:
        >>> from fastnn import layers, models
        >>> model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(2)])
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None,
                 batch_shape=None, name=None, ragged=None, optional=False,
                 input_tensor=None):
        if sparse or ragged:
            raise ValueError("`sparse` and `ragged` inputs are not supported: fastnn "
                             "takes dense arrays")
        if input_tensor is not None:
            raise ValueError("`input_tensor` is not supported: give `shape`")
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("give `shape` or `batch_shape`, not both")
            batch_shape = tuple(batch_shape) if isinstance(batch_shape, (tuple, list)) \
                else batch_shape
            if not isinstance(batch_shape, tuple) or len(batch_shape) < 2:
                raise ValueError(f"`batch_shape` must be a tuple (batch_size, *shape); got "
                                 f"{batch_shape!r}")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError("`shape` must be given, e.g. Input(shape=(784,))")
        self.shape_per_sample = _validation.shape(shape, "shape")
        self.batch_size = None if batch_size is None else _validation.positive_int(
            batch_size, "batch_size")
        if dtype is not None and str(dtype) not in ("float32", "float64"):
            raise ValueError(f"`dtype` must be 'float32' or 'float64'; got {dtype!r}")
        self.dtype = None if dtype is None else str(dtype)
        self.name = name or "input_layer"

    @property
    def shape(self):
        """(batch_size, *shape), the batch size None unless given, as in Keras."""
        return (self.batch_size,) + self.shape_per_sample

    def __repr__(self):
        return f"<InputLayer shape={self.shape} name={self.name!r}>"


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """The input of a model, as ``keras.Input(shape=...)``: a symbolic tensor
    (fastnn.layers.symbolic.KerasTensor, with `.shape` (None, *shape)) to call layers on
    for a functional `fastnn.Model`, or to open a `Sequential` with.

    Example:
        >>> from fastnn import layers, models
        >>> model = models.Sequential([layers.Input(shape=(8,)), layers.Dense(1)])
    """
    from fastnn.layers.symbolic import KerasTensor
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional)
    if name is None:
        from fastnn.layers.base import _unique_name
        layer.name = _unique_name("input_layer")
    return KerasTensor(layer.shape_per_sample, dtype=layer.dtype, name=layer.name,
                       input_layer=layer, batch_size=layer.batch_size)
