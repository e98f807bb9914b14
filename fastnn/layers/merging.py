"""Merging layers, as ``keras.layers.Concatenate`` and ``keras.layers.Add``: layers of
a functional graph that take a list of tensors (flat samples: one feature axis)."""
from fastnn.backend import get_backend
from fastnn.layers.base import Layer, Workspace


class _Merge(Layer):
    """A layer on a list of inputs. `forward_many(xs, ...)` computes the output and
    `backward_many(grad, ...)` returns one gradient per input."""

    takes_list = True

    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) < 2:
            raise ValueError(f"layer {self.name!r} needs a list of at least 2 inputs; got "
                             f"{len(shapes)}")
        if any(len(s) != 1 for s in shapes):
            raise ValueError(f"layer {self.name!r} takes flat samples (one feature axis "
                             f"each); got shapes {shapes}")
        self._check(shapes)
        self.built = True

    def __call__(self, x, training=False):
        """The output for a list of arrays (a NumPy-compatible backend array)."""
        from fastnn.layers.symbolic import call_symbolic, is_symbolic
        if is_symbolic(x):
            return call_symbolic(self, x)
        from fastnn.config import floatx
        backend = get_backend()
        xs = [backend.asarray(a, dtype=self.dtype or floatx()) for a in x]
        if not self.built:
            self.build([tuple(a.shape[1:]) for a in xs])
        return self.forward_many(xs, training, Workspace())

    call = __call__


class Concatenate(_Merge):
    """Joins its inputs along the feature axis.

    Args:
        axis: the axis to join along: -1 (or 1), the feature axis.

    Example:
        >>> from fastnn import layers
        >>> a, b = layers.Input(shape=(3,)), layers.Input(shape=(2,))
        >>> layers.Concatenate()([a, b]).shape
        (None, 5)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, 1):
            raise ValueError(f"`axis` must be -1 (the feature axis); got {axis!r}")
        self.axis = axis

    def _check(self, shapes):
        pass

    def compute_output_shape(self, input_shape):
        return (sum(s[0] for s in input_shape),)

    def forward_many(self, xs, training, workspace):
        n = xs[0].shape[0]
        out = workspace.buffer(self, "y", (n, sum(a.shape[1] for a in xs)), xs[0].dtype)
        start = 0
        self._widths = []
        for a in xs:
            out[:, start:start + a.shape[1]] = a
            self._widths.append(a.shape[1])
            start += a.shape[1]
        return out

    def backward_many(self, grad, workspace):
        grads, start = [], 0
        for i, width in enumerate(self._widths):
            g = workspace.buffer(self, ("dx", i), (grad.shape[0], width), grad.dtype)
            g[...] = grad[:, start:start + width]
            grads.append(g)
            start += width
        return grads

    def get_config(self):
        return super().get_config() | {"axis": self.axis}


class Add(_Merge):
    """The element-wise sum of its inputs (all of one shape).

    Example:
        >>> from fastnn import layers
        >>> a, b = layers.Input(shape=(3,)), layers.Input(shape=(3,))
        >>> layers.Add()([a, b]).shape
        (None, 3)
    """

    def _check(self, shapes):
        if len(set(shapes)) != 1:
            raise ValueError(f"layer {self.name!r} adds inputs of one shape; got {shapes}")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def forward_many(self, xs, training, workspace):
        out = workspace.buffer(self, "y", xs[0].shape, xs[0].dtype)
        out[...] = xs[0]
        for a in xs[1:]:
            out += a
        self._n = len(xs)
        return out

    def backward_many(self, grad, workspace):
        return [grad] * self._n
