"""Write tests/golden/focal.npz, the Keras 3 golden values that tests/test_focal_losses.py
compares fastnn's BinaryFocalCrossentropy and CategoricalFocalCrossentropy with: value and
gradient (with respect to y_pred) of each case, without and with sample weights, in
float64 and Keras' own float32; the reductions; the per-sample functions.

Run by hand, where Keras 3 with the JAX backend is installed (see
tests/golden/make_keras_goldens.py, whose float64 set-up and checks this script reuses,
and make_keras_loss_goldens.py, whose writer of the losses' values it calls).
From the repository root:

    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/golden/make_keras_focal_goldens.py

What is stored: the layout of tests/golden/losses3.npz (make_keras_loss_goldens.py), with
params {"losses": {case: [fastnn class, kwargs, keras class, keras kwargs]},
"reductions": [...], "reduction_cases": [...], "functions": {name: [case, kwargs]}}.

The logits lie either within |z| <= 6 or at |z| >= 30, where the probabilities are
clipped: in between, Keras forms 1 - sigmoid(z) by cancellation, so its own float64
value is not accurate to the 1e-12 the tests ask.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_keras_goldens as base  # noqa: E402  (sets up JAX and Keras in float64)
import make_keras_loss_goldens as losses3  # noqa: E402  (the layout and its writer)

np = base.np
REDUCTIONS = losses3.REDUCTIONS

# binary: hard and soft labels; probabilities at, near and away from the clip
BT = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0],
               [1.0, 0.0, 0.25], [0.25, 0.5, 1.0], [1.0, 0.0, 0.0]])
BP = np.array([[0.1, 0.9, 0.5], [0.999, 0.3, 0.7], [1e-9, 0.6, 0.02],
               [0.45, 1.0 - 1e-9, 0.8], [0.2, 0.7, 0.95], [1e-3, 0.5, 0.35]])
BZ = np.array([[-2.0, 2.0, 0.0], [6.0, -0.8, 0.9], [-30.0, 0.4, -3.9],
               [-0.2, 40.0, 1.4], [-1.4, 0.85, 2.9], [-5.5, 0.0, -0.6]])
# categorical: one-hot and soft rows, unnormalised probability rows, clipped classes
CT = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
               [1.0, 0.0, 0.0], [0.1, 0.6, 0.3]])
CP = np.array([[0.05, 0.05, 0.9], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5], [2.0, 1.0, 1.0],
               [1e-9, 0.5, 0.5], [0.01, 0.98, 0.01]])
CZ = np.array([[1.0, -1.0, 0.5], [4.0, -2.0, 0.0], [-3.0, 2.0, 1.9],
               [0.1, 0.2, 0.3], [-40.0, 2.0, 1.0], [-1.5, 5.0, -1.5]])


def cases():
    """{case: (fastnn class, kwargs, keras class, keras kwargs, y_true, y_pred)}."""
    out = {}
    binary = {"bfocal": {}, "bfocal_g0": {"gamma": 0.0},
              "bfocal_balanced": {"apply_class_balancing": True, "alpha": 0.4},
              "bfocal_g3_ls": {"gamma": 3.0, "label_smoothing": 0.2},
              "bfocal_g1.5_balanced_ls": {"gamma": 1.5, "apply_class_balancing": True,
                                          "alpha": 0.7, "label_smoothing": 0.1}}
    for name, kw in binary.items():
        out[name] = ("BinaryFocalCrossentropy", kw, "BinaryFocalCrossentropy", kw, BT, BP)
        kw = dict(kw, from_logits=True)
        out[name + "_logits"] = ("BinaryFocalCrossentropy", kw, "BinaryFocalCrossentropy",
                                 kw, BT, BZ)
    categorical = {"cfocal": {}, "cfocal_g0": {"gamma": 0.0, "alpha": 1.0},
                   "cfocal_g3.5": {"gamma": 3.5, "alpha": 0.5},
                   "cfocal_alphas": {"alpha": [0.2, 0.5, 0.3], "gamma": 1.0},
                   "cfocal_ls": {"label_smoothing": 0.3, "gamma": 2.5}}
    for name, kw in categorical.items():
        out[name] = ("CategoricalFocalCrossentropy", kw, "CategoricalFocalCrossentropy", kw,
                     CT, CP)
        kw = dict(kw, from_logits=True)
        out[name + "_logits"] = ("CategoricalFocalCrossentropy", kw,
                                 "CategoricalFocalCrossentropy", kw, CT, CZ)
    return out


REDUCTION_CASES = ["bfocal_balanced", "cfocal_alphas_logits"]
FUNCTIONS = {  # keras.losses function: (case, keyword arguments)
    "binary_focal_crossentropy": ("bfocal_g1.5_balanced_ls_logits", {
        "apply_class_balancing": True, "alpha": 0.7, "gamma": 1.5, "from_logits": True,
        "label_smoothing": 0.1}),
    "categorical_focal_crossentropy": ("cfocal_ls", {"label_smoothing": 0.3,
                                                     "gamma": 2.5}),
}


def main():
    base.check_float64()
    out, params = losses3.loss_goldens(cases(), REDUCTIONS, REDUCTION_CASES, FUNCTIONS)
    out["params"] = np.array(json.dumps(params))
    base.save("focal.npz", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
