"""The cpu backend's inference of a quantized model: one int8 product per QuantizedDense
per chunk of rows (fastnn/_kernels/quantized.pxi), the activations in the product's
epilogue, the first layer counting NaN and infinity as it quantizes x, and the last
writing straight into the result: the interface of a StackPlan's `infer`
(fastnn/models/inference.py), for models the StackPlan does not run."""
import numpy

from fastnn._kernels import compiled as _k

_SOFTMAX = {"softmax": 1, "log_softmax": 2}
# the ops of a quantized stack that do nothing in inference on flat rows
_PASS = ("dropout", "reshape")


# rows up to which a chunk runs on one thread (a single-sample predict: the int8 product
# of a row is a microsecond, less than waking a second thread)
SINGLE_THREAD_ROWS = 4


class QuantizedPlan:
    """The QuantizedDense layers of `layers`, run on chunks of `rows` flat rows."""

    def __init__(self, layers, rows):
        self.layers = [layer for layer in layers if layer.op_kind == "quantized_dense"]
        self.buffers = [numpy.empty((rows, layer.units), numpy.float32)
                        for layer in self.layers[:-1]]
        # only its width is read (the result's columns)
        self.output = numpy.empty((0, self.layers[-1].units), numpy.float32)
        self.single_thread = rows <= SINGLE_THREAD_ROWS
        # each layer's arguments of q8_dense, but x and the output: the weight arrays
        # are written in place (set_weights), never replaced
        calls = []
        for layer in self.layers:
            act = layer.activation
            softmax = _SOFTMAX.get(act.name, 0)
            calls.append((layer.kernel, layer.kernel_scale, layer.bias,
                          0 if softmax else act.code, float(act.param), softmax))
        # the compiled stack; its `infer(x, out, n_threads, check)` is this plan's
        self.infer = _k.Q8Stack(tuple(calls), self.buffers, rows).infer


def quantized_plan(layers, rows):
    """A QuantizedPlan for `layers`, or None unless they are QuantizedDense layers (and
    Dropout and Flatten, nothing in inference)."""
    kinds = [layer.op_kind for layer in layers]
    if "quantized_dense" not in kinds or any(
            k not in _PASS + ("quantized_dense",) for k in kinds):
        return None
    return QuantizedPlan(layers, rows)
