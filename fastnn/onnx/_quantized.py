"""QuantizedDense (`model.quantize("int8")`) as ONNX nodes, with the arithmetic of
fastnn/backend/reference_quantized.py op for op: each row quantized to int8 with its
own scale, the integer product exact, then the float epilogue in Keras' order.

The integer product runs as a float64 MatMul of the int8 values (exact: every partial
sum is an integer far below 2**53), which every ONNX runtime has, where MatMulInteger's
int8 x int8 form is optional.
"""
import numpy

from fastnn.onnx import _activations

DOUBLE, FLOAT = 11, 1   # ONNX TensorProto element types


def quantized_dense(g, layer, x, shape):
    """act(float32(q(x) @ kernel) / (kernel_scale * row_scale) + bias)."""
    from fastnn.backend.reference_quantized import EPSILON, QMAX
    weights = dict(zip(layer.weight_names, layer.get_weights()))
    f32 = numpy.float32
    row_max = g.node("ReduceMax", [g.node("Abs", [x]), g.ints([1])], [("keepdims", 1)])
    row_scale = g.node("Div", [g.const(QMAX, f32), g.node("Add", [row_max,
                                                                    g.const(EPSILON, f32)])])
    q = g.node("Clip", [g.node("Round", [g.node("Mul", [x, row_scale])]),
                        g.const(-QMAX, f32), g.const(QMAX, f32)])
    kernel = g.weight("kernel", weights["kernel"].astype(numpy.float64), numpy.float64)
    acc = g.node("Cast", [g.node("MatMul", [g.node("Cast", [q], [("to", DOUBLE)]), kernel])],
                 [("to", FLOAT)])
    scales = g.node("Mul", [g.weight("kernel_scale", weights["kernel_scale"][None, :], f32),
                            row_scale])
    z = g.node("Div", [acc, scales])
    if layer.use_bias:
        z = g.node("Add", [z, g.weight("bias", weights["bias"], f32)])
    return _activations.convert(g, layer.activation, z)
