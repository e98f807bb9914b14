"""A model's ``config.json`` in a Keras 3 ``.keras`` file: written from a fastnn model
(Sequential, or functional with ``module: keras.src.models.functional``), and read
back into fastnn's own model config (fastnn.models' `from_config`) and compile
settings (`compile_from_config`)."""
from fastnn import layers as layers_module
from fastnn.saving import keras_config as kc
from fastnn.saving import keras_graph
from fastnn.saving.archive import FormatError

_FUNCTIONAL_MODULE = "keras.src.models.functional"
# keyword arguments a Keras layer call may record, at the values fastnn runs with
_CALL_KWARGS = {"training": (False, None), "mask": (None,)}


# ---------------------------------------------------------------------------- writing
def _layer_entry(layer, dtype):
    spec = kc.to_keras(layers_module.serialize(layer), "layers", f"layer {layer.name!r}")
    config = spec["config"]
    config.pop("input_shape", None)   # the model's InputLayer holds it
    if isinstance(config.get("activation"), dict):
        raise ValueError(f"layer {layer.name!r} has the activation {config['activation']}"
                         f", which Keras 3 cannot name; use a LeakyReLU or ELU layer")
    config["dtype"] = kc.policy(layer.dtype or dtype)
    return spec


def _input_entry(name, shape, dtype):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None] + list(shape), "dtype": dtype,
                       "sparse": False, "ragged": False, "name": name, "optional": False},
            "registered_name": None}


def _tensor(name, shape, dtype):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None] + list(shape), "dtype": dtype,
                       "keras_history": [name, 0, 0]}}


def model_config(model, dtype, compile_config):
    """The ``config.json`` object of `model` (parameters of `dtype`)."""
    kind, graph = keras_graph.describe(model)
    if graph is None:
        layers = [_layer_entry(layer, dtype) for layer in model.layers]
        config = {"name": model.name, "trainable": True, "dtype": kc.policy(dtype),
                  "layers": layers}
        build = None
        if model.built:
            shape = list(model.input_shape)
            layers.insert(0, _input_entry(f"{model.name}_input", shape[1:], dtype))
            config["build_input_shape"] = build = shape
        return {"module": "keras", "class_name": "Sequential", "config": config,
                "registered_name": None, "build_config": {"input_shape": build},
                "compile_config": compile_config}
    return {"module": _FUNCTIONAL_MODULE, "class_name": "Functional",
            "config": _functional_config(model, graph, dtype),
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "compile_config": compile_config}


def _functional_config(model, graph, dtype):
    by_name = {layer.name: layer for layer in model.layers}
    shapes = {spec["name"]: tuple(spec["shape"]) for spec in graph["inputs"]}
    for name, ins, many in graph["nodes"]:
        arg = [shapes[n] for n in ins] if many else shapes[ins[0]]
        shapes[name] = tuple(by_name[name].compute_output_shape(arg))
    calls = {name: (ins, many) for name, ins, many in graph["nodes"]}
    inputs = {spec["name"]: spec for spec in graph["inputs"]}
    layers = []
    for name in keras_graph.keras_order(graph):
        if name in inputs:
            entry = _input_entry(name, shapes[name], inputs[name].get("dtype") or dtype)
            entry.update(name=name, inbound_nodes=[])
        else:
            ins, many = calls[name]
            tensors = [_tensor(n, shapes[n], dtype) for n in ins]
            entry = _layer_entry(by_name[name], dtype)
            entry.update(name=name, inbound_nodes=[
                {"args": [tensors] if many else tensors, "kwargs": {}}])
        layers.append(entry)
    input_layers = [[spec["name"], 0, 0] for spec in graph["inputs"]]
    return {"name": model.name, "trainable": True, "layers": layers,
            "input_layers": input_layers[0] if len(input_layers) == 1 else input_layers,
            "output_layers": [graph["output"], 0, 0]}


