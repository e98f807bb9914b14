"""The cpu backend's inference of a quantized model: one int8 product per QuantizedDense
per chunk of rows (fastnn/_kernels/quantized.pxi), the activations in the product's
epilogue, the first layer counting NaN and infinity as it quantizes x, and the last
writing straight into the result: the interface of a StackPlan's `infer`
(fastnn/models/inference.py), for models the StackPlan does not run."""
import numpy

_SOFTMAX = {"softmax": 1, "log_softmax": 2}
# the ops of a quantized stack that do nothing in inference on flat rows
_PASS = ("dropout", "reshape")


class QuantizedPlan:
    """The QuantizedDense layers of `layers`, run on chunks of `rows` flat rows."""

    single_thread = False

    def __init__(self, layers, rows):
        self.layers = [layer for layer in layers if layer.op_kind == "quantized_dense"]
        self.buffers = [numpy.empty((rows, layer.units), numpy.float32)
                        for layer in self.layers[:-1]]
        # only its width is read (the result's columns)
        self.output = numpy.empty((0, self.layers[-1].units), numpy.float32)

    def infer(self, x, out, n_threads, check):
        """out := the model's outputs for the float32 rows `x`; returns how many values
        of x are NaN or infinite (counted by the first layer; 0 unless `check`)."""
        from fastnn._kernels import compiled as _k
        bad, cur = 0, x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            dst = out if i == last else self.buffers[i][:len(x)]
            act = layer.activation
            softmax = _SOFTMAX.get(act.name, 0)
            got = _k.q8_dense(cur, layer.kernel, layer.kernel_scale, layer.bias,
                              0 if softmax else act.code, float(act.param), softmax, dst,
                              n_threads)
            bad = got if i == 0 else bad
            cur = dst
        return bad if check else 0


def quantized_plan(layers, rows):
    """A QuantizedPlan for `layers`, or None unless they are QuantizedDense layers (and
    Dropout and Flatten, nothing in inference)."""
    kinds = [layer.op_kind for layer in layers]
    if "quantized_dense" not in kinds or any(
            k not in _PASS + ("quantized_dense",) for k in kinds):
        return None
    return QuantizedPlan(layers, rows)
