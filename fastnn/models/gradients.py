"""Gradients of a model's outputs with respect to its inputs (for fastnn.explain)."""
import numpy

from fastnn.backend import get_backend
from fastnn.layers.base import Workspace


class GradientMixin:
    """`input_gradient` on top of the training mixin's forward and backward passes."""

    def input_gradient(self, x, output_grad):
        """Vector-Jacobian product down to the inputs: d(sum(output * output_grad)) / d x.

        Runs in inference mode (dropout off) on the active backend; used by
        fastnn.explain for saliency and attributions.

        Args:
            x: inputs (n_samples, n_features).
            output_grad: weights on the outputs, shape (n_samples, n_outputs).

        Returns:
            A NumPy array shaped like `x`.
        """
        x = self._prepare_x(x)
        backend = get_backend()
        g = numpy.ascontiguousarray(output_grad, dtype=x.dtype)
        if g.shape != (len(x),) + tuple(self.output_shape[1:]):
            raise ValueError(f"`output_grad` must have shape {(len(x),) + tuple(self.output_shape[1:])}; got {g.shape}")
        workspace = Workspace()
        self._forward(backend.asarray(x), False, workspace)
        dx = self._backward(backend.asarray(g), workspace, is_dz=False, to_input=True)
        return backend.to_numpy(dx).copy()
