"""The shape of a 'model.json' member, checked before anything reads it: each field the
loader walks has the JSON type the format gives it, so a hostile or damaged file fails
with a FormatError naming the field instead of a KeyError or AttributeError inside the
loader. Values themselves are checked where they are used (constructors, `_int`)."""
from fastnn.saving.archive import FormatError


def _expect(value, types, where, optional=False):
    if optional and value is None:
        return value
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        names = " or ".join(t.__name__ for t in types) + (" or null" if optional else "")
        raise FormatError(f"{where} must be a JSON {names}; got {value!r:.80}")
    return value


def _serialized(value, where, allow_str=False):
    """A {'class_name': str, 'config': object} entry (or a name, when allow_str)."""
    if allow_str and isinstance(value, str):
        return
    _expect(value, (dict,), where)
    _expect(value.get("class_name"), (str,), f"{where}.class_name")
    _expect(value.get("config"), (dict,), f"{where}.config")


def _compile(config):
    _expect(config, (dict,), "compile", optional=True)
    if config is None:
        return
    _serialized(config.get("optimizer"), "compile.optimizer", allow_str=True)
    _serialized(config.get("loss"), "compile.loss", allow_str=True)
    for key in ("metrics", "weighted_metrics"):
        specs = _expect(config.get(key), (list,), f"compile.{key}",
                        optional=key == "weighted_metrics")
        for i, spec in enumerate(specs or []):
            _serialized(spec, f"compile.{key}[{i}]", allow_str=True)


def _optimizer_state(state):
    _expect(state, (dict,), "optimizer_state", optional=True)
    if state is None:
        return
    _expect(state.get("scalars"), (dict,), "optimizer_state.scalars", optional=True)
    slots = _expect(state.get("slots"), (list,), "optimizer_state.slots", optional=True)
    for i, names in enumerate(slots or []):
        _expect(names, (list,), f"optimizer_state.slots[{i}]")
        for name in names:
            _expect(name, (str,), f"optimizer_state.slots[{i}] entries")


def check_document(doc):
    """A FormatError unless `doc` ('model.json', parsed) has the format's structure."""
    model = _expect(doc.get("model"), (dict,), "model")
    config = _expect(model.get("config"), (dict,), "model.config")
    for i, layer in enumerate(_expect(config.get("layers"), (list,), "model.config.layers")):
        _serialized(layer, f"model.config.layers[{i}]")
    for i, entry in enumerate(_expect(doc.get("weights"), (list,), "weights")):
        _expect(entry, (dict,), f"weights[{i}]")
    _compile(doc.get("compile"))
    layer_state = _expect(doc.get("layer_state"), (dict,), "layer_state", optional=True)
    for name, state in (layer_state or {}).items():
        _expect(state, (dict,), f"layer_state[{name!r}]")
    _optimizer_state(doc.get("optimizer_state"))
