"""Every layer's output for given inputs, in inference mode."""
import numpy

from fastnn.backend import get_backend
from fastnn.explain._common import _MAX_ELEMENTS, _inputs
from fastnn.layers.base import Workspace


def activations(model, x):
    """Every layer's output for `x`, in inference mode.

    Args:
        model: a built fastnn model.
        x: inputs, (n_samples, *input_shape).

    Returns:
        A list with one NumPy array per layer (copies), in layer order.

    Example:
        >>> hidden, dropped, probs = fastnn.explain.activations(model, x_test[:100])
    """
    x, _ = _inputs(model, x)
    backend = get_backend()
    workspace = Workspace()
    outputs = [[] for _ in model.layers]
    rows = max(1, _MAX_ELEMENTS // max(1, x[0].size))
    for start in range(0, len(x), rows):
        out = backend.asarray(x[start:start + rows])
        for i, layer in enumerate(model.layers):
            out = layer.forward(out, False, workspace)
            outputs[i].append(backend.to_numpy(out).copy())
    return [numpy.concatenate(parts) for parts in outputs]
