"""Symbolic tensors: what `Input(shape=...)` returns and what calling a layer on one
returns, as Keras' KerasTensor. They hold no data, only a shape, a dtype, a name and
the layer call that produced them, so that `fastnn.Model(inputs, outputs)` can read
the graph back."""


class KerasTensor:
    """A symbolic tensor of a functional graph.

    Attributes:
        shape: (None, *one sample's shape).
        dtype: 'float32', 'float64' or None (fastnn.config.floatx()).
        name: a name (the Input's name, or the producing layer's).
        layer: the layer that produced it (None for an Input).
        inputs: the symbolic tensors that layer was called on (empty for an Input).
        input_layer: for an Input, its InputLayer (None otherwise).
    """

    def __init__(self, shape, dtype=None, name=None, layer=None, inputs=(),
                 input_layer=None, batch_size=None):
        self.shape = (batch_size,) + tuple(shape)
        self.dtype = dtype
        self.name = name
        self.layer = layer
        self.inputs = tuple(inputs)
        self.input_layer = input_layer

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
                f"name={self.name!r}>")


def is_symbolic(x):
    """Whether `x` is a KerasTensor or a non-empty list/tuple of them."""
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(
        isinstance(t, KerasTensor) for t in x)


def call_symbolic(layer, x):
    """`layer` called on symbolic tensor(s) `x`: the layer built for their shapes and a
    new KerasTensor recording the call. A layer is called once per graph (shared layers
    are not supported)."""
    if getattr(layer, "_symbolic_output", None) is not None:
        raise ValueError(f"layer {layer.name!r} is already called in a graph; fastnn "
                         f"graphs use each layer once (shared layers are not supported)")
    many = isinstance(x, (list, tuple))
    tensors = tuple(x) if many else (x,)
    if many != bool(getattr(layer, "takes_list", False)):
        raise ValueError(f"layer {layer.name!r} takes "
                         f"{'a list of tensors' if not many else 'one tensor'}; got "
                         f"{'one tensor' if not many else f'{len(tensors)} tensors'}")
    shapes = [t.shape[1:] for t in tensors]
    arg = shapes if many else shapes[0]
    dtype = next((t.dtype for t in tensors if t.dtype is not None), None)
    if not layer.built:
        from fastnn import config
        with config.floatx_scope(dtype if layer.dtype is None else None):
            layer.build(arg)
    out = KerasTensor(layer.compute_output_shape(arg), dtype=dtype, name=layer.name,
                      layer=layer, inputs=tensors, batch_size=tensors[0].shape[0])
    layer._symbolic_output = out
    return out
