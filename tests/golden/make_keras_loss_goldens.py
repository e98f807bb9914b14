"""Write tests/golden/losses3.npz, the Keras 3 golden values that
tests/test_losses_keras3.py compares fastnn with: the learning-rate schedules
InverseTimeDecay, PolynomialDecay and CosineDecayRestarts, the losses msle, mape,
log_cosh, poisson and cosine_similarity, label smoothing of the binary and categorical
cross-entropies, the reductions of Loss, and the per-sample loss functions.

Run by hand, where Keras 3 with the JAX backend is installed (see
tests/golden/make_keras_goldens.py, whose float64 set-up and checks this script reuses).
From the repository root:

    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/golden/make_keras_loss_goldens.py

What is stored (all arrays float64 unless named *32):
  params                JSON: {"losses": {case: [fastnn class, kwargs, keras class,
                        keras kwargs]}, "schedules": {case: [class, kwargs]},
                        "reductions": [...], "functions": {name: case}}.
  schedule/<case>       the rate at every step of `schedule_steps`.
  <case>/y_true, y_pred, sample_weight
  <case>/[w_]value[32], <case>/[w_]grad[32]
                        the loss (reduction "sum_over_batch_size") and its gradient with
                        respect to y_pred, without and with (`w_`) sample weights, in
                        float64 and (suffix 32) Keras' own float32.
  reduction/<case>/<r>  the weighted loss under reduction r ("none": per sample).
  function/<name>       keras.losses.<name>(y_true, y_pred) of the case `functions` names.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_keras_goldens as base  # noqa: E402  (sets up JAX and Keras in float64)

jax, jnp, keras, np = base.jax, base.jnp, base.keras, base.np

W6 = np.array([1.0, 0.0, 2.5, 0.5, 1.0, 3.0])


def cases():
    """{case: (fastnn class, kwargs, keras class, keras kwargs, y_true, y_pred)}."""
    out = {}
    # msle: negative and zero predictions (clipped to eps, no gradient), up to 1000
    p = np.array([[0.0, 1.0, -1.0], [50.0, 3.0, 0.3], [1000.0, 1e-3, 1e-8],
                  [0.25, 0.75, 2.0], [-3.0, 0.5, 0.4], [7.0, 0.2, 1e-3]])
    t = np.array([[0.1, 2.0, 0.0], [1.0, 0.0, 0.25], [0.0, 1.0, -1.0],
                  [0.5, 0.5, 2.5], [1.5, 1.0, 0.75], [0.0, 0.0, 5.0]])
    out["msle"] = ("MeanSquaredLogarithmicError", {}, "MeanSquaredLogarithmicError", {}, t, p)
    # mape: zero targets (denominator eps), negative ones; no y_pred == y_true
    out["mape"] = ("MeanAbsolutePercentageError", {}, "MeanAbsolutePercentageError", {},
                   np.array([[0.1, 2.0, 0.0], [1.0, -4.0, 0.25], [0.0, 1.0, -1.0],
                             [0.5, 0.5, 2.5], [-1.5, 1.0, 0.75], [1e-9, 0.0, 5.0]]),
                   np.array([[0.0, 1.0, -1.0], [50.0, 3.0, 0.3], [1000.0, 1e-3, 1e-8],
                             [0.25, 0.75, 2.0], [-3.0, 0.5, 0.4], [7.0, 0.2, 1e-3]]))
    # log_cosh: errors from 0.05 to 1000 either way (Keras' x + softplus(-2x) - log 2
    # cancels for smaller errors, so its own value is not accurate there)
    e = np.array([[0.05, -0.3, 1.0], [-1.0, 2.5, -20.0], [1000.0, -1000.0, 0.5],
                  [-0.07, 0.9, 40.0], [3.0, -3.0, 0.2], [710.0, -0.1, 12.0]])
    t = np.array([[0.5, 1.0, -2.0], [0.0, 3.0, 1.0], [-1.0, 2.0, 0.25],
                  [1.5, -0.5, 0.0], [2.0, 2.0, -1.0], [0.0, 4.0, 0.3]])
    out["log_cosh"] = ("LogCosh", {}, "LogCosh", {}, t, t + e)
    # poisson: zero predictions (log eps), zero counts, large rates
    out["poisson"] = ("Poisson", {}, "Poisson", {},
                      np.array([[0.0, 1.0, 3.0], [2.0, 0.0, 7.0], [1.0, 1.0, 0.0],
                                [10.0, 0.0, 2.0], [0.5, 4.0, 1.0], [100.0, 3.0, 0.0]]),
                      np.array([[0.0, 1.0, 2.5], [1e-9, 0.5, 7.0], [0.01, 3.0, 1e-3],
                                [9.0, 2.0, 0.0], [0.5, 1000.0, 1.5], [120.0, 1e-8, 4.0]]))
    # cosine similarity: parallel, antiparallel, orthogonal rows, a prediction whose norm
    # is below eps (inverse norm capped, no gradient through it), a zero target row
    out["cosine"] = ("CosineSimilarity", {}, "CosineSimilarity", {},
                     np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                               [0.5, -0.5, 2.0], [1.0, 1.0, 1.0], [-3.0, 4.0, 0.0]]),
                     np.array([[2.0, 4.0, 6.0], [0.0, 1.0, 0.0], [0.3, 0.2, 0.1],
                               [1e-9, 2e-9, -1e-9], [-1.0, -1.0, -1.0], [1e3, 0.5, -2.0]]))
    # label smoothing: probabilities at and near 0 and 1, logits up to +-1000
    bp = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.3], [1e-8, 1 - 1e-8, 0.9],
                   [0.3, 1.0, 1e-12], [0.2, 0.7, 0.999], [1e-3, 0.5, 1.0]])
    bt = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0],
                   [1.0, 0.0, 0.25], [0.25, 0.5, 1.0], [1.0, 0.0, 0.0]])
    bz = np.array([[50.0, -50.0, 0.0], [1000.0, -1000.0, 3.7], [-50.0, 50.0, -0.5],
                   [-1000.0, 1000.0, 20.0], [1e-8, -36.0, 36.0], [88.0, -88.0, 710.0]])
    for ls in (0.1, 0.5):
        kw = {"label_smoothing": ls}
        out[f"bce_ls{ls}"] = ("BinaryCrossentropy", kw, "BinaryCrossentropy", kw, bt, bp)
        kw = {"label_smoothing": ls, "from_logits": True}
        out[f"bce_logits_ls{ls}"] = ("BinaryCrossentropy", kw, "BinaryCrossentropy", kw,
                                     bt, bz)
    cp = np.array([[0.05, 0.05, 0.9], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5], [2.0, 1.0, 1.0],
                   [1e-3, 0.5, 0.499], [0.01, 0.98, 0.01]])
    ct = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                   [1.0, 0.0, 0.0], [0.1, 0.6, 0.3]])
    cz = np.array([[50.0, -50.0, 0.0], [1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0],
                   [0.1, 0.2, 0.3], [88.0, -88.0, 88.0], [-50.0, -50.0, -50.0]])
    for ls in (0.1, 0.3):
        kw = {"label_smoothing": ls}
        out[f"cce_ls{ls}"] = ("CategoricalCrossentropy", kw, "CategoricalCrossentropy", kw,
                              ct, cp)
        kw = {"label_smoothing": ls, "from_logits": True}
        out[f"cce_logits_ls{ls}"] = ("CategoricalCrossentropy", kw,
                                     "CategoricalCrossentropy", kw, ct, cz)
    return out


REDUCTIONS = ["sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight"]
REDUCTION_CASES = ["msle", "cosine", "bce_ls0.1"]
FUNCTIONS = {  # keras.losses function: (case, keyword arguments)
    "mean_squared_error": ("log_cosh", {}), "mean_absolute_error": ("log_cosh", {}),
    "huber": ("log_cosh", {}), "hinge": ("log_cosh", {}), "kl_divergence": ("cosine", {}),
    "binary_crossentropy": ("bce_ls0.1", {"label_smoothing": 0.1}),
    "categorical_crossentropy": ("cce_logits_ls0.1",
                                 {"from_logits": True, "label_smoothing": 0.1}),
    "mean_squared_logarithmic_error": ("msle", {}),
    "mean_absolute_percentage_error": ("mape", {}), "log_cosh": ("log_cosh", {}),
    "poisson": ("poisson", {}), "cosine_similarity": ("cosine", {}),
}

SCHEDULES = {
    "inverse_time": ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 10,
                                          "decay_rate": 0.5}),
    "inverse_time_staircase": ("InverseTimeDecay", {
        "initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 2.0,
        "staircase": True}),
    "polynomial": ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 50}),
    "polynomial_power": ("PolynomialDecay", {
        "initial_learning_rate": 0.1, "decay_steps": 50, "end_learning_rate": 0.01,
        "power": 2.0}),
    "polynomial_cycle": ("PolynomialDecay", {
        "initial_learning_rate": 0.1, "decay_steps": 20, "end_learning_rate": 0.001,
        "power": 0.5, "cycle": True}),
    "cosine_restarts": ("CosineDecayRestarts", {"initial_learning_rate": 0.1,
                                                "first_decay_steps": 20}),
    "cosine_restarts_t1": ("CosineDecayRestarts", {
        "initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 1.0, "m_mul": 0.5,
        "alpha": 0.1}),
    "cosine_restarts_mul": ("CosineDecayRestarts", {
        "initial_learning_rate": 0.05, "first_decay_steps": 7, "t_mul": 1.5, "m_mul": 0.9,
        "alpha": 0.01}),
}
STEPS = np.concatenate([np.arange(301), [997, 1000, 4321, 12345, 100000]])


def loss_goldens(all_cases, reductions, reduction_cases, functions):
    """(arrays, params) of the losses in the layout of this file's docstring: each case
    of `all_cases` ({case: (fastnn class, kwargs, keras class, keras kwargs, y_true,
    y_pred)}) with its value and gradient, unweighted and weighted by W6, in float64 and
    float32; each of `reductions` on the `reduction_cases`; the per-sample `functions`
    ({keras.losses function: (case, keyword arguments)})."""
    out = {}
    for name, (_, _, kcls, kkw, y_true, y_pred) in all_cases.items():
        out[f"{name}/y_true"], out[f"{name}/y_pred"] = y_true, y_pred
        out[f"{name}/sample_weight"] = W6
        for suffix, dtype in (("", "float64"), ("32", "float32")):
            base.floatx(dtype)
            loss = getattr(keras.losses, kcls)(**kkw)
            yt, yp = jnp.asarray(y_true, dtype=dtype), jnp.asarray(y_pred, dtype=dtype)
            for prefix, sw in (("", None), ("w_", jnp.asarray(W6, dtype=dtype))):
                value, grad = jax.value_and_grad(
                    lambda v, sw=sw: loss(yt, v, sample_weight=sw))(yp)
                out[f"{name}/{prefix}value{suffix}"] = np.asarray(value)
                out[f"{name}/{prefix}grad{suffix}"] = np.asarray(grad)
    base.floatx("float64")
    for name in reduction_cases:
        _, _, kcls, kkw, y_true, y_pred = all_cases[name]
        for r in reductions:
            loss = getattr(keras.losses, kcls)(reduction=r, **kkw)
            out[f"reduction/{name}/{r}"] = np.asarray(
                loss(jnp.asarray(y_true), jnp.asarray(y_pred), sample_weight=W6))
    for fn, (case, kwargs) in functions.items():
        _, _, _, _, y_true, y_pred = all_cases[case]
        out[f"function/{fn}"] = np.asarray(
            getattr(keras.losses, fn)(jnp.asarray(y_true), jnp.asarray(y_pred), **kwargs))
    params = {"losses": {k: list(v[:4]) for k, v in all_cases.items()},
              "reductions": reductions, "reduction_cases": reduction_cases,
              "functions": functions}
    return out, params


def main():
    base.check_float64()
    out = {"schedule_steps": STEPS.astype(np.float64)}
    base.floatx("float64")
    for name, (cls, kwargs) in SCHEDULES.items():
        sched = getattr(keras.optimizers.schedules, cls)(**kwargs)
        out[f"schedule/{name}"] = np.array([float(sched(int(s))) for s in STEPS])
    losses, params = loss_goldens(cases(), REDUCTIONS, REDUCTION_CASES, FUNCTIONS)
    out.update(losses)
    params = {"losses": params.pop("losses"), "schedules": SCHEDULES, **params}
    out["params"] = np.array(json.dumps(params))
    base.save("losses3.npz", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
