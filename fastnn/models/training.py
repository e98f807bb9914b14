"""fit / evaluate / predict for Sequential: data checks, batching and the training step.

A training step is: gather the batch into reused buffers, forward through the layers
(writing into per-layer buffers), one fused loss-and-gradient call, the backward pass
(each Dense applies the previous layer's act' while computing its input gradient),
and one optimizer call per parameter.
"""
import threading

import numpy

from fastnn import _random, _validation
from fastnn import metrics as metrics_lib
from fastnn.backend import get_backend
from fastnn.callbacks import CallbackList, History, ProgbarLogger
from fastnn.layers.base import Workspace

# Rows per forward call in predict/evaluate: activations of a chunk stay in cache.
PREDICT_CHUNK = 1024


class TrainingMixin:
    """The Keras training API on top of Sequential's structure."""

    # ------------------------------------------------------------------ data
    def _dtype(self):
        for layer in self._layers:
            if layer.weights:
                return layer.weights[0].dtype
        from fastnn.config import floatx
        return numpy.dtype(floatx())

    def _prepare_x(self, x, name="x"):
        shape = self.input_shape[1:] if self.built else (
            self._layers[0].input_shape if self._layers else None)
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
        self.compiled_metrics = [metrics_lib.resolve(m, self.loss, self.output_shape[-1],
                                                     sparse) for m in self._metric_specs]
        last = self._layers[-1]
        self._loss_kind, self._fused = self.loss.kernel(getattr(last, "activation", None))
        self._fused = self._fused and hasattr(last, "keep_preact")
        if hasattr(last, "keep_preact"):
            last.keep_preact = self._fused
        self._params = [p for l in self._layers if l.trainable for p in l._params]
        self._grads = [g for l in self._layers if l.trainable for g in l._grads]
        self._training_ready = True

    # ------------------------------------------------------------------ steps
    def _forward(self, x, training, workspace):
        out = x
        for layer in self._layers:
            out = layer.forward(out, training, workspace)
        return out

    def _train_step(self, x, y, w, workspace):
        backend = get_backend()
        out = self._forward(x, True, workspace)
        pred = self._layers[-1]._z if self._fused else out
        grad = workspace.buffer(self, "dloss", pred.shape, pred.dtype)
        loss = backend.loss_grad(self._loss_kind, self.loss._param(), pred, y, w, grad)
        loss += self._regularization_loss()
        self._backward(grad, workspace)
        self.optimizer.apply(self._params, self._grads)
        return loss, out

    def _backward(self, grad, workspace, is_dz=None, to_input=False):
        """Backpropagate `grad` (d loss / d output, or d loss / d logits when fused);
        parameter gradients land in each layer's gradient buffers. With `to_input`, returns
        d loss / d x and leaves the parameter gradients alone."""
        is_dz = self._fused if is_dz is None else is_dz
        for i in range(len(self._layers) - 1, -1, -1):
            layer = self._layers[i]
            fuse = None
            if i > 0 and layer.fuses_input_grad:
                fuse = self._layers[i - 1].fusable_activation()
            # the input gradient of the first layers is skipped when nothing needs it
            need = to_input or any(l.trainable and l.weights for l in self._layers[:i])
            grad = layer.backward(grad, workspace, grad_is_dz=is_dz, need_input_grad=need,
                                  fuse=fuse if i > 0 else None, param_grads=not to_input)
            if not need:
                return None
            is_dz = fuse is not None
        return grad

    def input_gradient(self, x, output_grad):
        """Vector-Jacobian product down to the inputs: d(sum(output * output_grad)) / d x.

        Runs in inference mode (dropout off) on the active backend; used by
        fastnn.explain for saliency and attributions.

        Args:
            x: inputs (n_samples, n_features).
            output_grad: weights on the outputs, shape (n_samples, n_outputs).

        Returns:
            A NumPy array shaped like `x`.
        """
        x = self._prepare_x(x)
        backend = get_backend()
        g = numpy.ascontiguousarray(output_grad, dtype=x.dtype)
        if g.shape != (len(x),) + tuple(self.output_shape[1:]):
            raise ValueError(f"`output_grad` must have shape {(len(x),) + tuple(self.output_shape[1:])}; got {g.shape}")
        workspace = Workspace()
        self._forward(backend.asarray(x), False, workspace)
        dx = self._backward(backend.asarray(g), workspace, is_dz=False, to_input=True)
        return backend.to_numpy(dx).copy()

    def _regularization_loss(self):
        return sum(l.regularization_loss() for l in self._layers
                   if hasattr(l, "regularization_loss"))

    def _update_metrics(self, y, out, w):
        if not self.compiled_metrics:
            return
        pred = get_backend().to_numpy(out)
        labels = get_backend().to_numpy(y)
        for metric in self.compiled_metrics:
            metric.update_state(labels, pred, None if w is None else get_backend().to_numpy(w))

    def _logs(self, loss_total, count):
        logs = {"loss": loss_total / max(count, 1)}
        for metric in self.compiled_metrics:
            logs[metric.name] = metric.result()
        return logs

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0):
        """Train the model; returns a `History` whose ``.history`` has 'loss', each metric,
        and 'val_' versions when there is validation data."""
        self._require_compiled("fit")
        batch_size = _validation.positive_int(batch_size, "batch_size")
        epochs = _validation.positive_int(epochs, "epochs")
        validation_split = _validation.fraction(validation_split, "validation_split")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        w = _validation.sample_weights(sample_weight, len(x), self._dtype())
        w = self._apply_class_weight(class_weight, y, w)
        if validation_data is None and validation_split > 0:
            n_val = int(len(x) * validation_split)
            if n_val == 0 or n_val == len(x):
                raise ValueError(f"`validation_split`={validation_split} leaves no samples "
                                 f"for training or validation out of {len(x)}")
            val = (x[-n_val:], y[-n_val:], None if w is None else w[-n_val:])
            x, y, w = x[:-n_val], y[:-n_val], None if w is None else w[:-n_val]
        elif validation_data is not None:
            val = self._prepare_validation(validation_data)
        else:
            val = None
        self._setup_training(y)
        backend = get_backend()
        xb, yb = backend.asarray(x), backend.asarray(y)
        wb = None if w is None else backend.asarray(w)
        n = len(x)
        steps = -(-n // batch_size)
        history = History()
        verbose = 1 if verbose == "auto" else int(verbose)
        cbs = [history] + list(callbacks or []) + ([ProgbarLogger(verbose)] if verbose else [])
        cbs = CallbackList(cbs, self, {"epochs": epochs, "steps": steps, "verbose": verbose})
        self.history = history
        self._train_workspace = workspace = Workspace()
        rng = _random.generator()
        self.stop_training = False
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            for metric in self.compiled_metrics:
                metric.reset_state()
            order = rng.permutation(n) if shuffle else numpy.arange(n)
            order = backend.asarray(order.astype(numpy.int64))
            loss_total, count = 0.0, 0
            for step in range(steps):
                cbs.on_train_batch_begin(step)
                idx = order[step * batch_size:(step + 1) * batch_size]
                bx = backend.take_rows(xb, idx, out=workspace.buffer(
                    self, "x", (len(idx),) + xb.shape[1:], xb.dtype))
                by = self._take_labels(yb, idx, workspace)
                bw = None if wb is None else wb[idx]
                loss, out = self._train_step(bx, by, bw, workspace)
                loss_total += loss * len(idx)
                count += len(idx)
                self._update_metrics(by, out, bw)
                cbs.on_train_batch_end(step, self._logs(loss_total, count))
            logs = self._logs(loss_total, count)
            if val is not None:
                val_logs = self._evaluate_arrays(*val, batch_size=batch_size)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()
        return history

    def _take_labels(self, yb, idx, workspace):
        backend = get_backend()
        if yb.ndim == 1:
            out = workspace.buffer(self, "y1", (len(idx),), yb.dtype)
            out[...] = yb[idx]
            return out
        return backend.take_rows(yb, idx, out=workspace.buffer(
            self, "y", (len(idx), yb.shape[1]), yb.dtype))

    def _apply_class_weight(self, class_weight, y, w):
        if not class_weight:
            return w
        labels = y if y.ndim == 1 else (y.argmax(axis=1) if y.shape[1] > 1 else
                                         (y[:, 0] > 0.5).astype(numpy.int64))
        cw = numpy.ones(len(y), dtype=self._dtype())
        for cls, weight in class_weight.items():
            cw[labels == int(cls)] = weight
        return cw if w is None else w * cw

    def _prepare_validation(self, data):
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             f"(x_val, y_val, sample_weight); got {type(data).__name__}")
        vx = self._prepare_x(data[0], "validation_data[0]")
        vy = self._prepare_y(data[1], len(vx), "validation_data[1]")
        vw = _validation.sample_weights(data[2] if len(data) == 3 else None, len(vx),
                                        self._dtype(), "validation_data[2]")
        return vx, vy, vw

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, x=None, y=None, batch_size=32, verbose="auto", sample_weight=None,
                 return_dict=False):
        """The loss (a float) without metrics, or [loss, *metrics] with them."""
        self._require_compiled("evaluate")
        batch_size = _validation.positive_int(batch_size, "batch_size")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        w = _validation.sample_weights(sample_weight, len(x), self._dtype())
        if not self._training_ready:
            self._setup_training(y)
        logs = self._evaluate_arrays(x, y, w, batch_size)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _evaluate_arrays(self, x, y, w, batch_size):
        backend = get_backend()
        metrics = self.compiled_metrics
        saved = [(m._total, m._count) for m in metrics]
        for m in metrics:
            m.reset_state()
        kind, _ = self.loss.kernel(None)
        workspace = self._predict_workspace()
        total = 0.0
        chunk = max(batch_size, PREDICT_CHUNK)
        for start in range(0, len(x), chunk):
            bx = backend.asarray(x[start:start + chunk])
            by = backend.asarray(y[start:start + chunk])
            bw = None if w is None else backend.asarray(w[start:start + chunk])
            out = self._forward(bx, False, workspace)
            total += backend.loss_grad(kind, self.loss._param(), out, by, bw) * len(bx)
            self._update_metrics(by, out, bw)
        logs = {"loss": total / len(x) + self._regularization_loss()}
        for m, (t, c) in zip(metrics, saved):
            logs[m.name] = m.result()
            m._total, m._count = t, c
        return logs

    # ------------------------------------------------------------------ predict
    def _predict_workspace(self):
        local = self.__dict__.setdefault("_thread_local", threading.local())
        if not hasattr(local, "workspace"):
            local.workspace = Workspace()
        return local.workspace

    def predict(self, x, batch_size=None, verbose="auto"):
        """The model's outputs for `x`, as a NumPy array (n_samples, n_outputs)."""
        if batch_size is not None:
            _validation.positive_int(batch_size, "batch_size")
        x = self._prepare_x(x)
        backend = get_backend()
        workspace = self._predict_workspace()
        result = numpy.empty((len(x),) + tuple(self.output_shape[1:]), dtype=x.dtype)
        for start in range(0, len(x), PREDICT_CHUNK):
            out = self._forward(backend.asarray(x[start:start + PREDICT_CHUNK]), False,
                                workspace)
            result[start:start + len(out)] = backend.to_numpy(out)
        return result

    def predict_on_batch(self, x):
        """`predict` on one batch."""
        return self.predict(x)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        w = _validation.sample_weights(sample_weight, len(x), self._dtype())
        w = self._apply_class_weight(class_weight, y, w)
        if not self._training_ready:
            self._setup_training(y)
            self._train_workspace = Workspace()
        backend = get_backend()
        loss, out = self._train_step(backend.asarray(x), backend.asarray(y),
                                     None if w is None else backend.asarray(w),
                                     self._train_workspace)
        self._update_metrics(backend.asarray(y), out, w)
        logs = self._logs(loss, 1)
        return logs if return_dict else (loss if len(logs) == 1 else list(logs.values()))

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """`evaluate` on one batch."""
        return self.evaluate(x, y, batch_size=len(x) if hasattr(x, "__len__") else 32,
                             sample_weight=sample_weight, return_dict=return_dict)
