"""fastnn's activation functions as ONNX nodes (opset 18), one converter per row of
fastnn/_codes.py's ACTIVATIONS.

Where ONNX has the function as one op (Relu, LeakyRelu, Elu, Selu, Sigmoid, HardSigmoid,
Tanh, Softplus, Softsign, Softmax, LogSoftmax) that op is used, unless its parameter is a
`float` attribute that cannot hold the value exactly in a float64 graph (0.2, selu's
constants, 1/6): then the function is written out of elementary ops on constants of the
graph's dtype, so that a float64 model keeps float64 accuracy. gelu (the Gelu op came
with opset 20) is written with Erf in float32 and with fastnn.onnx._erfc in float64;
silu as x * Sigmoid(x); softplus in float64 as fastnn computes it.
"""
import math

import numpy

from fastnn.onnx import _erfc

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _attribute_exact(g, value):
    """Whether a float attribute (32 bits) holds `value` as the graph computes it: in a
    float32 graph always, in a float64 one only where float32 represents it exactly."""
    return g.dtype == numpy.float32 or float(numpy.float32(value)) == float(value)


def _positive_part_or(g, x, negative):
    """x where x > 0, else the tensor `negative` (fastnn's `z > 0 ? z : ...`)."""
    return g.node("Where", [g.node("Greater", [x, g.const(0)]), x, negative])


def _expm1(g, x):
    return g.node("Sub", [g.node("Exp", [x]), g.const(1)])


def _leaky_relu(g, x, p):
    if _attribute_exact(g, p):
        return g.node("LeakyRelu", [x], [("alpha", p)])
    return _positive_part_or(g, x, g.node("Mul", [x, g.const(p)]))


def _elu(g, x, p):
    if _attribute_exact(g, p):
        return g.node("Elu", [x], [("alpha", p)])
    return _positive_part_or(g, x, g.node("Mul", [_expm1(g, x), g.const(p)]))


def _selu(g, x, p):
    if _attribute_exact(g, SELU_ALPHA) and _attribute_exact(g, SELU_SCALE):
        return g.node("Selu", [x], [("alpha", SELU_ALPHA), ("gamma", SELU_SCALE)])
    inner = _positive_part_or(g, x, g.node("Mul", [_expm1(g, x), g.const(SELU_ALPHA)]))
    return g.node("Mul", [inner, g.const(SELU_SCALE)])


def _gelu(g, x, p):
    """0.5 x erfc(-x / sqrt(2)), the exact gelu fastnn computes: with ONNX's Erf as
    0.5 x (1 + erf(x / sqrt(2))) in float32, with fastnn.onnx._erfc in float64."""
    half_x = g.node("Mul", [x, g.const(0.5)])
    if g.dtype != numpy.float32:
        return g.node("Mul", [half_x, _erfc.erfc(g, g.node("Mul", [x, g.const(
            -math.sqrt(0.5))]))])
    erf = g.node("Erf", [g.node("Mul", [x, g.const(math.sqrt(0.5))])])
    return g.node("Mul", [half_x, g.node("Add", [erf, g.const(1)])])


def _silu(g, x, p):
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _hard_sigmoid(g, x, p):
    """clip(x / 6 + 1/2, 0, 1), Keras 3's hard_sigmoid."""
    if _attribute_exact(g, 1 / 6):
        return g.node("HardSigmoid", [x], [("alpha", 1 / 6), ("beta", 0.5)])
    shifted = g.node("Add", [g.node("Div", [x, g.const(6)]), g.const(0.5)])
    return g.node("Clip", [shifted, g.const(0), g.const(1)])


def _softplus(g, x, p):
    """max(x, 0) + log1p(exp(-|x|)) in float64, as fastnn computes it (onnxruntime's
    float64 Softplus overflows above x = 709); ONNX's Softplus in float32."""
    if g.dtype == numpy.float32:
        return g.node("Softplus", [x])
    u = g.node("Exp", [g.node("Neg", [g.node("Abs", [x])])])
    # log1p(u) = u log(1 + u) / ((1 + u) - 1), exact where 1 + u rounds to 1 (Goldberg)
    w = g.node("Add", [u, g.const(1)])
    ratio = g.node("Div", [g.node("Log", [w]), g.node("Sub", [w, g.const(1)])])
    log1p = g.node("Where", [g.node("Equal", [w, g.const(1)]), u,
                             g.node("Mul", [u, ratio])])
    return g.node("Add", [g.node("Relu", [x]), log1p])


def _op(op_type, **attributes):
    def convert(g, x, p):
        return g.node(op_type, [x], list(attributes.items()))
    return convert


# activation name -> converter(g, x, param) returning the output's name
CONVERTERS = {
    "linear": lambda g, x, p: x,
    "relu": _op("Relu"),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "selu": _selu,
    "gelu": _gelu,
    "silu": _silu,
    "sigmoid": _op("Sigmoid"),
    "hard_sigmoid": _hard_sigmoid,
    "tanh": _op("Tanh"),
    "softplus": _softplus,
    "softsign": _op("Softsign"),
    "softmax": _op("Softmax", axis=-1),
    "log_softmax": _op("LogSoftmax", axis=-1),
}


def convert(g, spec, x):
    """The nodes applying the activation `spec` (a fastnn.activations.ActivationSpec)
    to tensor `x`; returns the output's name."""
    if spec.name not in CONVERTERS:
        raise ValueError(f"activation {spec.name!r} has no ONNX form; exportable "
                         f"activations: {sorted(CONVERTERS)}")
    return CONVERTERS[spec.name](g, x, spec.param)
