"""The weight constraints of a program (fastnn/constraints.py) as the compiled step
applies them (fastnn/_kernels/constraints.pxi): right after each update, with the bits of
the layers' own `apply_constraints`.

A constraint runs compiled where it is one of fastnn's own (MaxNorm, NonNeg, UnitNorm,
MinMaxNorm, not a subclass with its own Python) on a 1-D or 2-D weight, with an `axis`
whose norms are per column (axis 0 of a kernel), per row (axis 1) or over the whole weight
(both axes, or axis 0 of a bias).
"""
import numpy

from fastnn.variables import plain


def _compiled_name(constraint):
    """The kernel name of a constraint of fastnn.constraints' own classes (their
    `compiled_name`, set in the class itself), else None."""
    return vars(type(constraint)).get("compiled_name")


def constrained_weights(layers):
    """[(layer, weight name, weight, constraint)] of every constrained parameter of the
    trainable `layers` (the ones the layer-by-layer step projects after an update)."""
    found = []
    for layer in layers:
        if not (layer.trainable and hasattr(layer, "apply_constraints")):
            continue
        for name, weight in zip(getattr(layer, "_param_names", ()), layer._params):
            constraint = getattr(layer, f"{name}_constraint", None)
            if constraint is not None:
                found.append((layer, name, weight, constraint))
    return found


def norm_sums(constraint, ndim):
    """Which elements of a weight of `ndim` dimensions share a norm under `constraint`
    ("cols", "rows", "all"; "none" for NonNeg), or None where the compiled step has no
    such sum."""
    if _compiled_name(constraint) == "non_neg":
        return "none"
    axes = constraint.axis if isinstance(constraint.axis, tuple) else (constraint.axis,)
    if not axes or any(not -ndim <= a < ndim for a in axes):
        return None
    axes = frozenset(a % ndim for a in axes)
    if ndim == 1:
        return "all"
    if ndim == 2:
        return {frozenset({0}): "cols", frozenset({1}): "rows"}.get(axes, "all")
    return None


def why_not_constraints(layers):
    """Why the compiled step cannot apply the constraints of `layers` (a sentence), or
    None."""
    for layer, name, weight, constraint in constrained_weights(layers):
        what = f"the {name}_constraint of layer {layer.name!r}"
        if _compiled_name(constraint) is None:
            return f"{what} is the user's own Python ({type(constraint).__name__})"
        if weight.ndim not in (1, 2) or norm_sums(constraint, weight.ndim) is None:
            return (f"{what} takes norms along axis {constraint.axis} of a weight of "
                    f"shape {tuple(weight.shape)}")
    return None


def compiled_constraints(layers, kernels):
    """The constraints of `layers` as a `kernels.Constraints`: None where there are
    none, False where the weights are not of one dtype, float32 or float64 (the
    layer-by-layer step applies them); why_not_constraints(layers) must be None."""
    found = constrained_weights(layers)
    if not found:
        return None
    weights, specs = [], []
    for _, _, weight, constraint in found:
        kind = _compiled_name(constraint)
        sums = norm_sums(constraint, weight.ndim)
        config = constraint.get_config()
        specs.append((kernels.CONSTRAINT_KINDS[kind],
                      kernels.CONSTRAINT_SUMS["all" if sums == "none" else sums],
                      float(config.get("min_value", 0.0)),
                      float(config.get("max_value", 0.0)), float(config.get("rate", 1.0)),
                      float(constraint.epsilon)))
        weights.append(plain(weight))
    if len({w.dtype for w in weights}) != 1 or weights[0].dtype not in (numpy.float32,
                                                                         numpy.float64):
        return False
    return kernels.Constraints(weights, specs)
