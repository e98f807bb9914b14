"""fit / evaluate / predict semantics where fastnn follows Keras 3: each number here is
computed by hand or by NumPy from the model's own weights, not by fastnn."""

import numpy
import pytest

import fastnn
from fastnn import callbacks, layers, metrics, models, optimizers
from session_python import run_python

BACKENDS = ["cpu", "reference"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    with fastnn.use_backend(request.param):
        yield request.param


def _data(n=96, d=6, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")
    return x, y


def _binary_model(seed=5, dropout=0.0):
    fastnn.utils.set_random_seed(seed)
    model = models.Sequential([layers.Dense(8, activation="relu", input_shape=(6,)),
                               layers.Dropout(dropout),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_flatten_then_fit_trains_images(backend):
    """The TensorFlow beginner program: Flatten(input_shape=(28, 28)) then Dense."""
    rng = numpy.random.default_rng(1)
    x = rng.random((64, 28, 28)).astype("float32")
    y = rng.integers(0, 10, 64)
    fastnn.utils.set_random_seed(2)
    model = models.Sequential([layers.Flatten(input_shape=(28, 28)),
                               layers.Dense(16, activation="relu"), layers.Dense(10)])
    model.compile(optimizer="adam",
                  loss=fastnn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_flatten_model_matches_the_flat_model_bit_for_bit(backend):
    rng = numpy.random.default_rng(3)
    x = rng.random((40, 4, 5)).astype("float32")
    y = rng.integers(0, 3, 40)
    runs = []
    for shaped in (True, False):
        fastnn.utils.set_random_seed(4)
        first = ([layers.Flatten(input_shape=(4, 5)), layers.Dense(7, activation="tanh")]
                 if shaped else [layers.Dense(7, activation="tanh", input_shape=(20,))])
        model = models.Sequential(first + [layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x if shaped else x.reshape(40, 20), y, epochs=2, batch_size=8, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", ["sigmoid", "softmax"])
def test_training_loss_and_val_loss_agree_on_saturated_outputs(backend, case):
    """Same data, zero learning rate: loss, val_loss and evaluate are one number, the
    exact cross-entropy of the logits (here |logit| = 90, so -log p = 90 exactly)."""
    x = numpy.array([[1.0, 1, 1], [-1, -1, -1]] * 2)
    if case == "sigmoid":
        model = models.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
        model.compile(optimizer=optimizers.SGD(0.0), loss="binary_crossentropy")
        model.set_weights([numpy.full((3, 1), 30.0), numpy.zeros(1)])
        y = numpy.array([0.0, 1.0, 0.0, 1.0])     # every prediction is wrong
        expected = 90.0
    else:
        model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
        model.compile(optimizer=optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
        model.set_weights([numpy.array([[30.0, -30.0]] * 3), numpy.zeros(2)])
        y = numpy.array([1, 0, 1, 0])
        expected = 180.0                           # logits 90 and -90
    history = model.fit(x, y, validation_data=(x, y), epochs=1, batch_size=4,
                        shuffle=False, verbose=0).history
    assert history["loss"][0] == pytest.approx(expected, rel=1e-6)
    assert history["val_loss"][0] == pytest.approx(history["loss"][0], rel=1e-6)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-6)


def test_weighted_metrics_use_sample_weights_and_keras_names(backend):
    x = numpy.array([[1.0], [-1.0], [1.0], [-1.0]])
    y = numpy.array([1.0, 1.0, 0.0, 0.0])
    model = models.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(1,))])
    model.compile(optimizer=optimizers.SGD(0.0), loss="binary_crossentropy",
                  metrics=["accuracy"], weighted_metrics=["accuracy", "mae"])
    model.set_weights([numpy.array([[5.0]]), numpy.zeros(1)])
    w = numpy.array([3.0, 1.0, 1.0, 1.0])
    # predictions: 1, 0, 1, 0 (thresholded): hits on samples 0 and 3
    logs = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "accuracy", "weighted_accuracy", "mae"]
    assert logs["accuracy"] == pytest.approx(0.5)
    assert logs["weighted_accuracy"] == pytest.approx((3 + 1) / 6)
    p = 1 / (1 + numpy.exp(-5.0))
    mae = numpy.array([1 - p, p, p, 1 - p])
    assert logs["mae"] == pytest.approx((w * mae).sum() / w.sum(), rel=1e-6)
    history = model.fit(x, y, sample_weight=w, epochs=1, batch_size=4, verbose=0)
    assert history.history["weighted_accuracy"][0] == pytest.approx(4 / 6)
    assert history.history["accuracy"][0] == pytest.approx(0.5)


def test_weighted_metrics_see_class_weights(backend):
    x = numpy.array([[1.0], [-1.0], [1.0], [-1.0]])
    y = numpy.array([1.0, 1.0, 0.0, 0.0])
    model = models.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(1,))])
    model.compile(optimizer=optimizers.SGD(0.0), loss="binary_crossentropy",
                  weighted_metrics=["binary_accuracy"])
    model.set_weights([numpy.array([[5.0]]), numpy.zeros(1)])
    history = model.fit(x, y, class_weight={0: 1.0, 1: 3.0}, epochs=1, batch_size=4,
                        verbose=0)
    # hits: sample 0 (class 1, weight 3) and sample 3 (class 0, weight 1) of 3+3+1+1
    assert history.history["binary_accuracy"][0] == pytest.approx(4 / 8)


