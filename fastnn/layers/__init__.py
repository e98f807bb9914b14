"""Layers, as in ``keras.layers``."""
from fastnn._registry import Registry
from fastnn.layers.activation import Activation
from fastnn.layers.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from fastnn.layers.base import Layer
from fastnn.layers.dense import Dense
from fastnn.layers.dropout import Dropout
from fastnn.layers.flatten import Flatten
from fastnn.layers.input_layer import Input, InputLayer
from fastnn.layers.merging import Add, Concatenate
from fastnn.layers.noise import AlphaDropout, GaussianDropout, GaussianNoise
from fastnn.layers.normalization import BatchNormalization, LayerNormalization
from fastnn.layers.prelu_reshape import PReLU, Reshape
from fastnn.layers.quantized_dense import QuantizedDense
from fastnn.layers.preprocessing import Normalization, Rescaling

__all__ = ["Layer", "Dense", "Dropout", "Activation", "Flatten", "Input", "InputLayer",
           "ReLU", "LeakyReLU", "ELU", "Softmax", "BatchNormalization",
           "LayerNormalization", "Normalization", "Rescaling", "GaussianNoise",
           "GaussianDropout", "AlphaDropout", "PReLU", "Reshape", "Concatenate", "Add", "QuantizedDense", "get",
           "serialize"]

REGISTRY = Registry("layer", "config", classes=(Dense, Dropout, Activation, Flatten, ReLU,
                                                LeakyReLU, ELU, Softmax, BatchNormalization,
                                                LayerNormalization, Normalization, Rescaling,
                                                GaussianNoise, GaussianDropout, AlphaDropout,
                                                PReLU, Reshape, Concatenate, Add,
                                                QuantizedDense),
                    base=Layer)


def serialize(layer):
    """{'class_name': ..., 'config': ...} of a layer."""
    return REGISTRY.serialize(layer)


def get(config):
    """The layer described by a `serialize` dict."""
    if not isinstance(config, (Layer, dict)):
        raise TypeError(f"`config` must be a serialized layer, {{'class_name': str, "
                        f"'config': dict}}; got {config!r}")
    return REGISTRY.get(config)
