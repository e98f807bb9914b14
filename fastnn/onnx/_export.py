"""The ONNX graph of a whole model, its bytes and its file."""
import os

from fastnn.onnx import _layers, _proto
from fastnn.onnx._builder import GraphBuilder

OPSET = 18          # the ONNX opset of every file fastnn writes
IR_VERSION = 8      # the IR version that opset 18 came with
BATCH = "batch"     # the name of the dynamic first dimension of inputs and output
OUTPUT_NAME = "output"
DEFAULT_INPUT_NAME = "input"


def _check_opset(opset_version):
    if opset_version is not None and (isinstance(opset_version, bool)
                                      or opset_version != OPSET):
        raise ValueError(f"`opset_version` must be None or {OPSET} (fastnn writes ONNX "
                         f"opset {OPSET}); got {opset_version!r}")


def _model_inputs(model):
    """[(name, one sample's shape)] of the model's inputs, and its layers' GraphLayer or
    None."""
    graph = getattr(model, "_graph", None)
    if graph is not None:
        return [(t.name, tuple(t.shape[1:])) for t in model.inputs], graph
    first = getattr(model, "_input_layer", None)
    name = first.name if first is not None else DEFAULT_INPUT_NAME
    return [(name, tuple(model.input_shape[1:]))], None


def to_bytes(model, opset_version=None):
    """The ONNX ModelProto of `model` (a built fastnn Sequential or Model), serialized.

    The graph computes `model.predict` in inference mode, in the model's dtype (float32
    or float64), with the batch size as the dynamic dimension "batch" of every input and
    of the output "output". The inputs are named after the model's Input layers ("input"
    for a Sequential opened without one). Writing it imports neither `onnx` nor
    `onnxruntime`.

    Args:
        model: a built model (built by Input(...), `input_shape=`, `build`, `fit` or
            `predict`).
        opset_version: None or 18, the opset written.

    Returns:
        bytes: the .onnx file's contents.

    Raises:
        ValueError: for an unbuilt model, or a layer that has no ONNX form (a user's own
            layer), named in the message.
    """
    _check_opset(opset_version)
    if not hasattr(model, "_layers") or not hasattr(model, "predict"):
        raise TypeError(f"`model` must be a fastnn Sequential or Model; got {model!r}")
    if not model.built or not model._layers:
        raise ValueError(f"model {model.name!r} must be built before it is exported: give "
                         f"it an Input(shape=...) or call build, fit or predict first")
    g = GraphBuilder(model._dtype())
    inputs, graph = _model_inputs(model)
    for name, _ in inputs:
        g.reserve(name)
    g.reserve(OUTPUT_NAME)
    names = [name for name, _ in inputs]
    if graph is not None:
        out = _layers.convert_graph(g, graph, names)
    else:
        out, shape = names[0], inputs[0][1]
        for layer in model._layers:
            out = _layers.convert_layer(g, layer, out, shape)
            shape = tuple(layer.compute_output_shape(shape))
    g.name_output(out, OUTPUT_NAME)
    graph_bytes = g.to_bytes(
        model.name, [(n, [BATCH, *s]) for n, s in inputs],
        [(OUTPUT_NAME, [BATCH, *model.output_shape[1:]])],
        doc_string=f"{type(model).__name__} {model.name!r}, exported by fastnn")
    from fastnn._info import __version__
    return _proto.model(graph_bytes, OPSET, IR_VERSION, "fastnn", __version__,
                        metadata=[("fastnn_model_class", type(model).__name__),
                                  ("fastnn_model_name", model.name)])


def export(model, filepath, verbose=None, input_signature=None, opset_version=None):
    """Write `model` as an ONNX file (see `to_bytes`), as Keras 3's
    ``model.export(filepath, format="onnx")`` does.

    Args:
        model: a built fastnn Sequential or Model.
        filepath: a str or path-like object: the file to write.
        verbose: print where the file went (None: yes, as Keras).
        input_signature: must be None: the model's own input shapes are written, with a
            dynamic batch dimension.
        opset_version: None or 18.

    Example:
        >>> import numpy, fastnn
        >>> from fastnn import layers
        >>> model = fastnn.Sequential([layers.Input(shape=(4,)), layers.Dense(2)])
        >>> fastnn.onnx.export(model, "m.onnx", verbose=False)      # doctest: +SKIP
    """
    if input_signature is not None:
        raise ValueError(f"`input_signature` must be None: fastnn exports the model's own "
                         f"input shapes with a dynamic batch size; got {input_signature!r}")
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`filepath` must be a str or path-like object; got {filepath!r}")
    data = to_bytes(model, opset_version)
    with open(filepath, "wb") as f:
        f.write(data)
    if verbose is None or verbose:
        print(f"Saved artifact at '{os.fspath(filepath)}'.")



def model_export(model, filepath, format=None, verbose=None, input_signature=None,
                 **kwargs):
    """`model.export(...)` (Keras 3's signature): `format` "onnx", the one fastnn writes,
    or None to infer it from a filepath ending in ".onnx"; `kwargs` may hold
    `opset_version`."""
    unknown = sorted(set(kwargs) - {"opset_version"})
    if unknown:
        raise TypeError(f"export() got unexpected keyword arguments {unknown}; for "
                        f"format='onnx' only `opset_version` is accepted")
    if format is None:
        if not isinstance(filepath, (str, os.PathLike)) or \
                not os.fspath(filepath).lower().endswith(".onnx"):
            raise ValueError(f"`format` cannot be inferred from `filepath` {filepath!r}: "
                             f"give format='onnx' or a filepath ending in '.onnx'")
        format = "onnx"
    if format != "onnx":
        raise ValueError(f"`format` must be 'onnx', the format fastnn exports (Keras 3's "
                         f"'tf_saved_model', 'openvino', 'litert' and 'torch' are not "
                         f"supported); got {format!r}")
    export(model, filepath, verbose, input_signature, kwargs.get("opset_version"))
