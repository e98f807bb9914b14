"""fit / evaluate / predict on data read batch by batch: generators, PyDataset-like
objects and arrays larger than memory (see fastnn.models.data_adapters).

Each batch is its own run of one step on the model's executor (its rows in order), so
the training step, metrics, callbacks and History are those of in-memory training.
"""
import itertools
import time
import warnings

import numpy

from fastnn import _random, _validation
from fastnn import metrics as metrics_lib
from fastnn.backend import get_backend
from fastnn.callbacks import CallbackList, History, ProgbarLogger
from fastnn.layers.base import Workspace
from fastnn._threads import get_num_threads
from fastnn.models import data_adapters as da
from fastnn.models import fit_data
from fastnn.models.thread_choice import ThreadChoice

# Rows per forward call when evaluating a large array (as inference.PREDICT_CHUNK)
EVALUATE_CHUNK = 1024


def _peeked(batches, raw, name):
    """(first prepared batch, iterator over all of them), or a ValueError when `raw`
    yields nothing."""
    it = batches(raw)
    try:
        first = next(it)
    except StopIteration:
        raise ValueError(f"`{name}` yielded no batches") from None
    return first, itertools.chain([first], it)


def _run_out_warning(name, what="training stops here", steps="steps_per_epoch"):
    warnings.warn(f"`{name}` ran out of data; {what}. Give `{steps}` no larger than the "
                  f"batches it can yield per epoch, or make it loop (e.g. itertools.cycle)",
                  UserWarning, stacklevel=4)


def training_data(model, x, y, sample_weight, batch_size, shuffle, steps, class_weight,
                  validation_split):
    """(source, Batches) of the training data, and the (x, y, w) validation split."""
    x = da.unpandas(x)
    k = da.kind(x)
    if k in da.STREAMS:
        da.reject_arguments(x, y=y, sample_weight=sample_weight, batch_size=batch_size)
        if validation_split:
            raise ValueError("`validation_split` is only supported for arrays; with "
                             f"{da._describe(x)} pass `validation_data`")
        return (da.source(x, steps), da.Batches(model, "x", class_weight=class_weight),
                None)
    batch_size = 32 if batch_size is None else _validation.positive_int(batch_size,
                                                                         "batch_size")
    if k == da.ARRAY:
        x = model._prepare_x(x)
    else:
        _lazy_shape(model, x)
    y = model._prepare_y(da.unpandas(y), len(x))
    w = _validation.sample_weights(da.unpandas(sample_weight), len(x), model._dtype())
    val = None
    if validation_split > 0:
        (x, y, w), val = fit_data.split_validation(x, y, w, validation_split,
                                                   model._is_classifier())
    w = model._loss_weights(fit_data.apply_class_weight(class_weight, y, w, model._dtype()),
                            len(x))
    if model.training_seed is None:
        model.training_seed = _random.next_seed()
    src = da.ArraySource(x, y, w, batch_size, shuffle, model.training_seed, steps)
    return src, da.Batches(model, "x", arrays=True), val


def _lazy_shape(model, x):
    """Build the model from an array-like's sample shape (read without its rows)."""
    if len(getattr(x, "shape", ())) < 2 or not len(x):
        raise ValueError(f"`x` must have shape (n_samples, n_features); got shape "
                         f"{getattr(x, 'shape', None)}")
    model._prepare_x(numpy.asarray(x[:1]))


def validation(model, data, steps, batch_size, split):
    """A function of the callbacks giving the validation logs, or None."""
    if data is None and split is None:
        return None
    if data is None:
        vx, vy, vw = split
        src = da.ArraySource(vx, vy, model._loss_weights(vw, len(vx)),
                             max(batch_size or 32, EVALUATE_CHUNK))
        return lambda cbs: evaluate_batches(model, src, da.Batches(model, "x", arrays=True),
                                            cbs)
    if da.kind(data, "validation_data") in da.STREAMS:
        return lambda cbs: evaluate_batches(model, da.source(data, steps, "validation_data"),
                                            da.Batches(model, "validation_data"), cbs)
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                         f"sample_weight), a generator or a PyDataset; got "
                         f"{type(data).__name__}")
    return array_evaluation(model, *data, batch_size=batch_size, steps=steps,
                            name="validation_data")


