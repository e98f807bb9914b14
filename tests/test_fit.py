"""fit / evaluate / predict as Keras users expect them: validation, shuffling, weights,
initial_epoch, progress output, the model surface and reproducibility."""
import io
import json
import sys

import numpy as np
import pytest

import fastnn
from fastnn import models
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential


def make_data(n=120, n_features=8, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    y = (x @ rng.normal(size=(n_features, n_classes))).argmax(axis=1)
    return x, y


def make_model(seed=0, dropout=0.2, optimizer="adam", metrics=("accuracy",)):
    fastnn.utils.set_random_seed(seed)
    model = Sequential([Dense(16, activation="relu", input_shape=(8,)), Dropout(dropout),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=list(metrics))
    return model


# ---------------------------------------------------------------------------- validation
def test_validation_split_is_the_last_fraction_before_shuffling():
    x, y = make_data(n=40)
    model = make_model()
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    # Keras: train = floor(40 * 0.75) = 30 samples, the last 10 validate
    assert history.history["val_loss"][-1] == model.evaluate(x[30:], y[30:], verbose=0)[0]
    assert history.history["val_accuracy"][-1] == model.evaluate(x[30:], y[30:],
                                                                 verbose=0)[1]
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_validation_split_rounds_like_keras():
    x, y = make_data(n=10)
    model = make_model(dropout=0.0)
    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    # floor(10 * 0.75) = 7 for training: 3 validation samples, not int(2.5) = 2
    assert history.history["val_loss"][0] == model.evaluate(x[7:], y[7:], verbose=0)[0]
    assert history.history["val_loss"][0] != model.evaluate(x[8:], y[8:], verbose=0)[0]


def test_validation_split_warns_when_the_slice_has_one_class():
    x, y = make_data(n=60)
    order = np.argsort(y, kind="stable")
    with pytest.warns(UserWarning, match="before shuffling"):
        make_model().fit(x[order], y[order], epochs=1, validation_split=0.1, verbose=0)


def test_validation_split_leaving_nothing_raises():
    x, y = make_data(n=1)
    with pytest.raises(ValueError, match="validation_split"):
        make_model().fit(x, y, validation_split=0.5, verbose=0)


def test_validation_data_and_freq():
    x, y = make_data()
    model = make_model()
    history = model.fit(x[:90], y[:90], epochs=4, validation_data=(x[90:], y[90:]),
                        validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4
    assert len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][-1] == model.evaluate(x[90:], y[90:], verbose=0)[0]


# ---------------------------------------------------------------------------- order, weights
def test_shuffle_false_is_consecutive_batches():
    x, y = make_data(n=50)
    a, b = make_model(seed=3), make_model(seed=3)
    a.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, 50, 16):
            b.train_on_batch(x[start:start + 16], y[start:start + 16])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_shuffle_true_changes_the_order():
    x, y = make_data(n=50)
    a, b = make_model(seed=3), make_model(seed=3)
    a.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    b.fit(x, y, epochs=1, batch_size=16, shuffle=True, verbose=0)
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_epoch_order_is_the_philox_permutation_of_seed_and_epoch():
    """The shuffle of each epoch is Generator(Philox([fit_seed, epoch])).permutation(n),
    whatever computes it, so a resumed run shuffles as an uninterrupted one and a seed
    keeps the orders of earlier versions."""
    from fastnn.models import fit_data
    for fit_seed, epoch, n in [(0, 0, 1), (12345, 3, 768), (2**63 + 5, 99, 60000), (7, 1, 50)]:
        want = np.random.Generator(np.random.Philox([fit_seed, epoch])).permutation(n)
        np.testing.assert_array_equal(fit_data.epoch_order(fit_seed, epoch, n), want)
    # interleaved calls do not disturb each other
    first = fit_data.epoch_order(1, 0, 100)
    fit_data.epoch_order(2, 5, 100)
    np.testing.assert_array_equal(fit_data.epoch_order(1, 0, 100), first)


def test_sample_weight_scales_the_sgd_step():
    x, y = make_data(n=48)
    a = make_model(seed=1, dropout=0.0, optimizer=fastnn.optimizers.SGD(0.05))
    b = make_model(seed=1, dropout=0.0, optimizer=fastnn.optimizers.SGD(0.1))
    a.fit(x, y, epochs=2, batch_size=16, shuffle=False, sample_weight=np.full(48, 2.0),
          verbose=0)
    b.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_class_weight_equals_the_sample_weights_it_implies():
    x, y = make_data(n=48)
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    a, b = make_model(seed=2), make_model(seed=2)
    fastnn.utils.set_random_seed(5)  # the same shuffling for both fits
    a.fit(x, y, epochs=2, batch_size=16, class_weight=cw, verbose=0)
    fastnn.utils.set_random_seed(5)
    b.fit(x, y, epochs=2, batch_size=16,
          sample_weight=np.array([cw[c] for c in y], np.float32), verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    plain = make_model(seed=2)
    fastnn.utils.set_random_seed(5)
    plain.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not np.array_equal(plain.get_weights()[0], a.get_weights()[0])


def test_class_weight_does_not_weight_validation():
    x, y = make_data(n=60)
    model = make_model()
    history = model.fit(x, y, epochs=1, validation_split=0.2,
                        class_weight={0: 5.0, 1: 0.1, 2: 1.0}, verbose=0)
    assert history.history["val_loss"][0] == model.evaluate(x[48:], y[48:], verbose=0)[0]


@pytest.mark.parametrize("bad", [[1, 2], {"a": 1.0}, {0: -1.0}])
def test_class_weight_is_checked(bad):
    x, y = make_data(n=20)
    with pytest.raises((ValueError, TypeError), match="class_weight"):
        make_model().fit(x, y, class_weight=bad, verbose=0)


def test_initial_epoch_and_history_epochs():
    x, y = make_data()
    history = make_model().fit(x, y, epochs=5, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3, 4]
    assert len(history.history["loss"]) == 3


# ---------------------------------------------------------------------------- progress
def _epoch_lines(text):
    return [line for line in text.splitlines() if line.startswith("Epoch ")]


@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_off_a_terminal_is_one_line_per_epoch(capsys, verbose):
    x, y = make_data()
    make_model().fit(x, y, epochs=3, batch_size=8, validation_split=0.2, verbose=verbose)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3 and lines == _epoch_lines(out)
    assert lines[0].startswith("Epoch 1/3 - 12/12 - ")
    assert "/step - accuracy: " in lines[0] and " - val_loss: " in lines[2]
    assert "\r" not in out


def test_progress_on_a_terminal_is_a_live_bar(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = make_data()
    make_model().fit(x, y, epochs=2, batch_size=8, verbose=1)
    monkeypatch.undo()
    out = stream.getvalue()
    assert out.count("Epoch ") == 2 and "Epoch 2/2\n" in out
    assert "\r15/15 " in out and "━" in out and "/step - accuracy: " in out
    assert out.count("\n") == 4  # a header and a finished bar per epoch


def test_verbose_zero_is_silent_and_verbose_is_checked(capsys):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose=3)


def test_evaluate_and_predict_print_one_line(capsys):
    x, y = make_data()
    model = make_model()
    loss, acc = model.evaluate(x, y, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("1/1 - ")
    assert f"accuracy: {acc:.4f}" in out[0] and f"loss: {loss:.4f}" in out[0]
    model.predict(x, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("1/1 - ") and out[0].endswith("/step")


# ---------------------------------------------------------------------------- model surface
def test_evaluate_return_shapes():
    x, y = make_data()
    with_metrics, without = make_model(), make_model(metrics=())
    assert isinstance(without.evaluate(x, y, verbose=0), float)
    result = with_metrics.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    assert with_metrics.evaluate(x, y, verbose=0, return_dict=True) == {
        "loss": result[0], "accuracy": result[1]}


def test_on_batch_methods():
    x, y = make_data(n=32)
    model = make_model(dropout=0.0)
    before = model.test_on_batch(x, y)
    trained = model.train_on_batch(x, y)
    # the batch's loss and accuracy are measured before the step is applied
    np.testing.assert_allclose(trained, before, rtol=1e-6)
    assert model.test_on_batch(x, y)[0] < before[0]
    as_dict = model.train_on_batch(x, y, return_dict=True)
    assert set(as_dict) == {"loss", "accuracy"}
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
    assert isinstance(make_model(metrics=()).train_on_batch(x, y), float)


def test_weights_order_and_layout():
    model = make_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(8, 16), (16,), (16, 3), (3,)]
    x, _ = make_data(n=4)
    hidden = np.maximum(x @ weights[0] + weights[1], 0)
    logits = hidden @ weights[2] + weights[3]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               expected / expected.sum(1, keepdims=True), rtol=1e-5)
    new = [np.full_like(w, i + 1) for i, w in enumerate(weights)]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="4 arrays"):
        model.set_weights(new[:3])


def test_layer_names_and_get_layer():
    model = make_model()
    names = [layer.name for layer in model.layers]
    assert len(set(names)) == 3
    assert model.get_layer(names[1]) is model.layers[1]
    assert model.get_layer(index=-1) is model.layers[-1]
    with pytest.raises(ValueError, match="name"):
        model.get_layer("nope")


def test_config_and_json_round_trip():
    model = make_model()
    clone = models.model_from_json(model.to_json())
    assert clone.get_config() == model.get_config()
    assert json.loads(clone.to_json()) == json.loads(model.to_json())
    again = Sequential.from_config(model.get_config())
    again.set_weights(model.get_weights())
    x, _ = make_data(n=5)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="json_string"):
        models.model_from_json('{"class_name": "Graph", "config": {}}')


