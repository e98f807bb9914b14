"""A training step shared by several processes, with the bits of one process's step.

Summing per-process gradients, as data-parallel training usually does, cannot give the
bits of one process: there, each weight's gradient is one sum over the batch rows, in
the GEMM's order, and a sum of per-shard partial sums rounds differently whatever order
the shards are added in. So the processes split the work another way:

- forward: each process runs its contiguous shard of the batch rows (a row of a product
  does not depend on the other rows, given at least `backend.shard_min_rows` of them;
  dropout draws the mask of those rows of the whole batch);
- the layer outputs and output gradients are gathered whole (an allgather: data only,
  no arithmetic), and the loss and its gradient are computed on the whole batch by
  every process;
- each weight gradient's GEMM is split by rows of the weights: a process computes its
  rows of ``x.T @ dz`` over the whole batch, each value in exactly the one process's
  order; the rows are gathered, and every process runs the same update on the same
  gradients, so the weights stay identical everywhere.

No floating-point sum crosses processes, so the result is the single-process result at
any number of processes. The gathers of the weight gradients overlap the rest of the
backward pass. `comm` is any object with `rank`, `size` and
``start_allgather(local, full, counts)`` returning a request with ``wait()``
(fastnn.distributed.mpi.MPIDataParallel).
"""
import numpy

from fastnn.backend.executor import LayerExecutor, flat_rows


# NumPy hands a product of one or two rows to BLAS's matrix-vector routines, which sum
# in another order than its matrix-matrix ones
NUMPY_MIN_ROWS = 3


