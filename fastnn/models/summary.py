"""The text of ``model.summary()``, in Keras' layout."""


def _fmt_shape(shape):
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def summary_text(model, width=65):
    """The summary table of a Sequential model as a string."""
    cols = (29, 26, 10)
    lines = [f'Model: "{model.name}"', "┏" + "┳".join("━" * (c + 1) for c in cols) + "┓"]
    lines.append("┃ " + "Layer (type)".ljust(cols[0]) + "┃ " + "Output Shape".ljust(cols[1])
                 + "┃ " + "Param #".rjust(cols[2] - 1) + " ┃")
    lines.append("┡" + "╇".join("━" * (c + 1) for c in cols) + "┩")
    shape = model.input_shape[1:] if model.built else None
    for layer in model.layers:
        if shape is not None:
            shape = layer.compute_output_shape(shape)
            out = _fmt_shape((None,) + tuple(shape))
            params = f"{layer.count_params():,}"
        else:
            out, params = "?", "0 (unbuilt)"
        name = f"{layer.name} ({type(layer).__name__})"
        lines.append("│ " + name.ljust(cols[0]) + "│ " + out.ljust(cols[1]) + "│ "
                     + params.rjust(cols[2] - 1) + " │")
    lines.append("└" + "┴".join("─" * (c + 1) for c in cols) + "┘")
    total = model.count_params() if model.built else 0
    trainable = sum(l.count_trainable_params() for l in model.layers) if model.built else 0
    itemsize = model.weights[0].dtype.itemsize if model.built and model.weights else 4
    lines.append(f" Total params: {total:,} ({_fmt_bytes(total * itemsize)})")
    lines.append(f" Trainable params: {trainable:,} ({_fmt_bytes(trainable * itemsize)})")
    lines.append(f" Non-trainable params: {total - trainable:,} "
                 f"({_fmt_bytes((total - trainable) * itemsize)})")
    # how a training step runs, once the model is compiled and has met its data
    if getattr(model, "executor", None) is not None and model._training_ready:
        lines.append(f" Executor ({model.executor.backend.name}): "
                     f"{model.executor.description}")
    return "\n".join(lines)


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
