"""fastnn: fast feed-forward neural networks on the CPU, with a Keras-style API.

Example:
    >>> from fastnn import layers, models
    >>> model = models.Sequential([layers.Dense(16, activation="relu", input_dim=8),
    ...                            layers.Dense(1, activation="sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"""
from fastnn._info import __version__

from fastnn import (activations, callbacks, config, constraints, initializers, layers, losses, metrics,
                    models, ops, optimizers, regularizers, schedules, utils)
from fastnn._info import show_config
from fastnn._threads import get_num_threads, set_num_threads, threads
from fastnn.backend import get_backend, set_backend, use_backend
from fastnn.layers import Input
from fastnn.models import Model, Sequential

__all__ = ["Input", "Model", "Sequential", "activations", "callbacks", "config", "constraints", "datasets", "explain",
           "get_backend", "get_num_threads", "initializers", "layers", "losses", "metrics",
           "models", "ops", "optimizers", "plot", "regularizers", "saving", "schedules", "set_backend",
           "set_num_threads", "show_config", "threads", "use_backend", "utils"]


def __getattr__(name):
    # these load on first use: they are not needed to train, and importing them would
    # add to every host process's start-up
    if name in ("datasets", "plot", "explain", "saving", "onnx", "sklearn", "distributed",
                "mixed_precision"):
        import importlib
        return importlib.import_module(f"fastnn.{name}")
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
