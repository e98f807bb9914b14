"""Dtype policies, named as Keras 3's `keras.mixed_precision`.

A policy names the dtype a layer keeps its weights in (`variable_dtype`) and the dtype its
products compute in (`compute_dtype`). "mixed_bfloat16" keeps float32 weights, optimizer
state, activations and loss, and runs each Dense layer's three products (x·W, dZ·Wᵀ,
xᵀ·dZ) on bfloat16-rounded operands with float32 sums (src_c/bf16.h): with vdpbf16ps on a
CPU with AVX512_BF16, else at float32 speed on the float32 kernels (`show_config()` says
which). The cpu backend's compiled executor runs those products; the reference backend and
the layer-by-layer path compute a mixed layer in float32.

Example:
    >>> import fastnn
    >>> fastnn.mixed_precision.set_global_policy("mixed_bfloat16")
    >>> layer = fastnn.layers.Dense(4)
    >>> layer.dtype_policy, layer.compute_dtype, layer.variable_dtype
    (<DTypePolicy "mixed_bfloat16">, 'bfloat16', 'float32')
    >>> fastnn.mixed_precision.set_global_policy(None)
"""
from fastnn.config import floatx

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "dtype_policy",
           "set_dtype_policy"]

# name -> (compute dtype, variable dtype)
_POLICIES = {"float32": ("float32", "float32"), "float64": ("float64", "float64"),
             "mixed_bfloat16": ("bfloat16", "float32")}
# Keras names fastnn cannot hold: NumPy has no bfloat16 array for the weights, and
# float16 products have no kernels here
_UNSUPPORTED = ("bfloat16", "float16", "mixed_float16")

_global = {"policy": None}   # None: the policy of floatx()


class DTypePolicy:
    """The dtypes of a layer's weights and computations (Keras 3's `DTypePolicy`).

    Args:
        name: "float32", "float64" or "mixed_bfloat16" (bfloat16 products, float32
            weights); None takes the global policy's name.

    Example:
        >>> from fastnn.mixed_precision import DTypePolicy
        >>> p = DTypePolicy("mixed_bfloat16")
        >>> p.compute_dtype, p.variable_dtype
        ('bfloat16', 'float32')
    """

    def __init__(self, name=None):
        if name is None:
            name = global_policy().name
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str such as 'mixed_bfloat16'; got {name!r} "
                            f"(of type {type(name).__name__})")
        if name not in _POLICIES:
            why = (" (NumPy has no bfloat16 weights, and fastnn no float16 kernels; use "
                   "'mixed_bfloat16', or model.quantize('bfloat16') for inference)"
                   if name in _UNSUPPORTED else "")
            raise ValueError(f"`name` must be one of {sorted(_POLICIES)}; got {name!r}{why}")
        self._name = name
        self._compute_dtype, self._variable_dtype = _POLICIES[name]

    @property
    def name(self):
        """The policy's name."""
        return self._name

    @property
    def compute_dtype(self):
        """The dtype of the layer's products: 'bfloat16' for 'mixed_bfloat16'."""
        return self._compute_dtype

    @property
    def variable_dtype(self):
        """The dtype of the layer's weights (and of the optimizer's state)."""
        return self._variable_dtype

    @property
    def quantization_mode(self):
        """None: these policies are not quantized (Keras's attribute)."""
        return None

    def get_config(self):
        """{'name': name}."""
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`."""
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy   # Keras 2's name, kept by Keras 3 in keras.mixed_precision


def set_global_policy(policy):
    """Set the policy of the layers made from now on (Keras's `set_global_policy`).

    Args:
        policy: a policy name ("mixed_bfloat16", "float32", "float64"), a `DTypePolicy`,
            or None for the default (the policy of `fastnn.config.floatx()`).

    Example:
        >>> import fastnn
        >>> fastnn.mixed_precision.set_global_policy("mixed_bfloat16")
        >>> fastnn.mixed_precision.global_policy()
        <DTypePolicy "mixed_bfloat16">
        >>> fastnn.mixed_precision.set_global_policy(None)
    """
    if policy is not None and not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError(f"`policy` must be a policy name (such as 'mixed_bfloat16'), a "
                             f"DTypePolicy or None; got {policy!r}")
        policy = DTypePolicy(policy)
    _global["policy"] = policy


def global_policy():
    """The policy new layers take: the one set by `set_global_policy`, else floatx()'s."""
    return _global["policy"] or DTypePolicy(floatx())


set_dtype_policy = set_global_policy   # keras.config's names
dtype_policy = global_policy


def layer_dtype(dtype):
    """(the dtype of a layer's weights or None for floatx() at build, its DTypePolicy)
    for a layer's `dtype` argument: None (the global policy), a policy name, a
    DTypePolicy or a float dtype."""
    if dtype is None:
        policy = global_policy()
        return (policy.variable_dtype if _global["policy"] is not None else None), policy
    if isinstance(dtype, DTypePolicy):
        return dtype.variable_dtype, dtype
    if isinstance(dtype, str) and (dtype in _POLICIES or dtype in _UNSUPPORTED):
        policy = DTypePolicy(dtype)
        return policy.variable_dtype, policy
    import numpy
    try:
        name = numpy.dtype(dtype).name
    except TypeError:
        raise ValueError(f"`dtype` must be a policy name ({sorted(_POLICIES)}), a "
                         f"DTypePolicy or a NumPy dtype; got {dtype!r}") from None
    return dtype, DTypePolicy(name) if name in _POLICIES else _Fixed(name)


class _Fixed(DTypePolicy):
    """The policy of a layer given a dtype outside the policy names (its weights and
    products in that dtype)."""

    def __init__(self, name):
        self._name = name
        self._compute_dtype = self._variable_dtype = name


def computes_bfloat16(layer):
    """Whether `layer`'s products compute in bfloat16 (its policy says so)."""
    policy = getattr(layer, "dtype_policy", None)
    return policy is not None and policy.compute_dtype == "bfloat16"


def round_to_bfloat16(x):
    """float32 `x` rounded to the nearest bfloat16 value, as float32 (NumPy): ties to
    even, denormals to a zero of their sign, NaN kept quiet — vcvtne2ps2bf16's rounding,
    the one the bfloat16 kernels apply (src_c/bf16.h).

    Example:
        >>> import numpy
        >>> from fastnn.mixed_precision import round_to_bfloat16
        >>> float(round_to_bfloat16(numpy.float32(1 + 2 ** -8)))   # a tie: to even
        1.0
    """
    import numpy
    u = numpy.ascontiguousarray(x, dtype=numpy.float32).view(numpy.uint32)
    rounded = (u + numpy.uint32(0x7FFF) + ((u >> 16) & 1)) & numpy.uint32(0xFFFF0000)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    tiny = (u & 0x7F800000) == 0
    out = numpy.where(nan, (u & 0xFFFF0000) | 0x00400000,
                      numpy.where(tiny, u & 0x80000000, rounded))
    return out.astype(numpy.uint32).view(numpy.float32).reshape(numpy.shape(x))
