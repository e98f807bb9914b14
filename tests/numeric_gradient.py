"""Gradients by central differences, for the finite-difference checks in float64
(tests/test_gradients.py, tests/test_focal_losses.py)."""
import numpy as np


def central_differences(f, x, h=1e-6):
    """d f / d x of the scalar function `f` at the array `x`, element by element:
    (f(x + h e_i) - f(x - h e_i)) / 2h."""
    numeric = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        numeric[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return numeric
