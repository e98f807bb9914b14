"""Variable: a layer's weight as Keras 3 programs use it (``layer.kernel.assign(w)``,
``layer.kernel.numpy()``, ``.name``, ``.path``, ``.trainable``), and still the array the
executors compute with.

A Variable is a NumPy view of the layer's live parameter buffer, of a subclass of
``numpy.ndarray``: the kernels (compiled or NumPy) read and write it as before, so
``assign`` writes into the very memory training updates, and training goes on from the
assigned value. Anything computed from a Variable (arithmetic, NumPy functions, slices,
copies) is a plain ``numpy.ndarray``, as a Keras variable gives tensors. On a backend
whose arrays are not NumPy's (CuPy), weights stay that backend's arrays.
"""
import numbers
import weakref

import numpy

__all__ = ["Variable"]

_NDARRAY = numpy.ndarray


def _plain(value):
    """`value` with each Variable in it (nested in lists, tuples, dicts) as a plain
    ndarray view of the same memory."""
    if isinstance(value, Variable):
        return value.view(numpy.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Variable(numpy.ndarray):
    """A layer's weight: the live buffer, with Keras 3's variable methods.

    Made by the layer (``Layer.build``); ``layer.kernel``, ``layer.weights``,
    ``model.trainable_weights`` and the like return these. ``get_weights()`` still
    returns plain NumPy copies.

    Attributes:
        name: the weight's name in its layer ("kernel", "bias", "moving_mean", ...).
        path: "<layer name>/<name>", as Keras names a variable within its layer.
        trainable: whether an optimizer updates it (False for a frozen layer's weights
            and for non-trainable state such as moving statistics).

    Example:
        >>> import numpy as np
        >>> from fastnn.layers import Dense
        >>> layer = Dense(2, input_dim=3)
        >>> _ = layer(np.zeros((1, 3)))
        >>> _ = layer.kernel.assign(np.ones((3, 2)))
        >>> float(layer.kernel.numpy().sum()), layer.kernel.name
        (6.0, 'kernel')
    """

    def __new__(cls, array, name, layer=None, trainable=True):
        obj = numpy.ndarray.view(array, cls)
        obj._name, obj._trainable = str(name), bool(trainable)
        obj._layer = weakref.ref(layer) if layer is not None else None
        return obj

    def __array_finalize__(self, obj):
        self._name = getattr(obj, "_name", None)
        self._trainable = getattr(obj, "_trainable", False)
        self._layer = getattr(obj, "_layer", None)

    # -- Keras' variable surface
    @property
    def name(self):
        """The weight's name in its layer."""
        return self._name

    @property
    def path(self):
        """"<layer name>/<name>"."""
        layer = self._layer() if self._layer is not None else None
        return f"{layer.name}/{self._name}" if layer is not None else self._name

    @property
    def trainable(self):
        """Whether an optimizer updates this weight."""
        layer = self._layer() if self._layer is not None else None
        return self._trainable and (layer is None or bool(layer.trainable))

    @property
    def value(self):
        """The weight as a plain ndarray view of the live buffer."""
        return self.view(numpy.ndarray)

    def numpy(self):
        """A copy of the weight as a plain NumPy array."""
        return numpy.array(self.view(numpy.ndarray))

    def assign(self, value):
        """Write `value` (any array-like of this shape, cast to this dtype) into the
        weight, in place: training continues from it. Returns the value written."""
        value = _checked_value(value, self)
        self.view(numpy.ndarray)[...] = value
        return value

    def assign_add(self, delta):
        """self.assign(self + delta)."""
        return self.assign(self.view(numpy.ndarray) + _checked_number(delta, "delta"))

    def assign_sub(self, delta):
        """self.assign(self - delta)."""
        return self.assign(self.view(numpy.ndarray) - _checked_number(delta, "delta"))

    # -- results are plain arrays
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        # flat, not _plain: this runs for every NumPy operation on a weight
        inputs = [x.view(_NDARRAY) if isinstance(x, Variable) else x for x in inputs]
        if out is None:
            return getattr(ufunc, method)(*inputs, **kwargs)
        kwargs["out"] = tuple(o.view(_NDARRAY) if isinstance(o, Variable) else o
                              for o in out)
        getattr(ufunc, method)(*inputs, **kwargs)
        return out[0] if len(out) == 1 else out   # in place (v += 1): the Variables

    def __array_function__(self, func, types, args, kwargs):
        return func(*_plain(args), **_plain(kwargs))

    def __getitem__(self, key):
        return self.view(numpy.ndarray)[key]

    def copy(self, order="C"):
        return self.view(numpy.ndarray).copy(order)

    def astype(self, *args, **kwargs):
        return self.view(numpy.ndarray).astype(*args, **kwargs)

    def reshape(self, *args, **kwargs):
        return self.view(numpy.ndarray).reshape(*args, **kwargs)

    def ravel(self, order="C"):
        return self.view(numpy.ndarray).ravel(order)

    def flatten(self, order="C"):
        return self.view(numpy.ndarray).flatten(order)

    def transpose(self, *axes):
        return self.view(numpy.ndarray).transpose(*axes)

    @property
    def T(self):
        return self.view(numpy.ndarray).T

    # -- copies and pickles keep the weight's name
    def __reduce__(self):
        layer = self._layer() if self._layer is not None else None
        return (_rebuild, (self.numpy(), self._name, layer, self._trainable))

    def __deepcopy__(self, memo):
        import copy
        layer = self._layer() if self._layer is not None else None
        return Variable(self.numpy(), self._name, copy.deepcopy(layer, memo), self._trainable)

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={self.view(numpy.ndarray)}>")


def plain(array):
    """`array` itself, or a Variable's buffer as a plain ndarray view (for the code that
    computes on the weights many times a step: no NumPy dispatch through Variable)."""
    return array.view(_NDARRAY) if isinstance(array, Variable) else array


def _rebuild(array, name, layer, trainable):
    """A pickled Variable, back."""
    return Variable(array, name, layer, trainable)


def _checked_value(value, variable):
    """`value` as an ndarray of `variable`'s dtype and shape, or a clear error."""
    if isinstance(value, Variable):
        value = value.view(numpy.ndarray)
    array = numpy.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`value` of {variable.path}.assign must be real numbers (it is cast "
                        f"to the weight's dtype {variable.dtype}); got dtype {array.dtype}")
    if array.shape != variable.shape:
        raise ValueError(f"`value` of {variable.path}.assign must have the weight's shape "
                         f"{variable.shape}; got shape {array.shape}")
    return array.astype(variable.dtype, copy=True)


def _checked_number(delta, name):
    if isinstance(delta, numbers.Number) and not isinstance(delta, numbers.Real):
        raise TypeError(f"`{name}` must be real numbers; got {delta!r}")
    return _plain(delta)


def as_variables(layer):
    """Make each of `layer`'s weights (its `_params` and `_state`, named by
    `_param_names` and `_state_names`) a Variable viewing the same buffer, in its lists
    and in the layer attribute of its name (`layer.kernel`); NumPy arrays only, and
    each once."""
    for arrays, names, trainable in ((layer._params, layer._param_names, True),
                                     (layer._state, layer._state_names, False)):
        if len(names) != len(arrays):
            continue
        for i, (array, name) in enumerate(zip(arrays, names)):
            if type(array) is not numpy.ndarray:     # a Variable already, or not NumPy
                continue
            variable = Variable(array, name, layer, trainable)
            arrays[i] = variable
            if layer.__dict__.get(name) is array:
                setattr(layer, name, variable)
