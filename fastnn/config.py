"""Global numeric settings, named as in ``keras.config``."""
import contextlib

_state = {"floatx": "float32", "epsilon": 1e-7}

__all__ = ["floatx", "set_floatx", "floatx_scope", "epsilon", "set_epsilon"]


def floatx():
    """The default float dtype of new weights and inputs: 'float32' (default) or 'float64'."""
    return _state["floatx"]


def set_floatx(value):
    """Set the default float dtype, 'float32' or 'float64'.

    Example:
        >>> import fastnn
        >>> fastnn.config.set_floatx("float64"); fastnn.config.set_floatx("float32")
    """
    if value not in ("float32", "float64"):
        raise ValueError(f"`value` must be 'float32' or 'float64'; got {value!r}")
    _state["floatx"] = value


@contextlib.contextmanager
def floatx_scope(value):
    """`floatx()` is `value` inside the block (None: unchanged), as before after it.

    Example:
        >>> import fastnn
        >>> with fastnn.config.floatx_scope("float64"):
        ...     fastnn.config.floatx()
        'float64'
    """
    previous = floatx()
    if value is not None:
        set_floatx(value)
    try:
        yield
    finally:
        _state["floatx"] = previous


def epsilon():
    """The fuzz factor used by losses and optimizers (1e-7, as in Keras)."""
    return _state["epsilon"]


def set_epsilon(value):
    """Set the fuzz factor."""
    _state["epsilon"] = float(value)
