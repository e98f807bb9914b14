"""Which inputs a trained model relies on: gradients, attributions and activations.

Every method runs on the active backend: gradients come from the model's own backward
pass (`model.input_gradient`, a vector-Jacobian product in inference mode) and outputs
from its forward pass, so the results are the same on `reference`, `cpu` and `cupy`.
Attributions have the shape of `x`; a single sample (shaped like one input) gives an
attribution of that shape.

Example:
    >>> import fastnn
    >>> (x, y), _ = fastnn.datasets.load_digits(size=8)
    >>> x = x.reshape(-1, 64).astype("float32") / 255
    >>> model = fastnn.Sequential([fastnn.layers.Dense(32, activation="relu", input_dim=64),
    ...                            fastnn.layers.Dense(10, activation="softmax")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> _ = model.fit(x, y, epochs=2, verbose=0)
    >>> ig = fastnn.explain.integrated_gradients(model, x[:4])
    >>> ig.shape
    (4, 64)
"""
from fastnn.explain.gradient_methods import (gradient_x_input, integrated_gradients,
                                             saliency, smoothgrad)
from fastnn.explain.layer_outputs import activations
from fastnn.explain.permutation import PermutationImportance, permutation_importance
from fastnn.explain.perturbation import occlusion

__all__ = ["saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "occlusion",
           "permutation_importance", "activations", "PermutationImportance"]
