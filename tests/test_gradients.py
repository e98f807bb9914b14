"""Finite-difference checks in float64: every activation, every loss, whole models."""
import numpy as np
import pytest

import fastnn
from fastnn import _codes, activations, layers, losses, models, optimizers
from fastnn.backend import get_backend
from fastnn.backend.reference import BCE, CCE, HINGE, HUBER, KLD, SIGMOID_BCE, SOFTMAX_CCE
from numeric_gradient import central_differences

ALL_ACTIVATIONS = [a.name for a in _codes.ACTIVATIONS]
H = 1e-6


def _away_from_kinks(rng, shape):
    """Inputs not within 1e-3 of a kink (0 for relu-likes, +-3 for hard_sigmoid)."""
    x = rng.uniform(-4, 4, shape)
    for kink in (0.0, 3.0, -3.0):
        close = np.abs(x - kink) < 1e-3
        x[close] += 0.01
    return x


@pytest.mark.parametrize("backend_name", ["reference", "cpu"])
@pytest.mark.parametrize("act", ALL_ACTIVATIONS)
def test_activation_gradient(backend_name, act):
    with fastnn.use_backend(backend_name):
        backend = get_backend()
        spec = activations.get(act)
        rng = np.random.default_rng(0)
        z = _away_from_kinks(rng, (4, 6))
        g = rng.standard_normal((4, 6))
        y = backend.activation_forward(z, spec)
        analytic = backend.activation_backward(spec, g, z if spec.needs_z else y)
        numeric = central_differences(
            lambda v: (backend.activation_forward(v, spec) * g).sum(), z, H)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# every loss of the table, with Huber's delta and the focal losses' (gamma, alpha, ...)
_PARAMS = {"HUBER": 0.5, "FOCAL_BCE": (2.0, 0.3, 1.0), "SIGMOID_FOCAL_BCE": (2.0, 0.3, 1.0),
           "FOCAL_CCE": (2.0, 0.25), "SOFTMAX_FOCAL_CCE": (2.0, 0.25)}
LOSSES = [(loss.code, _PARAMS.get(loss.name, 0.0)) for loss in _codes.LOSSES]
FOCAL = {name: _codes.LOSS_CODES[name] for name in (
    "FOCAL_BCE", "SIGMOID_FOCAL_BCE", "FOCAL_CCE", "SOFTMAX_FOCAL_CCE")}


@pytest.mark.parametrize("backend_name", ["reference", "cpu"])
@pytest.mark.parametrize("kind,param", LOSSES)
def test_loss_gradient(backend_name, kind, param):
    with fastnn.use_backend(backend_name):
        backend = get_backend()
        rng = np.random.default_rng(kind)
        n, c = 5, 4
        if kind in (BCE, CCE, KLD, FOCAL["FOCAL_BCE"], FOCAL["FOCAL_CCE"]):
            # probabilities, well inside (0, 1), unnormalised for CCE
            pred = rng.uniform(0.05, 0.95, (n, c))
        elif kind == _codes.LOSS_CODES["POISSON"]:   # rates, log(pred + eps)
            pred = rng.uniform(0.1, 3.0, (n, c))
        else:
            pred = rng.standard_normal((n, c)) * 2
            pred[np.abs(pred) < 1e-2] += 0.05
        target = {BCE: rng.random((n, c)), CCE: np.eye(c)[rng.integers(0, c, n)],
                  SOFTMAX_CCE: np.eye(c)[rng.integers(0, c, n)],
                  KLD: rng.dirichlet(np.ones(c), n),
                  HINGE: np.where(rng.random((n, c)) > 0.5, 1.0, -1.0),
                  SIGMOID_BCE: (rng.random((n, c)) > 0.5) * 1.0,
                  FOCAL["FOCAL_BCE"]: rng.random((n, c)),
                  FOCAL["SIGMOID_FOCAL_BCE"]: rng.random((n, c)),
                  FOCAL["FOCAL_CCE"]: np.eye(c)[rng.integers(0, c, n)],
                  FOCAL["SOFTMAX_FOCAL_CCE"]: np.eye(c)[rng.integers(0, c, n)],
                  }.get(kind, rng.standard_normal((n, c)))
        if kind == HUBER:  # keep errors away from the +-delta switch
            err = pred - target
            pred[np.abs(np.abs(err) - param) < 1e-2] += 0.05
        if kind == HINGE:
            margin = 1 - target * pred
            pred[np.abs(margin) < 1e-2] += 0.05 * target[np.abs(margin) < 1e-2]
        w = rng.random(n) + 0.5
        grad = np.empty_like(pred)
        backend.loss_grad(kind, param, pred, target, w, grad)
        numeric = central_differences(
            lambda v: backend.loss_grad(kind, param, v, target, w), pred, H)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


