"""fastnn against values computed by Keras 3 itself (JAX backend, float64).

The golden files in tests/golden/ are written by tests/golden/make_keras_goldens.py
(its docstring has the command); these tests need no Keras. Every public formula is
compared: activations and their derivatives on a grid reaching |x| = 1000, losses and
their gradients at the edges (probabilities exactly 0 and 1, logits of +-1000), metrics
accumulated over several batches, 20 steps of every optimizer and schedule, and the
History of short fits; on both the reference (NumPy) and the compiled cpu backend.

Tolerances. float64: about 1e-12 relative to each element (never to the array's
largest element). Where fastnn evaluates act' from the stored output y = act(z) (all
activations but gelu and silu, so that training need not keep z), y carries its own
rounding of about one ulp, and act' inherits d(act')/dy times that: the tolerance adds
8 ulp of y propagated through d(act')/dy (see `_DDY`). float32: within FLOAT32_FACTOR
times Keras' own float32 error (Keras' float32 result against its float64 one) plus a
few float32 ulps of the value; for the activations both are measured from the float64
value at the float32-rounded input.
"""
import json
import os

import numpy as np
import pytest

import fastnn
from fastnn import activations, losses, metrics, optimizers, schedules
from fastnn.backend import available_backends, get_backend

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
BACKENDS = [b for b in ("reference", "cpu") if b in available_backends()]
RTOL64 = 1e-12
EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
# fastnn's float32 error may be this many times Keras' own float32 error (plus a few
# float32 ulps of the value, for where Keras' float32 result happens to be exact)
FLOAT32_FACTOR = 4.0


def load(name):
    with np.load(os.path.join(GOLDEN, name)) as data:
        return {k: data[k] for k in data.files}


ACT = load("activations.npz")
LOSS = load("losses.npz")
METRIC = load("metrics.npz")
OPT = load("optimizers.npz")
FIT = load("fits.npz")


def assert_rel64(actual, expected, what, extra_tol=0.0, rtol=RTOL64):
    """|actual - expected| <= rtol |expected| + extra_tol, element by element
    (infinities and NaNs must match exactly)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    finite = np.isfinite(expected)
    assert np.array_equal(np.isfinite(actual), finite), what
    assert np.array_equal(actual[~finite], expected[~finite], equal_nan=True), what
    err = np.abs(actual - expected)
    tol = rtol * np.abs(expected) + extra_tol + 1e-300
    bad = finite & ~(err <= tol)
    if bad.any():
        i = np.flatnonzero(bad.reshape(-1))[:6]
        raise AssertionError(
            f"{what}: {bad.sum()} of {bad.size} elements differ; at flat index {i.tolist()} "
            f"fastnn {actual.reshape(-1)[i].tolist()} keras {expected.reshape(-1)[i].tolist()}"
            f" (relative error {(err / np.maximum(np.abs(expected), 1e-300)).reshape(-1)[i]})")


def assert_float32(actual, keras32, keras64, what, extra_tol=0.0):
    """fastnn's float32 result within FLOAT32_FACTOR times Keras' own float32 error."""
    actual = np.asarray(actual, dtype=np.float64)
    k32 = np.asarray(keras32, dtype=np.float64)
    k64 = np.asarray(keras64, dtype=np.float64)
    finite = np.isfinite(k64) & np.isfinite(k32)
    keras_err = np.where(finite, np.abs(k32 - k64), 0.0)
    tol = FLOAT32_FACTOR * (keras_err + 2 * EPS32 * np.abs(k64) + extra_tol) + 1e-37
    err = np.where(finite, np.abs(actual - k64), 0.0)
    assert np.array_equal(np.isfinite(actual), np.isfinite(k32)), what
    bad = ~(err <= tol)
    if bad.any():
        i = np.flatnonzero(bad.reshape(-1))[:6]
        raise AssertionError(
            f"{what}: {bad.sum()} of {bad.size} elements differ; at {i.tolist()} fastnn "
            f"{actual.reshape(-1)[i].tolist()} keras64 {k64.reshape(-1)[i].tolist()} "
            f"keras32 {k32.reshape(-1)[i].tolist()}")


# ------------------------------------------------------------------ activations
# The activations Keras goldens were made for (tests/golden/make_keras_goldens.py), as
# stored: "name" or "name@param"; element-wise ones store act' ("dy"), row-wise ones the
# vector-Jacobian product ("vjp").
ELEMENTWISE = sorted({k.split("/")[0] for k in ACT if k.endswith("/dy")})
ROWWISE = sorted({k.split("/")[0] for k in ACT if k.endswith("/vjp")})

# |d(act')/dy| for the activations whose derivative fastnn computes from y: how much
# one unit of rounding in y moves act'
_DDY = {
    "sigmoid": lambda y: np.abs(1.0 - 2.0 * y),
    "tanh": lambda y: np.abs(2.0 * y),
    "elu": lambda y: np.where(y > 0, 0.0, 1.0),
    "selu": lambda y: np.where(y > 0, 0.0, 1.0),
    "softplus": lambda y: np.exp(-y),
    "softsign": lambda y: 2.0 * np.abs(1.0 - np.abs(y)),
}


def _spec(stored):
    name, _, param = stored.partition("@")
    if param:
        return activations.get({"name": name, "param": float(param)})
    return activations.get(name)


def _activation(stored, dtype):
    spec = _spec(stored)
    x = ACT["x"].astype(dtype).reshape(1, -1)
    backend = get_backend()
    y = np.asarray(backend.to_numpy(spec(backend.asarray(x))))
    saved = x if spec.needs_z else y
    dy = np.asarray(backend.to_numpy(backend.activation_backward(
        spec, backend.asarray(np.ones_like(x)), backend.asarray(saved))))
    conv = x[0] == 0 if spec.name == "leaky_relu" else None
    return spec, y[0], dy[0], conv


def _y_rounding(spec, y, eps):
    """The part of act'(y)'s error that y's own rounding explains (8 ulp of y)."""
    ddy = _DDY.get(spec.name)
    return 0.0 if ddy is None else 8 * eps * np.abs(y) * ddy(y)


