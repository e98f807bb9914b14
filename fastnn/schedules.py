"""Learning-rate schedules, with the names, arguments and formulas of
``keras.optimizers.schedules``.

A schedule is called with the optimizer's step count (0 for the first update) and returns
the learning rate of that step. Pass one wherever a learning rate is accepted:

Example:
    >>> from fastnn import optimizers, schedules
    >>> lr = schedules.ExponentialDecay(0.01, decay_steps=100, decay_rate=0.9)
    >>> opt = optimizers.SGD(learning_rate=lr)
    >>> round(lr(100), 6)
    0.009
"""
import math

from fastnn import _validation
from fastnn._registry import Configurable, Registry

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "CosineDecay", "InverseTimeDecay", "PolynomialDecay", "CosineDecayRestarts",
           "serialize", "deserialize", "get"]


def _number(value, name, positive=False):
    try:
        return _validation.real(value, name, 0 if positive else None, min_open=positive)
    except TypeError as exc:   # schedules raise ValueError for any bad number
        raise ValueError(str(exc)) from None


def _step(step):
    try:
        return _validation.real(step, "step", 0)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class LearningRateSchedule(Configurable):
    """Base class: ``schedule(step)`` is the learning rate at optimizer step `step`."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        """JSON-safe constructor arguments."""
        raise NotImplementedError


class _PeriodDecay(LearningRateSchedule):
    """A rate that is a function of p = step / decay_steps (floored with `staircase`):
    the arguments, checks and config ExponentialDecay and InverseTimeDecay share."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", positive=True)
        self.decay_rate = _number(decay_rate, "decay_rate")
        self.staircase, self.name = bool(staircase), name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        return self._rate(math.floor(p) if self.staircase else p)

    def _rate(self, p):
        raise NotImplementedError

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_PeriodDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with `staircase`
    the exponent is floored, so the rate drops every `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per decay period (> 0).
        decay_rate: the factor per period.
        staircase: whether to decay in discrete steps.
        name: an optional name.

    Example:
        >>> from fastnn.schedules import ExponentialDecay
        >>> ExponentialDecay(0.1, 10, 0.5, staircase=True)(25)
        0.025
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rate(self, p):
        return self.initial_learning_rate * self.decay_rate ** p


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to and including step ``boundaries[0]``, ``values[1]`` up to
    ``boundaries[1]``, ..., ``values[-1]`` after the last boundary.

    Args:
        boundaries: increasing step numbers.
        values: one more rate than there are boundaries.
        name: an optional name.

    Example:
        >>> from fastnn.schedules import PiecewiseConstantDecay
        >>> lr = PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
        >>> lr(100), lr(101), lr(500)
        (0.1, 0.01, 0.001)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"`values` must have one more entry than `boundaries` "
                             f"({len(boundaries) + 1}); got {len(values)}")
        self.boundaries = [_number(b, "boundaries") for b in boundaries]
        if any(b >= a for a, b in zip(self.boundaries[1:], self.boundaries)):
            raise ValueError(f"`boundaries` must be strictly increasing; got {boundaries!r}")
        self.values = [_number(v, "values") for v in values]
        self.name = name

    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """An optional linear warm-up, then a cosine decay to ``alpha`` times the peak.

    Without warm-up the rate is ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * t)) + alpha)``
    with ``t = min(step, decay_steps) / decay_steps``. With `warmup_target`, the rate
    rises linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps`,
    then decays from `warmup_target` over the next `decay_steps`.

    Args:
        initial_learning_rate: the starting rate.
        decay_steps: the length of the decay (> 0).
        alpha: the final rate as a fraction of the peak.
        name: an optional name.
        warmup_target: the peak rate after warm-up (None: no warm-up).
        warmup_steps: the length of the warm-up.

    Example:
        >>> from fastnn.schedules import CosineDecay
        >>> lr = CosineDecay(0.1, decay_steps=100)
        >>> lr(0), round(lr(50), 6), lr(100)
        (0.1, 0.05, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", positive=True)
        self.alpha = _number(alpha, "alpha")
        self.name = name
        self.warmup_target = (None if warmup_target is None
                              else _number(warmup_target, "warmup_target"))
        self.warmup_steps = _number(warmup_steps, "warmup_steps")
        if self.warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be >= 0; got {warmup_steps!r}")

    def _decay(self, step, peak):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return peak * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + delta * step / self.warmup_steps
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class InverseTimeDecay(_PeriodDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with `staircase`
    the ratio ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: how often the decay is applied (> 0).
        decay_rate: the decay factor.
        staircase: whether to decay in discrete steps.
        name: an optional name.

    Example:
        >>> from fastnn.schedules import InverseTimeDecay
        >>> InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)(10)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _rate(self, p):
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class PolynomialDecay(LearningRateSchedule):
    """``(lr0 - end) * (1 - step / decay_steps) ** power + end``, with the step held at
    `decay_steps` after it; with `cycle`, `decay_steps` is instead multiplied by
    ``ceil(step / decay_steps)`` (1 at step 0), so the decay restarts from a lower peak.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the length of the decay (> 0).
        end_learning_rate: the final rate.
        power: the power of the polynomial.
        cycle: whether to cycle past `decay_steps`.
        name: an optional name.

    Example:
        >>> from fastnn.schedules import PolynomialDecay
        >>> lr = PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0)
        >>> round(lr(5), 6), lr(20)
        (0.05, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _number(decay_steps, "decay_steps", positive=True)
        self.end_learning_rate = _number(end_learning_rate, "end_learning_rate")
        self.power = _number(power, "power")
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        step, steps = _step(step), self.decay_steps
        if self.cycle:
            steps = steps * (1.0 if step == 0 else math.ceil(step / self.decay_steps))
        else:
            step = min(step, steps)
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1.0 - step / steps) ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): a cosine decay over `first_decay_steps`,
    then again over ``t_mul`` times as many steps from ``m_mul`` times the peak, and so on.

    With f = step / first_decay_steps, restart i = floor(log(1 - f (1 - t_mul)) /
    log(t_mul)) (floor(f) for t_mul = 1), and the fraction t of that period done, the
    rate is ``lr0 * ((1 - alpha) * 0.5 * m_mul ** i * (1 + cos(pi t)) + alpha)``.

    Args:
        initial_learning_rate: the starting rate.
        first_decay_steps: the length of the first period (> 0).
        t_mul: the factor of each period's length over the previous one's (> 0).
        m_mul: the factor of each period's peak over the previous one's.
        alpha: the minimum rate as a fraction of `initial_learning_rate`.
        name: an optional name.

    Example:
        >>> from fastnn.schedules import CosineDecayRestarts
        >>> lr = CosineDecayRestarts(0.1, first_decay_steps=10)
        >>> lr(0), round(lr(5), 6), lr(10)
        (0.1, 0.05, 0.1)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate")
        self.first_decay_steps = _number(first_decay_steps, "first_decay_steps",
                                         positive=True)
        self.t_mul = _number(t_mul, "t_mul", positive=True)
        self.m_mul = _number(m_mul, "m_mul")
        self.alpha = _number(alpha, "alpha")
        self.name = name

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = self.t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        cosine = 0.5 * self.m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


REGISTRY = Registry("schedule", "schedule", classes=(
    ExponentialDecay, PiecewiseConstantDecay, CosineDecay, InverseTimeDecay, PolynomialDecay,
    CosineDecayRestarts), base=LearningRateSchedule)


def serialize(schedule):
    """{'class_name': ..., 'config': ...} of a schedule (JSON-safe).

    Raises:
        ValueError: for a callable that is not one of fastnn's schedules (a plain function
            cannot be stored as data).
    """
    return REGISTRY.serialize(schedule, strict=True)


def get(identifier):
    """The schedule described by a `serialize` dict (a schedule object passes through).

    Example:
        >>> from fastnn import schedules
        >>> lr = schedules.get({"class_name": "CosineDecay",
        ...                     "config": {"initial_learning_rate": 0.1, "decay_steps": 10}})
    """
    if not isinstance(identifier, (LearningRateSchedule, dict)):
        raise ValueError(f"`schedule` must be a schedule or a dict with 'class_name' and "
                         f"'config'; got {identifier!r}")
    return REGISTRY.get(identifier)


deserialize = get
