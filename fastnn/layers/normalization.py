"""BatchNormalization and LayerNormalization, as in ``keras.layers``."""
from fastnn import _validation, initializers, regularizers
from fastnn.backend import get_backend
from fastnn.layers.base import Layer


def _axis(axis, ndim, name):
    """`axis` (an int, negative from the end) as an axis of an ndim-array, not the batch's."""
    if not _validation.is_int(axis):
        raise TypeError(f"`axis` must be an int; got {axis!r}")
    a = int(axis) + ndim if axis < 0 else int(axis)
    if not 1 <= a < ndim:
        raise ValueError(f"`axis` of layer {name!r} must be a feature axis of inputs with "
                         f"{ndim} dimensions (batch included); got {axis!r}")
    return a


class _Normalizer(Layer):
    """What both layers share: gamma and beta over one feature axis."""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if beta_constraint is not None or gamma_constraint is not None:
            raise ValueError("`beta_constraint` and `gamma_constraint` are not supported: "
                             "they must be None")
        if not _validation.is_int(axis):
            raise TypeError(f"`axis` must be an int; got {axis!r}")
        self.axis = int(axis)
        self.epsilon = _validation.real(epsilon, "epsilon", minimum=0, min_open=True)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def _build_params(self, input_shape):
        from fastnn.config import floatx
        ndim = len(input_shape) + 1
        self._ax = _axis(self.axis, ndim, self.name)
        self._bshape = tuple(input_shape[self._ax - 1] if d == self._ax else 1
                             for d in range(ndim))
        dtype = self.dtype or floatx()
        backend = get_backend()
        size = (int(input_shape[self._ax - 1]),)
        self._params, self._param_names = [], []
        if self.scale:
            self.gamma = backend.asarray(self.gamma_initializer(size, dtype))
            self._params.append(self.gamma)
            self._param_names.append("gamma")
        if self.center:
            self.beta = backend.asarray(self.beta_initializer(size, dtype))
            self._params.append(self.beta)
            self._param_names.append("beta")
        self._grads = [backend.zeros(p.shape, p.dtype) for p in self._params]
        return size, dtype

    def _affine(self, xhat):
        out = xhat
        if self.scale:
            out = out * self.gamma.reshape(self._bshape)
        if self.center:
            out = out + self.beta.reshape(self._bshape)
        return out

    def _param_grads(self, grad, xhat, axes):
        i = 0
        if self.scale:
            self._grads[i][...] = (grad * xhat).sum(axis=axes)
            if self.gamma_regularizer is not None:
                self.gamma_regularizer.add_gradient(self.gamma, self._grads[i])
            i += 1
        if self.center:
            self._grads[i][...] = grad.sum(axis=axes)
            if self.beta_regularizer is not None:
                self.beta_regularizer.add_gradient(self.beta, self._grads[i])

    def regularization_loss(self):
        """The penalties of gamma and beta, summed (a float)."""
        total = 0.0
        if self.scale and self.gamma_regularizer is not None:
            total += self.gamma_regularizer(self.gamma)
        if self.center and self.beta_regularizer is not None:
            total += self.beta_regularizer(self.beta)
        return total

    def get_config(self):
        return super().get_config() | {
            "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": None, "gamma_constraint": None}


