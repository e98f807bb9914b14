"""Keras 3 files: ``.keras`` models and ``.weights.h5`` weights, written so that
``keras.saving.load_model`` reads them and read from files Keras 3 wrote, for the layers
fastnn has (see FORMAT.md, "Keras 3 files").

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (the architecture and
compile settings as Keras serializes them) and ``model.weights.h5`` (the variables,
the optimizer's included). fastnn adds to ``metadata.json``, which Keras does not read,
a ``fastnn`` entry with the Dropout and noise layers' step counters and the shuffling
seed, so a fastnn model read back resumes training exactly.
"""
import datetime
import os

from fastnn import config as config_module
from fastnn._info import __version__
from fastnn.saving import archive as _archive
from fastnn.saving import keras_archive, keras_config, keras_h5, keras_model, keras_weights
from fastnn.saving import state as _state
from fastnn.saving.archive import FormatError

# the Keras release whose file layout this module writes (and was checked against)
KERAS_VERSION = "3.15.1"


def is_keras_model_path(filepath):
    """Whether `filepath` names a Keras model file (``.keras``)."""
    return str(filepath).endswith(".keras")


def is_keras_weights_path(filepath):
    """Whether `filepath` names a Keras weights file (``.weights.h5``)."""
    return str(filepath).endswith(".weights.h5")


def _fault(filepath, exc):
    return ValueError(f"`filepath` {filepath!r} must be a valid Keras 3 file of the layers "
                      f"fastnn has; {exc}")


# ---------------------------------------------------------------------------- writing
def save_model(model, filepath):
    """Write `model` to the ``.keras`` file `filepath`, atomically."""
    writer = keras_h5.WeightWriter()
    keras_weights.write(model, writer)
    weights = writer.getvalue()
    compile_config = keras_model.compile_config(model.get_compile_config())
    config = keras_model.model_config(model, _state._dtype(model), compile_config)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "fastnn": {"version": __version__, "training_seed": model.training_seed,
                           "layer_state": {layer.name: {"step": int(layer.step),
                                                        "seed": int(layer.seed)}
                                           for layer in model.layers
                                           if hasattr(layer, "step")}}}
    keras_archive.write(filepath, metadata, config, weights)


def save_weights(model, filepath):
    """Write `model`'s weights (and its optimizer's state) to the ``.weights.h5`` file
    `filepath`, atomically."""
    if not model.built:
        raise ValueError("the model must be built before saving its weights")
    writer = keras_h5.WeightWriter()
    keras_weights.write(model, writer)
    data = writer.getvalue()
    _archive.replace_atomic(filepath, lambda f: f.write(data))


# ---------------------------------------------------------------------------- reading
def load_model(filepath, compile, custom_objects, safe_mode, model_classes):
    """The model of the ``.keras`` file `filepath` (see fastnn.saving.load_model)."""
    reader = keras_config.Reader(custom_objects, safe_mode)
    keras_h5.require_h5py()
    try:
        with open(filepath, "rb") as f, keras_archive.KerasArchive(f) as arch:
            doc = arch.json(keras_archive.CONFIG)
            metadata = arch.json(keras_archive.METADATA) \
                if keras_archive.METADATA in arch.names else {}
            kind, config, dtype, compile_config = keras_model.read_model(doc, reader,
                                                                         compile)
            model = _build(model_classes, kind, config, dtype, compile_config)
            with keras_h5.WeightStore(arch.weights()) as store:
                keras_weights.read(model, store, with_optimizer=compile)
            _restore_extras(model, metadata.get("fastnn"))
            return model
    except FormatError as exc:
        raise _fault(filepath, exc) from None
    except RecursionError:    # nested objects deeper than the interpreter's stack
        raise _fault(filepath, "its config nests objects too deeply") from None


def _build(model_classes, kind, config, dtype, compile_config):
    try:
        with config_module.floatx_scope(dtype):
            model = model_classes[kind].from_config(config)
        model.compile_from_config(compile_config)
    except FormatError:
        raise
    except (ValueError, TypeError) as exc:   # a constructor's complaint about the file
        raise FormatError(f"its model config is invalid ({type(exc).__name__}: {exc})") \
            from None
    return model


def _restore_extras(model, extras):
    """The step counters and shuffling seed fastnn keeps in metadata.json."""
    if not isinstance(extras, dict):
        return
    layer_state = extras.get("layer_state") or {}
    if not isinstance(layer_state, dict):
        raise FormatError("metadata.json fastnn.layer_state must be an object")
    layers = {layer.name: layer for layer in model.layers if hasattr(layer, "step")}
    for name, state in layer_state.items():
        if name not in layers or not isinstance(state, dict):
            raise FormatError(f"metadata.json names {name!r}, which is not a Dropout or "
                              f"noise layer of the model")
        layers[name].step = _state._int(state.get("step"), f"layer_state[{name!r}].step")
        if state.get("seed") is not None:
            layers[name].seed = _state._int(state["seed"], f"layer_state[{name!r}].seed",
                                            _state.MAX_SEED)
    seed = extras.get("training_seed")
    model.training_seed = None if seed is None else _state._int(seed, "training_seed",
                                                                _state.MAX_SEED)


def load_weights(model, filepath):
    """Set `model`'s weights from a ``.weights.h5`` file (or a ``.keras`` file's)."""
    keras_h5.require_h5py()
    try:
        if not model.built:
            raise FormatError("the model must be built (give the first layer an "
                              "input_shape) before loading weights into it")
        if is_keras_model_path(filepath):
            with open(filepath, "rb") as f, keras_archive.KerasArchive(f) as arch:
                data = arch.weights()
        else:
            size = os.path.getsize(filepath)
            if size > keras_archive.MAX_WEIGHTS_BYTES:
                raise FormatError(f"it holds {size} bytes; at most "
                                  f"{keras_archive.MAX_WEIGHTS_BYTES} are allowed")
            with open(filepath, "rb") as f:
                data = f.read()
        with keras_h5.WeightStore(data) as store:
            keras_weights.read(model, store)
    except FormatError as exc:
        raise _fault(filepath, exc) from None
