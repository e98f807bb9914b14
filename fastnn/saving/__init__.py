"""Model files: architecture, weights, compile settings and optimizer state, as data.

``model.save("m.fnn")`` writes, and ``fastnn.models.load_model("m.fnn")`` reads, a file
that holds no code: a zip archive of JSON documents and ``.npy`` arrays. Loading never
unpickles, never imports or calls anything named in the file beyond fastnn's own layer,
loss, metric, optimizer and schedule classes, and never writes to disk.

Format, version 1
-----------------
A zip archive (JSON members deflated, arrays stored) with exactly these members:

``fastnn.json``
    ``{"format": "fastnn", "format_version": 1, "fastnn_version": "0.1.0",
    "contents": "model" | "weights"}``. A reader refuses any other format or version.
``model.json``
    ``model``: ``{"class_name": "Sequential", "config": model.get_config()}``;
    ``dtype``: ``"float32"`` or ``"float64"``; ``weights``: one ``{"name", "shape",
    "dtype"}`` per array of ``get_weights()`` (kernel (in, out), then bias, layer by
    layer; non-trainable weights such as moving statistics after a layer's parameters).
    In a whole-model file also: ``compile`` (null, or the serialized optimizer, loss
    and metric list), ``layer_state`` (``{dropout layer name: {"step": n}}``: the
    training steps each Dropout or noise layer has taken, which selects its next mask)
    and ``optimizer_state`` (null, or ``{"iterations": n, "scalars": {...}, "slots":
    [[slot names, sorted], ...] | null}``; ``scalars`` holds state such as Nadam's
    ``_u_product``).
``weights/0000.npy`` ...
    The arrays of ``get_weights()``, in order, little-endian float32/float64, C order.
``optimizer/0000.npy`` ...
    The optimizer's slot arrays (Adam's ``m``, ``v``, ...), parameter by parameter in
    the order of the model's trainable weights, slot names sorted within a parameter.

``model.save_weights(path)`` writes the same layout with ``"contents": "weights"``
and neither compile settings nor training state.

Safety
------
Writes are atomic: the archive goes to a temporary file in the destination's directory,
is flushed to disk (fsync), and is renamed over the destination, so an interrupted save
leaves the previous file intact. On load, member names must match the list above
(so no path tricks), every member's declared size is checked before it is
decompressed (so no zip bombs), every array's .npy header must declare exactly the
shape and dtype the architecture implies before its data is read, and arrays are read
with ``numpy.load(..., allow_pickle=False)``. Any fault raises one ``ValueError`` that
names the file and the fault.

Resuming training exactly
-------------------------
A loaded model continues bit for bit where the saved one stopped, on the same backend:
weights, optimizer slots, ``iterations`` and scalar state, and each Dropout layer's seed
and step counter are restored. The one random input not stored is the shuffling seed:
``fit`` draws it from the global seed stream when it starts, and each epoch's order
depends only on that seed and the epoch number. So call
``fastnn.utils.set_random_seed(s)`` before the first ``fit`` and again before the
resumed ``fit(..., initial_epoch=k)``; the resumed epochs then see the same batches as
an uninterrupted ``fit`` seeded with ``s``.

Keras 3 files
-------------
By suffix, ``.keras`` models and ``.weights.h5`` weights are Keras 3's own format
instead (fastnn/saving/keras_io.py; see FORMAT.md): Keras 3 loads what fastnn writes,
and fastnn loads what Keras 3 writes for the layers fastnn has. They need h5py
(``pip install fastnn[keras]``), imported only for them.

Example:
    >>> model.save("m.fnn")                                   # doctest: +SKIP
    >>> model = fastnn.models.load_model("m.fnn")             # doctest: +SKIP
    >>> model.save("m.keras")                  # Keras 3's format  # doctest: +SKIP
"""
import io
import os

from fastnn.saving import archive as _archive
from fastnn.saving import keras_archive, keras_config, keras_io
from fastnn.saving import schema as _schema
from fastnn.saving import state as _state
from fastnn.saving.archive import FormatError

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "FORMAT_VERSION"]

FORMAT_VERSION = _state.FORMAT_VERSION


def _members(model, contents):
    import json
    meta, doc, arrays = _state.gather(model, contents)
    members = {"fastnn.json": json.dumps(meta, indent=1).encode(),
               "model.json": json.dumps(doc, indent=1, allow_nan=False).encode()}
    members.update(arrays)
    return members


def _check_path(filepath, name="filepath"):
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a str or path; got {filepath!r}")
    return os.fspath(filepath)


def save_model(model, filepath, overwrite=True):
    """Write `model` (architecture, weights, compile settings, optimizer state) to
    `filepath`, atomically.

    Args:
        model: a Sequential model.
        filepath: the destination: ``*.keras`` for Keras 3's format, otherwise
            fastnn's (conventionally ``*.fnn``).
        overwrite: replace an existing file (otherwise raise FileExistsError).
    """
    filepath = _check_path(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"`filepath` {filepath!r} exists and overwrite=False")
    if keras_io.is_keras_model_path(filepath):
        keras_io.save_model(model, filepath)
        return
    _archive.write_atomic(filepath, _members(model, "model"))


