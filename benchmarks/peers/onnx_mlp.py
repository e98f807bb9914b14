"""The onnxruntime peer (inference only): the model's graph written by hand with
`onnx.helper` — MatMul, Add and the activation per layer — holding the trained weights,
run by an InferenceSession with `intra_op_num_threads` set to the thread count."""
import contextlib

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


def make_predictors(weights, task, n_threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(build_graph(weights, task).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    run = session.run
    return {NAME: lambda x: run(["y"], {"x": x})[0]}