def _terms_rounding(spec, x, eps):
    """gelu' = Phi(z) + z phi(z) and silu' = s + z s (1 - s) are sums of two terms that
    cancel where act' crosses 0 (z near -0.75 for gelu, -1.28 for silu): 4 ulp of the
    terms' magnitude there."""
    if spec.name == "gelu":
        import math
        phi = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)))(x)
        return 4 * eps * (phi + np.abs(x) * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))
    if spec.name == "silu":
        s = 0.5 * (1 + np.tanh(0.5 * x))
        return 4 * eps * (s + np.abs(x) * s * (1 - s))
    return 0.0


@pytest.mark.parametrize("stored", ELEMENTWISE)
def test_activation_float64(on_backend, stored):
    spec, y, dy, conv = _activation(stored, np.float64)
    assert_rel64(y, ACT[f"{stored}/y"], f"{stored}(x)")
    want = ACT[f"{stored}/dy"]
    if conv is not None:
        # JAX's leaky_relu takes slope 1 at exactly 0 (x >= 0); TensorFlow and PyTorch
        # take the negative slope there, as fastnn does: a convention, not compared
        assert dy[conv][0] == spec.param
        dy, want, y_k = dy[~conv], want[~conv], ACT[f"{stored}/y"][~conv]
    else:
        y_k = ACT[f"{stored}/y"]
    assert_rel64(dy, want, f"{stored}'(x)", extra_tol=_y_rounding(spec, y_k, EPS64))


@pytest.mark.parametrize("stored", ELEMENTWISE)
def test_activation_float32(on_backend, stored):
    spec, y, dy, conv = _activation(stored, np.float32)
    keep = slice(None) if conv is None else ~conv
    # against float64 at the float32-rounded inputs (64at32), the exact float32 answer
    assert_float32(y, ACT[f"{stored}/y32"], ACT[f"{stored}/y64at32"], f"{stored}(x) float32")
    y64 = ACT[f"{stored}/y64at32"][keep]
    assert_float32(dy[keep], ACT[f"{stored}/dy32"][keep], ACT[f"{stored}/dy64at32"][keep],
                   f"{stored}'(x) float32", extra_tol=_y_rounding(spec, y64, EPS32)
                   + _terms_rounding(spec, ACT["x"].astype(np.float32)[keep], EPS32))


def _rowwise(name, dtype):
    spec = activations.get(name)
    backend = get_backend()
    x = backend.asarray(ACT["rows/x"].astype(dtype))
    g = backend.asarray(ACT["rows/g"].astype(dtype))
    y = spec(x)
    vjp = backend.activation_backward(spec, g, y)
    return np.asarray(backend.to_numpy(y)), np.asarray(backend.to_numpy(vjp))


