"""fit / train_on_batch for Sequential: data checks, epochs, batching and callbacks.

The training step itself belongs to the model's executor: the model compiles its layers,
loss and optimizer into a Program (fastnn.backend.program) and the active backend
compiles that into an executor (`backend.compile(program)`): on the cpu backend one fused
compiled call per step (and one compiled loop per run of steps), elsewhere layer by layer
on the backend's kernels. fit only hands it runs of steps.
"""
import time

import numpy

from fastnn import _random, _validation, distributed
from fastnn import metrics as metrics_lib
from fastnn.backend import get_backend
from fastnn.callbacks import CallbackList, History, ProgbarLogger
from fastnn.layers.base import Workspace
from fastnn._threads import get_num_threads
from fastnn.backend.program import Program
from fastnn.models import data_adapters, fit_data, streaming
from fastnn.models.thread_choice import ThreadChoice

# Outputs (and as many targets) that a block of training steps keeps for the metrics
METRIC_BLOCK_VALUES = 1 << 20


class TrainingMixin:
    """The Keras training API on top of Sequential's structure."""

    # ------------------------------------------------------------------ data
    def _dtype(self):
        for layer in self._layers:
            for p in layer._params:
                if p.dtype.kind == "f":    # a quantized layer's int8 kernel says nothing
                    return p.dtype
        from fastnn.config import floatx
        return numpy.dtype(floatx())

    def _prepare_x(self, x, name="x", finite=True):
        """`x` checked and as the model's dtype, C-contiguous (building the model on
        first use). With finite=False, the common case skips the NaN/infinity check: the
        caller checks (the compiled inference counts them while it reads x)."""
        if (type(x) is numpy.ndarray and self.built and x.ndim == 2 and x.shape[0]
                and x.shape[1] == self.input_shape[1] and x.flags.c_contiguous
                and x.dtype == self._dtype()
                and (not finite or not _validation.count_nonfinite(x, get_num_threads()))):
            return x  # the common case, checked in a microsecond or two (predict)
        shape = self.input_shape[1:] if self.built else self._declared_input_shape()
        if shape is not None and tuple(shape) == (1,) and getattr(x, "ndim", None) == 1:
            x = numpy.asarray(x).reshape(-1, 1)   # one feature per sample, as Keras expands
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
        """Resolve the metrics once the labels are known, and compile the program."""
        sparse = y.ndim == 1
        n_outputs = self.output_shape[-1]
        self.compiled_metrics = [metrics_lib.resolve(m, self.loss, n_outputs, sparse)
                                 for m in self._metric_specs]
        self.compiled_weighted_metrics = [
            metrics_lib.resolve(m, self.loss, n_outputs, sparse)
            for m in self._weighted_metric_specs]
        self._metric_names = metrics_lib.log_names(self.compiled_metrics,
                                                   self.compiled_weighted_metrics)
        self._compile_program()

    def _compile_program(self):
        """The model as one Program (layers, loss, optimizer) and the active backend's
        executor of it, in `self.executor`; the same executor (and its compiled plans)
        again while none of those, the backend or what is trainable has changed."""
        backend = get_backend()
        key = (backend, tuple(self._layers), tuple(l.trainable for l in self._layers),
               self.loss, self.optimizer, self._dtype())
        if self.executor is None or self.__dict__.get("_program_key") != key:
            self.program = Program(self._layers, self.input_shape[1:],
                                   self.output_shape[1:], self._dtype(), self.loss,
                                   self.optimizer)
            self.executor = backend.compile(self.program)
            self._program_key = key
        self._training_ready = True

    def _training_executor(self):
        """The executor of the compiled model on the active backend (compiled again
        after a switch of backend)."""
        if self.executor is None or self.executor.backend is not get_backend():
            self._compile_program()
        return self.executor

    def _finalize_optimizer(self):
        """The end of fit: the optimizer's finalize_variable_values on the weights it
        trains (with use_ema, Keras overwrites them by their moving averages)."""
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "finalize_variable_values"):
            optimizer.finalize_variable_values(self._training_executor().program.params)

    # ------------------------------------------------------------------ pieces
    def _forward(self, x, training, workspace):
        return self._current_executor().forward(x, training, workspace)

    def _backward(self, grad, workspace, is_dz=None, to_input=False):
        return self._current_executor().backward(grad, workspace, is_dz, to_input)

    def _current_executor(self):
        """The training executor where the model is compiled, else one for inference."""
        if self._training_ready and self.executor is not None:
            return self._training_executor()
        return self._inference_executor()

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
            sample_weight=None, initial_epoch=0, validation_freq=1, steps_per_epoch=None,
            validation_steps=None, validation_batch_size=None):
        """Train the model for `epochs` epochs.

        Args:
            x, y: the training inputs (n_samples, n_features) and targets: arrays, pandas
                objects, or arrays larger than memory (numpy.memmap, Dask, h5py and
                other chunked arrays: read a batch at a time). `x` may also be a generator / iterable of batches or a
                PyDataset-like object, each batch (x, y) or (x, y, sample_weight), with no
                `y`, `sample_weight` or `batch_size` (see fastnn.models.data_adapters).
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
            steps_per_epoch: batches per epoch (by default all; a generator without
                it runs until it is exhausted).
            validation_steps: batches of a validation generator / PyDataset per
                validation (by default all).
            validation_batch_size: rows per validation batch (by default batch_size).

        Returns:
            A `History`; ``.history`` maps 'loss', each metric and their 'val_' versions
            to a list with one value per epoch.

        Example:
            >>> history = model.fit(x, y, epochs=5, validation_split=0.1)  # doctest: +SKIP
        """
        self._require_compiled("fit")
        given_batch_size = batch_size
        batch_size = 32 if batch_size is None else _validation.positive_int(batch_size,
                                                                             "batch_size")
        epochs = _validation.positive_int(epochs, "epochs")
        initial_epoch = _validation.integer(initial_epoch, "initial_epoch", minimum=0)
        validation_freq = _validation.positive_int(validation_freq, "validation_freq")
        validation_split = _validation.fraction(validation_split, "validation_split")
        verbose = fit_data.check_verbose(verbose)
        if not isinstance(shuffle, (bool, numpy.bool_)):
            raise ValueError(f"`shuffle` must be True or False; got {shuffle!r}")
        data_adapters.counts(validation_batch_size=validation_batch_size)
        dist = distributed.distribution()
        if dist is not None and (data_adapters.is_streamed(x) or steps_per_epoch is not None
                                 or data_adapters.is_streamed(validation_data)):
            raise ValueError(f"distributed training ({dist!r}) takes arrays in memory, "
                             f"not batches from a generator or PyDataset")
        if (steps_per_epoch is not None or validation_steps is not None
                or data_adapters.is_streamed(x)
                or data_adapters.is_streamed(validation_data)):
            return streaming.fit(
                self, x, y, given_batch_size, epochs, verbose, callbacks, validation_split,
                validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                validation_freq, *data_adapters.counts(
                    steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                    validation_batch_size=validation_batch_size))
        x, y = data_adapters.unpandas(x), data_adapters.unpandas(y)
        sample_weight = data_adapters.unpandas(sample_weight)
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
        self._is_chief = dist is None or dist.is_chief   # prints and writes files
        verbose = verbose if self._is_chief else 0
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
        self._fit_executor = (None if dist is None else
                              dist.prepare_fit(self, x, y, w, val, batch_size, epochs, shuffle))
        try:
            return self._fit_epochs(data, x, val, batch_size, epochs, initial_epoch, shuffle,
                                    validation_freq, cbs, history)
        finally:
            self._fit_executor = None

    def _fit_epochs(self, data, x, val, batch_size, epochs, initial_epoch, shuffle,
                    validation_freq, cbs, history):
        """fit's loop over the epochs, from the callbacks' on_train_begin to
        on_train_end; returns the History."""
        cbs.on_train_begin()
        # a callback (BackupAndRestore) may have restored a run that reached this epoch
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        batch_hooks = cbs.wants_train_batch_hooks()
        self._training_executor()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            for metric in self._all_metrics():
                metric.reset_state()
            cbs.on_epoch_begin(epoch)
            order = (fit_data.epoch_order(self.training_seed, epoch, len(x)) if shuffle
                     else numpy.arange(len(x)))
            logs = self._train_epoch(data, order, batch_size, cbs, batch_hooks)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_arrays(*val, batch_size=batch_size, callbacks=cbs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        self._finalize_optimizer()   # Keras: the EMA weights, with use_ema
        cbs.on_train_end(logs)
        return history

    def _train_epoch(self, data, order, batch_size, cbs, batch_hooks):
        """One epoch of steps over the samples in `order`, handed to the executor in
        runs: one step at a time where something watches each step (batch hooks, the
        thread choice's timing, metrics that are not sums over samples), else whole runs
        of full batches (one compiled loop on the cpu backend)."""
        executor = self.__dict__.get("_fit_executor") or self.executor
        workspace = self._train_workspace
        order = get_backend().asarray(order.astype(numpy.int64))
        loss_total, count = 0.0, 0
        choice = self._thread_choice
        n_steps, whole = -(-len(order) // batch_size), len(order) // batch_size
        metrics = self._all_metrics()
        # metrics whose state is a sum over samples take a run's outputs at once
        in_runs = not batch_hooks and all(metrics_lib.sums_over_samples(m) for m in metrics)
        longest = whole
        if metrics:   # the outputs kept for them: METRIC_BLOCK_VALUES
            longest = max(2, METRIC_BLOCK_VALUES // (batch_size * self.output_shape[-1]))
        step = 0
        while step < n_steps:
            run = min(whole - step, choice.steady_steps(), longest) if in_runs else 1
            run = max(run, 1)
            rows = min(batch_size, len(order) - step * batch_size)
            if batch_hooks:
                cbs.on_train_batch_begin(step)
            start = time.perf_counter()
            losses, outputs, targets, weights = executor.train_steps(
                data, order, step * batch_size, run, rows, choice.threads(), workspace,
                bool(metrics))
            if run == 1:
                choice.record(time.perf_counter() - start)
            else:
                choice.skip(run)
            for loss in losses.tolist():
                loss_total += loss * rows
            count += run * rows
            if metrics:
                self._update_metrics(targets, outputs, weights)
            if batch_hooks:
                cbs.on_train_batch_end(step, self._logs(loss_total, count))
                if self.stop_training:
                    break
            step += run
        return self._logs(loss_total, count)

    def _is_classifier(self):
        name = getattr(self.loss, "name", "")
        return "crossentropy" in name or "hinge" in name

    def _prepare_validation(self, data):
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             f"(x_val, y_val, sample_weight); got {type(data).__name__}")
        data = [data_adapters.unpandas(v) for v in data]
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
        data = (backend.asarray(x), backend.asarray(y),
                None if w is None else backend.asarray(w))
        order = backend.asarray(numpy.arange(len(x), dtype=numpy.int64))
        losses, out, by, bw = self._training_executor().train_steps(
            data, order, 0, 1, len(x), get_num_threads(), self._train_workspace, True)
        loss = float(losses[0])
        for metric in self._all_metrics():
            metric.reset_state()
        self._update_metrics(by, out, bw)
        logs = self._logs(loss, 1)
        return logs if return_dict else (loss if len(logs) == 1 else list(logs.values()))
