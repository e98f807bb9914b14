"""The cpu backend's executor: a Program of Dense, Dropout, BatchNormalization,
LayerNormalization, Rescaling, PReLU, Normalization, noise and activation ops, with their
weight constraints, run by fused compiled calls.

Training: a StackPlan (fastnn/_kernels/step.pxi) per batch size holds pointers to every
weight, gradient and activation buffer, so that a whole step (the gather of the shuffled
batch, the forward pass, the loss and its gradient, the backward pass and the update of
every parameter) is one GIL-free call, and a run of steps one compiled loop
(step_train.pxi), the weight constraints applied after each update (constraints.pxi).
Inference: one call per chunk of rows, writing into the result. A
program with any other op (a user's own layer, a reshape, a hidden softmax) runs layer by
layer on the compiled kernels instead, and says so in its `description`.
"""
import numpy

from fastnn._kernels import compiled as _k
from fastnn.backend.compiled_constraints import compiled_constraints, why_not_constraints
from fastnn.backend.compiled_layers import (LAYER_KINDS, NOISE_KINDS, SOFTMAX_CODES,
                                            has_grads, layer_spec, why_not_layer)
from fastnn.backend.executor import LayerExecutor, flat_rows
from fastnn.backend.quantized_plan import quantized_plan
from fastnn.backend.reference import CCE, SOFTMAX_CCE
from fastnn.mixed_precision import computes_bfloat16

MAX_DROPOUT_LAYERS = 64  # the plan's fixed array of Philox steps (Dropout and noise)


def compiled_ops(layers, dtype=None):
    """The ops the compiled calls run for `layers` (in a program of `dtype`, if known): a
    list of (layer, activation) for each Dense (with the activation of an Activation
    layer right after a linear Dense folded into it: the same arithmetic as
    Dense(activation=...)) and for each other activation layer, and (layer, None) for
    each Dropout and each other layer of LAYER_KINDS; Flatten ops are dropped (the rows
    are flat already); or a sentence saying why the layers cannot be compiled."""
    ops = []
    for layer in layers:
        kind = layer.op_kind
        if kind == "reshape":
            continue
        prev = ops[-1] if ops else None
        if kind == "activation" and prev is not None and prev[0].op_kind == "dense" \
                and prev[1].name == "linear":
            ops[-1] = (prev[0], layer.activation)
        elif kind in ("dense", "activation"):
            ops.append((layer, layer.activation))
        elif kind == "dropout" or kind in LAYER_KINDS:
            why = why_not_layer(layer, dtype) if kind != "dropout" else None
            if why is not None:
                return why
            ops.append((layer, None))
        else:
            return f"layer {layer.name!r} is not one of fastnn's compiled ops"
    return ops


def why_not_compiled(program):
    """Why the compiled training loop cannot run `program` (a sentence), or None."""
    if not program.layers:
        return "the model has no layers"
    if program.loss is not None and program.loss_kind is None:
        return (f"loss {program.loss.name!r} is the user's own Python (its `call` and "
                f"`gradient` run in NumPy)")
    ops = compiled_ops(program.layers, program.dtype)
    if isinstance(ops, str):
        return ops
    if len(program.dropout_layers) > MAX_DROPOUT_LAYERS:
        return f"more than {MAX_DROPOUT_LAYERS} Dropout and noise layers"
    if not any(has_grads(layer) for layer, _ in ops):
        return "no trainable Dense or normalization layer"
    for i, (layer, act) in enumerate(ops):
        # a row-wise softmax is supported only as the last op, fused into the loss
        if act is not None and act.code < 0 and not (i == len(ops) - 1 and program.fused):
            return f"layer {layer.name!r} has a row-wise {act.name} inside"
    why = why_not_constraints(program.layers)
    if why is not None:
        return why
    for layer in program.layers:
        if getattr(layer, "activity_regularizer", None) is not None:
            return f"layer {layer.name!r} has an activity regularizer"
    optimizer = program.optimizer
    if optimizer is not None and not optimizer.updates_in_one_call(program.regularizers):
        return (f"{type(optimizer).__name__}'s update or a regularizer is the user's own "
                f"Python")
    if optimizer is not None and (getattr(optimizer, "use_ema", False)
                                  or getattr(optimizer, "gradient_accumulation_steps", None)):
        return (f"{type(optimizer).__name__} keeps a moving average of the weights or "
                f"accumulates gradients (use_ema, gradient_accumulation_steps), which the "
                f"compiled step does not run")
    return None


