"""evaluate / predict for Sequential: inference in chunks of rows, per-thread buffers.

Inference runs on an executor of the model's Program (fastnn.backend.program): on the
cpu backend, a Dense/Dropout stack runs each chunk of rows as one compiled call writing
straight into the result; other models go layer by layer. Each thread has its own buffers, so threads can predict with
one model at the same time.
"""
import math
import threading

import numpy

from fastnn._threads import get_num_threads
from fastnn import metrics as metrics_lib
from fastnn.backend import get_backend
from fastnn.callbacks import CallbackList, ProgbarLogger
from fastnn.layers.base import Workspace
from fastnn.backend.executor import flat_rows
from fastnn.backend.program import Program
from fastnn.models import data_adapters, fit_data, streaming
from fastnn import _validation

# Rows per forward call in predict/evaluate: activations of a chunk stay in cache.
PREDICT_CHUNK = 1024


class InferenceMixin:
    """The Keras inference API on top of Sequential's structure and forward pass."""

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 callbacks=None, return_dict=False, steps=None):
        """The loss and metrics on `x`, `y`, in inference mode.

        Args:
            x, y: inputs and targets (arrays, pandas objects or numpy.memmap), or `x` a
                generator / PyDataset of (x, y) or (x, y, sample_weight) batches.
            batch_size: accepted for Keras compatibility; rows are processed in chunks of
                at least 1024 for speed, which does not change the result.
            verbose: 'auto' (1), 0 silent, 1 or 2 one line with the results.
            sample_weight: per-sample loss weights.
            callbacks: callbacks receiving the test hooks.
            return_dict: return {'loss': ..., metric: ...} instead.
            steps: batches to evaluate (by default all).

        Returns:
            The loss (a float) without metrics, or [loss, *metrics] in compile order.
        """
        self._require_compiled("evaluate")
        x, y = data_adapters.unpandas(x), data_adapters.unpandas(y)
        sample_weight = data_adapters.unpandas(sample_weight)
        steps, = data_adapters.counts(steps=steps)
        if steps is not None or data_adapters.is_streamed(x):
            logs = streaming.evaluate(self, x, y, batch_size, fit_data.check_verbose(verbose),
                                      sample_weight, callbacks, steps)
            values = list(logs.values())
            return logs if return_dict else (values[0] if len(values) == 1 else values)
        batch_size = 32 if batch_size is None else _validation.positive_int(batch_size,
                                                                             "batch_size")
        verbose = fit_data.check_verbose(verbose)
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        w = self._loss_weights(_validation.sample_weights(sample_weight, len(x),
                                                         self._dtype()), len(x))
        if not self._training_ready:
            self._setup_training(y)
        steps = -(-len(x) // max(batch_size, PREDICT_CHUNK))
        cbs = CallbackList(([ProgbarLogger(verbose)] if verbose else []) +
                           list(callbacks or []), self,
                           {"epochs": 1, "steps": steps, "verbose": verbose})
        logs = self._evaluate_arrays(x, y, w, batch_size, cbs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _evaluate_arrays(self, x, y, w, batch_size, callbacks=None):
        backend = get_backend()
        metrics = self._all_metrics()
        saved = metrics_lib.save_states(metrics)   # fit's running state
        for m in metrics:
            m.reset_state()
        # its loss: the training step's own (inside a distributed fit, shared by the
        # processes)
        executor = self.__dict__.get("_fit_executor") or self._training_executor()
        workspace = self._predict_workspace()
        cbs = callbacks or CallbackList([], self, {})
        cbs.on_test_begin()
        total, reg = 0.0, executor.program.regularization_loss()
        chunk = max(batch_size, PREDICT_CHUNK)
        logs = {}
        for step, start in enumerate(range(0, len(x), chunk)):
            cbs.on_test_batch_begin(step)
            bx = backend.asarray(x[start:start + chunk])
            by = backend.asarray(y[start:start + chunk])
            bw = None if w is None else backend.asarray(w[start:start + chunk])
            out = executor.forward(bx, False, workspace)
            total += executor.loss_value(out, by, bw) * len(bx)
            self._update_metrics(by, out, bw)
            logs = {"loss": total / (start + len(bx)) + reg}
            logs.update((name, m.result()) for name, m in zip(self._metric_names, metrics))
            cbs.on_test_batch_end(step, dict(logs))
        metrics_lib.restore_states(metrics, saved)
        cbs.on_test_end(dict(logs))
        return logs

    # ------------------------------------------------------------------ predict
    def _thread_local(self):
        """This model's per-thread state: predicting threads never share buffers."""
        local = self.__dict__.get("_per_thread")
        if local is None:
            local = self.__dict__.setdefault("_per_thread", threading.local())
        return local

    def _inference_executor(self):
        """An executor of the model's layers for inference on the active backend: the
        training one where the model is compiled, else one of its own, made again when
        the layers or the backend change."""
        backend = get_backend()
        if self.executor is not None and self._training_ready and \
                self.executor.backend is backend and self.program.layers == tuple(self._layers):
            return self.executor
        cached = self.__dict__.get("_inference")
        if cached is None or cached.backend is not backend or \
                cached.program.layers != tuple(self._layers):
            program = Program(self._layers, self.input_shape[1:], self.output_shape[1:],
                              self._dtype())
            cached = self.__dict__["_inference"] = backend.compile(program)
        return cached

    def _predict_workspace(self):
        local = self._thread_local()
        if not hasattr(local, "workspace"):
            local.workspace = Workspace()
        return local.workspace

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None, steps=None):
        """The model's outputs for `x`, in inference mode.

        Args:
            x: inputs (n_samples, n_features): an array, a pandas object, a
                numpy.memmap or chunked array (read a chunk at a time), a generator /
                PyDataset of batches (each x, or a tuple whose first item is x), or a
                Dask array / DataFrame (see fastnn.distributed.dask_predict).
            batch_size: rows per forward call, and per predict batch hook of the
                callbacks (by default 1,024 rows a call; the outputs are the same).
            verbose: 'auto' (1), 0 silent, 1 or 2 one progress line.
            callbacks: callbacks receiving the predict hooks.
            steps: batches to predict (by default all).

        Returns:
            A NumPy array (n_samples, n_outputs); for a Dask `x`, a lazy Dask array.
        """
        if type(x) is not numpy.ndarray:
            if hasattr(type(x), "__dask_graph__"):   # a Dask collection: a lazy result
                from fastnn.distributed import dask_predict
                return dask_predict.predict(self, x, batch_size, callbacks, steps)
            x = data_adapters.unpandas(x)
            if steps is not None or data_adapters.is_streamed(x):
                steps, = data_adapters.counts(steps=steps)
                return streaming.predict(self, x, batch_size, fit_data.check_verbose(verbose),
                                         callbacks, steps)
        elif steps is not None:
            steps, = data_adapters.counts(steps=steps)
            return streaming.predict(self, x, batch_size, fit_data.check_verbose(verbose),
                                     callbacks, steps)
        chunk = PREDICT_CHUNK if batch_size is None else _validation.positive_int(
            batch_size, "batch_size")
        if verbose != 0 or callbacks:
            verbose = fit_data.check_verbose(verbose)
        if not verbose and not callbacks:
            out = self._serve(x) if chunk == PREDICT_CHUNK else None
            if out is not None:
                return out
            return self._predict_rows(self._prepare_x(x, finite=False), finite=False,
                                      chunk=chunk)
        x = self._prepare_x(x)
        cbs = CallbackList(([ProgbarLogger(verbose)] if verbose else []) +
                           list(callbacks or []), self,
                           {"epochs": 1, "steps": math.ceil(len(x) / chunk),
                            "verbose": verbose})
        cbs.on_predict_begin()
        result = self._predict_rows(x, callbacks=cbs, chunk=chunk)
        cbs.on_predict_end()
        return result

    def _serve(self, x):
        """The outputs for `x` by the compiled plan of the last one-chunk predict in this
        thread, or None unless `x` is that call's kind again: an ndarray of the same
        shape and dtype, C-contiguous, the same layers, on the same backend. The checks
        of _prepare_x and the plan lookup, in the fewest steps: a third of the Python
        time of a single-sample predict (6.1 -> 5.2 us on Zen 4). NaN and infinity are
        counted as the plan reads x."""
        serve = getattr(self._thread_local(), "serve", None)
        if (serve is None or type(x) is not numpy.ndarray or x.shape != serve[0]
                or x.dtype is not serve[1] or not x.flags.c_contiguous
                or self._layers != serve[2] or get_backend() is not serve[5]):
            return None
        plan, out_shape = serve[3], serve[4]
        out = numpy.empty(out_shape, x.dtype)
        bad = plan.infer(flat_rows(x), out, 1 if plan.single_thread else get_num_threads(),
                         True)
        if bad:
            raise _validation.not_finite("x", bad)
        return out

    def _predict_rows(self, x, finite=True, callbacks=None, chunk=PREDICT_CHUNK):
        """The outputs for x in chunks of `chunk` rows, each given to `callbacks`'
        predict batch hooks when there are any. On the cpu backend each chunk is one
        compiled call (the executor's inference_plan) writing straight into the
        result, with buffers kept per thread, so nothing else is allocated. With
        finite=False, x has not been checked for NaN and infinity yet: done here."""
        local = self._thread_local()
        try:
            plans = local.plans
        except AttributeError:
            plans = local.plans = {}
        if callbacks is None and 0 < len(x) <= chunk:
            # one chunk, the serving call: a third of a single sample's time went in the
            # loop, the slices and the output shape's lookup
            executor = self._inference_executor()
            plan = executor.inference_plan(len(x), plans)
            if plan is not None:
                out = numpy.empty((len(x), plan.output.shape[1]), x.dtype)
                n_threads = 1 if plan.single_thread else get_num_threads()
                bad = plan.infer(flat_rows(x), out, n_threads, not finite)
                if bad:
                    raise _validation.not_finite("x", bad)
                local.serve = (x.shape, x.dtype, list(self._layers), plan, out.shape,
                               executor.backend)
                return out
        result = numpy.empty((len(x),) + tuple(self.output_shape[1:]), dtype=x.dtype)
        n_threads = get_num_threads()
        executor = self._inference_executor()
        for step, start in enumerate(range(0, len(x), chunk)):
            if callbacks is not None:
                callbacks.on_predict_batch_begin(step)
            rows = x[start:start + chunk] if len(x) > chunk else x
            out = result[start:start + len(rows)]
            plan = executor.inference_plan(len(rows), plans)
            if plan is None:
                if not finite:
                    _validation.numeric_array(x, "x")   # raises for NaN or infinity
                    finite = True
                backend = executor.backend
                out[...] = backend.to_numpy(executor.forward(backend.asarray(rows), False,
                                                             self._predict_workspace()))
            else:
                bad = plan.infer(flat_rows(rows), out, n_threads, not finite)
                if bad:
                    raise _validation.not_finite("x", bad + int(
                        (~numpy.isfinite(x[start + len(rows):])).sum()))
            if callbacks is not None:
                callbacks.on_predict_batch_end(step, {"outputs": out})
        return result

    def __call__(self, x, training=False):
        """The outputs for `x`, as Keras' ``model(x)``: a NumPy array. With
        `training=True`, dropout is applied as in a training step."""
        x = self._prepare_x(x)
        if not training:
            return self._predict_rows(x)
        backend = get_backend()
        return backend.to_numpy(self._forward(backend.asarray(x), True, Workspace())).copy()

    def predict_on_batch(self, x):
        """The outputs for one batch, silently (a NumPy array)."""
        return self._predict_rows(self._prepare_x(x))

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch, silently, as `evaluate` returns them."""
        return self.evaluate(x, y, verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