def test_compile_takes_keras3_positional_order_and_loss_weights(backend):
    x = numpy.array([[1.0], [2.0]])
    y = numpy.array([[0.0], [0.0]])
    model = models.Sequential([layers.Dense(1, use_bias=False, input_shape=(1,))])
    model.compile("sgd", "mse", 2.0, ["mae"])
    model.set_weights([numpy.array([[1.0]])])
    loss, mae = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(2.0 * (1 + 4) / 2)
    assert mae == pytest.approx(1.5)
    # the gradient is scaled too: one SGD step of lr 0.01 on 2 * mean(w^2 x^2)
    model.compile(optimizers.SGD(0.01), "mse", loss_weights=[2.0])
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    grad = 2.0 * (2 * 1 * 1 + 2 * 4 * 1) / 2
    assert model.get_weights()[0][0, 0] == pytest.approx(1.0 - 0.01 * grad, rel=1e-6)


def test_sample_weight_with_class_weight_is_refused_as_in_keras3():
    x, y = _data()
    model = _binary_model()
    with pytest.raises(ValueError, match="`class_weight` and `sample_weight`"):
        model.fit(x, y, sample_weight=numpy.ones(len(x)), class_weight={0: 1, 1: 2},
                  verbose=0)


def _same(a, b):
    return all(numpy.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_resumed_run_is_the_uninterrupted_run(backend, dropout, tmp_path):
    x, y = _data()
    whole = _binary_model(dropout=dropout)
    whole.fit(x, y, epochs=4, batch_size=16, verbose=0)
    first = _binary_model(dropout=dropout)
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = str(tmp_path / "half.fnn")
    first.save(path)
    fastnn.utils.set_random_seed(123)      # the process stream moves on: no matter
    resumed = models.load_model(path)
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert _same(whole, resumed)
    # two fit calls in one process, without a file
    twice = _binary_model(dropout=dropout)
    twice.fit(x, y, epochs=2, batch_size=16, verbose=0)
    fastnn.utils.set_random_seed(321)
    twice.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert _same(whole, twice)
    assert resumed.training_seed == whole.training_seed


def test_predict_honours_batch_size():
    x, _ = _data(n=50)
    model = _binary_model()
    seen = []

    class Rows(callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append(len(logs["outputs"]))

    out = model.predict(x, batch_size=16, verbose=0, callbacks=[Rows()])
    assert seen == [16, 16, 16, 2]
    numpy.testing.assert_array_equal(out, model.predict(x, verbose=0))
    numpy.testing.assert_array_equal(out, model.predict(x, batch_size=7, verbose=0))


def test_learning_rate_scheduler_does_not_hide_a_type_error_in_the_schedule():
    x, y = _data()
    model = _binary_model()

    def schedule(epoch, lr):
        return "0.1" + lr          # a TypeError inside the user's schedule

    with pytest.raises(TypeError, match="can only concatenate str"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(schedule)])
    seen = []
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.LearningRateScheduler(
        lambda epoch: seen.append(epoch) or 0.01)])
    assert seen == [0, 1] and model.optimizer.learning_rate == pytest.approx(0.01)