class CompiledExecutor(LayerExecutor):
    """The cpu backend's executor of `program` (see the module docstring)."""

    def __init__(self, backend, program):
        super().__init__(backend, program)
        self.reason = why_not_compiled(program) if program.loss is not None else None
        self.compiled = program.loss is not None and self.reason is None
        self.description = ("compiled: one fused call per training step" if self.compiled
                            else f"layer by layer on compiled kernels ({self.reason})"
                            if self.reason else "compiled inference")
        self._plans = {}
        self._constraints = None     # (the weights' arrays, their compiled constraints)

    # ------------------------------------------------------------------ training
    def plan_for(self, rows):
        """The StackPlan for training batches of `rows`, built on first use, or None
        when the program is not compiled."""
        if not self.compiled:
            return None
        plan = self._plans.get(rows)
        if plan is None:
            if len(self._plans) >= 2:      # the full batch and an epoch's last, shorter one
                self._plans.pop(next(iter(self._plans)))
            plan = self._plans[rows] = self._build(rows)
        return plan

    def _runs_compiled(self, data):
        """Whether the training arrays `data` = (x, y, w or None) are laid out as the
        compiled step reads them (fit prepares them so)."""
        if not self.compiled:
            return False
        x, y, w = data
        dtype = self.program.dtype

        def rows_of(a, ndim, kind):
            return (type(a) is numpy.ndarray and a.ndim == ndim and a.dtype == kind
                    and a.flags.c_contiguous)

        targets = (rows_of(y, 1, numpy.int64) and self.program.loss_kind in (CCE, SOFTMAX_CCE)
                   or rows_of(y, 2, dtype))
        return rows_of(x, 2, dtype) and targets and (w is None or rows_of(w, 1, dtype))

    def train_steps(self, data, order, first_row, n_steps, batch_size, n_threads,
                    workspace, keep_outputs):
        x = data[0]
        if self.compiled and type(x) is numpy.ndarray and x.flags.c_contiguous:
            data = (flat_rows(x),) + tuple(data[1:])   # samples as flat rows
        if not self._runs_compiled(data):
            return super().train_steps(data, order, first_row, n_steps, batch_size,
                                       n_threads, workspace, keep_outputs)
        program = self.program
        group = program.optimizer.param_group(program.params, program.grads,
                                              program.regularizers)
        constraints = self.constraints()
        if group is None or constraints is False:   # parameters of mixed dtypes
            return super().train_steps(data, order, first_row, n_steps, batch_size,
                                       n_threads, workspace, keep_outputs)
        plan = self.plan_for(batch_size)
        xb, yb, wb = data
        outputs = targets = weights = None
        if keep_outputs:
            rows = n_steps * batch_size
            outputs = numpy.empty((rows,) + plan.output.shape[1:], plan.output.dtype)
            targets = numpy.empty((rows,) + yb.shape[1:], yb.dtype)
            if wb is not None:
                weights = wb[order[first_row:first_row + rows]]
        updates = numpy.array(program.optimizer.group_update_rows(n_steps), numpy.float64)
        losses = _k.train_steps(plan, xb, yb, wb, order, first_row, program.loss_kind,
                                program.loss_param, program.fused,
                                program.next_dropout_steps(n_steps), group, updates,
                                n_threads, outputs, targets, constraints)
        return losses, outputs, targets, weights

    def constraints(self):
        """The program's weight constraints compiled (fastnn._kernels.Constraints), None
        where it has none, or False where they cannot be (weights of mixed dtypes)."""
        layers = self.program.layers
        key = tuple(id(p) for layer in layers for p in layer._params)
        if self._constraints is None or self._constraints[0] != key:
            self._constraints = (key, compiled_constraints(layers, _k))
        return self._constraints[1]

    def _build(self, rows):
        return _k.StackPlan(*self.plan_specs(rows))

    def plan_specs(self, rows):
        """(specs, rows, dtype, first_grad): the StackPlan arguments of a training step on
        batches of `rows`; each op's spec dict holds its buffers (y, z, mask, dx)."""
        program = self.program
        dtype = program.dtype
        ops = compiled_ops(program.layers)
        first_grad = next(i for i, (l, _) in enumerate(ops) if has_grads(l))
        last = len(ops) - 1
        specs, width = [], _flat_width(program.input_shape)
        for i, (layer, act) in enumerate(ops):
            spec = {"n_in": width, "y": None, "dx": None}
            if layer.op_kind in LAYER_KINDS:
                spec.update(layer_spec(layer, act, width, rows, dtype, True,
                                       i == last and program.fused))
            elif layer.op_kind == "dense":
                width = layer.units
                fused = i == last and program.fused
                spec.update(_dense_spec(layer, act), gw=layer._grads[0],
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
        return specs, rows, dtype, first_grad

    # ------------------------------------------------------------------ inference
    def inference_plan(self, rows, cache):
        """A StackPlan running the program in inference mode on batches of `rows` (flat
        rows, for a program opening with a Flatten), kept in the dict `cache` (one per
        thread: a plan owns its activation buffers), or None if the program has ops the
        compiled calls do not run."""
        key = self.program.layers
        entry = cache.get(rows)
        if entry is not None and entry[0] == key:
            return entry[1]
        plan = None
        ops = compiled_ops(key, self.program.dtype)
        if isinstance(ops, str):    # an int8 model runs on its own plan
            plan = quantized_plan(key, rows)
        else:
            specs, width = [], _flat_width(self.program.input_shape)
            dtype = self.program.dtype
            for layer, act in ops:
                if layer.op_kind == "dropout" or layer.op_kind in NOISE_KINDS:
                    continue      # nothing to do in inference
                if layer.op_kind in LAYER_KINDS:
                    spec = dict(layer_spec(layer, act, width, rows, dtype, False, False),
                                n_in=width)
                else:
                    spec = dict(_dense_spec(layer, act), n_in=width, gw=None,
                                trainable=False, y=numpy.empty((rows, layer.units), dtype))
                    width = layer.units
                specs.append(spec)
            if specs:
                plan = _k.StackPlan(specs, rows, self.program.dtype, len(specs))
        if len(cache) >= 2 and rows not in cache:   # the chunk size and one remainder
            cache.pop(next(iter(cache)))
        cache[rows] = (key, plan)
        return plan


def _flat_width(shape):
    width = 1
    for d in shape:
        width *= d
    return width


def _dense_spec(layer, act):
    return {"kind": "dense", "n_out": layer.units, "w": layer.kernel, "b": layer.bias,
            "act": act.code, "param": float(act.param), "needs_z": act.needs_z,
            "softmax": SOFTMAX_CODES.get(act.name, 0),
            "bf16": computes_bfloat16(layer) and layer.kernel.dtype == numpy.float32}