def compile_config(config):
    """fastnn's `get_compile_config()` in Keras 3's form (None stays None)."""
    if config is None:
        return None
    weight = config.get("loss_weights")
    return {"optimizer": kc.to_keras(config["optimizer"], "optimizers", "optimizer"),
            "loss": kc.to_keras(config["loss"], "losses", "loss"),
            "loss_weights": None if weight in (None, 1.0) else weight,
            "metrics": [kc.to_keras(m, "metrics") for m in config["metrics"]] or None,
            "weighted_metrics": [kc.to_keras(m, "metrics")
                                 for m in config.get("weighted_metrics") or []] or None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


# ---------------------------------------------------------------------------- reading
MAX_DIM = 2 ** 31 - 1


def read_model(doc, reader, compile=True):
    """(model class name, fastnn model config, dtype, fastnn compile config or None) of
    the ``config.json`` object `doc` (its compile settings read only with `compile`);
    class names resolve through `reader` (keras_config.Reader) only."""
    class_name, config = doc.get("class_name"), doc.get("config")
    if not isinstance(class_name, str) or not isinstance(config, dict):
        raise FormatError("config.json must hold a serialized model {'class_name': ..., "
                          "'config': {...}}")
    reader.refuse_code(class_name, "the model")
    if not isinstance(config.get("layers"), list):
        raise FormatError(f"the {class_name} config must hold a 'layers' list")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise FormatError(f"the model's name must be a string; got {name!r:.80}")
    dtypes = set()
    if class_name == "Sequential":
        fastnn_config = _read_sequential(config, doc, reader, dtypes)
    elif class_name in ("Functional", "Model"):
        class_name, fastnn_config = "Functional", _read_functional(config, reader, dtypes)
    else:
        raise FormatError(f"the model is a Keras {class_name!r}; fastnn reads Sequential "
                          f"and functional models (a subclassed model is code)")
    dtypes.discard(None)
    if len(dtypes) > 1:
        raise FormatError(f"its layers mix the dtypes {sorted(dtypes)}; fastnn computes "
                          f"in one float type")
    dtype = dtypes.pop() if dtypes else "float32"
    compiled = read_compile(doc.get("compile_config"), reader) if compile else None
    return class_name, fastnn_config, dtype, compiled


def _layer_spec(entry, reader, dtypes):
    where = f"layer {_entry_name(entry)!r}"
    spec = reader.obj(entry, "layers", where)
    if isinstance(spec, dict):
        config = spec["config"]
        dtypes.add(config.get("dtype"))
        axis = config.get("axis")
        if spec["class_name"] in ("LayerNormalization", "BatchNormalization") and \
                isinstance(axis, list):
            if len(axis) != 1:
                raise FormatError(f"{where} normalizes over the axes {axis}; fastnn "
                                  f"normalizes over one axis")
            config["axis"] = axis[0]
    return spec


def _entry_name(entry):
    config = entry.get("config") if isinstance(entry, dict) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return name or (config.get("name") if isinstance(config, dict) else None)


def _input(entry, dtypes):
    config = entry.get("config")
    shape = config.get("batch_shape", config.get("batch_input_shape")) \
        if isinstance(config, dict) else None
    if not isinstance(shape, list) or len(shape) < 2 or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 < d <= MAX_DIM
            for d in shape[1:]):
        raise FormatError(f"input {_entry_name(entry)!r} must have a batch_shape [batch, "
                          f"positive sizes ...]; got {shape!r:.120}")
    size = 1
    for d in shape[1:]:
        size *= d
    if size > MAX_DIM:
        raise FormatError(f"input {_entry_name(entry)!r} has samples of {size} values; at "
                          f"most {MAX_DIM} are supported")
    dtype = kc.dtype_name(config.get("dtype"), f"input {_entry_name(entry)!r} dtype")
    dtypes.add(dtype)
    return list(shape[1:]), dtype


def _read_sequential(config, doc, reader, dtypes):
    entries, shape = [], None
    for i, entry in enumerate(config["layers"]):
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            if i:
                raise FormatError("a Sequential model's InputLayer must come first")
            shape, _ = _input(entry, dtypes)
        else:
            entries.append(_layer_spec(entry, reader, dtypes))
    build_config = doc.get("build_config") if isinstance(doc.get("build_config"), dict) \
        else {}
    build = [None] + shape if shape is not None else (
        config.get("build_input_shape") or build_config.get("input_shape"))
    if build is not None:
        shape, _ = _input({"name": "the model's input", "config": {"batch_shape": build}},
                          set())
        build = [None] + shape
    return {"name": config.get("name"), "layers": entries, "build_input_shape": build}


def _history(tensor, where):
    history = tensor.get("config", {}).get("keras_history") \
        if isinstance(tensor, dict) and tensor.get("class_name") == "__keras_tensor__" \
        and isinstance(tensor.get("config"), dict) else None
    if not isinstance(history, list) or len(history) != 3 or \
            not isinstance(history[0], str) or history[1:] != [0, 0]:
        raise FormatError(f"{where} must read the first output of a layer's first call "
                          f"(keras_history [name, 0, 0]); got {tensor!r:.120}")
    return history[0]


