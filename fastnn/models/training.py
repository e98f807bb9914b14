"""fit / train_on_batch for Sequential: data checks, batching and the training step.

A training step is: gather the batch into reused buffers, forward through the layers
(writing into per-layer buffers), one fused loss-and-gradient call, the backward pass
(each Dense applies the previous layer's act', and a Dropout the act' of the Dense
before it, while computing its input gradient), and the optimizer update. On the cpu
backend a plain Dense/Dropout stack runs the forward and the backward pass as one
compiled call each (fastnn.models.stack_plan).
"""
import time

import numpy

from fastnn import _random, _validation
from fastnn import metrics as metrics_lib
from fastnn.backend import get_backend
from fastnn.callbacks import CallbackList, History, ProgbarLogger
from fastnn.layers.base import Workspace
from fastnn._threads import get_num_threads, threads
from fastnn.models import fit_data, stack_plan
from fastnn.models.thread_choice import ThreadChoice

# Outputs (and as many targets) that a block of training steps keeps for the metrics
METRIC_BLOCK_VALUES = 1 << 20


class TrainingMixin:
    """The Keras training API on top of Sequential's structure."""

    # ------------------------------------------------------------------ data
    def _dtype(self):
        for layer in self._layers:
            if layer._params:
                return layer._params[0].dtype
        from fastnn.config import floatx
        return numpy.dtype(floatx())

    def _prepare_x(self, x, name="x", finite=True):
        """`x` checked and as the model's dtype, C-contiguous (building the model on
        first use). With finite=False, the common case skips the NaN/infinity check: the
        caller checks (the compiled inference counts them while it reads x)."""
        if (type(x) is numpy.ndarray and self.built and x.ndim == 2 and x.shape[0]
                and x.shape[1] == self.input_shape[1] and x.flags.c_contiguous
                and x.dtype == self._dtype() and (not finite or numpy.isfinite(x.sum()))):
            return x  # the common case, checked in a microsecond or two (predict)
        shape = self.input_shape[1:] if self.built else self._declared_input_shape()
        arr = _validation.features(x, shape, numpy.float64 if not self.built else self._dtype(),
                                   name)
        if not self.built:
            self.build((None,) + tuple(arr.shape[1:]))
            arr = arr.astype(self._dtype(), copy=False)
        return arr

    def _prepare_y(self, y, n_samples, name="y"):
        arr = _validation.numeric_array(y, name)
        _validation.same_length(range(n_samples), arr, "x", name)
        return self.loss.prepare_target(arr, self.output_shape[-1], self._dtype())

    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise _validation.NotCompiledError(f"You must call `compile()` before `{what}()`, e.g. "
                               f"model.compile(optimizer='adam', loss='mse')")

    def _setup_training(self, y):
        """Resolve metrics and loss fusion once the labels are known."""
        sparse = y.ndim == 1
        n_outputs = self.output_shape[-1]
        self.compiled_metrics = [metrics_lib.resolve(m, self.loss, n_outputs, sparse)
                                 for m in self._metric_specs]
        self.compiled_weighted_metrics = [
            metrics_lib.resolve(m, self.loss, n_outputs, sparse)
            for m in self._weighted_metric_specs]
        self._metric_names = metrics_lib.log_names(self.compiled_metrics,
                                                   self.compiled_weighted_metrics)
        last = self._layers[-1]
        self._loss_kind, self._fused = self.loss.kernel(getattr(last, "activation", None))
        self._fused = self._fused and hasattr(last, "keep_preact")
        if hasattr(last, "keep_preact"):
            last.keep_preact = self._fused
        self._dropout_layers = [l for l in self._layers if hasattr(l, "rate")]
        stack_plan.forget_plans(self)
        self._params = [p for l in self._layers if l.trainable for p in l._params]
        self._grads = [g for l in self._layers if l.trainable for g in l._grads]
        self._training_ready = True

    # ------------------------------------------------------------------ steps
    def _forward(self, x, training, workspace):
        out = x
        for layer in self._layers:
            out = layer.forward(out, training, workspace)
        return out

    def _train_step(self, x, y, w, workspace, n_threads=None):
        plan = stack_plan.plan_for(self, x.shape[0])
        n_threads = get_num_threads() if n_threads is None else n_threads
        if plan is not None:
            return self._planned_step(plan, x, y, w, workspace, n_threads)
        if n_threads != get_num_threads():
            with threads(n_threads):
                return self._layer_step(x, y, w, workspace)
        return self._layer_step(x, y, w, workspace)

    def _layer_step(self, x, y, w, workspace):
        """_train_step layer by layer, for any model on any backend."""
        backend = get_backend()
        out = self._forward(x, True, workspace)
        pred = self._layers[-1]._z if self._fused else out
        grad = workspace.buffer(self, "dloss", pred.shape, pred.dtype)
        loss = backend.loss_grad(self._loss_kind, self.loss._param(), pred, y, w, grad)
        loss += self._regularization_loss()
        self._backward(grad, workspace)
        self.optimizer.apply(self._params, self._grads)
        return loss, out

    def _planned_step(self, plan, x, y, w, workspace, n_threads):
        """_train_step for a plain Dense/Dropout stack: forward and backward are one
        compiled call each (fastnn.models.stack_plan), on `n_threads` threads."""
        out = plan.forward(x, self._next_dropout_steps(), n_threads)
        pred = plan.logits if self._fused else out
        grad = plan.loss_grad   # the plan's own buffer, shaped as pred
        loss = get_backend().loss_grad(self._loss_kind, self.loss._param(), pred, y, w, grad)
        plan.backward(x, grad, self._fused, n_threads)
        self.optimizer.apply(self._params, self._grads, n_threads=n_threads)
        return loss, out

    def _next_dropout_steps(self, n_steps=1):
        """The Philox step of each Dropout layer for this training step (the first of the
        next n_steps), then advanced (a plan runs the layers' masks itself)."""
        dropouts = self._dropout_layers
        steps = tuple([d.step for d in dropouts])
        for d in dropouts:
            d.step += n_steps
        return steps

    def _whole_step(self, data, idx, group, n_threads):
        """A training step as one compiled call (StackPlan.train_step: gather, forward,
        loss, backward and the update of every parameter through the optimizer's
        ParamGroup `group`), returning (loss, output, batch targets, batch weights); or
        None where the model has no plan for this batch size."""
        plan = stack_plan.plan_for(self, len(idx))
        if plan is None:
            return None
        xb, yb, wb = data
        loss = plan.train_step(xb, yb, wb, idx, self._loss_kind, self.loss._param(),
                               self._fused, self._next_dropout_steps(), group,
                               self.optimizer.group_update_args(), n_threads)
        return loss, plan.output, plan.batch_y, None if wb is None else plan.batch_w

    def _whole_steps(self, data, order, step, n_steps, batch_size, group, n_threads):
        """Steps step .. step + n_steps - 1 of the epoch (whole batches of `order`) as one
        compiled loop (StackPlan train_steps), each exactly a _whole_step, the compiled
        metrics updated once with the block's outputs; returns their losses, or None
        where the model has no plan for this batch size."""
        plan = stack_plan.plan_for(self, batch_size)
        if plan is None:
            return None
        from fastnn._kernels.compiled import train_steps
        xb, yb, wb = data
        outputs = targets = None
        if self._all_metrics():
            rows = n_steps * batch_size
            outputs = numpy.empty((rows,) + plan.output.shape[1:], plan.output.dtype)
            targets = numpy.empty((rows,) + yb.shape[1:], yb.dtype)
        updates = numpy.array(self.optimizer.group_update_rows(n_steps), numpy.float64)
        losses = train_steps(plan, xb, yb, wb, order, step * batch_size, self._loss_kind,
                             self.loss._param(), self._fused, self._next_dropout_steps(n_steps),
                             group, updates, n_threads, outputs, targets)
        if outputs is not None:
            rows = order[step * batch_size:(step + n_steps) * batch_size]
            self._update_metrics(targets, outputs, None if wb is None else wb[rows])
        return losses

    def _backward(self, grad, workspace, is_dz=None, to_input=False):
        """Backpropagate `grad` (d loss / d output, or d loss / d logits when fused);
        parameter gradients land in each layer's gradient buffers. With `to_input`, returns
        d loss / d x and leaves the parameter gradients alone."""
        is_dz = self._fused if is_dz is None else is_dz
        first_trainable = next((j for j, l in enumerate(self._layers)
                                if l.trainable and l._params), len(self._layers))
        for i in range(len(self._layers) - 1, -1, -1):
            layer = self._layers[i]
            fuse = None
            if i > 0 and layer.fuses_input_grad:
                fuse = self._layers[i - 1].fusable_activation()
            # the input gradient of the first layers is skipped when nothing needs it
            need = to_input or i > first_trainable
            grad = layer.backward(grad, workspace, grad_is_dz=is_dz, need_input_grad=need,
                                  fuse=fuse if i > 0 else None, param_grads=not to_input)
            if not need:
                return None
            is_dz = fuse is not None
        return grad

    def _regularization_loss(self):
        return sum(l.regularization_loss() for l in self._layers
                   if hasattr(l, "regularization_loss"))

    def _all_metrics(self):
        return self.compiled_metrics + self.compiled_weighted_metrics

    def _update_metrics(self, y, out, w):
        # as in Keras, sample and class weights reach weighted_metrics, not metrics
        if not self.compiled_metrics and not self.compiled_weighted_metrics:
            return
        backend = get_backend()
        pred, labels = backend.to_numpy(out), backend.to_numpy(y)
        for metric in self.compiled_metrics:
            metric.update_state(labels, pred)
        weights = None if w is None else backend.to_numpy(w)
        for metric in self.compiled_weighted_metrics:
            metric.update_state(labels, pred, weights)

    def _logs(self, loss_total, count):
        logs = {"loss": loss_total / max(count, 1)}
        for name, metric in zip(self._metric_names, self._all_metrics()):
            logs[name] = metric.result()
        return logs

    def _loss_weights(self, w, n_samples):
        """Sample weights with compile's `loss_weights` factor applied."""
        if self._loss_weight == 1.0:
            return w
        if w is None:
            return numpy.full(n_samples, self._loss_weight, self._dtype())
        return (w * self._loss_weight).astype(w.dtype, copy=False)

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, validation_freq=1):
        """Train the model for `epochs` epochs.

        Args:
            x, y: the training inputs (n_samples, n_features) and targets.
            batch_size: samples per gradient step (None means 32).
            epochs: the epoch to stop after (counting from 0, so with `initial_epoch` it
                is the final epoch number, not a count).
            verbose: 'auto' (1), 0 silent, 1 a live progress bar (one line per epoch when
                the output is not a terminal), 2 one line per epoch.
            callbacks: a list of fastnn.callbacks.Callback.
            validation_split: the fraction of the data held out for validation: the
                *last* samples, taken before shuffling, as in Keras.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight); overrides
                `validation_split`.
            shuffle: whether to shuffle the training samples before each epoch.
            class_weight: {class index: weight}, multiplying the training loss of each
                sample of that class.
            sample_weight: per-sample loss weights (n_samples,).
            initial_epoch: the epoch to start from (to resume an earlier run).
            validation_freq: validate every that many epochs.

        Returns:
            A `History`; ``.history`` maps 'loss', each metric and their 'val_' versions
            to a list with one value per epoch.

        Example:
            >>> history = model.fit(x, y, epochs=5, validation_split=0.1)  # doctest: +SKIP
        """
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else _validation.positive_int(batch_size,
                                                                             "batch_size")
        epochs = _validation.positive_int(epochs, "epochs")
        initial_epoch = _validation.integer(initial_epoch, "initial_epoch", minimum=0)
        validation_freq = _validation.positive_int(validation_freq, "validation_freq")
        validation_split = _validation.fraction(validation_split, "validation_split")
        verbose = fit_data.check_verbose(verbose)
        if not isinstance(shuffle, (bool, numpy.bool_)):
            raise ValueError(f"`shuffle` must be True or False; got {shuffle!r}")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        w = _validation.sample_weights(sample_weight, len(x), self._dtype())
        val = None
        if validation_data is not None:
            val = self._prepare_validation(validation_data)
        elif validation_split > 0:
            (x, y, w), (vx, vy, vw) = fit_data.split_validation(
                x, y, w, validation_split, self._is_classifier())
            val = (vx, vy, self._loss_weights(vw, len(vx)))
        w = fit_data.apply_class_weight(class_weight, y, w, self._dtype())
        w = self._loss_weights(w, len(x))
        self._setup_training(y)
        backend = get_backend()
        data = (backend.asarray(x), backend.asarray(y), None if w is None else
                backend.asarray(w))
        steps = -(-len(x) // batch_size)
        history = History()
        cbs = CallbackList(([ProgbarLogger(verbose)] if verbose else []) +
                           list(callbacks or []) + [history], self,
                           {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.history = history
        self._train_workspace = Workspace()
        self._thread_choice = ThreadChoice(get_num_threads())
        # each epoch's order derives from the model's training seed and the epoch number
        if self.training_seed is None:
            self.training_seed = _random.next_seed()
        self.stop_training = False
        cbs.on_train_begin()
        batch_hooks = cbs.wants_train_batch_hooks()
        # the compiled update of every parameter, when each step can be one call
        group = (self.optimizer.param_group(self._params, self._grads)
                 if stack_plan.whole_steps(self, data) else None)
        logs = {}
        for epoch in range(initial_epoch, epochs):
            for metric in self._all_metrics():
                metric.reset_state()
            cbs.on_epoch_begin(epoch)
            order = (fit_data.epoch_order(self.training_seed, epoch, len(x)) if shuffle
                     else numpy.arange(len(x)))
            logs = self._train_epoch(data, order, batch_size, cbs, batch_hooks, group)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_arrays(*val, batch_size=batch_size, callbacks=cbs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return history

    def _train_epoch(self, data, order, batch_size, cbs, batch_hooks, group):
        """One epoch of steps over the samples in `order`; `batch_hooks`: whether to call
        the callbacks' batch hooks; `group`: the optimizer's ParamGroup when each step
        can be one compiled call (_whole_step), else None. Runs of whole batches that
        nothing needs to see step by step (no batch hooks, no timing for the thread
        choice, metrics that sum over samples) go to _whole_steps' compiled loop."""
        backend = get_backend()
        xb, yb, wb = data
        workspace = self._train_workspace
        order = backend.asarray(order.astype(numpy.int64))
        loss_total, count = 0.0, 0
        choice = self._thread_choice
        n_steps, whole = -(-len(order) // batch_size), len(order) // batch_size
        # metrics whose state is a sum over samples take a block's outputs at once
        in_blocks = group is not None and not batch_hooks and all(
            type(m).update_state is metrics_lib.Metric.update_state
            for m in self._all_metrics())
        longest = whole
        if self._all_metrics():   # the outputs kept for them: METRIC_BLOCK_VALUES
            longest = max(2, METRIC_BLOCK_VALUES // (batch_size * self.output_shape[-1]))
        step = 0
        while step < n_steps:
            run = min(whole - step, choice.steady_steps(), longest) if in_blocks else 0
            losses = (self._whole_steps(data, order, step, run, batch_size, group,
                                        choice.threads()) if run > 1 else None)
            if losses is not None:
                choice.skip(run)
                for loss in losses.tolist():   # summed as the loop below sums them
                    loss_total += loss * batch_size
                count += run * batch_size
                step += run
                continue
            if batch_hooks:
                cbs.on_train_batch_begin(step)
            idx = order[step * batch_size:(step + 1) * batch_size]
            n_threads = choice.threads()
            start = time.perf_counter()
            done = None if group is None else self._whole_step(data, idx, group, n_threads)
            if done is not None:
                loss, out, by, bw = done
            else:
                bx = self._take_samples(xb, idx, workspace)
                by = self._take_labels(yb, idx, workspace)
                bw = None if wb is None else wb[idx]
                loss, out = self._train_step(bx, by, bw, workspace, n_threads)
            choice.record(time.perf_counter() - start)
            loss_total += loss * len(idx)
            count += len(idx)
            self._update_metrics(by, out, bw)
            if batch_hooks:
                cbs.on_train_batch_end(step, self._logs(loss_total, count))
                if self.stop_training:
                    break
            step += 1
        return self._logs(loss_total, count)

    def _is_classifier(self):
        name = getattr(self.loss, "name", "")
        return "crossentropy" in name or "hinge" in name

    def _take_samples(self, xb, idx, workspace):
        """The samples `idx` of `xb` in a reused buffer. Samples of any shape (images
        before a Flatten) are gathered as rows of their flattened, C-contiguous view."""
        backend = get_backend()
        rows = workspace.buffer(self, "x", (len(idx),) + xb.shape[1:], xb.dtype)
        if xb.ndim == 2:
            return backend.take_rows(xb, idx, out=rows)
        backend.take_rows(xb.reshape(len(xb), -1), idx, out=rows.reshape(len(idx), -1))
        return rows

    def _take_labels(self, yb, idx, workspace):
        backend = get_backend()
        if yb.ndim == 1:
            out = workspace.buffer(self, "y1", (len(idx),), yb.dtype)
            out[...] = yb[idx]
            return out
        return backend.take_rows(yb, idx, out=workspace.buffer(
            self, "y", (len(idx), yb.shape[1]), yb.dtype))

    def _prepare_validation(self, data):
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             f"(x_val, y_val, sample_weight); got {type(data).__name__}")
        vx = self._prepare_x(data[0], "validation_data[0]")
        vy = self._prepare_y(data[1], len(vx), "validation_data[1]")
        vw = _validation.sample_weights(data[2] if len(data) == 3 else None, len(vx),
                                        self._dtype(), "validation_data[2]")
        return vx, vy, self._loss_weights(vw, len(vx))

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch.

        Returns:
            That batch's loss (a float) without metrics, [loss, *metrics] with them (the
            metrics of this batch alone), or a dict with `return_dict`.
        """
        self._require_compiled("train_on_batch")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        w = _validation.sample_weights(sample_weight, len(x), self._dtype())
        w = fit_data.apply_class_weight(class_weight, y, w, self._dtype())
        w = self._loss_weights(w, len(x))
        if not self._training_ready or not hasattr(self, "_train_workspace"):
            self._setup_training(y)
            self._train_workspace = Workspace()
        backend = get_backend()
        by = backend.asarray(y)
        loss, out = self._train_step(backend.asarray(x), by,
                                     None if w is None else backend.asarray(w),
                                     self._train_workspace)
        for metric in self._all_metrics():
            metric.reset_state()
        self._update_metrics(by, out, w)
        logs = self._logs(loss, 1)
        return logs if return_dict else (loss if len(logs) == 1 else list(logs.values()))
