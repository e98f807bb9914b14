"""The StackPlan specs of the layers the compiled step runs beside Dense and Dropout:
BatchNormalization, LayerNormalization, Rescaling, PReLU and an activation layer after
any layer (their kernels: fastnn/_kernels/step_norm.pxi).

Each computes what the layer's own code computes on the cpu backend, bit for bit: the
layer-by-layer executor running fastnn/layers/ is their specification.
"""
import numpy

from fastnn.variables import plain

# op kinds whose kernels work on the rows of a (rows, features) batch, feature by feature
NORM_KINDS = ("batch_norm", "layer_norm")
# every op kind of step_norm.pxi
LAYER_KINDS = NORM_KINDS + ("rescale", "activation", "prelu")
# a row-wise activation's code in a StackPlan spec (step_layers.pxi: Layer.softmax)
SOFTMAX_CODES = {"softmax": 1, "log_softmax": 2}


def why_not_layer(layer):
    """Why the compiled step cannot run `layer` of a LAYER_KINDS kind (a sentence), or
    None."""
    if layer.op_kind in NORM_KINDS and len(getattr(layer, "_bshape", ())) != 2:
        return (f"layer {layer.name!r} normalises samples of more than one axis (the "
                f"compiled step normalises (rows, features) batches)")
    if layer.op_kind == "prelu" and (layer.alpha.ndim != 1 or layer.shared_axes):
        return (f"layer {layer.name!r} has an alpha of shape {tuple(layer.alpha.shape)} "
                f"(the compiled step runs one alpha per feature of (rows, features) "
                f"batches)")
    return None


def has_grads(layer):
    """Whether the compiled step computes gradients of `layer`'s parameters."""
    return layer.trainable and bool(layer._params) and layer.op_kind in (
        ("dense", "prelu") + NORM_KINDS)


def layer_spec(layer, act, width, rows, dtype, training, fused_last):
    """The StackPlan spec of `layer` (a LAYER_KINDS op of `width` features, its
    activation `act` for an activation layer) on batches of `rows`: in a training step
    (`training`, its gradients where it has them) or in inference; `fused_last` for the
    last op when the loss reads its logits."""
    kind = layer.op_kind
    spec = {"kind": kind, "n_out": width, "y": numpy.empty((rows, width), dtype)}
    if kind == "activation":
        spec.update(act=act.code, param=float(act.param), needs_z=act.needs_z,
                    softmax=SOFTMAX_CODES.get(act.name, 0))
        if fused_last:
            spec["z"] = numpy.empty((rows, width), dtype)
    elif kind == "rescale":
        spec.update(param=float(layer.scale), epsilon=float(layer.offset))
    elif kind == "prelu":      # alpha goes where the kernels read gamma
        spec["gamma"] = plain(layer.alpha)
        if training and layer.trainable:
            spec["ggamma"] = layer._grads[0]
    else:
        spec.update(_norm_spec(layer, training))
    return spec


def _norm_spec(layer, training):
    spec = {"epsilon": float(layer.epsilon)}
    grads = layer.trainable and training
    i = 0
    for name, on in (("gamma", layer.scale), ("beta", layer.center)):
        if on:
            spec[name] = plain(getattr(layer, name))
            if grads:
                spec["g" + name] = layer._grads[i]
            i += 1
    if layer.op_kind == "batch_norm":
        # a frozen layer runs in inference mode, in training too (as in Keras)
        spec.update(momentum=float(layer.momentum), training=training and layer.trainable,
                    moving_mean=plain(layer.moving_mean),
                    moving_variance=plain(layer.moving_variance))
    return spec
