"""Dense: y = activation(x @ kernel + bias), as ``keras.layers.Dense``."""
from fastnn import _validation, constraints, initializers, regularizers
from fastnn.backend import get_backend
from fastnn.layers.dense_base import DenseBase

import numpy


class Dense(DenseBase):
    """A fully connected layer.

    Args:
        units: output width (a positive int).
        activation: an activation name or fastnn.activations spec; None is linear.
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializer names or objects
            (default 'glorot_uniform' and 'zeros', as in Keras).
        kernel_regularizer, bias_regularizer: optional regularizers.
        activity_regularizer: an optional regularizer of the layer's outputs; as in
            Keras 3 its penalty, divided by the batch size, joins the loss of training
            and of evaluation (`evaluate`, `val_loss`).
        kernel_constraint, bias_constraint: optional fastnn.constraints, applied to the
            weights after each optimizer update.
        input_shape, input_dim: the input width, for the first layer of a model.

    Example:
        >>> from fastnn.layers import Dense
        >>> layer = Dense(16, activation="relu", input_dim=8)
    """

    op_kind = "dense"

    fuses_input_grad = True

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, input_dim=None, **kwargs):
        super().__init__(units, activation, use_bias, input_dim, **kwargs)
        # None takes Keras 3's default for a weight: glorot_uniform
        self.kernel_initializer = initializers.get(kernel_initializer or "glorot_uniform")
        self.bias_initializer = initializers.get(bias_initializer or "glorot_uniform")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._activity_loss, self._activity_on = 0.0, False

    def build(self, input_shape):
        from fastnn.config import floatx
        self._check_flat_input(input_shape)
        dtype = self.dtype or floatx()
        backend = get_backend()
        n_in = int(input_shape[0])
        _validation.allocation(n_in * self.units, numpy.dtype(dtype).itemsize, "units",
                               f"a kernel of shape ({n_in}, {self.units})")
        self.kernel = backend.asarray(self.kernel_initializer((n_in, self.units), dtype))
        self._params, self._param_names = [self.kernel], ["kernel"]
        if self.use_bias:
            self.bias = backend.asarray(self.bias_initializer((self.units,), dtype))
            self._params.append(self.bias)
            self._param_names.append("bias")
        self._grads = [backend.zeros(p.shape, p.dtype) for p in self._params]
        self.built = True

    def forward(self, x, training, workspace):
        backend = get_backend()
        y, z = self._output_buffers(x, workspace, x.dtype)
        backend.dense_forward(x, self.kernel, self.bias, self.activation, out=y, preact=z)
        # what backward needs: references only, so inference pays nothing for it
        self._x, self._y, self._z = x, y, z
        # the activity penalty joins the loss of training and of evaluation alike, as
        # Keras 3 adds it in both; its gradient joins training steps only
        self._activity_on = self.activity_regularizer is not None and bool(training)
        self._activity_loss = (self.activity_regularizer(y) / max(int(y.shape[0]), 1)
                               if self.activity_regularizer is not None else 0.0)
        return y

    def fusable_activation(self):
        if self.activation.code < 0:  # row-wise softmax: applied by itself
            return None
        if self.activation.name == "linear":
            return (None, None)
        return (self.activation, self._z if self.activation.needs_z else self._y)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        backend = get_backend()
        if self._activity_on:
            # d (penalty(y) / batch) / d y joins the gradient of the outputs (through
            # act' where `grad` is already d loss / d z)
            extra = self.activity_regularizer.add_gradient(
                self._y, backend.xp.zeros_like(self._y)) / max(int(self._y.shape[0]), 1)
            if grad_is_dz and self.activation.name != "linear":
                saved = self._z if self.activation.needs_z else self._y
                extra = backend.activation_backward(self.activation, extra, saved)
            grad = grad + extra
        dz = self._preact_grad(grad, grad_is_dz, workspace)
        if self.trainable and param_grads:
            backend.matmul(self._x, dz, out=self._grads[0], transpose_a=True)
            if self.kernel_regularizer is not None:
                self.kernel_regularizer.add_gradient(self.kernel, self._grads[0])
            if self.use_bias:
                backend.bias_grad(dz, out=self._grads[1])
                if self.bias_regularizer is not None:
                    self.bias_regularizer.add_gradient(self.bias, self._grads[1])
        if not need_input_grad:
            return None
        act, saved = fuse if fuse is not None else (None, None)
        dx = workspace.buffer(self, "dx", self._x.shape, grad.dtype)
        return backend.dense_backward_input(dz, self.kernel, act, saved, out=dx)

    def regularization_losses(self):
        """Each weight penalty of the layer (a list of floats: kernel, then bias)."""
        found = []
        if self.kernel_regularizer is not None:
            found.append(self.kernel_regularizer(self.kernel))
        if self.use_bias and self.bias_regularizer is not None:
            found.append(self.bias_regularizer(self.bias))
        return found

    def apply_constraints(self):
        """Projects the kernel and bias with their constraints, in place (run after each
        optimizer update)."""
        for weight, constraint in ((self.kernel, self.kernel_constraint),
                                   (self.bias, self.bias_constraint)):
            if constraint is not None and weight is not None:
                weight[...] = constraint(weight)

    def activity_loss(self):
        """The activity penalty of the last forward pass, training or not (a float)."""
        return self._activity_loss

    def regularization_loss(self):
        """The layer's weight penalties, summed (a float)."""
        return sum(self.regularization_losses(), 0.0)

    def get_config(self):
        return super().get_config() | {
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint)}
