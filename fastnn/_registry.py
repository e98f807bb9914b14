"""String-name lookup shared by activations, losses, optimizers, metrics and friends."""


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
