"""Serialized objects between Keras 3's form and fastnn's.

Keras 3 writes an object as ``{"module", "class_name", "config", "registered_name"}``
(``serialization_lib.serialize_keras_object``); fastnn as ``{"class_name", "config"}``
with the same constructor arguments, less a few that only Keras has. Reading resolves a
class name only to fastnn's own classes of the expected kind (layer, initializer,
loss, ...) or to an entry of the caller's `custom_objects`: `module` and
`registered_name` are never imported, and serialized code (lambdas) is never run.
"""
from fastnn.saving.archive import FormatError

# the Keras module of each kind of object, and the fastnn module with its registry
MODULES = {"layers": "keras.layers", "initializers": "keras.initializers",
           "regularizers": "keras.regularizers", "constraints": "keras.constraints",
           "losses": "keras.losses", "metrics": "keras.metrics",
           "optimizers": "keras.optimizers", "schedules": "keras.optimizers.schedules"}
# config keys whose value is itself a serialized object, by kind
_NESTED = (("_initializer", "initializers"), ("_regularizer", "regularizers"),
           ("_constraint", "constraints"))
_ANY = object()
_SINGULAR = {"layers": "layer", "initializers": "initializer", "regularizers": "regularizer",
             "constraints": "constraint", "losses": "loss", "metrics": "metric",
             "optimizers": "optimizer", "schedules": "schedule", "activations": "activation"}
# arguments only Keras has, with the values that mean what fastnn does anyway
KERAS_ONLY = {"quantization_config": (None,), "data_format": ("channels_last",),
              "renorm": (False,), "renorm_clipping": (None,), "renorm_momentum": _ANY,
              "input_axes": (None,), "output_axes": (None,), "ignore_class": (None,),
              "loss_scale_factor": (None,), "lora_rank": (None,), "lora_alpha": _ANY,
              "gamma_constraint": (None,), "beta_constraint": (None,)}
FLOAT_DTYPES = ("float32", "float64")


def _registry(kind):
    import importlib
    module = importlib.import_module("fastnn.schedules" if kind == "schedules"
                                     else f"fastnn.{kind}")
    return module.REGISTRY


class Reader:
    """Converts Keras 3 serialized objects to fastnn's form (or to objects of the
    caller's `custom_objects`, {name: class or function})."""

    def __init__(self, custom_objects=None, safe_mode=True):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"`custom_objects` must be a dict {{name: class or function}}; "
                            f"got {type(custom_objects).__name__}")
        self.custom = dict(custom_objects or {})
        self.safe_mode = bool(safe_mode)

    def obj(self, spec, kind, where):
        """The fastnn spec (a name, {'class_name', 'config'}, or an object of
        custom_objects) of Keras' serialized `spec` of `kind` found at `where`."""
        if spec is None or isinstance(spec, str):
            if isinstance(spec, str) and spec in self.custom:
                return self._custom(spec, {}, kind, where)
            return spec
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
            raise FormatError(f"{where} must be a name or a serialized object "
                              f"{{'class_name': ..., 'config': ...}}; got {spec!r:.120}")
        name, config = spec["class_name"], spec.get("config")
        self.refuse_code(name, where)
        if name == "function":     # a function by name: {"config": "relu", ...}
            if not isinstance(config, str):
                raise FormatError(f"{where} names a function without a name")
            if config in self.custom:
                return self._custom(config, {}, kind, where)
            if spec.get("module") not in ("builtins", None) and not str(
                    spec.get("module")).startswith("keras"):
                raise self.unknown(config, kind, where)
            return config
        if not isinstance(config, dict):
            raise FormatError(f"{where}.config must be an object; got {config!r:.80}")
        registered = spec.get("registered_name")
        short = registered.rsplit(">", 1)[-1] if isinstance(registered, str) else None
        for key in (registered, short, name):
            if isinstance(key, str) and key in self.custom:
                return self._custom(key, self.config(config, name, where), kind, where)
        classes = _registry(kind).classes
        if name not in classes or (isinstance(registered, str) and registered != name
                                   and registered != "Functional"):
            raise self.unknown(registered if isinstance(registered, str) else name, kind,
                               where)
        return {"class_name": name, "config": self.config(config, name, where)}

    def function(self, spec, where):
        """A function named by `spec` (a name, or Keras' {'class_name': 'function',
        'config': name}): the custom_objects entry of that name, else the name."""
        if isinstance(spec, dict):
            self.refuse_code(spec.get("class_name"), where)
            spec = spec.get("config")
        if not isinstance(spec, str):
            raise FormatError(f"{where} must name a function; got {spec!r:.80}")
        return self.custom.get(spec, spec)

    def refuse_code(self, name, where):
        """A FormatError for serialized code (a lambda or a Lambda layer)."""
        if name in ("__lambda__", "Lambda") and name not in self.custom:
            raise FormatError(
                f"{where} is a Python {'lambda' if name == '__lambda__' else 'Lambda layer'}"
                f" (serialized code), which fastnn never deserializes or runs"
                + ("; safe_mode=True refuses it" if self.safe_mode else
                   "; give your own layer class in custom_objects={'Lambda': ...} to "
                   "replace it"))

    def unknown(self, name, kind, where):
        """The error for a class no fastnn registry or custom_objects knows."""
        known = sorted(_registry(kind).classes)
        short = name.rsplit(">", 1)[-1]    # a registered name is "package>Class"
        return FormatError(f"{where} is a Keras {_SINGULAR[kind]} of class {name!r}, "
                           f"which fastnn does not have (it has {', '.join(known)}); pass "
                           f"your own class as custom_objects={{{short!r}: ...}}")

    def _custom(self, key, config, kind, where):
        target = self.custom[key]
        if isinstance(target, type):
            try:
                return target.from_config(config) if hasattr(target, "from_config") \
                    else target(**config)
            except (TypeError, ValueError) as exc:
                raise FormatError(f"{where}: custom_objects[{key!r}] rejects its config "
                                  f"({type(exc).__name__}: {exc})") from None
        if callable(target):
            import importlib
            return importlib.import_module(f"fastnn.{kind}").get(target)
        raise TypeError(f"`custom_objects[{key!r}]` must be a class or a function; got "
                        f"{target!r}")

    def config(self, config, class_name, where):
        """A Keras config as fastnn's: Keras-only arguments at their neutral values
        dropped (others refused), nested objects converted."""
        out = {}
        for key, value in config.items():
            if key in KERAS_ONLY:
                allowed = KERAS_ONLY[key]
                if allowed is not _ANY and not any(value is a or value == a and
                                                   type(value) is type(a) for a in allowed):
                    raise FormatError(f"{where} ({class_name}) sets the Keras argument "
                                      f"{key}={value!r}, which fastnn does not support")
                continue
            if key == "dtype":
                value = dtype_name(value, f"{where}.dtype")
            elif key == "learning_rate" and isinstance(value, dict):
                value = self.obj(value, "schedules", f"{where}.learning_rate")
            elif key == "activation" and isinstance(value, dict):
                value = self.obj(value, "activations", f"{where}.activation")
            elif key == "fn":     # MeanMetricWrapper's function, by name
                value = self.function(value, f"{where}.fn")
            else:
                nested = next((k for suffix, k in _NESTED if key.endswith(suffix)), None)
                if nested is not None and isinstance(value, dict):
                    value = self.obj(value, nested, f"{where}.{key}")
            out[key] = value
        return out