@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_activation_float64(on_backend, name):
    y, vjp = _rowwise(name, np.float64)
    assert_rel64(y, ACT[f"{name}/y"], f"{name}(x)")
    # the vector-Jacobian product sums terms of both signs: relative to each row's scale
    g = ACT["rows/g"]
    scale = np.abs(g).sum(axis=1, keepdims=True) * (
        np.abs(ACT["softmax/y"]) if name == "softmax" else 1.0)
    assert_rel64(vjp, ACT[f"{name}/vjp"], f"{name} vjp", extra_tol=4 * EPS64 * scale)


@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_activation_float32(on_backend, name):
    y, vjp = _rowwise(name, np.float32)
    assert_float32(y, ACT[f"{name}/y32"], ACT[f"{name}/y64at32"], f"{name}(x) float32")
    g = ACT["rows/g"]
    scale = np.abs(g).sum(axis=1, keepdims=True) * (
        np.abs(ACT["softmax/y"]) if name == "softmax" else 1.0)
    assert_float32(vjp, ACT[f"{name}/vjp32"], ACT[f"{name}/vjp64at32"],
                   f"{name} vjp float32", extra_tol=2 * EPS32 * scale)


# ------------------------------------------------------------------ losses
LOSS_PARAMS = json.loads(str(LOSS["params"]))
_LOSS_CLASSES = {
    "mse": losses.MeanSquaredError, "mae": losses.MeanAbsoluteError, "huber": losses.Huber,
    "hinge": losses.Hinge, "binary_crossentropy": losses.BinaryCrossentropy,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "kl_divergence": losses.KLDivergence,
}


def _loss(case, dtype, weighted):
    name, kwargs = LOSS_PARAMS[case]
    return loss_value_grad(_LOSS_CLASSES[name](**kwargs), LOSS, case, dtype, weighted)


def loss_value_grad(loss, gold, case, dtype, weighted):
    """(value, gradient with respect to y_pred) of the loss object `loss` on the inputs
    of the golden `case` of `gold` (y_pred in `dtype`, with the case's sample weights
    where `weighted`), on the active backend: the value of the loss object, the gradient
    of its kernel (backend.loss_grad), whose value must be the same."""
    y_true = gold[f"{case}/y_true"]
    y_pred = gold[f"{case}/y_pred"].astype(dtype)
    w = gold[f"{case}/sample_weight"].astype(dtype) if weighted else None
    value = loss(y_true, y_pred, sample_weight=w)
    backend = get_backend()
    pred = backend.asarray(np.ascontiguousarray(y_pred))
    target = backend.asarray(loss.prepare_target(y_true, y_pred.shape[1], dtype))
    grad = backend.zeros(y_pred.shape, dtype)
    kind, _ = loss.kernel(None)
    value_again = backend.loss_grad(kind, loss._param(), pred, target,
                                    None if w is None else backend.asarray(w), grad)
    # the value with and without the gradient (float32 takes the vectorised exps with it)
    assert value_again == pytest.approx(value, rel=1e-12 if dtype == np.float64 else 1e-6)
    return value, np.asarray(backend.to_numpy(grad))


def assert_loss_golden(gold, case, weighted, dtype, value, grad, extra_tol=0.0,
                       where=Ellipsis):
    """`value` and `grad` (of loss_value_grad) against the golden ones of `case`: in
    float64 by assert_rel64, in float32 by assert_float32; `extra_tol` is added to the
    gradient's tolerance, and `where` selects the gradient's elements compared."""
    p = "w_" if weighted else ""
    want_value, want_grad = gold[f"{case}/{p}value"], gold[f"{case}/{p}grad"][where]
    if dtype == np.float64:
        assert_rel64(value, want_value, f"{case} value")
        assert_rel64(grad[where], want_grad, f"{case} gradient", extra_tol=extra_tol)
    else:
        assert_float32(value, gold[f"{case}/{p}value32"], want_value,
                       f"{case} value float32")
        assert_float32(grad[where], gold[f"{case}/{p}grad32"][where], want_grad,
                       f"{case} gradient float32", extra_tol=extra_tol)


