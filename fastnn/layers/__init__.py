"""Layers, as in ``keras.layers``."""
from fastnn import _validation
from fastnn.layers.activation import Activation
from fastnn.layers.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from fastnn.layers.base import Layer
from fastnn.layers.dense import Dense
from fastnn.layers.dropout import Dropout
from fastnn.layers.flatten import Flatten
from fastnn.layers.input_layer import Input, InputLayer

__all__ = ["Layer", "Dense", "Dropout", "Activation", "Flatten", "Input", "InputLayer",
           "ReLU", "LeakyReLU", "ELU", "Softmax", "get", "serialize"]

_CLASSES = {cls.__name__: cls for cls in (Dense, Dropout, Activation, Flatten, ReLU, LeakyReLU,
                                           ELU, Softmax)}


def serialize(layer):
    """{'class_name': ..., 'config': ...} of a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def get(config):
    """The layer described by a `serialize` dict."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"`config` must be a serialized layer, {{'class_name': str, "
                        f"'config': dict}}; got {config!r}")
    return _validation.from_config_dict(config, _CLASSES, "config", "layer")
