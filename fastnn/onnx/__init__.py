"""ONNX export: a fastnn model as an ONNX file (opset 18) for onnxruntime and other
ONNX consumers, as Keras 3's ``model.export(filepath, format="onnx")``.

fastnn writes the protobuf itself (fastnn.onnx._wire, fastnn.onnx._proto), so exporting
needs neither `onnx` nor `onnxruntime`; running or checking the file does
(``pip install fastnn[onnx]``). Every built-in layer and activation converts, in
inference form: the graph computes what `model.predict` computes, in the model's dtype
(float32 or float64), with the batch size dynamic.

Example:
    >>> import numpy, fastnn
    >>> from fastnn import layers
    >>> model = fastnn.Sequential([layers.Input(shape=(4,), name="x"),
    ...                            layers.Dense(8, activation="relu"), layers.Dense(3)])
    >>> model.export("m.onnx")                                   # doctest: +SKIP
    >>> import onnxruntime                                       # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("m.onnx")         # doctest: +SKIP
    >>> x = numpy.ones((5, 4), numpy.float32)
    >>> session.run(None, {"x": x})[0].shape                     # doctest: +SKIP
    (5, 3)
"""
from fastnn.onnx._export import BATCH, OPSET, OUTPUT_NAME, export, to_bytes

__all__ = ["export", "to_bytes", "OPSET", "BATCH", "OUTPUT_NAME"]