def test_gemm_buffers_that_cannot_be_allocated_raise_memory_error():
    compiled = pytest.importorskip("fastnn._kernels.compiled")
    rng = numpy.random.default_rng(0)
    a = rng.random((300, 200), dtype=numpy.float32)
    b = rng.random((200, 300), dtype=numpy.float32)
    with fastnn.use_backend("cpu"):
        compiled._fail_next_gemm_buffers(1000)
        try:
            with pytest.raises(MemoryError, match="packing buffers"):
                fastnn.ops.matmul(a, b)
        finally:
            compiled._fail_next_gemm_buffers(0)
        numpy.testing.assert_allclose(fastnn.ops.matmul(a, b), a @ b, rtol=2e-5)


@pytest.mark.parametrize("value, message", [("avx-512", "must be one of"),
                                            ("AVX2", "must be one of")])
def test_a_misspelled_fastnn_isa_is_an_error(value, message):
    pytest.importorskip("fastnn._kernels.compiled")
    code = "import fastnn, numpy; fastnn.ops.matmul(numpy.ones((2, 2)), numpy.ones((2, 2)))"
    run = run_python(code, timeout=120, FASTNN_ISA=value)
    assert run.returncode != 0
    assert "FASTNN_ISA" in run.stderr and message in run.stderr and value in run.stderr


def test_binary_accuracy_compares_soft_labels_exactly():
    """Keras 3 thresholds y_pred only: a soft label 0.7 never equals a 0/1 prediction."""
    m = metrics.BinaryAccuracy()
    m.update_state(numpy.array([[0.7], [1.0], [0.0], [0.3], [1.0]]),
                   numpy.array([[0.9], [0.8], [0.2], [0.1], [0.4]]))
    assert m.result() == pytest.approx(2 / 5)


def test_accuracy_is_resolved_from_shapes_not_the_loss():
    """Keras 3: two softmax outputs with binary_crossentropy on one-hot labels is
    categorical accuracy (Keras 2 chose binary accuracy from the loss)."""
    model = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(1,))])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["acc"])
    model.set_weights([numpy.array([[1.0, -1.0]]), numpy.zeros(2)])
    x = numpy.array([[1.0], [1.0], [-1.0]])
    y = numpy.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # argmax: 0, 0, 1 against 0, 1, 0: one hit (binary accuracy would give 1/3 too for
    # hard labels, so the soft prediction decides: p = 0.88 / 0.12 per row)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "acc"]
    assert logs["acc"] == pytest.approx(1 / 3)
    assert isinstance(model.compiled_metrics[0], metrics.CategoricalAccuracy)


def test_demo_words_a_ratio_below_one_as_slower():
    from fastnn.__main__ import speed_sentence
    assert speed_sentence("cpu", 1.0, "reference", 4.0) == "cpu is 4.0x faster than reference"
    assert speed_sentence("cpu", 2.0, "reference", 1.0) == "cpu is 2.0x slower than reference"


def test_predict_on_another_backend_leaves_the_fused_loss_of_evaluate_alone():
    # an inference program of the same layers must not undo what the training one set
    # (the logits a fused softmax cross-entropy reads)
    rng = numpy.random.default_rng(0)
    x, y = rng.random((50, 4)).astype("float32"), rng.integers(0, 3, 50)
    model = fastnn.Sequential([fastnn.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, verbose=0)
    before = model.evaluate(x, y, verbose=0)
    with fastnn.use_backend("reference"):
        model.predict(x, verbose=0)
    assert model.evaluate(x, y, verbose=0) == before