MODELS = {
    "softmax_cce": (["tanh", "gelu", "softmax"], "categorical_crossentropy", "onehot"),
    "softmax_sparse": (["silu", "elu", "softmax"], "sparse_categorical_crossentropy", "labels"),
    "sigmoid_bce": (["selu", "softplus", "sigmoid"], "binary_crossentropy", "binary"),
    "linear_mse": (["softsign", "leaky_relu", "linear"], "mse", "real"),
    "logits_cce": (["sigmoid", "tanh", "linear"],
                   losses.CategoricalCrossentropy(from_logits=True), "onehot"),
    "log_softmax_huber": (["tanh", "tanh", "log_softmax"], "huber", "real"),
}


def _model_and_data(acts, loss, target_kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4))
    n_out = 1 if target_kind == "binary" else 3
    y = {"onehot": np.eye(3)[rng.integers(0, 3, 6)], "labels": rng.integers(0, 3, 6),
         "binary": (rng.random((6, 1)) > 0.5) * 1.0,
         "real": rng.standard_normal((6, 3))}[target_kind]
    fastnn.utils.set_random_seed(7)
    model = models.Sequential([
        layers.Dense(5, activation=acts[0], input_shape=(4,),
                     kernel_regularizer=fastnn.regularizers.L2(0.01)),
        layers.Dense(4, activation=acts[1], bias_initializer="random_normal"),
        layers.Dense(n_out, activation=acts[2])])
    model.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss=loss)
    return model, x, y


@pytest.mark.parametrize("backend_name", ["reference", "cpu"])
@pytest.mark.parametrize("case", sorted(MODELS))
def test_whole_model_gradient(backend_name, case, floatx64):
    """One SGD step with learning rate 1 moves each weight by minus its gradient."""
    with fastnn.use_backend(backend_name):
        model, x, y = _model_and_data(*MODELS[case])
        before = model.get_weights()
        model.train_on_batch(x, y)
        analytic = [b - a for b, a in zip(before, model.get_weights())]
        model.set_weights(before)
        for w_index, w in enumerate(before):
            def loss_at(v, w_index=w_index):
                model.set_weights(before[:w_index] + [v] + before[w_index + 1:])
                return model.evaluate(x, y, batch_size=6, verbose=0)
            numeric = central_differences(loss_at, w, H)
            np.testing.assert_allclose(analytic[w_index], numeric, rtol=1e-5, atol=1e-7,
                                       err_msg=f"{case}: weight {w_index}")


@pytest.mark.parametrize("act", ALL_ACTIVATIONS)
def test_dropout_backward_fuses_the_previous_activation(act, floatx64):
    """Dense(act) -> Dropout -> Dense: the compiled step (mask, scale and act' in one pass)
    takes the same steps as the reference, which applies them one after another."""
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((9, 6)), rng.integers(0, 3, 9)
    weights = {}
    for backend_name in ("reference", "cpu"):
        with fastnn.use_backend(backend_name):
            fastnn.utils.set_random_seed(5)
            model = models.Sequential([
                layers.Dense(7, activation=act, input_shape=(6,)), layers.Dropout(0.4),
                layers.Dense(3, activation="softmax")])
            model.compile(optimizer=optimizers.SGD(learning_rate=0.5),
                          loss="sparse_categorical_crossentropy")
            for _ in range(3):
                model.train_on_batch(x, y)
            weights[backend_name] = model.get_weights()
    for ref, got in zip(weights["reference"], weights["cpu"]):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
