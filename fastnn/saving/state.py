"""What a model file holds, gathered from a model and put back into one.

The model is used through its public methods only (get_config / from_config,
get_compile_config / compile_from_config, weights, the optimizer's get_state /
set_state), and its class is given by the caller, so saving depends on no model module.
"""
import numbers

from fastnn import config as config_module
from fastnn._info import __version__
from fastnn.saving.archive import FormatError, npy_bytes

FORMAT_NAME = "fastnn"
FORMAT_VERSION = 1


def _member(prefix, index):
    return f"{prefix}/{index:04d}.npy"


def _trainable_params(model):
    return [p for layer in model.layers if layer.trainable for p in layer._params]


# ---------------------------------------------------------------------------- gather
def _optimizer_state(opt):
    """(JSON state, {member: .npy bytes}) of an optimizer: its step count, its scalar
    state and its slot arrays, parameter by parameter, slot names sorted."""
    state = opt.get_state()
    slots, state["slots"] = state["slots"], None
    arrays = {}
    if slots is not None:
        state["slots"] = [sorted(s) for s in slots]
        for s in slots:
            for name in sorted(s):
                arrays[_member("optimizer", len(arrays))] = npy_bytes(s[name])
    return state, arrays


def _dtype(model):
    """The dtype of the model's parameters (floatx for a model without any)."""
    weights = [w for w in model.weights if w.dtype.kind == "f"] if model.built else []
    return str(weights[0].dtype) if weights else config_module.floatx()


def gather(model, contents):
    """The members {name: bytes-or-dict} of the file of `model`: 'model' (everything)
    or 'weights' (architecture for reference, and the weights)."""
    weights = model.get_weights() if model.built else []
    names = [f"{layer.name}/{pname}" for layer in model.layers
             for pname in layer.weight_names] if model.built else []
    arrays = {_member("weights", i): npy_bytes(w) for i, w in enumerate(weights)}
    class_name = getattr(type(model), "saved_class_name", type(model).__name__)
    doc = {"model": {"class_name": class_name, "config": model.get_config()},
           "dtype": _dtype(model),
           "weights": [{"name": n, "shape": list(w.shape), "dtype": str(w.dtype)}
                       for n, w in zip(names, weights)]}
    if contents == "model":
        doc["compile"] = model.get_compile_config()
        doc["layer_state"] = {layer.name: {"step": int(layer.step)}
                              for layer in model.layers if hasattr(layer, "step")}
        doc["training_seed"] = model.training_seed
        doc["optimizer_state"] = None
        if model.optimizer is not None:
            doc["optimizer_state"], slot_arrays = _optimizer_state(model.optimizer)
            arrays.update(slot_arrays)
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "fastnn_version": __version__, "contents": contents}
    return meta, doc, arrays


