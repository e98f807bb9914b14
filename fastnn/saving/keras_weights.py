"""The variables of a model in Keras 3's HDF5 layout (see keras_h5): each layer's
weights under ``layers/<name>/vars`` in Keras' order (fastnn's `get_weights` order; an
adapted Normalization adds Keras' sample count), the model's empty ``vars``, and the
optimizer's variables under ``optimizer/vars``: ``iterations``, the learning rate
(unless it is a schedule), then its slots in the order Keras creates them."""
import warnings

import numpy

from fastnn.saving import keras_graph
from fastnn.saving.archive import FormatError

# Keras' optimizer slots after its moving averages and gradient accumulators (when
# used): groups made in turn, each holding its slots parameter by parameter, its names
# interleaved within a parameter, as fastnn names them
_SLOTS = {
    "SGD": lambda o: [("momentum",)] if o.momentum > 0 else [],
    "Adam": lambda o: [("m", "v")] + ([("v_max",)] if o.amsgrad else []),
    "RMSprop": lambda o: [("velocity",)] + ([("momentum",)] if o.momentum > 0 else [])
    + ([("average_grad",)] if o.centered else []),
    "Adagrad": lambda o: [("accumulator",)], "Adamax": lambda o: [("m", "u")],
    "Nadam": lambda o: [("m", "v")],
    "Adadelta": lambda o: [("accumulated_grad", "accumulated_delta_var")],
    "Lion": lambda o: [("momentum",)], "Ftrl": lambda o: [("accumulator", "linear")]}
_SLOTS["AdamW"] = _SLOTS["Adam"]
# scalar state Keras keeps as variables after the slots
_SCALARS = {"Nadam": ("_u_product",)}


def _extra(layer):
    """Keras' variables a fastnn layer has not: an adapted Normalization's count."""
    if type(layer).__name__ == "Normalization" and layer.weights:
        return [numpy.array(0, dtype=numpy.int32)]
    return []


# ---------------------------------------------------------------------------- writing
def write(model, writer, with_optimizer=True):
    """Add the model's (and its optimizer's) variables to `writer` (keras_h5)."""
    for path, name, layer in keras_graph.weight_groups(model):
        arrays = [] if layer is None else layer.get_weights() + _extra(layer)
        writer.add(path, name, arrays)
    writer.add("", model.name, [])
    opt = getattr(model, "optimizer", None)
    if with_optimizer and opt is not None and model.built:
        writer.add("optimizer", opt.name, _optimizer_arrays(model, opt))


def _layout(opt):
    name = type(opt).__name__
    if name not in _SLOTS:
        return None
    groups = [(s,) for s in ("average", "gradient_accumulator") if s in _extra_slots(opt)]
    return groups + _SLOTS[name](opt), _SCALARS.get(name, ())


def _extra_slots(opt):
    from fastnn import _optimizer_options
    return _optimizer_options.extra_slots(opt)


def _keras_iterations(opt):
    return int(opt._micro_steps) if opt.gradient_accumulation_steps else int(opt.iterations)


def _optimizer_arrays(model, opt):
    iterations = _keras_iterations(opt)    # Keras' variable is int32
    arrays = [numpy.array(iterations, numpy.int32 if iterations < 2 ** 31 else numpy.int64)]
    if not callable(opt._learning_rate):
        arrays.append(numpy.array(opt.learning_rate, dtype=numpy.float32))
    layout = _layout(opt)
    state = opt.get_state()
    if layout is None or state["slots"] is None:
        return arrays
    groups, scalars = layout
    slots = _slots_by_param(model, state["slots"])
    for group in groups:
        arrays.extend(slots[id(p)][name] for p in keras_graph.keras_params(model)
                      for name in group)
    dtype = keras_graph.keras_params(model)[0].dtype if slots else numpy.float32
    arrays.extend(numpy.array(state["scalars"][s], dtype=dtype) for s in scalars)
    return arrays


def _slots_by_param(model, slots):
    from fastnn.saving import state as _state
    return {id(p): s for p, s in zip(_state._trainable_params(model), slots)}


# ---------------------------------------------------------------------------- reading
def read(model, store, with_optimizer=True):
    """Set the model's weights (and its optimizer's state) from `store` (keras_h5)."""
    for path, name, layer in keras_graph.weight_groups(model):
        expected = [] if layer is None else [tuple(w.shape) for w in layer.weights]
        extra = [] if layer is None else _extra(layer)
        names = store.names(path)
        if len(names) != len(expected) + len(extra) or \
                names != sorted(str(i) for i in range(len(names))):
            raise FormatError(f"its group {path!r} (layer {name!r}) must hold "
                              f"{len(expected) + len(extra)} variables; it holds "
                              f"{len(names)} {names[:8]}")
        if layer is None:
            continue
        arrays = [store.array(path, i, shape) for i, shape in enumerate(expected)]
        for j, value in enumerate(extra):
            store.array(path, len(expected) + j, value.shape, kinds="iuf")
        try:
            layer.set_weights(arrays)
        except ValueError as exc:
            raise FormatError(str(exc)) from None
    opt = getattr(model, "optimizer", None)
    if with_optimizer and opt is not None and store.names("optimizer"):
        _read_optimizer(model, opt, store)


def _read_optimizer(model, opt, store):
    names = store.names("optimizer")
    layout = _layout(opt)
    has_lr = not callable(opt._learning_rate)
    head = 1 + has_lr
    params = keras_graph.keras_params(model)
    full = None if layout is None else head + sum(len(g) for g in layout[0]) * len(
        params) + len(layout[1])
    if len(names) not in (head, full):
        warnings.warn(f"the optimizer {opt.name!r} has {full or head} variables and the "
                      f"file's has {len(names)}: its state is not restored", stacklevel=3)
        return
    keras_iterations = int(store.array("optimizer", 0, (), kinds="iu"))
    if keras_iterations < 0:
        raise FormatError(f"the optimizer's iterations must be >= 0; got {keras_iterations}")
    if has_lr:
        lr = float(store.array("optimizer", 1, ()))
        if not numpy.isfinite(lr) or lr < 0:
            raise FormatError(f"the optimizer's learning rate must be >= 0; got {lr}")
        # the variable is float32: it overrides the config's rate only where it holds
        # another one (changed during training), not the config's own, rounded
        if numpy.float32(lr) != numpy.float32(opt.learning_rate):
            opt.learning_rate = lr
    state = opt.get_state()
    steps = opt.gradient_accumulation_steps
    state["iterations"] = keras_iterations // steps if steps else keras_iterations
    if steps:
        state["scalars"]["_micro_steps"] = float(keras_iterations)
    if len(names) == full and params:
        from fastnn.saving import state as _state
        ordered = _state._trainable_params(model)
        opt.build(ordered)
        slots = {id(p): {} for p in ordered}
        index = head
        for group in layout[0]:
            for p in params:
                for name in group:
                    slots[id(p)][name] = store.array("optimizer", index, tuple(p.shape))
                    index += 1
        for name in layout[1]:
            state["scalars"][name] = float(store.array("optimizer", index, ()))
            index += 1
        state["slots"] = [slots[id(p)] for p in ordered]
    opt.set_state(state)