def save_weights(model, filepath, overwrite=True):
    """Write only the weights of `model` to `filepath`, atomically (Keras 3's HDF5
    layout for ``*.weights.h5``, with the optimizer's variables as Keras writes them)."""
    filepath = _check_path(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"`filepath` {filepath!r} exists and overwrite=False")
    if keras_io.is_keras_weights_path(filepath):
        keras_io.save_weights(model, filepath)
        return
    _archive.write_atomic(filepath, _members(model, "weights"))


def _fault(label, exc):
    return ValueError(f"`filepath` {label} must be a valid fastnn model file; {exc}")


def _load(source, label, compile, model_class, custom_objects=None):
    try:
        with _archive.Archive(source) as arch:
            _state.check_meta(arch.json("fastnn.json"), "model")
            doc = arch.json("model.json")
            _schema.check_document(doc)
            if custom_objects:
                doc = keras_config.substitute_custom(
                    doc, keras_config.Reader(custom_objects))
            try:
                if not compile:
                    doc = dict(doc, compile=None, optimizer_state=None)
                model = _state.build_model(doc, model_class)
            except FormatError:
                raise
            except (ValueError, TypeError) as exc:  # a constructor's complaint (every
                # constructor validates its arguments with these two); anything else is a
                # fault of fastnn's, not of the file, and goes up as it is
                raise FormatError(f"its model config is invalid ({type(exc).__name__}: "
                                  f"{exc})") from None
            _state.restore(model, doc, arch)
            return model
    except FormatError as exc:
        raise _fault(label, exc) from None


def load_model(filepath, compile=True, *, model_class, custom_objects=None,
               safe_mode=True):
    """The model saved in `filepath`, ready to predict or to resume training
    (`fastnn.models.load_model` calls this with its model classes).

    Args:
        filepath: a file written by `model.save`, or a Keras 3 ``.keras`` file.
        compile: also restore the compile settings and optimizer state.
        model_class: the class of the model (the file must name it), or a dict of them
            by the class_name they read; it provides `from_config` and
            `compile_from_config`.
        custom_objects: {class or function name: your class or function}: the layers,
            losses, metrics and optimizers of your own that the file names.
        safe_mode: refuse serialized code (Lambda layers, lambdas) with a clear error
            (fastnn never runs code from a file; with False the error says so).

    Raises:
        ValueError: the file is not a valid model file (the message names the file and
            the fault).

    Example:
        >>> model = fastnn.models.load_model("m.fnn")          # doctest: +SKIP
    """
    filepath = _check_path(filepath)
    if keras_io.is_keras_model_path(filepath) and \
            not keras_archive.holds_fastnn_file(filepath):
        classes = model_class if isinstance(model_class, dict) else \
            {model_class.__name__: model_class}
        return keras_io.load_model(filepath, compile, custom_objects, safe_mode, classes)
    with open(filepath, "rb") as f:
        return _load(f, repr(filepath), compile, model_class, custom_objects)


def load_weights(model, filepath):
    """Set `model`'s weights from a file of `save_weights` or `save` (matched by
    position and shape, as in Keras), or from a Keras 3 ``.weights.h5`` or ``.keras``
    file (matched by Keras' layer paths)."""
    filepath = _check_path(filepath)
    if keras_io.is_keras_weights_path(filepath) or keras_io.is_keras_model_path(filepath) \
            and not keras_archive.holds_fastnn_file(filepath):
        keras_io.load_weights(model, filepath)
        return
    try:
        with open(filepath, "rb") as f, _archive.Archive(f) as arch:
            _state.check_meta(arch.json("fastnn.json"), "weights")
            doc = arch.json("model.json")
            if not model.built:
                raise FormatError("the model must be built (give the first layer an "
                                  "input_shape) before loading weights into it")
            model.set_weights(_state.read_weights(arch, _state.weight_shapes(model, doc)))
    except FormatError as exc:
        raise _fault(repr(filepath), exc) from None


def restore_training_state(model, filepath):
    """Restore into `model` (built and compiled as the model that wrote `filepath` with
    `save`) the file's weights and training state: the optimizer's slots, iterations
    and scalars, the Dropout layers' step counters and the shuffling `training_seed`,
    so that its training continues bit for bit (fastnn.callbacks.BackupAndRestore)."""
    filepath = _check_path(filepath)
    try:
        with open(filepath, "rb") as f, _archive.Archive(f) as arch:
            _state.check_meta(arch.json("fastnn.json"), "model")
            doc = arch.json("model.json")
            _schema.check_document(doc)
            # the Dropout layers' counters by position, as the weights (a model built
            # again has layers of other automatic names)
            saved = doc.get("layer_state")
            steps = [layer.name for layer in model.layers if hasattr(layer, "step")]
            if isinstance(saved, dict) and len(saved) == len(steps):
                doc = dict(doc, layer_state=dict(zip(steps, saved.values())))
            _state.restore(model, doc, arch)
    except FormatError as exc:
        raise _fault(repr(filepath), exc) from None


def model_to_bytes(model):
    """The bytes of `model`'s file (what pickling a model carries)."""
    return _archive.archive_bytes(_members(model, "model"))


def model_from_bytes(data, *, model_class):
    """A `model_class` model from the bytes of a model file."""
    if not isinstance(data, bytes):
        raise TypeError(f"`data` must be bytes; got {type(data).__name__}")
    return _load(io.BytesIO(data), "<bytes>", True, model_class)