# ---------------------------------------------------------------------------- restore
def check_meta(meta, contents):
    """Check the 'fastnn.json' member; `contents` is what the caller needs."""
    if meta.get("format") != FORMAT_NAME:
        raise FormatError(f"it is not a fastnn model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise FormatError(f"its format_version must be {FORMAT_VERSION}; got {version!r}")
    if meta.get("contents") not in ("model", "weights"):
        raise FormatError(f"its contents must be 'model' or 'weights'; got "
                          f"{meta.get('contents')!r}")
    if contents == "model" and meta["contents"] != "model":
        raise FormatError("it holds only weights; load it with model.load_weights")


# counters and seeds in a file are 64-bit in the kernels that read them
MAX_SEED = 2 ** 64 - 1
MAX_COUNT = 2 ** 63 - 1


def _int(value, what, maximum=MAX_COUNT):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not \
            0 <= value <= maximum:
        raise FormatError(f"{what} must be an int in [0, {maximum}]; got {value!r}")
    return int(value)


def build_model(doc, model_class):
    """A new `model_class` model from the 'model.json' member: architecture and compile
    settings (the file must name that class; `model_class` may be a dict of classes
    by the class_name they read)."""
    spec = doc.get("model")
    classes = model_class if isinstance(model_class, dict) else \
        {model_class.__name__: model_class}
    model_class = classes.get(spec.get("class_name")) if isinstance(spec, dict) else None
    if model_class is None:
        names = " or ".join(repr(n) for n in classes)
        raise FormatError(f"model class_name must be {names}; got "
                          f"{spec.get('class_name') if isinstance(spec, dict) else spec!r}")
    dtype = doc.get("dtype")
    if dtype not in ("float32", "float64"):
        raise FormatError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    with config_module.floatx_scope(dtype):
        model = model_class.from_config(spec["config"])
    model.compile_from_config(doc.get("compile"))
    return model


def _check_manifest(model, doc):
    manifest = doc.get("weights")
    expected = [(tuple(p.shape), str(p.dtype)) for p in model.weights] if model.built else []
    if not isinstance(manifest, list) or len(manifest) != len(expected):
        raise FormatError(f"the weights list must have {len(expected)} entries for this "
                          f"architecture; got {len(manifest) if isinstance(manifest, list) else manifest!r}")
    for i, (entry, (shape, dtype)) in enumerate(zip(manifest, expected)):
        if not isinstance(entry, dict) or entry.get("shape") != list(shape) \
                or entry.get("dtype") != dtype:
            raise FormatError(f"weight {i} must have shape {shape} and dtype {dtype}; "
                              f"the file declares {entry!r}")
    return expected


def weight_shapes(model, doc):
    """[(shape, dtype)] to read for `model` from a file whose 'weights' list is in `doc`:
    the model's shapes, the file's dtypes (set_weights converts them)."""
    declared = doc.get("weights")
    shapes = [tuple(p.shape) for p in model.weights]
    if not isinstance(declared, list) or len(declared) != len(shapes):
        got = len(declared) if isinstance(declared, list) else declared
        raise FormatError(f"it must hold {len(shapes)} weight arrays for this model; it "
                          f"declares {got!r}")
    result = []
    for i, (entry, shape) in enumerate(zip(declared, shapes)):
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if dtype not in ("float32", "float64", "int8") or entry.get("shape") != list(shape):
            raise FormatError(f"weight {i} must have shape {shape} (float32 or float64) for "
                              f"this model; the file declares {entry!r}")
        result.append((shape, dtype))
    return result


def read_weights(archive, shapes):
    """The weight arrays, checked against [(shape, dtype), ...]."""
    return [archive.array(_member("weights", i), shape, dtype)
            for i, (shape, dtype) in enumerate(shapes)]


def restore(model, doc, archive):
    """Fill a model built by `build_model` with the file's weights and training state."""
    shapes = _check_manifest(model, doc)
    if shapes:
        model.set_weights(read_weights(archive, shapes))
    layer_state = doc.get("layer_state") or {}
    if not isinstance(layer_state, dict):
        raise FormatError("layer_state must be an object")
    for name, state in layer_state.items():
        layer = next((l for l in model.layers if l.name == name), None)
        if layer is None or not hasattr(layer, "step") or not isinstance(state, dict):
            raise FormatError(f"layer_state names {name!r}, which is not a Dropout layer "
                              f"of the model")
        layer.step = _int(state.get("step"), f"layer_state[{name!r}].step")
    seed = doc.get("training_seed")
    model.training_seed = None if seed is None else _int(seed, "training_seed", MAX_SEED)
    _restore_optimizer(model, doc.get("optimizer_state"), archive)


def _restore_optimizer(model, state, archive):
    opt = model.optimizer
    if state is None or opt is None:
        return
    iterations = _int(state.get("iterations"), "optimizer iterations")
    scalars = state.get("scalars") or {}
    state_scalars = opt.get_state()["scalars"]
    if set(scalars) != set(state_scalars):
        raise FormatError(f"optimizer scalars must be {sorted(state_scalars)}; got "
                          f"{sorted(scalars)}")
    for name, value in scalars.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise FormatError(f"optimizer scalar {name!r} must be a number; got {value!r}")
    slot_names, slots = state.get("slots"), None
    if slot_names is not None:
        params = _trainable_params(model)
        opt.build(params)
        built = [sorted(s) for s in opt.get_state()["slots"]]
        if not isinstance(slot_names, list) or len(slot_names) != len(params) or any(
                names != expected for names, expected in zip(slot_names, built)):
            raise FormatError(f"optimizer slots must be {built}; got {slot_names!r}")
        index, slots = 0, []
        for param, names in zip(params, built):
            slots.append({})
            for name in names:
                slots[-1][name] = archive.array(_member("optimizer", index),
                                                tuple(param.shape), str(param.dtype))
                index += 1
    opt.set_state({"iterations": iterations,
                   "scalars": {name: float(value) for name, value in scalars.items()},
                   "slots": slots})
