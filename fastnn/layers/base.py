"""The Layer base class and the workspace that holds reusable buffers."""
import functools
import itertools
import re

import numpy

from fastnn import _validation, mixed_precision
from fastnn.backend import get_backend
from fastnn.variables import as_variables

_counters = {}


def _unique_name(prefix):
    counter = _counters.setdefault(prefix, itertools.count())
    n = next(counter)
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name):
    """A class name in snake case as Keras writes it: Dense -> dense, ReLU -> re_lu,
    LeakyReLU -> leaky_re_lu, InputLayer -> input_layer."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Workspace:
    """Buffers reused from step to step, keyed by (owner, role); one per training run or
    per predicting thread, so concurrent predictions never share memory.

    Two shapes are kept per key, so an epoch's last, shorter batch does not evict the
    buffers of the full batches."""

    def __init__(self):
        self._buffers = {}

    def buffer(self, owner, role, shape, dtype):
        """An uninitialised array of `shape`, the same one every call with these keys."""
        slots = self._buffers.setdefault((id(owner), role), [])
        for i, buf in enumerate(slots):
            if buf.shape == shape and buf.dtype == dtype:
                if i:
                    slots.insert(0, slots.pop(i))
                return buf
        buf = get_backend().empty(shape, dtype)
        slots.insert(0, buf)
        del slots[2:]
        return buf


class Layer:
    """Base class of fastnn layers, shaped like Keras'.

    Subclasses implement `build`, `forward` (and `call` through it), `backward`,
    `compute_output_shape` and `get_config`.
    """

    # the op a layer is, for executors (fastnn.backend.program): "dense", "dropout",
    # "reshape", "activation"; None for a user's own layer, run as Python
    op_kind = None

    def __init_subclass__(cls, **kwargs):
        # a subclass that computes in its own Python (forward, backward or call) is a
        # user's own layer, whatever op its parent was: executors run it as written
        super().__init_subclass__(**kwargs)
        if "op_kind" not in vars(cls) and any(
                name in vars(cls) for name in ("forward", "backward", "call")):
            cls.op_kind = None
        # the weights a build makes become Variables (fastnn.variables): views of the
        # same buffers, with Keras' assign / numpy / name / path / trainable
        if "build" in vars(cls):
            cls.build = _then_variables(vars(cls)["build"])

    # whether `backward` can apply the previous layer's act' (the `fuse` argument)
    fuses_input_grad = False

    def __init__(self, name=None, trainable=True, input_shape=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {name!r}")
        self.name = name or _unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        # dtype: the weights' dtype (None: floatx() at build); dtype_policy: Keras's policy
        self.dtype, self.dtype_policy = mixed_precision.layer_dtype(dtype)
        self.input_shape = None if input_shape is None else _as_shape(input_shape)
        self._params = []
        self._grads = []
        self._param_names = []
        # non-trainable weights (moving statistics, adapted means): saved and restored
        # with the parameters, never updated by an optimizer
        self._state = []
        self._state_names = []

    # -- subclass interface
    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch dimension excluded)."""
        self.built = True

    def forward(self, x, training, workspace):
        """Output for backend array `x`; keeps what `backward` needs when training."""
        raise NotImplementedError

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        """Gradient with respect to the input; parameter gradients are stored."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        """Output shape (without batch dimension) for `input_shape`."""
        return input_shape

    def fusable_activation(self):
        """(activation, saved array) if the next layer may apply this layer's act'
        while computing its input gradient, else None."""
        return None

    def get_config(self):
        """JSON-safe constructor arguments: ``type(self)(**get_config())`` rebuilds it."""
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if self.dtype_policy.compute_dtype != self.dtype_policy.variable_dtype:
            config["dtype"] = self.dtype_policy.name   # a mixed policy travels with the layer
        return config

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`."""
        return cls(**config)

    # -- Keras surface
    def __call__(self, x, training=False):
        """Apply the layer to an array (building it on first use); on a symbolic tensor
        (`Input(...)` or a layer's symbolic output) record the call in the graph and
        return the output's symbolic tensor (fastnn.layers.symbolic)."""
        from fastnn.layers.symbolic import call_symbolic, is_symbolic
        if is_symbolic(x):
            return call_symbolic(self, x)
        backend = get_backend()
        from fastnn.config import floatx
        x = backend.asarray(x, dtype=self.dtype or floatx())
        if not self.built:
            self.build(tuple(x.shape[1:]))
        return self.forward(x, training, Workspace())

    call = __call__

    @property
    def compute_dtype(self):
        """The dtype of the layer's products (its dtype_policy's; fastnn.mixed_precision)."""
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        """The dtype of the layer's weights (its dtype_policy's)."""
        return self.dtype_policy.variable_dtype

    @property
    def weights(self):
        """The layer's weights (fastnn.variables.Variable: views of the buffers training
        updates in place): the parameters, then any non-trainable weights (moving
        statistics)."""
        return list(self._params) + list(self._state)

    @property
    def trainable_weights(self):
        """The parameters an optimizer updates (none for a frozen layer)."""
        return list(self._params) if self.trainable else []

    @property
    def non_trainable_weights(self):
        """The weights no optimizer updates: non-trainable state, and every parameter of
        a frozen layer."""
        return (list(self._params) if not self.trainable else []) + list(self._state)

    @property
    def weight_names(self):
        """The names of `weights`, in order ('kernel', 'bias', ...)."""
        return list(self._param_names) + list(self._state_names)

    def get_weights(self):
        """The weights as NumPy arrays (plain copies), in Keras' order."""
        backend = get_backend()
        return [numpy.array(backend.to_numpy(p)) for p in self.weights]

    def set_weights(self, weights):
        """Set the weights from arrays shaped as `get_weights` returns them."""
        weights = list(weights)
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(f"`weights` must be a list of {len(mine)} arrays for "
                             f"layer {self.name!r}; got {len(weights)}")
        backend = get_backend()
        for p, w, pname in zip(mine, weights, self.weight_names):
            w = backend.asarray(w, dtype=p.dtype)
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(f"`weights` for {self.name}/{pname} must have shape "
                                 f"{tuple(p.shape)}; got {tuple(w.shape)}")
            p[...] = w

    def count_params(self):
        """The number of scalars in the layer's weights (non-trainable ones included)."""
        return int(sum(p.size for p in self.weights))

    def count_trainable_params(self):
        """The number of scalars in `trainable_weights`."""
        return int(sum(p.size for p in self.trainable_weights))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


def _then_variables(build):
    """`build`, then the layer's new weights made Variables."""
    @functools.wraps(build)
    def build_then_variables(self, *args, **kwargs):
        result = build(self, *args, **kwargs)
        as_variables(self)
        return result
    return build_then_variables


def _as_shape(shape):
    return _validation.shape(shape, "input_shape")
