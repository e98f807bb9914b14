"""Layers, as in ``keras.layers``."""
from fastnn.layers.activation import Activation
from fastnn.layers.base import Layer
from fastnn.layers.dense import Dense
from fastnn.layers.dropout import Dropout
from fastnn.layers.flatten import Flatten

__all__ = ["Layer", "Dense", "Dropout", "Activation", "Flatten", "get", "serialize"]

_CLASSES = {cls.__name__: cls for cls in (Dense, Dropout, Activation, Flatten)}


def serialize(layer):
    """{'class_name': ..., 'config': ...} of a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def get(config):
    """The layer described by a `serialize` dict."""
    cls = _CLASSES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"`class_name` must be one of {sorted(_CLASSES)}; got "
                         f"{config.get('class_name')!r}")
    return cls.from_config(config["config"])
