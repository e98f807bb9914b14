"""The StackPlan specs of the layers the compiled step runs beside Dense and Dropout:
BatchNormalization, LayerNormalization, Rescaling, PReLU and an activation layer after
any layer (their kernels: fastnn/_kernels/step_norm.pxi), Normalization and the noise
layers GaussianNoise, GaussianDropout and AlphaDropout (fastnn/_kernels/step_more.pxi).

Each computes what the layer's own code computes on the cpu backend, bit for bit: the
layer-by-layer executor running fastnn/layers/ is their specification.
"""
import numpy

from fastnn.backend.program import RANDOM_KINDS
from fastnn.variables import plain

# op kinds whose kernels work on the rows of a (rows, features) batch, feature by feature
NORM_KINDS = ("batch_norm", "layer_norm")
# the noise layers, active in training only (an inference plan leaves them out)
NOISE_KINDS = tuple(kind for kind in RANDOM_KINDS if kind != "dropout")
# every op kind of step_norm.pxi and step_more.pxi
LAYER_KINDS = NORM_KINDS + ("rescale", "activation", "prelu", "normalize") + NOISE_KINDS
# a row-wise activation's code in a StackPlan spec (step_layers.pxi: Layer.softmax)
SOFTMAX_CODES = {"softmax": 1, "log_softmax": 2}


def why_not_layer(layer, dtype=None):
    """Why the compiled step cannot run `layer` of a LAYER_KINDS kind in a program of
    `dtype` (None: not known yet) (a sentence), or None."""
    if layer.op_kind in NORM_KINDS + ("normalize",) and len(getattr(layer, "_bshape",
                                                                    ())) != 2:
        return (f"layer {layer.name!r} normalises samples of more than one axis (the "
                f"compiled step normalises (rows, features) batches)")
    if layer.op_kind == "normalize" and dtype is not None and layer.mean.dtype != dtype:
        return (f"layer {layer.name!r} holds its statistics in {layer.mean.dtype}, the "
                f"model computes in {numpy.dtype(dtype)}")
    if layer.op_kind == "alpha_dropout" and any(n is not None
                                                for n in layer.noise_shape or ()):
        return (f"layer {layer.name!r} has a noise_shape (the compiled step draws one "
                f"mask value per element)")
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
    elif kind == "normalize":
        from fastnn.config import epsilon
        # statistics given to the constructor may be broadcast views: their values
        # are fixed, so a copy serves; adapted ones are the layer's own buffers
        spec.update(mean=_contiguous(layer.mean), variance=_contiguous(layer.variance),
                    invert=layer.invert, epsilon=float(epsilon()))
    elif kind in NOISE_KINDS:
        spec.update(_noise_spec(layer))
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


def _noise_spec(layer):
    spec = {"seed": layer.seed, "layer_index": layer.layer_index}
    if layer.op_kind == "alpha_dropout":
        alpha_p, a, b = layer.affine()
        spec.update(rate=float(layer.rate), param=a, epsilon=b, momentum=alpha_p)
    else:
        spec["param"] = float(layer.stddev)
    return spec


def _contiguous(weight):
    """The array of `weight` itself where it is C-contiguous, else a contiguous copy."""
    a = plain(weight)
    return a if a.flags.c_contiguous else numpy.ascontiguousarray(a)
