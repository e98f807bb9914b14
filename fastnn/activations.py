"""Activation functions, by Keras name.

An activation is a small spec object (name, parameter) that backends dispatch on; it is
callable on an array, so ``fastnn.activations.relu(x)`` works as in Keras.
"""
from fastnn import _codes, _validation
from fastnn._registry import Registry

__all__ = (["ActivationSpec", "get", "serialize"] + [a.name for a in _codes.ACTIVATIONS]
           + list(_codes.ACTIVATION_ALIASES))

# name -> (code of enum fnn_act, default parameter, derivative needs z), from the one
# table of fastnn/_codes.py. Softmax and log_softmax work on whole rows and have no
# element-wise code (-1).
_TABLE = {a.name: (a.code, a.default, a.needs_z) for a in _codes.ACTIVATIONS}
_NAMES = {name: name for name in _TABLE} | _codes.ACTIVATION_ALIASES
REGISTRY = Registry("activation", "activation", _NAMES, classes=())


class ActivationSpec:
    """An activation function: `name`, its parameter, and what backprop needs.

    Attributes:
        name: the canonical Keras name.
        param: negative slope (leaky_relu) or alpha (elu); unused otherwise.
        code: the element-wise kernel code (-1 for row-wise softmax).
        needs_z: whether act' is computed from the pre-activation (gelu, silu)
            rather than from the output.
    """

    def __init__(self, name, param=None):
        code, default, needs_z = _TABLE[name]
        self.name = name
        self.param = float(default if param is None else param)
        self.code = code
        self.needs_z = needs_z

    def __call__(self, x):
        from fastnn.backend import get_backend
        backend = get_backend()
        x = backend.asarray(x)
        if x.ndim != 2:
            x2 = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
            return backend.activation_forward(x2.copy(), self).reshape(x.shape)
        return backend.activation_forward(x, self)

    def get_config(self):
        """JSON-safe description; see `get`."""
        _, default, _ = _TABLE[self.name]
        if self.param == default:
            return self.name
        return {"name": self.name, "param": self.param}

    def __eq__(self, other):
        return isinstance(other, ActivationSpec) and (self.name, self.param) == (
            other.name, other.param)

    def __hash__(self):
        return hash((self.name, self.param))

    def __repr__(self):
        _, default, _ = _TABLE[self.name]
        extra = "" if self.param == default else f", param={self.param}"
        return f"<activation {self.name}{extra}>"


def get(identifier):
    """The activation named `identifier` (None means linear; a spec or config dict passes).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
        TypeError: for anything else, e.g. an arbitrary Python function.
    """
    if identifier is None:
        return ActivationSpec("linear")
    if isinstance(identifier, ActivationSpec):
        return identifier
    if isinstance(identifier, dict):
        if not isinstance(identifier.get("name"), str) or set(identifier) - {"name", "param"}:
            raise ValueError(f"`activation` as a dict must be {{'name': str, 'param': "
                             f"number}}; got {identifier!r}")
        param = identifier.get("param")
        return ActivationSpec(get(identifier["name"]).name,
                              None if param is None else _validation.real(param, "param"))
    if not isinstance(identifier, str):
        raise TypeError(f"`activation` must be an activation name or one of "
                        f"fastnn.activations' functions; got {identifier!r}")
    return ActivationSpec(REGISTRY.lookup(identifier))


def serialize(activation):
    """The JSON-safe config of an activation spec."""
    return get(activation).get_config()


class _KerasFunction(ActivationSpec):
    """The module-level spec of relu, leaky_relu, elu and gelu: called on an array it also
    takes Keras 3's keyword arguments of ``keras.activations.<name>`` (forward only)."""

    def __call__(self, x, *args, **kwargs):
        if not args and not kwargs:
            return super().__call__(x)
        return _KERAS_CALLS[self.name](x, *args, **kwargs)


def _numpy(x):
    from fastnn.backend import get_backend
    x = get_backend().to_numpy(get_backend().asarray(x))
    return x if x.dtype.kind == "f" else x.astype("float64")


def _relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu: x above `threshold` (0 at or below it), clipped to [0, max_value],
    minus negative_slope * max(threshold - x, 0)."""
    negative_slope = _validation.real(negative_slope, "negative_slope")
    threshold = _validation.real(threshold, "threshold")
    if max_value is None and threshold == 0:
        return ActivationSpec(_LEAKY_RELU if negative_slope else _RELU, negative_slope)(x)
    import numpy
    x = _numpy(x)
    negative = numpy.maximum(threshold - x, 0) if negative_slope else None
    out = x * (x > threshold) if threshold != 0 else numpy.maximum(x, 0)
    if max_value is not None:
        out = numpy.clip(out, 0, _validation.real(max_value, "max_value"))
    if negative is not None:
        out = out - negative_slope * negative
    return out.astype(x.dtype, copy=False)


def _leaky_relu(x, negative_slope=0.2):
    return ActivationSpec(_LEAKY_RELU, _validation.real(negative_slope, "negative_slope"))(x)


def _elu(x, alpha=1.0):
    return ActivationSpec(_ELU, _validation.real(alpha, "alpha"))(x)


def _gelu(x, approximate=False):
    """Keras 3's gelu; approximate=True is the tanh form
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), computed in NumPy."""
    if not approximate:
        return ActivationSpec(_GELU)(x)
    import numpy
    x = _numpy(x)
    c = numpy.sqrt(2.0 / numpy.pi)
    return (0.5 * x * (1.0 + numpy.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype,
                                                                                copy=False)


_KERAS_CALLS = dict(relu=_relu, leaky_relu=_leaky_relu, elu=_elu, gelu=_gelu)
_RELU, _LEAKY_RELU, _ELU, _GELU = _KERAS_CALLS

# fastnn.activations.relu, ... (and the aliases, swish): one spec per row of the table
globals().update({name: (_KerasFunction if name in _KERAS_CALLS else ActivationSpec)(name)
                  for name in _TABLE})
globals().update({alias: globals()[name]
                  for alias, name in _codes.ACTIVATION_ALIASES.items()})
