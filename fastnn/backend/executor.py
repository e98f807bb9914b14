"""The layer-by-layer executor: a Program run one layer at a time on its backend's kernels.

It is the specification every executor is tested against and the executor of any
program, a user's own Python layers included. A training step is: forward through the
layers (each writing into its own reused buffers), one loss-and-gradient call (fused with
the last activation when the program says so), the backward pass (a Dense applies the
previous layer's act', a Dropout the act' of the Dense before it, while computing its
input gradient), and the optimizer's update.
"""
import contextlib

import numpy

from fastnn._custom_loss import value_and_grad
from fastnn._threads import get_num_threads, threads


class LayerExecutor:
    """Runs `program` on `backend`, layer by layer.

    Attributes:
        backend: the backend whose kernels run the layers.
        program: the fastnn.backend.program.Program.
        description: how it runs, for `summary()` and `show_config()`.
    """

    description = "layer by layer"

    def __init__(self, backend, program):
        self.backend, self.program = backend, program

    # ------------------------------------------------------------------ pieces
    def forward(self, x, training, workspace):
        """The outputs of the layers for backend array `x`."""
        out = x
        for layer in self.program.layers:
            out = layer.forward(out, training, workspace)
        return out

    def backward(self, grad, workspace, is_dz=None, to_input=False):
        """Backpropagate `grad` (d loss / d output, or d loss / d logits when fused);
        parameter gradients land in each layer's gradient buffers. With `to_input`,
        returns d loss / d x and leaves the parameter gradients alone."""
        layers = self.program.layers
        is_dz = self.program.fused if is_dz is None else is_dz
        first_trainable = next((j for j, l in enumerate(layers) if l.trainable and l._params),
                               len(layers))
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            fuse = None
            if i > 0 and layer.fuses_input_grad:
                fuse = layers[i - 1].fusable_activation()
            # the input gradient of the first layers is skipped when nothing needs it
            need = to_input or i > first_trainable
            grad = layer.backward(grad, workspace, grad_is_dz=is_dz, need_input_grad=need,
                                  fuse=fuse if i > 0 else None, param_grads=not to_input)
            if not need:
                return None
            is_dz = fuse is not None
        return grad

    def loss_value(self, out, y, w):
        """The mean loss of a forward pass's outputs `out` against `y` (sample weights
        `w`), as the training step computes it: from the logits where it is fused, plus
        that pass's activity penalties (Keras 3 adds them to evaluate's loss too)."""
        program = self.program
        pred = program.layers[-1]._z if program.fused else out
        return self._loss_grad(pred, y, w) + program.activity_loss()

    def _loss_grad(self, pred, y, w, grad=None):
        """The backend's loss kernel, or the NumPy `call` / `gradient` of a user's own
        Loss (which has no kernel code)."""
        program = self.program
        if program.loss_kind is None:
            return value_and_grad(program.loss, self.backend, pred, y, w, grad)
        return self.backend.loss_grad(program.loss_kind, program.loss_param, pred, y, w,
                                      grad)

    # ------------------------------------------------------------------ training
    def train_step(self, x, y, w, workspace):
        """One training step on the batch (x, y, w): returns (loss, outputs)."""
        program = self.program
        out = self.forward(x, True, workspace)
        pred = program.layers[-1]._z if program.fused else out
        grad = workspace.buffer(self, "dloss", pred.shape, pred.dtype)
        loss = self._loss_grad(pred, y, w, grad)
        loss += program.regularization_loss()
        loss += program.activity_loss()
        self.backward(grad, workspace)
        program.optimizer.apply(program.params, program.grads)
        # as in Keras, constraints project the weights after the update
        for layer in program.layers:
            if layer.trainable and hasattr(layer, "apply_constraints"):
                layer.apply_constraints()
        return loss, out

    def train_steps(self, data, order, first_row, n_steps, batch_size, n_threads,
                    workspace, keep_outputs):
        """Steps on batches of `batch_size` rows of `data` = (x, y, w or None) taken in
        `order` from `first_row`; returns (losses, outputs, targets, weights): a NumPy
        array of the steps' losses and, with `keep_outputs`, the steps' outputs, batch
        targets and batch weights concatenated (else None)."""
        kept = ([], [], []) if keep_outputs else None
        losses = numpy.empty(n_steps)
        with (threads(n_threads) if n_threads != get_num_threads()
              else contextlib.nullcontext()):
            for s in range(n_steps):
                start = first_row + s * batch_size
                idx = order[start:start + batch_size]
                bx, by, bw = self.gather(data, idx, workspace)
                losses[s], out = self._train_batch(bx, by, bw, workspace, n_threads,
                                                   kept is not None)
                if kept is not None:
                    for into, value in zip(kept, (out, by, bw)):
                        into.append(None if value is None else self.backend.to_numpy(value)
                                    .copy())
        if kept is None:
            return losses, None, None, None
        outputs, targets, weights = (None if not k or k[0] is None else numpy.concatenate(k)
                                     for k in kept)
        return losses, outputs, targets, weights

    def _train_batch(self, bx, by, bw, workspace, n_threads, keep_output):
        """train_step on one gathered batch: (loss, outputs); the step of train_steps
        (fastnn/backend/sharded.py runs its own)."""
        return self.train_step(bx, by, bw, workspace)

    def gather(self, data, idx, workspace):
        """The batch (x, y, w) of rows `idx` of `data`, in reused buffers. Samples of any
        shape (images before a Flatten) are gathered as rows of their flat view."""
        backend = self.backend
        xb, yb, wb = data
        rows = workspace.buffer(self, "x", (len(idx),) + xb.shape[1:], xb.dtype)
        backend.take_rows(flat_rows(xb), idx, out=flat_rows(rows))
        if yb.ndim == 1:
            by = workspace.buffer(self, "y1", (len(idx),), yb.dtype)
            by[...] = yb[idx]
        else:
            by = backend.take_rows(yb, idx, out=workspace.buffer(
                self, "y", (len(idx), yb.shape[1]), yb.dtype))
        return rows, by, None if wb is None else wb[idx]

    def plan_for(self, rows):
        """The compiled plan of a training step on batches of `rows`: None, as this
        executor runs the layers one by one."""
        return None

    # ------------------------------------------------------------------ inference
    def inference_plan(self, rows, cache):
        """A compiled inference call for batches of `rows`, or None: this executor runs
        inference layer by layer (see forward)."""
        return None


def flat_rows(x):
    """`x` as (n_samples, n_features) rows: samples of any shape flattened (a view of a
    C-contiguous array), as the layers after a Flatten and the compiled calls read them."""
    return x if x.ndim == 2 else x.reshape(len(x), -1)
