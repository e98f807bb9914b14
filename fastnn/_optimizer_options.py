"""Keras 3's options of every optimizer around its update rule: an exponential moving
average of the weights (`use_ema`, `ema_momentum`, `ema_overwrite_frequency`) and
gradient accumulation (`gradient_accumulation_steps`), with Keras' semantics
(keras.optimizers.Optimizer.apply):

  * with accumulation, a call of `apply` is a micro-step: the gradients are added to
    per-parameter accumulators, and every `gradient_accumulation_steps`-th call the
    rule runs once on (accumulated + this gradient) / steps (clipped, weight decay
    applied, as a plain step), and the accumulators are reset. `iterations` counts the
    rule's updates (Keras' micro-steps // steps), which schedules and bias corrections
    read;
  * with EMA, after every call (micro-steps included) each average := m avg + (1 - m) w,
    with m = ema_momentum, or 0 while `iterations` is 0 (the first update's weights are
    copied); with ema_overwrite_frequency f, the weights are overwritten by their
    averages when (iterations + 1) % f == 0, `iterations` read before the call counts;
  * `finalize_variable_values` (run by fit at its end) overwrites the weights by their
    averages.

The averages ("average") and the accumulators ("gradient_accumulator") are slots of
the optimizer, so saved models keep them; the count of micro-steps is a state scalar.
The compiled training step runs neither (fastnn/backend/compiled_executor.py refuses
such an optimizer, and the model trains layer by layer).
"""
from fastnn import _validation

EMA_SLOT = "average"
ACCUMULATOR_SLOT = "gradient_accumulator"


def configure(opt, use_ema, ema_momentum, ema_overwrite_frequency,
              gradient_accumulation_steps):
    """Check the options as Keras does and set them on `opt`."""
    opt.use_ema = bool(use_ema)
    opt.ema_momentum = _validation.real(ema_momentum, "ema_momentum", 0, 1)
    if ema_overwrite_frequency is not None and (
            isinstance(ema_overwrite_frequency, bool)
            or not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1):
        raise ValueError(f"`ema_overwrite_frequency` must be an integer >= 1 or None; got "
                         f"{ema_overwrite_frequency!r}")
    opt.ema_overwrite_frequency = ema_overwrite_frequency
    if gradient_accumulation_steps is not None and (
            isinstance(gradient_accumulation_steps, bool)
            or not isinstance(gradient_accumulation_steps, int)
            or gradient_accumulation_steps < 2):
        raise ValueError(f"`gradient_accumulation_steps` must be an integer >= 2 or None; "
                         f"got {gradient_accumulation_steps!r}")
    opt.gradient_accumulation_steps = gradient_accumulation_steps
    opt._micro_steps = 0
    if gradient_accumulation_steps:
        opt.state_scalars = type(opt).state_scalars + ("_micro_steps",)


def active(opt):
    """Whether `opt` uses EMA or gradient accumulation."""
    return opt.use_ema or bool(opt.gradient_accumulation_steps)


def extra_slots(opt):
    """The slots the options add to every parameter's."""
    return (((EMA_SLOT,) if opt.use_ema else ())
            + ((ACCUMULATOR_SLOT,) if opt.gradient_accumulation_steps else ()))


def apply(opt, params, grads, plain_apply):
    """One call of `apply` with the options; `plain_apply(params, grads)` runs the rule's
    step (clipping, weight decay, the update, counting `iterations`)."""
    if not opt._slots_fit(params):
        opt.build(params)
    steps = opt.gradient_accumulation_steps
    before = opt.iterations       # Keras' `iterations` before this call
    if steps:
        micro = int(opt._micro_steps)
        accumulators = [s[ACCUMULATOR_SLOT] for s in opt._slots]
        if (micro + 1) % steps == 0:
            plain_apply(params, [(g + a) / steps for g, a in zip(grads, accumulators)])
            for a in accumulators:
                a[...] = 0
        else:
            for a, g in zip(accumulators, grads):
                a[...] = g + a
        opt._micro_steps = micro + 1
    else:
        plain_apply(params, grads)
    if opt.use_ema:
        momentum = opt.ema_momentum if before != 0 else 0.0
        for p, s in zip(params, opt._slots):
            average = s[EMA_SLOT]
            average[...] = momentum * average + (1 - momentum) * p
        frequency = opt.ema_overwrite_frequency
        if frequency and (before + 1) % frequency == 0:
            finalize(opt, params)


def finalize(opt, params):
    """Overwrite the weights `params` (those the optimizer updates, in order) by their
    moving averages; nothing without EMA or before the first step."""
    if not opt.use_ema or opt._slots is None:
        return
    if len(params) != len(opt._slots):
        raise ValueError(f"the optimizer keeps {len(opt._slots)} moving averages; got "
                         f"{len(params)} variables")
    for p, s in zip(params, opt._slots):
        p[...] = s[EMA_SLOT]


def config(opt):
    """The options' entries of get_config."""
    return {"use_ema": opt.use_ema, "ema_momentum": opt.ema_momentum,
            "ema_overwrite_frequency": opt.ema_overwrite_frequency,
            "gradient_accumulation_steps": opt.gradient_accumulation_steps}