# ---------------------------------------------------------------------------- reproducibility
def _seeded_run(threads):
    with fastnn.threads(threads):
        x, y = make_data(n=200)
        model = make_model(seed=7, dropout=0.3)
        history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        return model.get_weights(), history.history


def test_set_random_seed_repeats_a_whole_fit_at_any_thread_count():
    weights_1, history_1 = _seeded_run(1)
    weights_1b, history_1b = _seeded_run(1)
    weights_2, history_2 = _seeded_run(2)
    for a, b, c in zip(weights_1, weights_1b, weights_2):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert history_1 == history_1b == history_2
    fastnn.utils.set_random_seed(8)
    other = make_model(seed=8, dropout=0.3)
    assert not np.array_equal(other.get_weights()[0], weights_1[0])


def test_training_after_pop_and_add_updates_the_new_layer():
    fastnn.utils.set_random_seed(0)
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2)])
    model.compile("adam", "mse")
    x = np.ones((8, 3), np.float32)
    model.train_on_batch(x, np.ones((8, 2)))
    removed = model.pop()
    model.add(Dense(5, name="new_head"))     # a head of another shape, not compiled again
    removed_before = [w.copy() for w in removed.get_weights()]
    head_before = [w.copy() for w in model.layers[-1].get_weights()]
    model.train_on_batch(x, np.ones((8, 5)))
    for b, a in zip(head_before, model.layers[-1].get_weights()):
        assert not np.array_equal(a, b)
    for b, a in zip(removed_before, removed.get_weights()):
        np.testing.assert_array_equal(a, b)     # the removed layer is left alone


def test_param_group_rejects_slots_of_another_size():
    compiled = pytest.importorskip("fastnn._kernels.compiled")
    p, g = np.zeros(6, np.float32), np.zeros(6, np.float32)
    with pytest.raises(ValueError, match="size"):
        compiled.ParamGroup([p], [g], [np.zeros(4, np.float32)], [np.zeros(6, np.float32)])