def array_evaluation(model, x, y, w=None, batch_size=None, steps=None, name="x"):
    """A function of the callbacks evaluating arrays (x possibly larger than memory)."""
    x, y, w = (da.unpandas(v) for v in (x, y, w))
    if da.kind(x) == da.ARRAY:
        x = model._prepare_x(x, f"{name}[0]" if name != "x" else "x")
    else:
        _lazy_shape(model, x)
    y = model._prepare_y(y, len(x), f"{name}[1]" if name != "x" else "y")
    w = _validation.sample_weights(w, len(x), model._dtype(),
                                   f"{name}[2]" if name != "x" else "sample_weight")
    w = model._loss_weights(w, len(x))
    chunk = max(batch_size or 32, EVALUATE_CHUNK)
    if steps is None and da.kind(x) == da.ARRAY:
        return lambda cbs: model._evaluate_arrays(x, y, w, chunk, cbs)
    src = da.ArraySource(x, y, w, chunk, steps=steps)
    return lambda cbs: evaluate_batches(model, src, da.Batches(model, "x", arrays=True), cbs)


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split,
        validation_data, shuffle, class_weight, sample_weight, initial_epoch,
        validation_freq, steps_per_epoch, validation_steps, validation_batch_size):
    """Sequential.fit where the data are read batch by batch (arguments checked)."""
    src, batches, split = training_data(model, x, y, sample_weight, batch_size, shuffle,
                                        steps_per_epoch, class_weight, validation_split)
    first, prepared = _peeked(batches, src.epoch(initial_epoch), "x")
    model._setup_training(first[1])
    val = validation(model, validation_data, validation_steps,
                     validation_batch_size or batch_size, split)
    history = History()
    cbs = CallbackList(([ProgbarLogger(verbose)] if verbose else []) +
                       list(callbacks or []) + [history], model,
                       {"epochs": epochs, "steps": src.steps, "verbose": verbose})
    model.history = history
    model._train_workspace = Workspace()
    model._thread_choice = ThreadChoice(get_num_threads())
    model.stop_training = False
    cbs.on_train_begin()
    batch_hooks = cbs.wants_train_batch_hooks()
    model._training_executor()
    logs = {}
    # a callback (BackupAndRestore) may have restored a run that reached a later epoch
    for epoch in range(model.__dict__.pop("_initial_epoch", None) or initial_epoch, epochs):
        for metric in model._all_metrics():
            metric.reset_state()
        cbs.on_epoch_begin(epoch)
        if epoch != initial_epoch:
            prepared = batches(src.epoch(epoch))
        logs, steps = train_batches(model, prepared, cbs, batch_hooks)
        src.end_epoch()
        if steps == 0:
            _run_out_warning("x")
            break
        if val is not None and (epoch + 1) % validation_freq == 0:
            val_logs = val(cbs)
            if not val_logs:
                _run_out_warning("validation_data", "no validation this epoch",
                                 "validation_steps")
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, logs)
        if src.ran_out:
            _run_out_warning("x")
            model.stop_training = True
        if model.stop_training:
            break
    model._finalize_optimizer()   # Keras: the EMA weights, with use_ema
    cbs.on_train_end(logs)
    return history


def train_batches(model, prepared, cbs, batch_hooks):
    """One epoch's steps, a batch each; returns (logs, steps run)."""
    executor, workspace, choice = model.executor, model._train_workspace, model._thread_choice
    backend = get_backend()
    metrics = model._all_metrics()
    loss_total, count, step, orders = 0.0, 0, 0, {}
    for step, (bx, by, bw) in enumerate(prepared, 1):
        if batch_hooks:
            cbs.on_train_batch_begin(step - 1)
        rows = len(bx)
        order = orders.get(rows)
        if order is None:
            order = orders[rows] = backend.asarray(numpy.arange(rows, dtype=numpy.int64))
        data = (backend.asarray(bx), backend.asarray(by),
                None if bw is None else backend.asarray(bw))
        start = time.perf_counter()
        losses, outputs, targets, weights = executor.train_steps(
            data, order, 0, 1, rows, choice.threads(), workspace, bool(metrics))
        choice.record(time.perf_counter() - start)
        loss_total += float(losses[0]) * rows
        count += rows
        if metrics:
            model._update_metrics(targets, outputs, weights)
        if batch_hooks:
            cbs.on_train_batch_end(step - 1, model._logs(loss_total, count))
            if model.stop_training:
                break
    return model._logs(loss_total, count), step


