"""Global numeric settings, named as in ``keras.config``."""

_state = {"floatx": "float32", "epsilon": 1e-7}

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon"]


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


def epsilon():
    """The fuzz factor used by losses and optimizers (1e-7, as in Keras)."""
    return _state["epsilon"]


def set_epsilon(value):
    """Set the fuzz factor."""
    _state["epsilon"] = float(value)
