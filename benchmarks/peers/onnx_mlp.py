"""The onnxruntime peer (inference only): the model's graph written by hand with
`onnx.helper` — MatMul, Add and the activation per layer — holding the trained weights,
run by an InferenceSession with `intra_op_num_threads` set to the thread count; and the
same graph dynamically quantized to int8 (onnxruntime.quantization.quantize_dynamic:
int8 weights per tensor, activations quantized at run time), onnxruntime's int8 model."""
import contextlib
import os
import tempfile

import numpy

NAME = "onnxruntime"


def unavailable():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnx/onnxruntime are not installed (pip install onnx onnxruntime)"
    return None


def threads(n):
    return contextlib.nullcontext()  # set per session, in make_predictors


_ACTIVATIONS = {"relu": "Relu", "softmax": "Softmax", "sigmoid": "Sigmoid"}


def build_graph(weights, task):
    """An ONNX ModelProto: x (N, features) -> probabilities, with `weights` as initializers."""
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits, current = [], [], "x"
    for i, (_, act) in enumerate(task.layers):
        inits += [numpy_helper.from_array(weights[2 * i].astype(numpy.float32), f"W{i}"),
                  numpy_helper.from_array(weights[2 * i + 1].astype(numpy.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [current, f"W{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"])]
        current = f"z{i}"
        if act in _ACTIVATIONS:
            extra = {"axis": -1} if act == "softmax" else {}
            nodes.append(helper.make_node(_ACTIVATIONS[act], [current], [f"a{i}"], **extra))
            current = f"a{i}"
    nodes[-1].output[0] = "y"
    n_out = task.layers[-1][0]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", task.n_features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by older onnxruntime builds too
    return model


def session(model, n_threads):
    """The predict function (x -> y) of an InferenceSession of `model` (bytes or a path)
    on `n_threads` threads."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    run = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]).run
    return lambda x: run(["y"], {"x": x})[0]


def int8_predictor(weights, task, n_threads):
    """The predict function of the graph quantized by quantize_dynamic (QInt8 weights)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "mlp.onnx"), os.path.join(tmp, "mlp_int8.onnx")
        onnx.save(build_graph(weights, task), src)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        with open(dst, "rb") as f:
            quantized = f.read()
    return session(quantized, n_threads)


def make_predictors(weights, task, n_threads):
    return {NAME: session(build_graph(weights, task).SerializeToString(), n_threads),
            NAME + " int8": int8_predictor(weights, task, n_threads)}
