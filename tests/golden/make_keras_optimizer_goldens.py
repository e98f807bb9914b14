"""Keras 3 goldens of the optimizers Adadelta, Lion and Ftrl, and of the options every
optimizer takes: use_ema / ema_momentum / ema_overwrite_frequency and
gradient_accumulation_steps.

Run with Keras 3 on the JAX backend (as make_keras_goldens.py, whose helpers it uses):

    KERAS_BACKEND=jax python tests/golden/make_keras_optimizer_goldens.py

It rewrites tests/golden/optimizers3.npz: the initial weights and 20 steps of gradients
(`w0`, `b0`, `grad_w`, `grad_b`), `params` (the cases, as JSON), and per case and dtype
(suffix "" for float64, "32" for float32) the weights after each step (`<case>/w`,
`<case>/b`), for the EMA cases the moving averages after each step (`<case>/ema_w`,
`<case>/ema_b`) and the weights that finalize_variable_values leaves after the last step
(`<case>/final_w`, `<case>/final_b`).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_keras_goldens as base  # noqa: E402  (sets up JAX and Keras in float64)
from make_keras_goldens import floatx, jnp, keras, np, save  # noqa: E402

OPTIMIZERS = {
    # case: (class name, keyword arguments; "schedule" names an entry of SCHEDULES)
    "adadelta": ("Adadelta", {"learning_rate": 1.0}),
    "adadelta_defaults": ("Adadelta", {}),
    "adadelta_rho": ("Adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-4}),
    "adadelta_weight_decay": ("Adadelta", {"learning_rate": 1.0, "weight_decay": 0.05,
                                           "clipnorm": 1.0}),
    "lion": ("Lion", {"learning_rate": 0.01}),
    "lion_defaults": ("Lion", {}),
    "lion_betas": ("Lion", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9}),
    "lion_weight_decay": ("Lion", {"learning_rate": 0.01, "weight_decay": 0.1,
                                   "clipvalue": 0.5}),
    "ftrl": ("Ftrl", {"learning_rate": 0.1}),
    "ftrl_defaults": ("Ftrl", {}),
    "ftrl_l1_l2": ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.05,
                            "l2_regularization_strength": 0.01}),
    "ftrl_all": ("Ftrl", {"learning_rate": 0.2, "learning_rate_power": -0.7,
                          "initial_accumulator_value": 0.3,
                          "l1_regularization_strength": 0.01,
                          "l2_regularization_strength": 0.02,
                          "l2_shrinkage_regularization_strength": 0.03, "beta": 0.5}),
    "ftrl_exponential": ("Ftrl", {"learning_rate": {"schedule": "exponential"},
                                  "beta": 0.2}),
    "adadelta_cosine": ("Adadelta", {"learning_rate": {"schedule": "cosine"}}),
    # EMA of the weights
    "sgd_ema": ("SGD", {"learning_rate": 0.1, "use_ema": True}),
    "adam_ema": ("Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.9}),
    "adam_ema_overwrite": ("Adam", {"learning_rate": 0.01, "use_ema": True,
                                    "ema_momentum": 0.8, "ema_overwrite_frequency": 3}),
    "lion_ema": ("Lion", {"learning_rate": 0.01, "use_ema": True,
                          "ema_overwrite_frequency": 7}),
    # gradient accumulation
    "sgd_accumulate": ("SGD", {"learning_rate": 0.1, "gradient_accumulation_steps": 3}),
    "sgd_momentum_accumulate": ("SGD", {"learning_rate": {"schedule": "exponential"},
                                        "momentum": 0.9, "gradient_accumulation_steps": 2}),
    "adam_accumulate": ("Adam", {"learning_rate": 0.01, "gradient_accumulation_steps": 2,
                                 "clipnorm": 1.0, "weight_decay": 0.1}),
    "nadam_accumulate": ("Nadam", {"learning_rate": 0.01,
                                   "gradient_accumulation_steps": 4}),
    "adam_accumulate_ema": ("Adam", {"learning_rate": 0.01,
                                     "gradient_accumulation_steps": 2, "use_ema": True,
                                     "ema_momentum": 0.7, "ema_overwrite_frequency": 3}),
}


def keras_optimizer(case):
    cls, kwargs = OPTIMIZERS[case]
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = base.keras_schedule(kwargs["learning_rate"]["schedule"])
    return getattr(keras.optimizers, cls)(**kwargs)


def main():
    base.check_float64()
    rng = np.random.default_rng(14)
    w0 = rng.standard_normal((3, 4))
    b0 = rng.standard_normal(4) * 0.1
    scale = rng.choice([0.05, 0.3, 1.0, 4.0], size=base.N_STEPS)
    gw = rng.standard_normal((base.N_STEPS, 3, 4)) * scale[:, None, None]
    gb = rng.standard_normal((base.N_STEPS, 4)) * scale[:, None]
    gw[3, 1, 2] = 0.0       # an exact zero gradient
    gb[5] = 0.0
    out = {"w0": w0, "b0": b0, "grad_w": gw, "grad_b": gb,
           "params": np.array(json.dumps({"optimizers": OPTIMIZERS,
                                          "schedules": base.SCHEDULES}))}
    for case in OPTIMIZERS:
        for suffix, dtype in (("", "float64"), ("32", "float32")):
            floatx(dtype)
            opt = keras_optimizer(case)
            w = keras.Variable(w0.astype(dtype), dtype=dtype)
            b = keras.Variable(b0.astype(dtype), dtype=dtype)
            got = {"w": [], "b": [], "ema_w": [], "ema_b": []}
            for step in range(base.N_STEPS):
                opt.apply_gradients([(jnp.asarray(gw[step], dtype), w),
                                     (jnp.asarray(gb[step], dtype), b)])
                got["w"].append(np.asarray(w.value))
                got["b"].append(np.asarray(b.value))
                if opt.use_ema:
                    ema = opt._model_variables_moving_average
                    got["ema_w"].append(np.asarray(ema[0].value))
                    got["ema_b"].append(np.asarray(ema[1].value))
            if opt.use_ema:
                opt.finalize_variable_values([w, b])
                got["final_w"], got["final_b"] = np.asarray(w.value), np.asarray(b.value)
            for key, values in got.items():
                if len(values):
                    out[f"{case}/{key}{suffix}"] = np.array(values)
    floatx("float64")
    save("optimizers3.npz", out)


if __name__ == "__main__":
    main()
