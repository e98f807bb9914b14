"""Names and classes of one kind of object (activations, losses, metrics, optimizers,
initializers, regularizers, schedules, layers), and the Keras config round trip their
base classes share."""


class Configurable:
    """``get_config`` / ``from_config`` as in Keras, and a repr that shows the config.
    Subclasses define ``get_config``: JSON-safe constructor arguments."""

    def get_config(self):
        """JSON-safe constructor arguments."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Registry:
    """The names and classes of one kind of object, and the one way to resolve them.

    Args:
        kind: what the objects are, in messages ("loss", "optimizer", ...).
        arg_name: the argument the user passed, in messages ("loss", "metrics", ...).
        names: {lower-case name or alias: entry}; `lookup` resolves a string to its
            entry (usually a class) case-insensitively.
        classes: the classes a serialized dict may name ({'class_name': ...}); by default
            every class among the values of `names`.
        base: the base class whose instances `get` passes through unchanged.

    Example:
        >>> registry = Registry("loss", "loss", {"mse": MeanSquaredError}, base=Loss)
        >>> registry.get("MSE")                                    # doctest: +SKIP
        >>> registry.get({"class_name": "MeanSquaredError", "config": {}})  # doctest: +SKIP
    """

    def __init__(self, kind, arg_name, names=None, classes=None, base=None):
        self.kind = kind
        self.arg_name = arg_name
        self.base = base
        self._names = {key.lower(): value for key, value in (names or {}).items()}
        if classes is None:
            classes = [v for v in self._names.values() if isinstance(v, type)]
        self._classes = {cls.__name__: cls for cls in classes}

    @property
    def names(self):
        """The names `lookup` accepts, sorted."""
        return sorted(self._names)

    @property
    def classes(self):
        """{class name: class} of the classes a serialized dict may name (a copy)."""
        return dict(self._classes)

    def lookup(self, identifier, arg_name=None):
        """The entry named `identifier` (any case), or a ValueError listing the valid
        names (a TypeError for a non-string)."""
        arg_name = arg_name or self.arg_name
        if not isinstance(identifier, str):
            raise TypeError(f"`{arg_name}` must be a {self.kind} name or object; got "
                            f"{identifier!r}")
        key = identifier.lower()
        if key not in self._names:
            valid = ", ".join(sorted(self._names))
            raise ValueError(f"`{arg_name}` must be one of the {self.kind} names [{valid}]; "
                             f"got {identifier!r}")
        return self._names[key]

    def config_dict(self, identifier, arg_name=None):
        """The (class_name, config) of a Keras-style serialized `identifier`, or a
        ValueError when the dict is not {'class_name': ..., 'config': ...}."""
        arg_name = arg_name or self.arg_name
        class_name, config = identifier.get("class_name"), identifier.get("config", {})
        if not isinstance(class_name, str) or not isinstance(config, dict) \
                or set(identifier) - {"class_name", "config", "module", "registered_name"}:
            raise ValueError(f"`{arg_name}` as a dict must be a serialized {self.kind}, "
                             f"{{'class_name': str, 'config': dict}}; got {identifier!r}")
        return class_name, config

    def from_config(self, identifier, arg_name=None):
        """The object of serialized `identifier`; an unknown class or a config its
        constructor rejects raises a ValueError naming the argument."""
        arg_name = arg_name or self.arg_name
        class_name, config = self.config_dict(identifier, arg_name)
        cls = self._classes.get(class_name)
        if cls is None:
            raise ValueError(f"`{arg_name}` names an unknown {self.kind} class_name "
                             f"{class_name!r}; expected one of {sorted(self._classes)}")
        try:
            return cls.from_config(config)
        except TypeError as exc:   # unknown or missing constructor arguments
            raise ValueError(f"`{arg_name}` holds an invalid {self.kind} config for "
                             f"{class_name} ({exc}); got {config!r}") from None

    def get(self, identifier, arg_name=None):
        """An instance of `base` passes; a dict is deserialized (`from_config`); a name
        gives a new instance of its class with the default arguments."""
        if self.base is not None and isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, dict):
            return self.from_config(identifier, arg_name)
        return self.lookup(identifier, arg_name)()

    def serialize(self, obj, strict=False, arg_name=None):
        """{'class_name': ..., 'config': ...} of `obj`; with `strict`, a ValueError unless
        its class is one of the registered classes (so the dict can be read back)."""
        name = type(obj).__name__
        if strict and self._classes.get(name) is not type(obj):
            raise ValueError(f"`{arg_name or self.arg_name}` must be one of the {self.kind} "
                             f"classes {sorted(self._classes)} to be serialized; got {obj!r}")
        return {"class_name": name, "config": obj.get_config()}
