"""model.quantize("bfloat16"): bfloat16 weights and products, float32 sums, for inference."""
from fastnn.backend import get_backend
from fastnn.mixed_precision import DTypePolicy, round_to_bfloat16


def quantize_bfloat16(model):
    """Round every Dense kernel of the built float32 `model` to bfloat16 (in place, for
    good) and give those layers the "mixed_bfloat16" policy, so that predict and evaluate
    run their products on bfloat16 operands with float32 sums (vdpbf16ps on a CPU with
    AVX512_BF16). Biases and activations stay float32. The policy is saved with the
    model; training it afterwards is mixed-precision training from the rounded weights."""
    if not model.built:
        raise ValueError("`model` must be built before quantize('bfloat16'): call it on "
                         "data, build() it or give the first layer an input_shape")
    dense = [layer for layer in model.layers if getattr(layer, "op_kind", None) == "dense"]
    if not dense:
        raise ValueError("quantize('bfloat16') found no Dense layer in the model")
    backend = get_backend()
    for layer in dense:
        if str(layer.kernel.dtype) != "float32":
            raise ValueError(f"quantize('bfloat16') needs float32 weights; layer "
                             f"{layer.name!r} holds {layer.kernel.dtype}")
    policy = DTypePolicy("mixed_bfloat16")
    for layer in dense:
        layer.kernel[...] = backend.asarray(round_to_bfloat16(backend.to_numpy(layer.kernel)))
        layer.dtype_policy = policy
    # the compiled plans were made for float32 products: make them again
    model.__dict__.pop("_per_thread", None)
    model.__dict__.pop("_inference", None)
    if getattr(model, "executor", None) is not None:
        model.__dict__["_program_key"] = None
        model._compile_program()