def _call(entry, where):
    nodes = entry.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
        raise FormatError(f"{where} must be called exactly once (fastnn has no shared "
                          f"layers); got {len(nodes) if isinstance(nodes, list) else nodes!r}"
                          f" calls")
    args, kwargs = nodes[0].get("args"), nodes[0].get("kwargs") or {}
    if not isinstance(args, list) or len(args) != 1 or not isinstance(kwargs, dict):
        raise FormatError(f"{where} must be called on one tensor or one list of tensors")
    for key, value in kwargs.items():
        if value not in _CALL_KWARGS.get(key, ()):
            raise FormatError(f"{where} is called with {key}={value!r:.40}, which fastnn "
                              f"does not support")
    many = isinstance(args[0], list)
    return [_history(t, where) for t in (args[0] if many else args)], many


def _read_functional(config, reader, dtypes):
    inputs, specs, calls = {}, {}, {}
    for entry in config["layers"]:
        name = _entry_name(entry)
        if not isinstance(name, str) or name in inputs or name in specs:
            raise FormatError(f"the model's layers must have distinct string names; got "
                              f"{name!r:.80}")
        if entry.get("class_name") == "InputLayer":
            inputs[name] = _input(entry, dtypes)
            continue
        calls[name] = _call(entry, f"layer {name!r}")
        specs[name] = _layer_spec(entry, reader, dtypes)
    input_names = _layer_refs(config.get("input_layers"), "input_layers")
    output = _layer_refs(config.get("output_layers"), "output_layers")
    if len(output) != 1:
        raise FormatError(f"the model must have one output; it has {len(output)}")
    for name in input_names:
        if name not in inputs:
            raise FormatError(f"input_layers names {name!r}, which is not an InputLayer")
    known = set(inputs) | set(specs)
    for name, (ins, _) in calls.items():
        for n in ins + output:
            if n not in known:
                raise FormatError(f"layer {name!r} reads {n!r}, which is not a layer of "
                                  f"the model")
    graph = {"inputs": [{"name": n, "shape": inputs[n][0], "dtype": inputs[n][1]}
                        for n in input_names],
             "nodes": [[n] + list(calls[n]) for n in calls], "output": output[0]}
    order = [n for n in keras_graph.keras_order(graph) if n in calls]
    graph["nodes"] = [[n] + list(calls[n]) for n in order]
    return {"name": config.get("name"), "layers": [specs[n] for n in order],
            "graph": graph}


def _layer_refs(refs, where):
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        refs = [refs]
    if not isinstance(refs, list) or not refs:
        raise FormatError(f"{where} must list [name, 0, 0] entries; got {refs!r:.80}")
    names = []
    for ref in refs:
        if not isinstance(ref, list) or len(ref) != 3 or not isinstance(ref[0], str) \
                or ref[1:] != [0, 0]:
            raise FormatError(f"{where} entries must be [name, 0, 0]; got {ref!r:.80}")
        names.append(ref[0])
    return names


def _metric_list(value, reader, where):
    if value is None:
        return []
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]     # the metrics of the one output
    if not isinstance(value, list):
        raise FormatError(f"{where} must be a list (fastnn models have one output); got "
                          f"{value!r:.80}")
    return [reader.obj(m, "metrics", f"{where}[{i}]") for i, m in enumerate(value)]


def read_compile(config, reader):
    """fastnn's compile settings of Keras' `compile_config` (None: not compiled)."""
    if not config:
        return None
    if not isinstance(config, dict):
        raise FormatError(f"compile_config must be an object; got {config!r:.80}")
    loss = config.get("loss")
    if isinstance(loss, list) and len(loss) == 1:
        loss = loss[0]
    if loss is None:
        return None    # compiled without a loss: nothing fastnn can train with
    if isinstance(loss, (list, dict)) and not (isinstance(loss, dict) and
                                               "class_name" in loss):
        raise FormatError("compile_config has several losses; fastnn models have one "
                          "output")
    return {"optimizer": reader.obj(config.get("optimizer") or "rmsprop", "optimizers",
                                    "compile_config.optimizer"),
            "loss": reader.obj(loss, "losses", "compile_config.loss"),
            "loss_weights": config.get("loss_weights"),
            "metrics": _metric_list(config.get("metrics"), reader, "compile_config.metrics"),
            "weighted_metrics": _metric_list(config.get("weighted_metrics"), reader,
                                             "compile_config.weighted_metrics")}
