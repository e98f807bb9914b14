"""The compiled training step of a plain Dense/Dropout stack on the cpu backend.

`plan_for(model, rows)` returns a fastnn._kernels.compiled.StackPlan for the model at that
batch size, or None when the model needs the general per-layer path (another backend,
other layer types, regularizers, a row-wise softmax that the loss does not fuse). The
plan owns the activation buffers of the step; the weights and gradients are the layers'
own arrays, which training updates in place, so a plan stays valid until the model is
compiled or its training set-up changes (`forget_plans`).
"""
import numpy

from fastnn.backend import get_backend
from fastnn.backend.reference import CCE, SOFTMAX_CCE
from fastnn.layers.dense import Dense
from fastnn.layers.dropout import Dropout

MAX_DROPOUT_LAYERS = 64  # the plan's fixed array of Philox steps


def forget_plans(model):
    """Drop the model's plans (after compile, or when its training set-up changes)."""
    model.__dict__["_stack_plans"] = {}


def plan_for(model, rows):
    """The StackPlan of `model` for batches of `rows`, built on first use, or None."""
    plans = model.__dict__.setdefault("_stack_plans", {})
    if rows in plans:
        return plans[rows]
    plan = _build(model, rows) if _eligible(model) else None
    if len(plans) >= 2:      # the full batch and an epoch's last, shorter one
        plans.pop(next(iter(plans)))
    plans[rows] = plan
    return plan


def whole_steps(model, data):
    """Whether fit may run each step of `model` on the training arrays `data` = (x, y,
    sample weights or None) as one call of StackPlan.train_step: the model has plans,
    and the arrays are laid out as that call reads them."""
    if not _eligible(model):
        return False
    x, y, w = data
    dtype = model._dtype()

    def rows_of(a, ndim, kind):
        return (type(a) is numpy.ndarray and a.ndim == ndim and a.dtype == kind
                and a.flags.c_contiguous)

    targets = (rows_of(y, 1, numpy.int64) and model._loss_kind in (CCE, SOFTMAX_CCE)
               or rows_of(y, 2, dtype))
    return rows_of(x, 2, dtype) and targets and (w is None or rows_of(w, 1, dtype))


def _eligible(model):
    if get_backend().name != "cpu":
        return False
    layers = model._layers
    if not layers or any(type(l) not in (Dense, Dropout) for l in layers):
        return False
    if sum(type(l) is Dropout for l in layers) > MAX_DROPOUT_LAYERS:
        return False
    if not any(type(l) is Dense and l.trainable for l in layers):
        return False
    for i, layer in enumerate(layers):
        if type(layer) is not Dense:
            continue
        if layer.kernel_regularizer is not None or layer.bias_regularizer is not None:
            return False
        # a row-wise softmax is supported only as the last layer, fused into the loss
        if layer.activation.code < 0 and not (i == len(layers) - 1 and model._fused):
            return False
    return True


def _dense_spec(layer):
    act = layer.activation
    return {"kind": "dense", "n_out": layer.units, "w": layer.kernel, "b": layer.bias,
            "act": act.code, "param": float(act.param), "needs_z": act.needs_z,
            "softmax": _SOFTMAX.get(act.name, 0)}


_SOFTMAX = {"softmax": 1, "log_softmax": 2}


def inference_plan(model, rows, cache):
    """A StackPlan running `model` in inference mode on batches of `rows`, kept in the
    dict `cache` (one per thread: a plan owns its activation buffers), or None if the
    model has layers other than Dense and Dropout or the active backend is not cpu (a
    plan cached before a switch to another backend is not used under it)."""
    if get_backend().name != "cpu":
        return None
    key = tuple(model._layers)
    entry = cache.get(rows)
    if entry is not None and entry[0] == key:
        return entry[1]
    plan = None
    if all(type(l) in (Dense, Dropout) for l in key):
        from fastnn._kernels.compiled import StackPlan
        dense = [l for l in key if type(l) is Dense]
        dtype = model._dtype()
        specs, width = [], model.input_shape[-1]
        for layer in dense:
            spec = dict(_dense_spec(layer), n_in=width, gw=None, trainable=False)
            spec["y"] = numpy.empty((rows, layer.units), dtype)
            width = layer.units
            specs.append(spec)
        if specs:
            plan = StackPlan(specs, rows, dtype, len(specs))
    if len(cache) >= 2 and rows not in cache:   # the chunk size and one remainder
        cache.pop(next(iter(cache)))
    cache[rows] = (key, plan)
    return plan


def _build(model, rows):
    from fastnn._kernels.compiled import StackPlan
    layers = model._layers
    dtype = model._dtype()
    first_grad = next(i for i, l in enumerate(layers) if type(l) is Dense and l.trainable)
    last = len(layers) - 1
    specs, width = [], model.input_shape[-1]
    for i, layer in enumerate(layers):
        spec = {"n_in": width, "y": None, "dx": None}
        if type(layer) is Dense:
            width = layer.units
            fused = i == last and model._fused
            act = layer.activation
            spec.update(_dense_spec(layer), gw=layer._grads[0],
                        gb=layer._grads[1] if layer.use_bias else None,
                        trainable=layer.trainable)
            if act.needs_z or fused:
                spec["z"] = numpy.empty((rows, width), dtype)
            if i == last and not fused and act.code > 0:
                spec["dz"] = numpy.empty((rows, width), dtype)
        else:
            spec.update(kind="dropout", n_out=width, rate=layer.rate, seed=layer.seed,
                        layer_index=layer.layer_index,
                        mask=numpy.empty((rows, width), numpy.uint8))
        spec["y"] = numpy.empty((rows, width), dtype)
        if i > first_grad:
            spec["dx"] = numpy.empty((rows, spec["n_in"]), dtype)
        specs.append(spec)
    return StackPlan(specs, rows, dtype, first_grad)