def sgd_step_move(loss, gold, case, weighted):
    """(move, model): one SGD step (learning rate 1) of a bias-free float64 Dense layer
    on the identity input, whose kernel, and so whose output, is the case's y_pred; the
    kernel moves by the loss' gradient with respect to y_pred as the training step
    computes it (on the active backend), sample weights included where `weighted`."""
    y_true, y_pred = gold[f"{case}/y_true"], gold[f"{case}/y_pred"]
    n, c = y_pred.shape
    model = fastnn.models.Sequential([fastnn.layers.Dense(c, use_bias=False, input_dim=n,
                                                         dtype="float64")])
    model.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss=loss)
    model.set_weights([y_pred.copy()])
    w = gold[f"{case}/sample_weight"] if weighted else None
    model.train_on_batch(np.eye(n), y_true, sample_weight=w)
    return y_pred - model.get_weights()[0], model


def assert_reduction_golden(loss, gold, case, reduction):
    """The weighted value of `loss` (made with `reduction`) on `case` is Keras'."""
    got = loss(gold[f"{case}/y_true"], gold[f"{case}/y_pred"],
               sample_weight=gold[f"{case}/sample_weight"])
    want = gold[f"reduction/{case}/{reduction}"]
    assert np.shape(got) == want.shape
    assert_rel64(got, want, f"{case} {reduction}")


def loss_function_golden(gold, functions, name):
    """(got, want): fastnn.losses.<name> and Keras' on the case that `functions` (the
    golden params' {name: [case, kwargs]}) names, per sample."""
    case, kwargs = functions[name]
    got = getattr(losses, name)(gold[f"{case}/y_true"], gold[f"{case}/y_pred"], **kwargs)
    want = gold[f"function/{name}"]
    assert got.shape == want.shape == (gold[f"{case}/y_pred"].shape[0],)
    return got, want


def _defined(case):
    """Where Keras' gradient does not hang on a backend's convention at a kink: the KL
    divergence's clip of y_pred at exactly 1 (JAX halves the gradient there), and the
    absolute error at y_pred == y_true (JAX takes |u|' = 1 at u = 0; TensorFlow and
    PyTorch take 0, as fastnn does, which test_mae_gradient_at_zero_error checks)."""
    if case == "kld":
        return LOSS["kld/y_pred"] != 1.0
    if case == "mae":
        return LOSS["mae/y_pred"] != LOSS["mae/y_true"]
    return np.ones(LOSS[f"{case}/y_pred"].shape, dtype=bool)


def test_mae_gradient_at_zero_error(on_backend):
    _, grad = _loss("mae", np.float64, False)
    assert (grad[LOSS["mae/y_pred"] == LOSS["mae/y_true"]] == 0).all()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(LOSS_PARAMS))
def test_loss_float64(on_backend, case, weighted):
    value, grad = _loss(case, np.float64, weighted)
    assert_loss_golden(LOSS, case, weighted, np.float64, value, grad, where=_defined(case))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(LOSS_PARAMS))
def test_loss_float32(on_backend, case, weighted):
    value, grad = _loss(case, np.float32, weighted)
    assert_loss_golden(LOSS, case, weighted, np.float32, value, grad, where=_defined(case))


# ------------------------------------------------------------------ metrics
METRIC_PARAMS = json.loads(str(METRIC["params"]))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(METRIC_PARAMS))
def test_metric(case, weighted):
    cls, kwargs = METRIC_PARAMS[case]
    metric = getattr(metrics, cls)(**kwargs)
    results = []
    for i in range(int(METRIC["n_batches"])):
        w = METRIC[f"{case}/sample_weight/{i}"] if weighted else None
        metric.update_state(METRIC[f"{case}/y_true/{i}"], METRIC[f"{case}/y_pred/{i}"],
                            sample_weight=w)
        results.append(metric.result())
    assert_rel64(results, METRIC[f"{case}/{'w_' if weighted else ''}results"], case)


# ------------------------------------------------------------------ optimizers
_OPT_PARAMS = json.loads(str(OPT["params"]))
OPTIMIZER_CASES = _OPT_PARAMS["optimizers"]
SCHEDULE_CASES = _OPT_PARAMS["schedules"]


def _schedule(name):
    cls, kwargs = SCHEDULE_CASES[name]
    return getattr(schedules, cls)(**kwargs)


@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
def test_schedule(name):
    sched = _schedule(name)
    got = [sched(step) for step in range(len(OPT[f"schedule/{name}"]))]
    assert_rel64(got, OPT[f"schedule/{name}"], name)


