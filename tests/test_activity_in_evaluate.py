"""An activity regularizer's penalty joins the loss of `evaluate`, `test_on_batch` and
`val_loss`, as in Keras 3 (Layer.__call__ adds it whatever `training` is, and test_step's
compute_loss sums `model.losses`), divided by the batch size; pinned by hand.

The case: Dense(1) with kernel ones, bias zero, on x = [[1, 2], [3, -1], [0.5, 0.5]],
y = [1, 0, 2]: outputs o = [3, 2, 1]; mse = (4 + 4 + 1) / 3 = 3; L2(0.5) activity
penalty = 0.5 (9 + 4 + 1) / 3 = 7/3; with kernel_regularizer L2(0.1), 0.1 (1 + 1) = 0.2
more. Keras 3.15 (JAX, float32) gives 5.3333335 and 5.5333333 for these, at any batch
size, and val_loss 4.4967794 after one SGD step (lr 0.01) on the full batch.
"""
import numpy as np
import pytest

import fastnn
from fastnn import layers, models, optimizers, regularizers
from fastnn.backend import available_backends

X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
Y = np.array([[1.0], [0.0], [2.0]])
BACKENDS = [b for b in ("reference", "cpu") if b in available_backends()]


def _model(kernel_regularizer=None):
    model = models.Sequential([layers.Dense(
        1, input_dim=2, kernel_initializer="ones", bias_initializer="zeros",
        activity_regularizer=regularizers.L2(0.5), kernel_regularizer=kernel_regularizer,
        dtype="float64")])
    model.compile(optimizer=optimizers.SGD(0.01), loss="mse")
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel_regularizer, extra", [(None, 0.0),
                                                       (regularizers.L2(0.1), 0.2)])
def test_evaluate_includes_the_activity_penalty(backend, kernel_regularizer, extra):
    want = 3.0 + 7.0 / 3.0 + extra
    with fastnn.use_backend(backend):
        model = _model(kernel_regularizer)
        for batch_size in (1, 2, 3):
            assert model.evaluate(X, Y, batch_size=batch_size, verbose=0) == \
                pytest.approx(want, rel=1e-14)
        assert model.test_on_batch(X, Y) == pytest.approx(want, rel=1e-14)
        assert model.evaluate(X, Y, verbose=0, return_dict=True)["loss"] == \
            pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_val_loss_includes_the_activity_penalty(backend):
    """One SGD step on the full batch, by hand: d loss / d o = 2 (o - y) / 3 + o / 3."""
    o = X @ np.ones((2, 1))
    g = 2 * (o - Y) / 3 + o / 3
    w, b = np.ones((2, 1)) - 0.01 * X.T @ g, -0.01 * g.sum()
    o = X @ w + b
    want = float(((o - Y) ** 2).mean() + 0.5 * (o ** 2).sum() / 3)
    with fastnn.use_backend(backend):
        model = _model()
        history = model.fit(X, Y, epochs=1, batch_size=3, verbose=0, shuffle=False,
                            validation_data=(X, Y))
    assert history.history["loss"][0] == pytest.approx(3.0 + 7.0 / 3.0, rel=1e-14)
    assert history.history["val_loss"][0] == pytest.approx(want, rel=1e-13)
    assert want == pytest.approx(4.4967794, rel=1e-7)     # Keras 3's own float32 value
