"""The activation layers of keras.layers: ReLU, LeakyReLU, ELU and Softmax, each an
Activation with Keras 3's arguments and defaults."""
from fastnn import _validation, activations
from fastnn.layers.activation import Activation


class ReLU(Activation):
    """max(x, 0), or with `negative_slope`, x * negative_slope below 0.

    Args:
        max_value: must be None (a capped ReLU has no kernel yet).
        negative_slope: the slope below `threshold` (0 by default).
        threshold: must be 0.

    Example:
        >>> from fastnn.layers import ReLU
        >>> layer = ReLU()
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if max_value is not None:
            raise ValueError(f"`max_value` must be None (ReLU's cap is not supported yet); "
                             f"got {max_value!r}")
        if _validation.real(threshold, "threshold") != 0.0:
            raise ValueError(f"`threshold` must be 0 (a shifted ReLU is not supported "
                             f"yet); got {threshold!r}")
        self.negative_slope = _validation.real(negative_slope, "negative_slope", minimum=0)
        spec = (activations.get("relu") if self.negative_slope == 0.0 else
                activations.ActivationSpec("leaky_relu", self.negative_slope))
        super().__init__(spec, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config | {"max_value": None, "negative_slope": self.negative_slope,
                         "threshold": 0.0}


class LeakyReLU(Activation):
    """x, or x * negative_slope below 0 (Keras 3's layer default: 0.3).

    Example:
        >>> from fastnn.layers import LeakyReLU
        >>> layer = LeakyReLU(negative_slope=0.1)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        self.negative_slope = _validation.real(negative_slope, "negative_slope", minimum=0)
        super().__init__(activations.ActivationSpec("leaky_relu", self.negative_slope),
                         **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config | {"negative_slope": self.negative_slope}


class ELU(Activation):
    """x above 0, alpha * (exp(x) - 1) below.

    Example:
        >>> from fastnn.layers import ELU
        >>> layer = ELU(alpha=1.0)
    """

    def __init__(self, alpha=1.0, **kwargs):
        self.alpha = _validation.real(alpha, "alpha", minimum=0)
        super().__init__(activations.ActivationSpec("elu", self.alpha), **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config | {"alpha": self.alpha}


class Softmax(Activation):
    """Softmax over the last axis.

    Example:
        >>> from fastnn.layers import Softmax
        >>> layer = Softmax()
    """

    def __init__(self, axis=-1, **kwargs):
        if axis not in (-1,) and not (_validation.is_int(axis) and axis == 1):
            raise ValueError(f"`axis` must be -1 (the features of a dense layer's output); "
                             f"got {axis!r}")
        super().__init__("softmax", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config | {"axis": -1}