def shard_bounds(n, size, min_rows):
    """Each of `size` processes' (lo, hi) of n rows: contiguous, as even as can be, each
    non-empty shard holding at least `min_rows` rows (fewer processes share small n)."""
    parts = max(1, min(size, n // max(min_rows, 1)))
    base, extra = divmod(n, parts)
    bounds, lo = [], 0
    for r in range(size):
        hi = lo + (base + (r < extra) if r < parts else 0)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def sharded_ops(program):
    """The program's ops as (layer, activation) pairs (activation None for a Dropout),
    or a ValueError naming what a sharded step cannot run."""
    from fastnn.backend.compiled_executor import compiled_ops
    ops = compiled_ops(program.layers)
    if isinstance(ops, str):
        raise ValueError(f"distributed training runs Dense and Dropout layers (and a "
                         f"Flatten first): {ops}")
    for layer in program.layers:
        if layer.op_kind == "activation":
            raise ValueError(f"distributed training: give Dense layer the activation of "
                             f"layer {layer.name!r} (activation=...)")
        policy = getattr(layer, "dtype_policy", None)
        if policy is not None and policy.compute_dtype == "bfloat16":
            raise ValueError(f"distributed training: layer {layer.name!r} computes in "
                             f"bfloat16 (policy {policy.name!r}); train it in float32")
        if getattr(layer, "activity_regularizer", None) is not None:
            raise ValueError(f"distributed training: layer {layer.name!r} has an "
                             f"activity regularizer")
    for layer, _ in ops:
        if layer.op_kind not in ("dense", "dropout"):
            raise ValueError(f"distributed training runs Dense and Dropout layers (and a "
                             f"Flatten first): layer {layer.name!r} is not one")
    return ops


class ShardedExecutor:
    """`executor`'s training steps and evaluation shared by the processes of `comm`
    (see the module docstring); the same interface as the executor it wraps."""

    def __init__(self, executor, comm):
        self.executor, self.comm = executor, comm
        self.backend, self.program = executor.backend, executor.program
        self.ops = sharded_ops(self.program)
        self.min_rows = getattr(self.backend, "shard_min_rows", NUMPY_MIN_ROWS)
        self.description = f"{executor.description}, sharded over {comm.size} processes"
        self._plans = {}
        self._buffers = {}

    def __getattr__(self, name):      # gather, loss_value, plan_for, inference_plan ...
        return getattr(self.executor, name)

    # ------------------------------------------------------------------ buffers
    def _buffer(self, key, shape, dtype):
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[key] = numpy.empty(shape, dtype)
        return buf

    def _gather_rows(self, key, local, bounds, n_rows):
        """The rows of every process (each its `local` rows) as one array, rank order."""
        full = self._buffer(key, (n_rows,) + local.shape[1:], local.dtype)
        counts = [hi - lo for lo, hi in bounds]
        self.comm.start_allgather(numpy.ascontiguousarray(local), full, counts).wait()
        return full

    # ------------------------------------------------------------------ training
    # the executor's loop over the steps, each step this class's _train_batch
    train_steps = LayerExecutor.train_steps

    def _train_batch(self, bx, by, bw, workspace, n_threads, keep_output):
        return self._step(flat_rows(bx), by, bw, n_threads, keep_output)

    def _compiled_group(self, batch):
        """The optimizer's compiled update of all parameters where the executor runs
        the compiled step on `batch`'s layout, else None (the layer-by-layer step)."""
        executor, program = self.executor, self.program
        if not (getattr(executor, "compiled", False) and executor._runs_compiled(batch)):
            return None
        return program.optimizer.param_group(program.params, program.grads,
                                             program.regularizers)

    def _step(self, bx, by, bw, n_threads, keep_output):
        """One training step on the whole batch (bx, by, bw): returns (loss, the batch's
        outputs if `keep_output`, else None)."""
        program = self.program
        n = len(bx)
        bounds = shard_bounds(n, self.comm.size, self.min_rows)
        lo, hi = bounds[self.comm.rank]
        group = self._compiled_group((bx, by, bw))
        buffers = self._forward(bx, lo, hi, n, group is not None, n_threads)
        last_layer, last_act = self.ops[-1]
        top = buffers[-1]
        pred_rows = top["z"] if program.fused else top["y"]
        pred = self._gather_rows("pred", pred_rows, bounds, n)
        grad = self._buffer("dloss", pred.shape, pred.dtype)
        loss = self.executor._loss_grad(pred, by, bw, grad)
        if group is None:
            loss += program.regularization_loss()
        pending = self._backward(bx, buffers, grad, bounds, lo, hi, n, group is not None)
        for request in pending:
            request.wait()
        if group is not None:
            row = program.optimizer.group_update_rows(1)[0]
            loss += group.update(*row, n_threads)
        else:
            for layer, act in self.ops:    # as Dense.backward: the penalties' gradients
                if act is None or not layer.trainable:
                    continue
                if layer.kernel_regularizer is not None:
                    layer.kernel_regularizer.add_gradient(layer.kernel, layer._grads[0])
                if layer.use_bias and layer.bias_regularizer is not None:
                    layer.bias_regularizer.add_gradient(layer.bias, layer._grads[1])
            program.optimizer.apply(program.params, program.grads)
        for layer in program.layers:     # after either update, as Keras projects them
            if layer.trainable and hasattr(layer, "apply_constraints"):
                layer.apply_constraints()
        if not keep_output:
            return loss, None
        return loss, (self._gather_rows("out", top["y"], bounds, n) if program.fused else pred)

    def _plan(self, rows, lo, n):
        """The compiled plan of this process's `rows` rows and its ops' buffers."""
        entry = self._plans.get(rows)
        if entry is None:
            if len(self._plans) >= 2:
                self._plans.pop(next(iter(self._plans)))
            specs, rows_, dtype, first_grad = self.executor.plan_specs(rows)
            from fastnn._kernels import compiled as _k
            entry = self._plans[rows] = (_k.StackPlan(specs, rows_, dtype, first_grad), specs)
        entry[0].shard_rows(lo, n)
        return entry

    def _forward(self, bx, lo, hi, n, compiled, n_threads):
        """Run this process's rows lo .. hi of the batch forward; returns each op's
        buffers {"y", "z", "mask"} for those rows."""
        program, backend = self.program, self.backend
        rows = hi - lo
        if compiled:
            steps = program.next_dropout_steps(1)
            if rows == 0:
                return self._empty_buffers(bx)
            plan, specs = self._plan(rows, lo, n)
            plan.forward(bx[lo:hi], steps, n_threads)
            # a Dropout of rate 0 leaves its mask unwritten
            return [{"y": s["y"], "z": s.get("z"),
                     "mask": s.get("mask") if act is not None or layer.rate > 0 else None}
                    for s, (layer, act) in zip(specs, self.ops)]
        buffers, inp = [], bx[lo:hi]
        for i, (layer, act) in enumerate(self.ops):
            if act is not None:
                shape = (rows, layer.units)
                y = self._buffer(("y", i), shape, bx.dtype)
                z = (self._buffer(("z", i), shape, bx.dtype)
                     if act.needs_z or layer.keep_preact else None)
                backend.dense_forward(inp, layer.kernel, layer.bias, act, out=y, preact=z)
                buffers.append({"y": y, "z": z, "mask": None})
            elif layer.rate == 0.0:
                layer.step += 1
                buffers.append({"y": inp, "z": None, "mask": None})
            else:
                y = self._buffer(("y", i), inp.shape, inp.dtype)
                mask = self._buffer(("mask", i), inp.shape, numpy.uint8)
                backend.dropout(inp, layer.rate, layer.seed, layer.step & 0xFFFFFFFF,
                                layer.layer_index, out=y, mask=mask,
                                first=lo * inp.shape[1])
                layer.step += 1
                buffers.append({"y": y, "z": None, "mask": mask})
            inp = buffers[-1]["y"]
        return buffers

    def _empty_buffers(self, bx):
        """Each op's buffers for a process without rows in this batch."""
        buffers, width = [], bx.shape[1]
        for layer, act in self.ops:
            width = layer.units if act is not None else width
            empty = numpy.empty((0, width), bx.dtype)
            buffers.append({"y": empty, "z": empty, "mask": None})
        return buffers

    def _backward(self, bx, buffers, grad, bounds, lo, hi, n, compiled):
        """Backpropagate the whole batch's loss gradient `grad`: this process's rows of
        each layer's input gradient, its rows of each weight gradient over the whole
        batch, every bias gradient. Returns the gathers of the weight gradients under
        way."""
        backend, program = self.backend, self.program
        ops = self.ops
        first = next(i for i, (layer, act) in enumerate(ops)
                     if act is not None and layer.trainable)
        inputs = self._layer_inputs(bx, buffers, bounds, n, first)
        is_dz, g_rows, pending = program.fused, grad[lo:hi], []
        for i in range(len(ops) - 1, first - 1, -1):
            layer, act = ops[i]
            prev = ops[i - 1] if i > 0 else None
            fuse = _fusable(prev, buffers[i - 1] if i > 0 else None)
            if act is None:   # a Dropout
                out = self._buffer(("dx", i), g_rows.shape, g_rows.dtype)
                if hi == lo:
                    g_rows, is_dz = out, fuse is not None
                    continue
                mask = buffers[i]["mask"]
                activation, saved = fuse if fuse is not None else (None, None)
                if mask is not None:
                    g_rows = backend.dropout_backward(g_rows, mask, layer.rate, out=out,
                                                      activation=activation, saved=saved)
                elif activation is not None:
                    g_rows = backend.activation_backward(activation, g_rows, saved, out=out)
                is_dz = fuse is not None
                continue
            own_act = not (is_dz or act.name == "linear")   # this layer's act' to apply
            if not own_act or hi == lo:
                dz_rows = g_rows
            else:
                saved = buffers[i]["z"] if act.needs_z else buffers[i]["y"]
                dz_rows = backend.activation_backward(
                    act, g_rows, saved, out=self._buffer(("dz", i), g_rows.shape,
                                                         g_rows.dtype))
            dz = (grad if i == len(ops) - 1 and not own_act
                  else self._gather_rows(("dzfull", i), dz_rows, bounds, n))
            if layer.trainable:
                pending.append(self._weight_grads(layer, inputs[i], dz, i))
            if i == first:
                break
            activation, saved = fuse if fuse is not None else (None, None)
            out = self._buffer(("dx", i), (hi - lo, layer.kernel.shape[0]), dz.dtype)
            if hi > lo:
                backend.dense_backward_input(dz_rows, layer.kernel, activation, saved, out=out)
            g_rows, is_dz = out, fuse is not None
        return pending

    def _layer_inputs(self, bx, buffers, bounds, n, first):
        """The whole batch's input of each trainable Dense op from `first` on (gathered
        from the processes' rows; the batch itself for the first op)."""
        inputs = {}
        for i in range(first, len(self.ops)):
            layer, act = self.ops[i]
            if act is None or not layer.trainable:
                continue
            inputs[i] = bx if i == 0 else self._gather_rows(("in", i), buffers[i - 1]["y"],
                                                            bounds, n)
        return inputs

    def _weight_grads(self, layer, inp, dz, i):
        """This process's rows of the layer's weight gradient (inp.T @ dz over the whole
        batch), the whole bias gradient, and the gather of the weight rows started."""
        backend = self.backend
        gw = layer._grads[0]
        row_bounds = shard_bounds(gw.shape[0], self.comm.size, self.min_rows)
        wlo, whi = row_bounds[self.comm.rank]
        if whi > wlo:
            backend.matmul(inp[:, wlo:whi], dz, out=gw[wlo:whi], transpose_a=True)
        if layer.use_bias:
            backend.bias_grad(dz, out=layer._grads[1])
        counts = [(hi - lo) * gw.shape[1] for lo, hi in row_bounds]
        local = self._buffer(("gw", i), ((whi - wlo) * gw.shape[1],), gw.dtype)
        local[...] = gw[wlo:whi].reshape(-1)
        return self.comm.start_allgather(local, gw.reshape(-1), counts)

    # ------------------------------------------------------------------ evaluation
    def forward(self, x, training, workspace):
        """The outputs of the whole batch `x` in inference, each process running its
        rows; the last layer's logits (kept for a fused loss) are gathered too."""
        if training:
            raise ValueError("a sharded forward pass runs inference only")
        n = len(x)
        bounds = shard_bounds(n, self.comm.size, self.min_rows)
        lo, hi = bounds[self.comm.rank]
        last = self.program.layers[-1]
        if hi > lo:
            out = self.executor.forward(x[lo:hi], False, workspace)
            z = getattr(last, "_z", None)
        else:
            out = z = numpy.empty((0,) + self.program.output_shape, x.dtype)
        full = numpy.array(self._gather_rows("eval_out", flat_rows(out), bounds, n))
        if self.program.fused and z is not None:
            last._z = numpy.array(self._gather_rows("eval_z", z, bounds, n))
        return full.reshape((n,) + out.shape[1:])


def _fusable(op, buffers):
    """(activation, saved) of op when a later op may apply its act' (a Dense whose
    activation is element-wise: (None, None) for a linear one), else None."""
    if op is None or op[1] is None or op[1].code < 0:
        return None
    act = op[1]
    if act.name == "linear":
        return (None, None)
    return (act, buffers["z"] if act.needs_z else buffers["y"])