def evaluate_batches(model, src, batches, cbs=None, prepared=None):
    """The loss and metrics over the batches of `src`, in inference mode, as
    InferenceMixin._evaluate_arrays computes them (the training metrics' state kept)."""
    backend = get_backend()
    metrics = model._all_metrics()
    saved = metrics_lib.save_states(metrics)   # fit's running state
    for m in metrics:
        m.reset_state()
    executor = model._training_executor()
    workspace = model._predict_workspace()
    cbs = cbs or CallbackList([], model, {})
    cbs.on_test_begin()
    total, count, reg = 0.0, 0, executor.program.regularization_loss()
    logs = {}
    for step, (bx, by, bw) in enumerate(prepared or batches(src.epoch(0))):
        cbs.on_test_batch_begin(step)
        bx, by = backend.asarray(bx), backend.asarray(by)
        bw = None if bw is None else backend.asarray(bw)
        out = executor.forward(bx, False, workspace)
        total += executor.loss_value(out, by, bw) * len(bx)
        count += len(bx)
        model._update_metrics(by, out, bw)
        logs = {"loss": total / count + reg}
        logs.update((name, m.result()) for name, m in zip(model._metric_names, metrics))
        cbs.on_test_batch_end(step, dict(logs))
    src.end_epoch()
    metrics_lib.restore_states(metrics, saved)
    cbs.on_test_end(dict(logs))
    return logs


def evaluate(model, x, y, batch_size, verbose, sample_weight, callbacks, steps):
    """Sequential.evaluate on a generator, PyDataset or array larger than memory:
    the logs."""
    if da.kind(x) in da.STREAMS:
        da.reject_arguments(x, y=y, sample_weight=sample_weight, batch_size=batch_size)
        src, batches = da.source(x, steps), da.Batches(model, "x")
        first, prepared = _peeked(batches, src.epoch(0), "x")
        if not model._training_ready:
            model._setup_training(first[1])
        n_steps = src.steps
        run = None
    else:
        run = array_evaluation(model, x, y, sample_weight, batch_size, steps)
        if not model._training_ready:
            model._setup_training(model._prepare_y(da.unpandas(y)[:1], 1))
        n_steps = None
    cbs = CallbackList(([ProgbarLogger(verbose)] if verbose else []) + list(callbacks or []),
                       model, {"epochs": 1, "steps": n_steps, "verbose": verbose})
    if run is not None:
        return run(cbs)
    return evaluate_batches(model, src, batches, cbs, prepared)


def predict(model, x, batch_size, verbose, callbacks, steps):
    """Sequential.predict on a generator, PyDataset or array larger than memory."""
    if da.kind(x) in da.STREAMS:
        da.reject_arguments(x, batch_size=batch_size)
        src, batches = da.source(x, steps), da.Batches(model, "x", targets=False)
    else:
        _lazy_shape(model, x)
        chunk = 1024 if batch_size is None else _validation.positive_int(batch_size,
                                                                         "batch_size")
        src = da.ArraySource(x, None, None, chunk, steps=steps)
        batches = da.Batches(model, "x", targets=False, arrays=True)
    cbs = CallbackList(([ProgbarLogger(verbose)] if verbose else []) + list(callbacks or []),
                       model, {"epochs": 1, "steps": src.steps, "verbose": verbose})
    cbs.on_predict_begin()
    outputs = []
    for step, (bx, _, _) in enumerate(batches(src.epoch(0))):
        cbs.on_predict_batch_begin(step)
        out = model._predict_rows(bx)
        outputs.append(out)
        cbs.on_predict_batch_end(step, {"outputs": out})
    src.end_epoch()
    cbs.on_predict_end()
    if not outputs:
        raise ValueError("`x` yielded no batches")
    return numpy.concatenate(outputs)
