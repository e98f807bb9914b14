"""fastnn's layers as ONNX nodes (opset 18): one converter per layer class, in inference
form (dropout and noise layers are the identity, BatchNormalization uses its moving
statistics).

A converter is ``convert(g, layer, x, shape)``: `g` the GraphBuilder, `x` the input
tensor's name (a list of names for a merging layer), `shape` one sample's input shape
(a list of them); it returns the output tensor's name.
"""
import numpy

from fastnn import layers as L
from fastnn.models.graph import GraphLayer
from fastnn.onnx import _activations
from fastnn.onnx._quantized import quantized_dense

# methods through which a subclass computes its output in its own Python: such a layer
# is a user's code, which a graph of ONNX ops cannot hold (a `backward` of its own
# changes training only, not the exported inference)
_OWN_CODE = ("forward", "forward_many", "call", "__call__")


def _weights(layer):
    return dict(zip(layer.weight_names, layer.get_weights()))


def _dense(g, layer, x, shape):
    w = _weights(layer)
    inputs = [x, g.weight("kernel", w["kernel"])]
    if layer.use_bias:
        inputs.append(g.weight("bias", w["bias"]))
    return _activations.convert(g, layer.activation, g.node("Gemm", inputs))


def _activation(g, layer, x, shape):
    return _activations.convert(g, layer.activation, x)


def _identity(g, layer, x, shape):
    return x


def _flatten(g, layer, x, shape):
    return g.node("Flatten", [x], [("axis", 1)])


def _reshape(g, layer, x, shape):
    target = [0] + list(layer.compute_output_shape(tuple(shape)))   # 0: keep the batch
    return g.node("Reshape", [x, g.ints(target)])


def _affine(g, layer, xhat, w):
    """xhat * gamma + beta, each where the layer has it, broadcast over its axis."""
    if layer.scale:
        xhat = g.node("Mul", [xhat, g.weight("gamma", w["gamma"].reshape(layer._bshape))])
    if layer.center:
        xhat = g.node("Add", [xhat, g.weight("beta", w["beta"].reshape(layer._bshape))])
    return xhat


def _batch_normalization(g, layer, x, shape):
    w = _weights(layer)
    mean, var = w["moving_mean"], w["moving_variance"]
    if layer._ax == 1 and g.dtype == numpy.float32:
        # ONNX's op: channels on axis 1, epsilon a float attribute (exact in float32)
        n = mean.shape
        scale = w["gamma"] if layer.scale else numpy.ones(n)
        bias = w["beta"] if layer.center else numpy.zeros(n)
        return g.node("BatchNormalization",
                      [x, g.weight("gamma", scale), g.weight("beta", bias),
                       g.weight("moving_mean", mean), g.weight("moving_variance", var)],
                      [("epsilon", layer.epsilon)])
    # (x - mean) * (1 / sqrt(var + epsilon)), the reciprocal taken as fastnn takes it
    inv = (1.0 / numpy.sqrt(var.astype(g.dtype) + layer.epsilon)).reshape(layer._bshape)
    centred = g.node("Sub", [x, g.weight("moving_mean", mean.reshape(layer._bshape))])
    return _affine(g, layer, g.node("Mul", [centred, g.weight("inv_std", inv)]), w)


def _layer_normalization(g, layer, x, shape):
    w = _weights(layer)
    last = layer._ax == len(shape)
    if last and g.dtype == numpy.float32:
        # ONNX's op normalizes the axes from `axis` to the last: here the last alone
        scale = w["gamma"] if layer.scale else numpy.ones(shape[-1])
        inputs = [x, g.weight("gamma", scale)]
        if layer.center:
            inputs.append(g.weight("beta", w["beta"]))
        return g.node("LayerNormalization", inputs,
                      [("axis", -1), ("epsilon", layer.epsilon)])
    axes = g.ints([layer._ax])
    centred = g.node("Sub", [x, g.node("ReduceMean", [x, axes], [("keepdims", 1)])])
    var = g.node("ReduceMean", [g.node("Mul", [centred, centred]), axes], [("keepdims", 1)])
    inv = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [var,
                                                               g.const(layer.epsilon)])])])
    return _affine(g, layer, g.node("Mul", [centred, inv]), w)


