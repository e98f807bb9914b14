"""Write the Keras 3 golden values that tests/test_keras_golden.py compares fastnn with.

Run by hand, where Keras 3 with the JAX backend is installed (the tests themselves need
no Keras). From the repository root:

    python3 -m venv /tmp/kenv
    /tmp/kenv/bin/pip install keras jax jaxlib numpy
    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/golden/make_keras_goldens.py

It rewrites tests/golden/{activations,losses,metrics,optimizers,fits}.npz. The values
were last written with Keras 3.15.1, JAX 0.10.2 (CPU) and NumPy 2.4.6; every file
records the versions it was made with in its `meta` entry.

Precision: JAX runs with `jax_enable_x64` and Keras with floatx "float64", and the
script checks before writing anything that a float64 Dense forward and a float64
gradient agree with NumPy's float64 to 1e-13 (on the CPU, XLA computes float64 products
in float64; the default matmul precision is also set to "highest" so that no path
can drop to float32). The float32 entries (suffix `32`) are Keras' own float32 results
on the same inputs: the tests use their distance from the float64 values as the
measure of a float32 computation's rounding error. For the activations, the suffix
`64at32` holds float64 values at the float32-rounded inputs, the exact results that a
float32 computation is measured against (a steep function's float32 result differs
from its float64 one mostly through the rounding of its input).

What is stored, per file (all arrays float64 unless named *32):
  activations.npz  x: a grid reaching |x| = 1000; for each activation `<name>/y` and
                   `<name>/dy` (d act / dx from jax.grad through keras.activations),
                   softmax and log_softmax on rows `rows/x` with the vector-Jacobian
                   product of the cotangent `rows/g`.
  losses.npz       per case `<case>/y_true`, `y_pred`, `sample_weight`, and the loss
                   value and its gradient with respect to y_pred, with (`w_`) and
                   without sample weights.
  metrics.npz      per case the batches fed to update_state and result() after each.
  optimizers.npz   initial weights, 20 steps of gradients, and the weights after each
                   step for every optimizer configuration; learning rates of the
                   schedules at steps 0..40.
  fits.npz         data, initial weights and History.history of short fits.

Points where Keras' gradient depends on the backend's convention for a tie (JAX splits
the gradient of max(a, b) at a == b evenly; TensorFlow and PyTorch do not) are avoided
in the data, except the KL divergence at y_pred == 1 (its upper clip), which the
tests compare by value only.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_default_matmul_precision", "highest")

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.backend.common import dtypes as keras_dtypes  # noqa: E402

# Keras 3's type promotion (keras.backend.result_type) narrows float64 to float32 on
# every backend but TensorFlow "to align with JAX's default", so keras.ops.tanh, log,
# sqrt, mean, ... of a float64 tensor compute and return float32 there. Mapping float64
# to itself makes Keras' own formulas run in float64; check_float64 verifies it.
keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"

HERE = os.path.dirname(os.path.abspath(__file__))
META = json.dumps({"keras": keras.__version__, "jax": jax.__version__,
                   "numpy": np.__version__, "backend": keras.backend.backend()})


def floatx(name):
    keras.config.set_floatx(name)


_OUTPUTS = ("/y", "/dy", "/vjp", "/grad", "/w", "/b", "/history/loss", "/history/val_loss")


def check_not_narrowed(key, arr):
    """Refuse a float64 result that went through float32 (every non-integer element
    exactly representable in float32)."""
    if arr.dtype != np.float64 or not (key.endswith(_OUTPUTS) or "final_weights" in key):
        return
    v = arr[np.isfinite(arr) & (arr != np.round(arr))]
    if v.size >= 4:
        exact = np.mean(v.astype(np.float32).astype(np.float64) == v)
        assert exact < 0.5, f"{key}: {exact:.0%} of its values are float32 numbers"


def save(name, data):
    data = dict(data)
    for key, arr in data.items():
        check_not_narrowed(key, np.asarray(arr))
    data["meta"] = np.array(META)
    path = os.path.join(HERE, name)
    np.savez_compressed(path, **data)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(data)} entries)")


def check_float64():
    """Refuse to write goldens unless Keras really computes in float64."""
    floatx("float64")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 7))
    w, b = rng.standard_normal((7, 5)), rng.standard_normal(5)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(5)])
    model.set_weights([w, b])
    got = np.asarray(model(x))
    want = x @ w + b
    err = np.max(np.abs(got - want) / np.abs(want))
    assert got.dtype == np.float64 and err < 1e-13, f"Dense forward not float64: {err}"
    g = np.asarray(jax.grad(lambda v: jnp.sum(jnp.tanh(v @ w)))(x))
    want_g = (1 - np.tanh(x @ w) ** 2) @ w.T
    err = np.max(np.abs(g - want_g) / np.abs(want_g))
    assert g.dtype == np.float64 and err < 1e-13, f"gradient not float64: {err}"
    # element-wise ops that go through keras.backend.result_type
    v = np.array([8.0, 1e-300, 4.4, 0.3, 1.7])
    for op, ref in ((keras.ops.tanh, np.tanh), (keras.ops.log, np.log),
                    (keras.ops.sqrt, np.sqrt), (keras.ops.exp, np.exp)):
        got = np.asarray(op(jnp.asarray(v)))
        want = ref(v)
        err = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300))
        assert got.dtype == np.float64 and err < 1e-15, f"{op.__name__} not float64: {err}"


# ------------------------------------------------------------------ activations
ACTIVATIONS = {
    # stored name: (keras activation, keyword arguments)
    "linear": ("linear", {}), "relu": ("relu", {}), "leaky_relu": ("leaky_relu", {}),
    "leaky_relu@0.3": ("leaky_relu", {"negative_slope": 0.3}), "elu": ("elu", {}),
    "elu@0.5": ("elu", {"alpha": 0.5}), "selu": ("selu", {}), "gelu": ("gelu", {}),
    "silu": ("silu", {}), "swish": ("swish", {}), "sigmoid": ("sigmoid", {}),
    "hard_sigmoid": ("hard_sigmoid", {}), "tanh": ("tanh", {}), "softplus": ("softplus", {}),
    "softsign": ("softsign", {}),
}


def activation_grid():
    special = [0.0, 1e-8, 1.0, 20.0, 50.0, 88.0, 100.0, 1000.0, 1e-300, 0.5, 2.5, 3.0,
               5.0, 10.0, 30.0, 36.0, 40.0, 87.0, 89.0, 200.0, 500.0, 709.0, 710.0]
    dense = np.linspace(-12.0, 12.0, 481)
    wide = np.geomspace(1e-6, 1000.0, 120)
    x = np.concatenate([special, [-v for v in special], dense, wide, -wide])
    # no exact kinks except 0 (hard_sigmoid's corners at +-3 are kept: relu6's
    # gradient there is 0 on every backend)
    return np.unique(x)


def activation_goldens():
    x = activation_grid()
    out = {"x": x}
    for stored, (name, kwargs) in ACTIVATIONS.items():
        fn = keras.activations.get(name)
        # "64at32": float64 at the float32-rounded grid, the exact answer a float32
        # computation is measured against
        x32 = x.astype(np.float32).astype(np.float64)
        for suffix, dtype, xin in (("", "float64", x), ("32", "float32", x),
                                   ("64at32", "float64", x32)):
            floatx(dtype)
            xx = jnp.asarray(xin, dtype=dtype)
            f = (lambda v, fn=fn, kw=kwargs: fn(v, **kw))
            y = np.asarray(f(xx))
            dy = np.asarray(jax.grad(lambda v: jnp.sum(f(v)))(xx))
            out[f"{stored}/y{suffix}"] = y
            out[f"{stored}/dy{suffix}"] = dy
    floatx("float64")
    rng = np.random.default_rng(1)
    rows = np.array([
        [0.0, 1000.0, -1000.0, 50.0, -50.0, 1.0],
        [1e-8, -1e-8, 0.0, 0.0, 0.0, 1e-8],
        [88.0, 88.0, -88.0, 100.0, -100.0, 20.0],
        [1000.0, 1000.0, 999.0, 0.0, -1000.0, 998.0],
        [-1000.0, -1000.0, -999.0, -1000.0, -1000.0, -1001.0],
        [-20.0, 20.0, -50.0, 50.0, -88.0, 88.0],
    ])
    rows = np.concatenate([rows, rng.standard_normal((6, 6)) * 3,
                           rng.standard_normal((4, 6)) * 60])
    g = rng.standard_normal(rows.shape)
    out["rows/x"], out["rows/g"] = rows, g
    for name in ("softmax", "log_softmax"):
        fn = keras.activations.get(name)
        for suffix, dtype, rr, gr in (
                ("", "float64", rows, g), ("32", "float32", rows, g),
                ("64at32", "float64", rows.astype(np.float32).astype(np.float64),
                 g.astype(np.float32).astype(np.float64))):
            floatx(dtype)
            xx, gg = jnp.asarray(rr, dtype=dtype), jnp.asarray(gr, dtype=dtype)
            y, vjp = jax.vjp(fn, xx)
            out[f"{name}/y{suffix}"] = np.asarray(y)
            out[f"{name}/vjp{suffix}"] = np.asarray(vjp(gg)[0])
    floatx("float64")
    save("activations.npz", out)


# ------------------------------------------------------------------ losses
def loss_cases():
    """(case name, keras loss factory, y_true, y_pred, kl_tie_mask or None)."""
    rng = np.random.default_rng(2)
    w6 = np.array([1.0, 0.0, 2.5, 0.5, 1.0, 3.0])
    cases = []
    reg_pred = np.array([[0.0, 1.0, -1.0], [50.0, -50.0, 0.3], [1000.0, -1000.0, 1e-8],
                         [0.25, 0.75, 2.0], [-3.0, 0.5, 0.5], [7.0, -0.2, 1e-3]])
    reg_true = np.array([[0.1, 1.0, -0.9], [1.0, 0.0, 0.3], [0.0, 1.0, -1.0],
                         [0.5, 0.5, -2.0], [-1.5, 1.0, 0.75], [0.0, 0.0, 0.0]])
    cases.append(("mse", lambda: keras.losses.MeanSquaredError(), reg_true, reg_pred))
    cases.append(("mae", lambda: keras.losses.MeanAbsoluteError(), reg_true, reg_pred))
    cases.append(("huber", lambda: keras.losses.Huber(), reg_true, reg_pred))
    cases.append(("huber@0.5", lambda: keras.losses.Huber(delta=0.5), reg_true, reg_pred))
    # hinge: labels -1/1, and 0/1 (converted by Keras); no margin exactly 0
    h_pred = np.array([[0.3, -2.0], [50.0, -50.0], [1000.0, -1000.0], [0.0, 0.5],
                       [-0.7, 1.5], [2.0, 0.99]])
    h_pm = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0],
                     [-1.0, -1.0]])
    cases.append(("hinge", lambda: keras.losses.Hinge(), h_pm, h_pred))
    cases.append(("hinge_01", lambda: keras.losses.Hinge(), (h_pm + 1) / 2, h_pred))
    # binary cross-entropy on probabilities: exactly 0 and 1, near them, soft labels
    p = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.3], [1e-8, 1 - 1e-8, 0.9],
                  [0.0, 1.0, 1e-12], [0.2, 0.7, 0.999], [1e-3, 0.5, 1.0]])
    t = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0],
                  [1.0, 0.0, 0.25], [0.25, 0.5, 1.0], [1.0, 0.0, 0.0]])
    cases.append(("bce", lambda: keras.losses.BinaryCrossentropy(), t, p))
    z = np.array([[50.0, -50.0, 0.0], [1000.0, -1000.0, 3.7], [-50.0, 50.0, -0.5],
                  [-1000.0, 1000.0, 20.0], [1e-8, -36.0, 36.0], [88.0, -88.0, 710.0]])
    cases.append(("bce_logits", lambda: keras.losses.BinaryCrossentropy(from_logits=True),
                  t, z))
    # categorical cross-entropy on probabilities (rows not summing to 1 included)
    cp = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [2.0, 1.0, 1.0],
                   [1e-9, 0.5, 0.5], [0.0, 0.999, 0.001]])
    ct = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                   [1.0, 0.0, 0.0], [0.1, 0.6, 0.3]])
    cases.append(("cce", lambda: keras.losses.CategoricalCrossentropy(), ct, cp))
    cz = np.array([[50.0, -50.0, 0.0], [1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0],
                   [0.1, 0.2, 0.3], [88.0, -88.0, 88.0], [-50.0, -50.0, -50.0]])
    cases.append(("cce_logits",
                  lambda: keras.losses.CategoricalCrossentropy(from_logits=True), ct, cz))
    labels = np.array([2, 1, 1, 0, 0, 1])
    cases.append(("scce", lambda: keras.losses.SparseCategoricalCrossentropy(), labels, cp))
    cases.append(("scce_logits",
                  lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  labels, cz))
    kt = np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0],
                   [0.1, 0.6, 0.3], [0.25, 0.25, 0.5]])
    kp = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5], [1e-9, 0.5, 0.5],
                   [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]])
    cases.append(("kld", lambda: keras.losses.KLDivergence(), kt, kp))
    del rng
    return cases, w6


LOSS_PARAMS = {  # case -> fastnn loss name and keyword arguments (for the tests)
    "mse": ("mse", {}), "mae": ("mae", {}), "huber": ("huber", {}),
    "huber@0.5": ("huber", {"delta": 0.5}), "hinge": ("hinge", {}), "hinge_01": ("hinge", {}),
    "bce": ("binary_crossentropy", {}),
    "bce_logits": ("binary_crossentropy", {"from_logits": True}),
    "cce": ("categorical_crossentropy", {}),
    "cce_logits": ("categorical_crossentropy", {"from_logits": True}),
    "scce": ("sparse_categorical_crossentropy", {}),
    "scce_logits": ("sparse_categorical_crossentropy", {"from_logits": True}),
    "kld": ("kl_divergence", {}),
}


def loss_goldens():
    cases, w = loss_cases()
    out = {"params": np.array(json.dumps(LOSS_PARAMS))}
    for name, factory, y_true, y_pred in cases:
        out[f"{name}/y_true"], out[f"{name}/y_pred"] = y_true, y_pred
        out[f"{name}/sample_weight"] = w
        for suffix, dtype in (("", "float64"), ("32", "float32")):
            floatx(dtype)
            loss = factory()
            yt = jnp.asarray(y_true, dtype="int32" if name.startswith("scce") else dtype)
            yp = jnp.asarray(y_pred, dtype=dtype)
            ww = jnp.asarray(w, dtype=dtype)
            for prefix, sw in (("", None), ("w_", ww)):
                value, grad = jax.value_and_grad(
                    lambda v, sw=sw: loss(yt, v, sample_weight=sw))(yp)
                out[f"{name}/{prefix}value{suffix}"] = np.asarray(value)
                out[f"{name}/{prefix}grad{suffix}"] = np.asarray(grad)
    floatx("float64")
    save("losses.npz", out)


# ------------------------------------------------------------------ metrics
def metric_goldens():
    floatx("float64")
    rng = np.random.default_rng(3)
    sizes = (5, 3, 4)
    out = {}

    def batches_of(make):
        return [make(n) for n in sizes]

    def probs(n, k):
        p = rng.random((n, k))
        p[0] = p[0, 0]      # a tie in the first row of every batch
        return p / p.sum(axis=1, keepdims=True)

    binary_pred = batches_of(lambda n: np.round(rng.random((n, 2)), 1))
    hard = batches_of(lambda n: (rng.random((n, 2)) > 0.5).astype(float))
    soft = batches_of(lambda n: rng.choice([0.0, 0.2, 0.5, 0.7, 1.0], size=(n, 2)))
    cat_pred = batches_of(lambda n: probs(n, 4))
    onehot = [np.eye(4)[rng.integers(0, 4, len(p))] for p in cat_pred]
    sparse = [o.argmax(axis=1) for o in onehot]
    sparse_col = [s.reshape(-1, 1) for s in sparse]
    reg_pred = batches_of(lambda n: rng.standard_normal((n, 3)))
    reg_true = batches_of(lambda n: rng.standard_normal((n, 3)))
    acc_pred = batches_of(lambda n: rng.integers(0, 3, (n, 2)).astype(float))
    acc_true = batches_of(lambda n: rng.integers(0, 3, (n, 2)).astype(float))
    weights = batches_of(lambda n: rng.choice([0.0, 0.5, 1.0, 2.0, 3.5], size=n))

    cases = {
        # case: (fastnn metric name, kwargs, keras factory, y_true batches, y_pred batches)
        "accuracy": ("Accuracy", {}, lambda: keras.metrics.Accuracy(), acc_true, acc_pred),
        "binary_accuracy": ("BinaryAccuracy", {}, lambda: keras.metrics.BinaryAccuracy(),
                            hard, binary_pred),
        "binary_accuracy_soft": ("BinaryAccuracy", {},
                                 lambda: keras.metrics.BinaryAccuracy(), soft, binary_pred),
        "binary_accuracy@0.7": ("BinaryAccuracy", {"threshold": 0.7},
                                lambda: keras.metrics.BinaryAccuracy(threshold=0.7), hard,
                                binary_pred),
        "categorical_accuracy": ("CategoricalAccuracy", {},
                                 lambda: keras.metrics.CategoricalAccuracy(), onehot,
                                 cat_pred),
        "sparse_categorical_accuracy": (
            "SparseCategoricalAccuracy", {},
            lambda: keras.metrics.SparseCategoricalAccuracy(), sparse, cat_pred),
        "sparse_categorical_accuracy_col": (
            "SparseCategoricalAccuracy", {},
            lambda: keras.metrics.SparseCategoricalAccuracy(), sparse_col, cat_pred),
        "top_k_categorical_accuracy@2": (
            "TopKCategoricalAccuracy", {"k": 2},
            lambda: keras.metrics.TopKCategoricalAccuracy(k=2), onehot, cat_pred),
        "sparse_top_k_categorical_accuracy@2": (
            "SparseTopKCategoricalAccuracy", {"k": 2},
            lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=2), sparse, cat_pred),
        "mean_squared_error": ("MeanSquaredError", {},
                               lambda: keras.metrics.MeanSquaredError(), reg_true, reg_pred),
        "mean_absolute_error": ("MeanAbsoluteError", {},
                                lambda: keras.metrics.MeanAbsoluteError(), reg_true,
                                reg_pred),
    }
    params = {}
    for case, (cls, kwargs, factory, ys, ps) in cases.items():
        params[case] = [cls, kwargs]
        for i, (y, p, w) in enumerate(zip(ys, ps, weights)):
            out[f"{case}/y_true/{i}"], out[f"{case}/y_pred/{i}"] = y, p
            out[f"{case}/sample_weight/{i}"] = w
        for prefix, ws in (("", [None] * len(sizes)), ("w_", weights)):
            metric = factory()
            results = []
            for y, p, w in zip(ys, ps, ws):
                metric.update_state(y, p, sample_weight=w)
                results.append(float(metric.result()))
            out[f"{case}/{prefix}results"] = np.array(results)
    out["params"] = np.array(json.dumps(params))
    out["n_batches"] = np.array(len(sizes))
    save("metrics.npz", out)


# ------------------------------------------------------------------ optimizers
SCHEDULES = {
    "exponential": ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3,
                                         "decay_rate": 0.7}),
    "exponential_staircase": ("ExponentialDecay",
                              {"initial_learning_rate": 0.1, "decay_steps": 3,
                               "decay_rate": 0.7, "staircase": True}),
    "piecewise": ("PiecewiseConstantDecay", {"boundaries": [4, 9, 15],
                                             "values": [0.1, 0.05, 0.02, 0.005]}),
    "cosine": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 15}),
    "cosine_alpha": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 15,
                                     "alpha": 0.1}),
    "cosine_warmup": ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 12,
                                      "alpha": 0.05, "warmup_target": 0.1,
                                      "warmup_steps": 5}),
}

OPTIMIZERS = {
    # case: (class name, keyword arguments; "schedule" names an entry of SCHEDULES)
    "sgd": ("SGD", {"learning_rate": 0.1}),
    "sgd_momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
    "sgd_clipvalue": ("SGD", {"learning_rate": 0.1, "clipvalue": 0.5}),
    "sgd_clipnorm": ("SGD", {"learning_rate": 0.1, "clipnorm": 1.0}),
    "sgd_global_clipnorm": ("SGD", {"learning_rate": 0.1, "global_clipnorm": 1.5}),
    "adam": ("Adam", {"learning_rate": 0.01}),
    "adam_amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    "adam_weight_decay": ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1}),
    "adam_clipnorm": ("Adam", {"learning_rate": 0.01, "clipnorm": 1.0}),
    "adam_clipvalue": ("Adam", {"learning_rate": 0.01, "clipvalue": 0.3}),
    "adam_global_clipnorm": ("Adam", {"learning_rate": 0.01, "global_clipnorm": 2.0}),
    "adam_betas": ("Adam", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9,
                            "epsilon": 1e-4}),
    "adamw": ("AdamW", {"learning_rate": 0.01}),
    "adamw_amsgrad": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05,
                                "amsgrad": True}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop_centered": ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    "rmsprop_momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.8}),
    "rmsprop_centered_momentum": ("RMSprop", {"learning_rate": 0.01, "centered": True,
                                              "momentum": 0.5, "rho": 0.8}),
    "rmsprop_weight_decay": ("RMSprop", {"learning_rate": 0.01, "weight_decay": 0.1}),
    "rmsprop_global_clipnorm": ("RMSprop", {"learning_rate": 0.01, "global_clipnorm": 1.0}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),
    "adagrad_init": ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5,
                                 "epsilon": 1e-3}),
    "adagrad_weight_decay": ("Adagrad", {"learning_rate": 0.1, "weight_decay": 0.05}),
    "adamax": ("Adamax", {"learning_rate": 0.02}),
    "adamax_weight_decay": ("Adamax", {"learning_rate": 0.02, "weight_decay": 0.1}),
    "nadam": ("Nadam", {"learning_rate": 0.01}),
    "nadam_betas": ("Nadam", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95}),
    "nadam_weight_decay": ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.1,
                                     "clipnorm": 2.0}),
}
OPTIMIZERS.update({f"sgd_{s}": ("SGD", {"learning_rate": {"schedule": s}})
                   for s in SCHEDULES})
OPTIMIZERS.update({
    "sgd_momentum_cosine_warmup": ("SGD", {"learning_rate": {"schedule": "cosine_warmup"},
                                           "momentum": 0.9}),
    "adam_exponential": ("Adam", {"learning_rate": {"schedule": "exponential"}}),
    "adamw_piecewise": ("AdamW", {"learning_rate": {"schedule": "piecewise"},
                                  "weight_decay": 0.1}),
    "rmsprop_cosine": ("RMSprop", {"learning_rate": {"schedule": "cosine"}}),
    "nadam_cosine_warmup": ("Nadam", {"learning_rate": {"schedule": "cosine_warmup"}}),
})
N_STEPS = 20


def keras_schedule(name):
    cls, kwargs = SCHEDULES[name]
    return getattr(keras.optimizers.schedules, cls)(**kwargs)


def keras_optimizer(case):
    cls, kwargs = OPTIMIZERS[case]
    kwargs = dict(kwargs)
    if isinstance(kwargs["learning_rate"], dict):
        kwargs["learning_rate"] = keras_schedule(kwargs["learning_rate"]["schedule"])
    return getattr(keras.optimizers, cls)(**kwargs)


def optimizer_goldens():
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((3, 4))
    b0 = rng.standard_normal(4) * 0.1
    # gradients of varied size (some steps trigger the clipping, some do not)
    scale = rng.choice([0.05, 0.3, 1.0, 4.0], size=N_STEPS)
    gw = rng.standard_normal((N_STEPS, 3, 4)) * scale[:, None, None]
    gb = rng.standard_normal((N_STEPS, 4)) * scale[:, None]
    gw[3, 1, 2] = 0.0       # an exact zero gradient
    gb[5] = 0.0
    out = {"w0": w0, "b0": b0, "grad_w": gw, "grad_b": gb,
           "params": np.array(json.dumps({"optimizers": OPTIMIZERS,
                                          "schedules": SCHEDULES}))}
    for case in OPTIMIZERS:
        for suffix, dtype in (("", "float64"), ("32", "float32")):
            floatx(dtype)
            opt = keras_optimizer(case)
            w = keras.Variable(w0.astype(dtype), dtype=dtype)
            b = keras.Variable(b0.astype(dtype), dtype=dtype)
            ws, bs = [], []
            for step in range(N_STEPS):
                opt.apply_gradients([(jnp.asarray(gw[step], dtype), w),
                                     (jnp.asarray(gb[step], dtype), b)])
                ws.append(np.asarray(w.value))
                bs.append(np.asarray(b.value))
            out[f"{case}/w{suffix}"], out[f"{case}/b{suffix}"] = np.array(ws), np.array(bs)
    floatx("float64")
    steps = np.arange(41)
    for name in SCHEDULES:
        sched = keras_schedule(name)
        out[f"schedule/{name}"] = np.array([float(sched(int(s))) for s in steps])
    save("optimizers.npz", out)


# ------------------------------------------------------------------ fits
FITS = {
    # case: model spec, compile arguments, fit arguments (arrays named by key)
    "binary_validation_split": {
        "layers": [[4, "tanh"], [1, "sigmoid"]], "n_features": 3,
        "compile": {"optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.9}],
                    "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        "fit": {"batch_size": 4, "epochs": 3, "validation_split": 0.25},
        "data": "binary"},
    "binary_sample_weight": {
        "layers": [[4, "relu"], [1, "sigmoid"]], "n_features": 3,
        "compile": {"optimizer": ["Adam", {"learning_rate": 0.05}],
                    "loss": "binary_crossentropy", "metrics": ["binary_accuracy", "mse"]},
        "fit": {"batch_size": 5, "epochs": 3, "sample_weight": True,
                "validation_data": True},
        "data": "binary"},
    "binary_class_weight": {
        "layers": [[4, "tanh"], [1, "sigmoid"]], "n_features": 3,
        "compile": {"optimizer": ["RMSprop", {"learning_rate": 0.02}],
                    "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        "fit": {"batch_size": 6, "epochs": 3, "class_weight": {"0": 0.5, "1": 2.0},
                "validation_split": 0.2},
        "data": "binary"},
    "sparse_class_weight": {
        "layers": [[5, "relu"], [3, "softmax"]], "n_features": 3,
        "compile": {"optimizer": ["Adam", {"learning_rate": 0.03}],
                    "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
        "fit": {"batch_size": 7, "epochs": 3, "class_weight": {"0": 1.0, "1": 3.0,
                                                               "2": 0.25},
                "validation_data": True},
        "data": "sparse"},
    "categorical_sample_weight_split": {
        "layers": [[5, "elu"], [3, "softmax"]], "n_features": 3,
        "compile": {"optimizer": ["Nadam", {"learning_rate": 0.02}],
                    "loss": "categorical_crossentropy",
                    "metrics": ["categorical_accuracy", "top_k_categorical_accuracy"]},
        "fit": {"batch_size": 8, "epochs": 3, "sample_weight": True,
                "validation_split": 0.25},
        "data": "onehot"},
    "regression_validation_data_weights": {
        "layers": [[4, "softplus"], [2, "linear"]], "n_features": 3,
        "compile": {"optimizer": ["SGD", {"learning_rate": 0.05, "nesterov": True,
                                          "momentum": 0.5}],
                    "loss": "mse", "metrics": ["mae"]},
        "fit": {"batch_size": 4, "epochs": 3, "sample_weight": True,
                "validation_data": "weighted"},
        "data": "regression"},
    "huber_adamw": {
        "layers": [[4, "gelu"], [2, "linear"]], "n_features": 3,
        "compile": {"optimizer": ["AdamW", {"learning_rate": 0.05, "weight_decay": 0.1}],
                    "loss": "huber", "metrics": ["mse"]},
        "fit": {"batch_size": 9, "epochs": 3, "validation_split": 0.3},
        "data": "regression"},
}
N_FIT = 23      # 23 samples: every batch size above leaves an uneven last batch


def fit_data(kind, rng):
    x = rng.standard_normal((N_FIT, 3))
    xv = rng.standard_normal((7, 3))
    proj = rng.standard_normal((3, 3))
    if kind == "binary":
        y = ((x @ proj)[:, :1] > 0).astype(float)
        yv = ((xv @ proj)[:, :1] > 0).astype(float)
    elif kind in ("sparse", "onehot"):
        y, yv = (x @ proj).argmax(axis=1), (xv @ proj).argmax(axis=1)
        if kind == "onehot":
            y, yv = np.eye(3)[y], np.eye(3)[yv]
    else:
        y, yv = (x @ proj)[:, :2], (xv @ proj)[:, :2]
    w = rng.choice([0.5, 1.0, 2.0, 0.0, 3.0], size=N_FIT)
    wv = rng.choice([0.5, 1.0, 2.0], size=7)
    return x, y, xv, yv, w, wv


def fit_goldens():
    floatx("float64")
    rng = np.random.default_rng(5)
    out = {"params": np.array(json.dumps(FITS))}
    for case, spec in FITS.items():
        x, y, xv, yv, w, wv = fit_data(spec["data"], rng)
        layer_sizes = [spec["n_features"]] + [u for u, _ in spec["layers"]]
        weights = []
        for n_in, n_out in zip(layer_sizes, layer_sizes[1:]):
            weights += [rng.standard_normal((n_in, n_out)) * 0.7,
                        rng.standard_normal(n_out) * 0.1]
        model = keras.Sequential([keras.Input((spec["n_features"],))] + [
            keras.layers.Dense(u, activation=a) for u, a in spec["layers"]])
        model.set_weights(weights)
        cls, kwargs = spec["compile"]["optimizer"]
        model.compile(optimizer=getattr(keras.optimizers, cls)(**kwargs),
                      loss=spec["compile"]["loss"], metrics=list(spec["compile"]["metrics"]))
        fit = dict(spec["fit"])
        if fit.pop("sample_weight", False):
            fit["sample_weight"] = w
        vd = fit.pop("validation_data", None)
        if vd:
            fit["validation_data"] = (xv, yv, wv) if vd == "weighted" else (xv, yv)
        if "class_weight" in fit:
            fit["class_weight"] = {int(k): v for k, v in fit["class_weight"].items()}
        history = model.fit(x, y, shuffle=False, verbose=0, **fit)
        out[f"{case}/x"], out[f"{case}/y"] = x, y
        out[f"{case}/x_val"], out[f"{case}/y_val"] = xv, yv
        out[f"{case}/sample_weight"], out[f"{case}/val_sample_weight"] = w, wv
        for i, arr in enumerate(weights):
            out[f"{case}/weights/{i}"] = arr
        for i, arr in enumerate(model.get_weights()):
            out[f"{case}/final_weights/{i}"] = np.asarray(arr)
        for key, values in history.history.items():
            out[f"{case}/history/{key}"] = np.array(values, dtype=np.float64)
    save("fits.npz", out)


def main():
    check_float64()
    activation_goldens()
    loss_goldens()
    metric_goldens()
    optimizer_goldens()
    fit_goldens()
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE)
                if f.endswith(".npz"))
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