def _run_optimizer(case, dtype):
    cls, kwargs = OPTIMIZER_CASES[case]
    kwargs = dict(kwargs)
    if isinstance(kwargs["learning_rate"], dict):
        kwargs["learning_rate"] = _schedule(kwargs["learning_rate"]["schedule"])
    opt = getattr(optimizers, cls)(**kwargs)
    backend = get_backend()
    w = backend.asarray(OPT["w0"].astype(dtype).copy())
    b = backend.asarray(OPT["b0"].astype(dtype).copy())
    ws, bs = [], []
    for gw, gb in zip(OPT["grad_w"], OPT["grad_b"]):
        opt.apply([w, b], [backend.asarray(gw.astype(dtype)), backend.asarray(gb.astype(dtype))])
        ws.append(backend.to_numpy(w).copy())
        bs.append(backend.to_numpy(b).copy())
    return np.array(ws), np.array(bs)


@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_optimizer_float64(on_backend, case):
    ws, bs = _run_optimizer(case, np.float64)
    # 20 steps compound the rounding of each (Adam-like steps divide by sqrt(v)):
    # relative to each weight, plus 1e-12 of the largest step's size
    atol = 1e-14
    for step in range(len(ws)):
        assert_rel64(ws[step], OPT[f"{case}/w"][step], f"{case} kernel after step {step + 1}",
                     extra_tol=atol)
        assert_rel64(bs[step], OPT[f"{case}/b"][step], f"{case} bias after step {step + 1}",
                     extra_tol=atol)


@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_optimizer_float32(on_backend, case):
    ws, bs = _run_optimizer(case, np.float32)
    assert_float32(ws, OPT[f"{case}/w32"], OPT[f"{case}/w"], f"{case} kernel float32",
                   extra_tol=EPS32)
    assert_float32(bs, OPT[f"{case}/b32"], OPT[f"{case}/b"], f"{case} bias float32",
                   extra_tol=EPS32)


# ------------------------------------------------------------------ fits
FIT_PARAMS = json.loads(str(FIT["params"]))
# History values of a fit: 3 epochs of float64 training steps
FIT_RTOL = 1e-10


def _fit(case):
    spec = FIT_PARAMS[case]
    fastnn.config.set_floatx("float64")
    layers = [fastnn.layers.Dense(u, activation=a, **(
        {"input_shape": (spec["n_features"],)} if i == 0 else {}))
        for i, (u, a) in enumerate(spec["layers"])]
    model = fastnn.models.Sequential(layers)
    n_weights = 2 * len(layers)
    model.set_weights([FIT[f"{case}/weights/{i}"] for i in range(n_weights)])
    cls, kwargs = spec["compile"]["optimizer"]
    model.compile(optimizer=getattr(optimizers, cls)(**kwargs), loss=spec["compile"]["loss"],
                  metrics=list(spec["compile"]["metrics"]))
    fit = dict(spec["fit"])
    if fit.pop("sample_weight", False):
        fit["sample_weight"] = FIT[f"{case}/sample_weight"]
    vd = fit.pop("validation_data", None)
    if vd:
        fit["validation_data"] = (FIT[f"{case}/x_val"], FIT[f"{case}/y_val"]) + (
            (FIT[f"{case}/val_sample_weight"],) if vd == "weighted" else ())
    if "class_weight" in fit:
        fit["class_weight"] = {int(k): v for k, v in fit["class_weight"].items()}
    history = model.fit(FIT[f"{case}/x"], FIT[f"{case}/y"], shuffle=False, verbose=0, **fit)
    return model, history.history, n_weights


@pytest.mark.parametrize("case", list(FIT_PARAMS))
def test_fit_history(on_backend, case):
    model, history, n_weights = _fit(case)
    prefix = f"{case}/history/"
    want = {k[len(prefix):]: FIT[k] for k in FIT if k.startswith(prefix)}
    assert sorted(history) == sorted(want)
    for key in want:
        assert_rel64(history[key], want[key], f"{case} history[{key!r}]", rtol=FIT_RTOL)
    for i, w in enumerate(model.get_weights()):
        assert_rel64(w, FIT[f"{case}/final_weights/{i}"], f"{case} final weight {i}",
                     rtol=FIT_RTOL, extra_tol=1e-14)
    assert n_weights == len(model.get_weights())