class BatchNormalization(_Normalizer):
    """Normalize each feature with the batch's mean and (biased) variance in training,
    and with moving averages of them in inference; then scale by gamma and add beta.

    After each training batch, moving = moving * momentum + batch * (1 - momentum). The
    moving statistics are non-trainable weights (in `get_weights` after gamma and beta,
    and in model files). A frozen layer (`trainable=False`) runs in inference mode.

    Example:
        >>> from fastnn.layers import BatchNormalization
        >>> layer = BatchNormalization(momentum=0.9)
    """

    op_kind = "batch_norm"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, synchronized=False,
                 **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, **kwargs)
        if synchronized:
            raise ValueError("`synchronized` must be False: fastnn trains on one device")
        self.momentum = _validation.real(momentum, "momentum")
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        size, dtype = self._build_params(input_shape)
        backend = get_backend()
        self.moving_mean = backend.asarray(self.moving_mean_initializer(size, dtype))
        self.moving_variance = backend.asarray(self.moving_variance_initializer(size, dtype))
        self._state = [self.moving_mean, self.moving_variance]
        self._state_names = ["moving_mean", "moving_variance"]
        self.built = True

    def forward(self, x, training, workspace):
        xp = get_backend().xp
        axes = tuple(d for d in range(x.ndim) if d != self._ax)
        if training and self.trainable:
            mean = x.mean(axis=axes)
            var = ((x - mean.reshape(self._bshape)) ** 2).mean(axis=axes)
            m = self.momentum
            self.moving_mean[...] = self.moving_mean * m + mean * (1 - m)
            self.moving_variance[...] = self.moving_variance * m + var * (1 - m)
        else:
            mean, var = self.moving_mean, self.moving_variance
        inv = 1.0 / xp.sqrt(var + self.epsilon)
        xhat = (x - mean.reshape(self._bshape)) * inv.reshape(self._bshape)
        self._xhat, self._inv, self._batch_stats = xhat, inv, bool(training and self.trainable)
        return self._affine(xhat).astype(x.dtype, copy=False)

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        xhat = self._xhat
        axes = tuple(d for d in range(grad.ndim) if d != self._ax)
        if self.trainable and param_grads:
            self._param_grads(grad, xhat, axes)
        if not need_input_grad:
            return None
        g = grad * self.gamma.reshape(self._bshape) if self.scale else grad
        inv = self._inv.reshape(self._bshape)
        if not self._batch_stats:
            return (g * inv).astype(grad.dtype, copy=False)
        # the batch's mean and variance depend on x too
        n = grad.size // grad.shape[self._ax]
        g_mean = g.sum(axis=axes).reshape(self._bshape) / n
        gx_mean = (g * xhat).sum(axis=axes).reshape(self._bshape) / n
        return (inv * (g - g_mean - xhat * gx_mean)).astype(grad.dtype, copy=False)

    def get_config(self):
        return super().get_config() | {
            "momentum": self.momentum, "synchronized": False,
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer":
                initializers.serialize(self.moving_variance_initializer)}


class LayerNormalization(_Normalizer):
    """Normalize each sample over its feature axis (mean and biased variance of the
    sample), then scale by gamma and add beta. The same in training and inference.

    Example:
        >>> from fastnn.layers import LayerNormalization
        >>> layer = LayerNormalization()
    """

    op_kind = "layer_norm"

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, **kwargs):
        if rms_scaling:
            raise ValueError("`rms_scaling` must be False (RMS normalization is not "
                             "supported yet)")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, **kwargs)

    def build(self, input_shape):
        self._build_params(input_shape)
        self.built = True

    def forward(self, x, training, workspace):
        xp = get_backend().xp
        mean = x.mean(axis=self._ax, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=self._ax, keepdims=True)
        self._inv = 1.0 / xp.sqrt(var + self.epsilon)
        self._xhat = (x - mean) * self._inv
        return self._affine(self._xhat).astype(x.dtype, copy=False)

    def get_config(self):
        return super().get_config() | {"rms_scaling": False}

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        xhat = self._xhat
        if self.trainable and param_grads:
            self._param_grads(grad, xhat, tuple(d for d in range(grad.ndim) if d != self._ax))
        if not need_input_grad:
            return None
        g = grad * self.gamma.reshape(self._bshape) if self.scale else grad
        g_mean = g.mean(axis=self._ax, keepdims=True)
        gx_mean = (g * xhat).mean(axis=self._ax, keepdims=True)
        return (self._inv * (g - g_mean - xhat * gx_mean)).astype(grad.dtype, copy=False)