def _normalization(g, layer, x, shape):
    from fastnn.backend import get_backend
    from fastnn.config import epsilon
    # the statistics given or adapted; the floor on the deviation is fastnn's epsilon at
    # the time of export
    mean, var = (numpy.asarray(get_backend().to_numpy(a), dtype=g.dtype)
                 for a in (layer.mean, layer.variance))
    std = numpy.maximum(numpy.sqrt(var), epsilon()).astype(g.dtype)
    mean = g.weight("mean", mean.reshape(layer._bshape))
    std = g.weight("std", std.reshape(layer._bshape))
    if layer.invert:
        return g.node("Add", [mean, g.node("Mul", [x, std])])
    return g.node("Div", [g.node("Sub", [x, mean]), std])


def _rescaling(g, layer, x, shape):
    out = g.node("Mul", [x, g.const(layer.scale)])
    return g.node("Add", [out, g.const(layer.offset)]) if layer.offset else out


def _prelu(g, layer, x, shape):
    return g.node("PRelu", [x, g.weight("alpha", _weights(layer)["alpha"])])


def _concatenate(g, layer, xs, shapes):
    return g.node("Concat", xs, [("axis", -1)])


def _add(g, layer, xs, shapes):
    return g.node("Sum", xs)


def _graph_layer(g, layer, x, shape):
    """A graph model used as a layer: its input is the graph's inputs side by side in
    one row per sample (fastnn.models.graph), split here into them."""
    widths = [int(numpy.prod(t.shape[1:])) for t in layer.inputs]
    parts = [x] if len(widths) == 1 else g.node(
        "Split", [x, g.ints(widths)], [("axis", 1)], outputs=len(widths))
    inputs = []
    for part, t in zip(parts, layer.inputs):
        if len(t.shape) > 2:
            part = g.node("Reshape", [part, g.ints([0] + list(t.shape[1:]))])
        inputs.append(part)
    return convert_graph(g, layer, inputs)


def convert_graph(g, graph_layer, inputs):
    """The nodes of a GraphLayer's layers, its inputs the tensors named `inputs`;
    returns the output's name."""
    values = {id(t): name for t, name in zip(graph_layer.inputs, inputs)}
    for layer, ins, out in graph_layer.nodes:
        args = [values[id(t)] for t in ins]
        shapes = [tuple(t.shape[1:]) for t in ins]
        many = getattr(layer, "takes_list", False)
        values[id(out)] = convert_layer(g, layer, args if many else args[0],
                                        shapes if many else shapes[0])
    return values[id(graph_layer.output)]


CONVERTERS = {
    L.Dense: _dense, L.Activation: _activation, L.Dropout: _identity,
    L.GaussianNoise: _identity, L.GaussianDropout: _identity, L.AlphaDropout: _identity,
    L.Flatten: _flatten, L.Reshape: _reshape, L.BatchNormalization: _batch_normalization,
    L.LayerNormalization: _layer_normalization, L.Normalization: _normalization,
    L.Rescaling: _rescaling, L.PReLU: _prelu, L.Concatenate: _concatenate, L.Add: _add,
    GraphLayer: _graph_layer, L.QuantizedDense: quantized_dense,
}


def converter(layer):
    """The converter of `layer`'s class (or of the fastnn class it extends without
    computing anything itself); a ValueError naming the layer where there is none."""
    mro = type(layer).__mro__
    for depth, cls in enumerate(mro):
        if cls in CONVERTERS:
            own = [f"{c.__name__}.{m}" for c in mro[:depth] for m in _OWN_CODE
                   if m in vars(c)]
            if not own:
                return CONVERTERS[cls]
            why = f"it extends {cls.__name__} with its own Python ({', '.join(own)})"
            break
    else:
        why = "it is not one of fastnn's layers"
    names = sorted(c.__name__ for c in CONVERTERS if c is not GraphLayer)
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) cannot be exported "
                     f"to ONNX: {why}, and an ONNX graph holds only fastnn's built-in "
                     f"layers: {', '.join(names)}")


def convert_layer(g, layer, x, shape):
    """The nodes of `layer` (scoped by its name) on tensor(s) `x` of one sample's
    `shape`; returns the output's name."""
    convert = converter(layer)
    policy = getattr(layer, "dtype_policy", None)
    if policy is not None and policy.compute_dtype != policy.variable_dtype:
        raise ValueError(f"layer {layer.name!r} computes in {policy.compute_dtype} (dtype "
                         f"policy {policy.name!r}); ONNX export writes float32 and float64 "
                         f"graphs only: export the model before quantizing it or setting "
                         f"a mixed-precision policy")
    outer, g.scope = g.scope, layer.name
    try:
        return convert(g, layer, x, shape)
    finally:
        g.scope = outer
