"""Callbacks on real runs: hooks, early stopping, checkpoints, LR control, CSV, NaN."""
import csv
import io

import numpy as np
import pytest

import fastnn
from fastnn.callbacks import (Callback, CSVLogger, EarlyStopping, LambdaCallback,
                              LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                              TerminateOnNaN)
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential, load_model


def make_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, (x @ rng.normal(size=(6, 3))).argmax(axis=1)


def make_model(optimizer="sgd"):
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(8, activation="relu", input_shape=(6,)), Dropout(0.1),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class Script(Callback):
    """Overwrites a log value with a scripted sequence and records weights per epoch."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values, self.weights = key, values, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def fit(model, callbacks, epochs=10, **kwargs):
    x, y = make_data()
    return model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks,
                     **kwargs)


# ---------------------------------------------------------------------------- hooks
def test_hooks_are_called_as_in_keras():
    calls = []

    class Recorder(Callback):
        def __getattribute__(self, name):
            if name.startswith("on_"):
                return lambda *args, **kwargs: calls.append(name)
            return super().__getattribute__(name)

    model = make_model()
    x, y = make_data()
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0,
              callbacks=[Recorder()])
    assert calls.count("on_train_begin") == calls.count("on_train_end") == 1
    assert calls.count("on_epoch_begin") == calls.count("on_epoch_end") == 2
    assert calls.count("on_train_batch_begin") == calls.count("on_train_batch_end") == 6
    assert calls.count("on_test_begin") == calls.count("on_test_end") == 2
    assert calls[0] == "on_train_begin" and calls[-1] == "on_train_end"
    calls.clear()
    model.evaluate(x, y, verbose=0, callbacks=[Recorder()])
    assert calls == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                     "on_test_end"]
    calls.clear()
    model.predict(x, verbose=0, callbacks=[Recorder()])
    assert calls == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                     "on_predict_end"]


def test_lambda_callback_and_params():
    seen = {"batches": 0}
    cb = LambdaCallback(on_train_batch_end=lambda b, logs: seen.update(batches=seen["batches"] + 1),
                        on_epoch_end=lambda e, logs: seen.setdefault("loss", []).append(logs["loss"]))
    history = fit(make_model(), [cb], epochs=3)
    assert seen["batches"] == 12 and seen["loss"] == history.history["loss"]
    assert cb.params == {"epochs": 3, "steps": 4, "verbose": 0}
    with pytest.raises(ValueError, match="hook"):
        LambdaCallback(on_nothing=print)


# ---------------------------------------------------------------------------- early stopping
def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best():
    script = Script("val_loss", [1.0, 0.8, 0.75, 0.9, 0.7, 0.9, 0.95, 0.99, 1.0, 1.0])
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    model = make_model()
    history = fit(model, [script, stop])
    # best at epoch 4; epochs 5 and 6 do not improve: stop after epoch 6
    assert history.epoch == list(range(7)) and stop.stopped_epoch == 6
    assert stop.best == 0.7 and stop.best_epoch == 4
    for got, want in zip(model.get_weights(), script.weights[4]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(script.weights[6][0], script.weights[4][0])


def test_early_stopping_min_delta_mode_baseline_and_start():
    # +0.03 counts, +0.01 does not (min_delta 0.02): stops after epoch 2
    values = [0.50, 0.53, 0.54, 0.60, 0.61, 0.62, 0.63, 0.64, 0.65, 0.66]
    stop = EarlyStopping(monitor="val_accuracy", min_delta=0.02, patience=1)
    history = fit(make_model(), [Script("val_accuracy", values), stop])
    assert stop._direction == "max" and history.epoch == [0, 1, 2]
    # a first value that misses the baseline does not restart the count: one epoch sooner
    flat = [0.9] * 10
    history = fit(make_model(), [Script("val_loss", flat), EarlyStopping(patience=2)])
    assert history.epoch == [0, 1, 2]
    history = fit(make_model(), [Script("val_loss", flat),
                                 EarlyStopping(patience=2, baseline=0.5)])
    assert history.epoch == [0, 1]
    stop = EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=5)
    history = fit(make_model(), [Script("val_loss", [1.0] * 10), stop])
    assert history.epoch == list(range(7))
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_warns_on_a_missing_monitor():
    with pytest.warns(UserWarning, match="val_loss"):
        history = fit(make_model(), [EarlyStopping()], epochs=2)
    assert len(history.epoch) == 2


# ---------------------------------------------------------------------------- checkpoints
def test_model_checkpoint_formats_names_and_saves_the_best(tmp_path):
    script = Script("val_loss", [0.9, 0.5, 0.7, 0.4, 0.8])
    ckpt = ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{val_loss:.2f}.fnn"),
                           save_best_only=True)
    model = make_model()
    fit(model, [script, ckpt], epochs=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ck-01-0.90.fnn", "ck-02-0.50.fnn", "ck-04-0.40.fnn"]
    best = load_model(tmp_path / "ck-04-0.40.fnn")
    for got, want in zip(best.get_weights(), script.weights[3]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_every_epoch_and_weights_only(tmp_path):
    model = make_model()
    fit(model, [ModelCheckpoint(str(tmp_path / "w{epoch}.fnn"), save_weights_only=True)],
        epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w1.fnn", "w2.fnn", "w3.fnn"]
    other = make_model()
    other.load_weights(tmp_path / "w3.fnn")
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="only weights"):
        load_model(tmp_path / "w3.fnn")


# ---------------------------------------------------------------------------- learning rate
def test_reduce_lr_on_plateau_reduces_with_cooldown_and_floor():
    model = make_model(fastnn.optimizers.SGD(learning_rate=0.1))
    reduce = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.02)
    history = fit(model, [Script("val_loss", [1.0] * 10), reduce], epochs=10)
    # the rate in effect during each epoch: reductions after epochs 2, 5 and 8 (the two
    # cooldown epochs do not count toward patience; the last reduction stops at min_lr)
    assert history.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_does_not_reduce_while_improving():
    model = make_model(fastnn.optimizers.SGD(learning_rate=0.1))
    fit(model, [Script("val_loss", [1.0 - 0.01 * i for i in range(10)]),
                ReduceLROnPlateau(patience=1)])
    assert model.optimizer.learning_rate == 0.1


def test_learning_rate_scheduler_sets_each_epoch_and_is_used():
    rates = []
    model = make_model(fastnn.optimizers.SGD(learning_rate=0.1))
    schedule = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    spy = LambdaCallback(on_train_batch_begin=lambda b, logs: rates.append(
        model.optimizer.learning_rate))
    history = fit(model, [schedule, spy], epochs=4)
    assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025]
    assert rates == [0.1] * 8 + [0.05] * 4 + [0.025] * 4
    one_arg = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    fit(model, [one_arg], epochs=3)
    assert model.optimizer.learning_rate == pytest.approx(0.03)
    with pytest.raises(ValueError, match="float"):
        fit(model, [LearningRateScheduler(lambda epoch, lr: "fast")], epochs=1)


# ---------------------------------------------------------------------------- CSV, NaN
def test_csv_logger_writes_the_history(tmp_path):
    path = tmp_path / "log.csv"
    x, y = make_data()
    history = make_model().fit(x, y, epochs=3, validation_split=0.25, verbose=0,
                               callbacks=[CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key in ("loss", "val_accuracy"):
        assert [float(r[key]) for r in rows] == history.history[key]
    make_model().fit(x, y, epochs=2, verbose=0,
                     callbacks=[CSVLogger(path, separator=";", append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines[4].startswith("0;") and lines[4].endswith(";NA;NA")


def test_terminate_on_nan_stops_mid_epoch():
    batches = []

    class Poison(Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 1:
                logs["loss"] = float("nan")

    history = fit(make_model(), [Poison(), TerminateOnNaN()], epochs=5)
    assert batches == [0, 1] and history.epoch == [0]
    with pytest.raises(RuntimeError, match="finite"):
        fit(make_model(), [Poison(), TerminateOnNaN(raise_error=True)], epochs=1)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_fit_skips_batch_hooks_only_when_no_callback_has_one():
    from fastnn.callbacks import CallbackList, History, ProgbarLogger

    class OnBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            pass

    def wants(*cbs):
        return CallbackList(list(cbs), None, {}).wants_train_batch_hooks()

    assert not wants(History())
    assert wants(History(), OnBatch())
    assert wants(ProgbarLogger(1, stream=_Terminal()))
    assert not wants(ProgbarLogger(2, stream=_Terminal()))   # one line per epoch
    assert wants(LambdaCallback(on_train_batch_begin=lambda b, logs: None))
    assert not wants(LambdaCallback(on_epoch_end=lambda e, logs: None))
