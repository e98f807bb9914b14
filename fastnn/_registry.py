"""String-name lookup shared by activations, losses, optimizers, metrics and friends, and
the Keras config round trip their base classes share."""


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


def lookup(table, identifier, arg_name, kind):
    """The entry of `table` named `identifier`, or a ValueError listing the valid names."""
    if not isinstance(identifier, str):
        raise TypeError(f"`{arg_name}` must be a {kind} name or object; got {identifier!r}")
    key = identifier.lower()
    if key not in table:
        valid = ", ".join(sorted(table))
        raise ValueError(f"`{arg_name}` must be one of the {kind} names [{valid}]; "
                         f"got {identifier!r}")
    return table[key]