def dtype_name(value, where):
    """'float32' or 'float64' from a Keras dtype or DTypePolicy config."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name") if isinstance(
            value.get("config"), dict) else None
    if value is None:
        return None
    if value not in FLOAT_DTYPES:
        raise FormatError(f"{where} must be 'float32' or 'float64' (fastnn computes in "
                          f"one float type); got {value!r}")
    return value


# ---------------------------------------------------------------------------- writing
def policy(dtype):
    """Keras' DTypePolicy config of `dtype`."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def to_keras(spec, kind, where="config"):
    """fastnn's serialized `spec` ({'class_name', 'config'} or a name) of `kind` in
    Keras 3's form; a class fastnn does not know is written as a custom object (Keras
    then needs it in its custom_objects)."""
    if spec is None or isinstance(spec, str):
        return spec
    name, config = spec["class_name"], dict(spec["config"])
    known = name in _registry(kind).classes
    if name == "FunctionLoss":   # a plain function: Keras writes those by name
        return function_spec(config.get("name"))
    for key, value in list(config.items()):
        nested = next((k for suffix, k in _NESTED if key.endswith(suffix)), None)
        if nested is not None and isinstance(value, dict):
            config[key] = to_keras(value, nested, f"{where}.{key}")
        elif key == "learning_rate" and isinstance(value, dict):
            config[key] = to_keras(value, "schedules", f"{where}.learning_rate")
        elif key == "fn" and kind == "metrics" and isinstance(value, str):
            config[key] = function_spec(value)
        elif key == "seed" and isinstance(value, int) and not 0 <= value < 2 ** 32:
            # Keras' seeds are 32-bit; fastnn's 64-bit layer seeds travel in
            # metadata.json (keras_io), so Keras draws its own
            config[key] = None
    return {"module": MODULES[kind] if known else None, "class_name": name,
            "config": config, "registered_name": None if known else name}


def function_spec(name):
    """Keras' serialized form of a function known by `name`."""
    return {"module": "builtins", "class_name": "function", "config": name,
            "registered_name": "function"}


def substitute_custom(doc, reader):
    """fastnn's 'model.json' `doc` with each serialized layer, loss, metric or optimizer
    that `reader`'s custom_objects names replaced by that object (a copy)."""
    def one(spec, kind):
        if isinstance(spec, str):
            return reader._custom(spec, {}, kind, kind) if spec in reader.custom else spec
        if not isinstance(spec, dict):
            return spec
        name, config = spec.get("class_name"), spec.get("config")
        config = config if isinstance(config, dict) else {}
        if name in reader.custom:
            return reader._custom(name, config, kind, f"{kind[:-1]} {name!r}")
        if name == "FunctionLoss" and config.get("name") in reader.custom:
            return reader._custom(config["name"], {}, kind, "loss")
        if name == "MeanMetricWrapper" and config.get("fn") in reader.custom:
            return dict(spec, config=dict(config, fn=reader.custom[config["fn"]]))
        return spec
    doc = dict(doc)
    model = doc.get("model")
    if isinstance(model, dict) and isinstance(model.get("config"), dict):
        config = dict(model["config"])
        config["layers"] = [one(s, "layers") for s in config.get("layers") or []]
        doc["model"] = dict(model, config=config)
    compiled = doc.get("compile")
    if isinstance(compiled, dict):
        doc["compile"] = dict(compiled, optimizer=one(compiled.get("optimizer"), "optimizers"),
                              loss=one(compiled.get("loss"), "losses"),
                              metrics=[one(m, "metrics") for m in compiled.get("metrics") or []],
                              weighted_metrics=[one(m, "metrics") for m in
                                                compiled.get("weighted_metrics") or []])
    return doc
