"""model.quantize("int8"): Keras 3's int8 post-training quantization, for inference.

Each Dense layer becomes a QuantizedDense (fastnn.layers.quantized_dense) with the same
name, units, activation and bias: its kernel quantized to int8 per output channel
(127 / max |w| over the inputs, rounding half to even), its inputs quantized per row at
run time, the products summed in int32, the bias and activation applied in float32. The
other layers stay as they are. `predict`, `evaluate`, the model file and fastnn.explain
work on the result; on the cpu backend the int8 products run on the int8 kernel of the
instruction set in use (AVX512_VNNI, AVX-VNNI, AVX2, NEON sdot, portable C).
"""
from fastnn.backend.reference_quantized import quantize_kernel
from fastnn.layers.dense import Dense
from fastnn.layers.quantized_dense import QuantizedDense

# int32 sums of q * w (|q|, |w| <= 127) and of the kernels' q + 128 stay exact below this
MAX_INPUTS = 66000


def quantized_layer(layer):
    """The QuantizedDense of a built float32 Dense `layer`."""
    kernel = layer.get_weights()[0]
    if kernel.dtype.name != "float32":
        raise ValueError(f"int8 quantization needs a float32 model; layer {layer.name!r} "
                         f"has {kernel.dtype} weights")
    if kernel.shape[0] > MAX_INPUTS:
        raise ValueError(f"int8 quantization supports at most {MAX_INPUTS} inputs per "
                         f"Dense layer; layer {layer.name!r} has {kernel.shape[0]}")
    q, scale = quantize_kernel(kernel)
    new = QuantizedDense(layer.units, activation=layer.activation, use_bias=layer.use_bias,
                         name=layer.name)
    new.build((kernel.shape[0],))
    new.set_weights([q] + ([layer.get_weights()[1]] if layer.use_bias else []) + [scale])
    return new


def quantize_int8(model):
    """Replace every Dense layer of the built Sequential `model` by its QuantizedDense,
    in place."""
    if not model.built:
        raise ValueError("`model` must be built before quantize('int8'): call it on data, "
                         "build() it or give the first layer an input_shape")
    if getattr(model, "_graph", None) is not None:
        raise ValueError("quantize('int8') supports Sequential models; got a functional "
                         "Model")
    layers = model._layers
    dense = [i for i, layer in enumerate(layers) if type(layer) is Dense]
    if not dense:
        raise ValueError("quantize('int8') found no Dense layer in the model")
    for i in dense:
        layers[i] = quantized_layer(layers[i])
    # the optimizer's slots belonged to the float kernels, which are gone
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "_slots", None) is not None:
        optimizer.build([p for layer in layers if layer.trainable for p in layer._params])
    # the compiled plans were made for the float layers: make them again
    model.__dict__.pop("_per_thread", None)
    model.__dict__.pop("_inference", None)
    model.__dict__.pop("_fit_executor", None)
    if getattr(model, "executor", None) is not None:
        model.__dict__["_program_key"] = None
        model._compile_program()
