"""The optimizer base class: Keras' common arguments, the slots, one update per
parameter through the backend, and the compiled update of all parameters at once (a
ParamGroup) for the cpu backend's training step. The optimizers themselves are in
fastnn/optimizers.py.
"""
import math

import numpy

from fastnn import _codes, _optimizer_options, _validation
from fastnn._threads import get_num_threads
from fastnn.backend import get_backend


def group_code(name):
    """The compiled ParamGroup's code `name` (GROUP_ADAM, CLIP_NORM, GROUP_UPDATE_WIDTH,
    ...), from the table of fastnn/_codes.py (OPTIMIZER_RULES, CLIP_MODES), their one
    definition, which the compiled module was built with."""
    return _codes.GROUP_CODES[name]


def _check_positive(name, value, allow_zero=False):
    return _validation.real(value, name, 0, min_open=not allow_zero)


class Optimizer:
    """Base class. Subclasses define `slot_names` and `update_step`, and `_group_args`
    for the compiled update of all parameters in one call (ParamGroup; without it, or
    with an `update_step` of a subclass's own, each parameter is updated by its own call).

    Every optimizer takes Keras' common arguments: `learning_rate` (a float, or a
    schedule from fastnn.schedules, evaluated at each step), `weight_decay`, and one of
    `clipnorm` (each gradient rescaled to at most that L2 norm), `clipvalue` (each value
    clipped to [-clipvalue, clipvalue]) or `global_clipnorm` (all gradients rescaled
    together); and Keras' `use_ema`, `ema_momentum`, `ema_overwrite_frequency` and
    `gradient_accumulation_steps` (fastnn/_optimizer_options.py).
    """

    slot_names = ()
    # attributes, besides `iterations` and the slots, that a saved model must restore
    # for training to resume exactly
    state_scalars = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, gradient_accumulation_steps=None,
                 name=None):
        self._learning_rate = None
        self.learning_rate = learning_rate
        self.weight_decay = (None if weight_decay is None
                             else _check_positive("weight_decay", weight_decay, True))
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                 "global_clipnorm": global_clipnorm}
        given = [k for k, v in clips.items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"only one of `clipnorm`, `clipvalue` and `global_clipnorm` may "
                             f"be set; got {', '.join(given)}")
        self.clipnorm, self.clipvalue, self.global_clipnorm = (
            None if v is None else _check_positive(k, v) for k, v in clips.items())
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {name!r}")
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._slots = None
        _optimizer_options.configure(self, use_ema, ema_momentum, ema_overwrite_frequency,
                                     gradient_accumulation_steps)

    @property
    def learning_rate(self):
        """The learning rate at the current step (a schedule is evaluated here, as in
        Keras at the count of `apply` calls, micro-steps of gradient accumulation
        included)."""
        if callable(self._learning_rate):
            step = (self._micro_steps if self.__dict__.get("gradient_accumulation_steps")
                    else self.iterations)
            return float(self._learning_rate(int(step)))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = value
            return
        if callable(self._learning_rate):
            raise TypeError("`learning_rate` cannot be set to a number on an optimizer "
                            "created with a schedule; create it with a float learning_rate "
                            f"to change the rate during training; got {value!r}")
        self._learning_rate = _check_positive("learning_rate", value, allow_zero=True)

    def build(self, params):
        """Create the slot variables (zeros like each parameter)."""
        backend = get_backend()
        extra = _optimizer_options.extra_slots(self)
        self._slots = [{name: self._init_slot(name, backend, p) for name in
                        self._active_slots()}
                       | {name: backend.zeros(p.shape, p.dtype) for name in extra}
                       for p in params]
        self._slot_ids = tuple(map(id, params))
        self._group = None

    def _slots_fit(self, params):
        """Whether the slots were built for these parameters, or for ones of their shapes
        (a model changed by add/pop gets new slots, not ones of another shape)."""
        if self._slots is None or len(self._slots) != len(params):
            return False
        ids = tuple(map(id, params))
        if ids == self._slot_ids:
            return True
        if any(s.shape != p.shape for slots, p in zip(self._slots, params)
               for s in slots.values()):
            return False
        self._slot_ids = ids
        return True

    def _active_slots(self):
        return self.slot_names

    def _init_slot(self, name, backend, param):
        return backend.zeros(param.shape, param.dtype)

    @property
    def variables(self):
        """The slot arrays, parameter by parameter, in a fixed order."""
        return [slots[name] for slots in (self._slots or []) for name in sorted(slots)]

    def get_state(self):
        """What training needs to resume exactly: {'iterations': int, 'scalars': {name:
        float} (the `state_scalars`), 'slots': None before `build`, else one {slot name:
        NumPy copy} per parameter}."""
        slots = None
        if self._slots is not None:
            backend = get_backend()
            slots = [{name: backend.to_numpy(s[name]).copy() for name in sorted(s)}
                     for s in self._slots]
        return {"iterations": int(self.iterations),
                "scalars": {name: float(getattr(self, name)) for name in self.state_scalars},
                "slots": slots}

    def set_state(self, state):
        """Restore a `get_state` dict. Its 'slots' (if not None) must have the names and
        shapes of the slots `build` made for the parameters; a ValueError otherwise."""
        scalars = state.get("scalars") or {}
        if set(scalars) != set(self.state_scalars):
            raise ValueError(f"`state` scalars must be {sorted(self.state_scalars)}; got "
                             f"{sorted(scalars)}")
        slots = state.get("slots")
        if slots is not None:
            built = self._slots or []
            if len(slots) != len(built) or any(
                    sorted(new) != sorted(old) or any(tuple(numpy.shape(new[n])) !=
                                                      tuple(old[n].shape) for n in old)
                    for new, old in zip(slots, built)):
                raise ValueError(f"`state` slots must be "
                                 f"{[sorted(s) for s in built]} with the parameters' "
                                 f"shapes (build the optimizer first)")
        self.iterations = int(state.get("iterations", 0))
        for name, value in scalars.items():
            setattr(self, name, float(value))
        if slots is not None:
            backend = get_backend()
            for new, old in zip(slots, self._slots):
                for name in old:
                    old[name][...] = backend.asarray(new[name])

    def apply(self, params, grads, n_threads=None):
        """One step: update every parameter in place from its gradient (on `n_threads`
        threads; by default fastnn's setting)."""
        if _optimizer_options.active(self):
            _optimizer_options.apply(self, params, grads,
                                     lambda p, g: self._apply(p, g, n_threads))
        else:
            self._apply(params, grads, n_threads)

    def finalize_variable_values(self, var_list):
        """Keras' end of training: with `use_ema`, overwrite the weights `var_list`
        (those this optimizer updates, in order) by their moving averages."""
        _optimizer_options.finalize(self, var_list)

    def _apply(self, params, grads, n_threads):
        group = self.param_group(params, grads)
        if group is not None:
            group.update(*self.group_update_args(),
                         get_num_threads() if n_threads is None else n_threads)
            return
        backend = get_backend()
        scalars, wd_lr = self._next_step()
        scale = self._global_clip_scale(backend, grads)
        for param, grad, slots in zip(params, grads, self._slots):
            if scale is not None:
                grad = grad * scale
            elif self.clipvalue is not None or self.clipnorm is not None:
                grad = self._clip(backend, grad)
            self.update_step(backend, param, grad, slots, scalars, wd_lr)

    def param_group(self, params, grads, regularizers=None):
        """The compiled update of all these parameters at once (a ParamGroup, cached),
        for the cpu backend's training step, with each parameter's regularizer (a list
        as `params` of fastnn.regularizers objects or None; None: no regularizer) and
        this optimizer's clipping; None on another backend, or for parameters of mixed
        dtypes or layouts (then call `apply`). Builds the slots if needed."""
        if not self._slots_fit(params):
            self.build(params)
        return self._param_group(get_backend(), params, grads, regularizers)

    def group_update_args(self):
        """Count one more step and return ParamGroup.update's arguments for it, but the
        thread count: for a caller that runs the update of `param_group` itself."""
        return self._group_args(*self._next_step())

    def group_update_rows(self, n_steps):
        """group_update_args of each of the next n_steps steps (a list of tuples): for a
        caller that runs n_steps updates of `param_group` in one call."""
        return [self.group_update_args() for _ in range(n_steps)]

    def _next_step(self):
        """Count one more step; its scalars (_step_scalars) and the decoupled weight decay
        times the learning rate."""
        lr = self.learning_rate
        self.iterations += 1
        return self._step_scalars(lr, self.iterations), (self.weight_decay or 0.0) * lr

    @property
    def group_slots(self):
        """The slots of the compiled update of all parameters in one call
        (fastnn._kernels.compiled.ParamGroup), in the order its rule reads them."""
        return self._active_slots()

    def _clip_setting(self):
        """ParamGroup's clipping: (CLIP_* code, bound)."""
        for name, value in (("CLIP_VALUE", self.clipvalue), ("CLIP_NORM", self.clipnorm),
                            ("CLIP_GLOBAL_NORM", self.global_clipnorm)):
            if value is not None:
                return group_code(name), float(value)
        return group_code("CLIP_NONE"), 0.0

    def _param_group(self, backend, params, grads, regularizers=None):
        """The cached compiled update of these exact arrays on `backend`, or None where
        the backend has none (backend.param_group) or the update is the user's own."""
        regs = [None] * len(params) if regularizers is None else list(regularizers)
        if len(regs) != len(params):
            raise ValueError(f"`regularizers` must hold one entry per parameter "
                             f"({len(params)}); got {len(regs)}")
        l1 = [getattr(r, "l1", 0.0) if r is not None else 0.0 for r in regs]
        l2 = [getattr(r, "l2", 0.0) if r is not None else 0.0 for r in regs]
        clip = self._clip_setting()
        cached = self.__dict__.get("_group")
        # everything the answer depends on: it is asked for at every run of steps
        key = (backend, tuple(map(id, params)), tuple(map(id, grads)),
               tuple(map(type, regs)), tuple(l1), tuple(l2), clip)
        if cached is not None and cached[0] == key:
            return cached[2]
        group = None
        if self.updates_in_one_call(regs):
            slots = [[s[name] for s in self._slots] for name in self.group_slots]
            group = backend.param_group(list(params), list(grads), slots, l1, l2, *clip)
        # the arrays are held here, so their ids cannot be reused while cached
        self._group = (key, (tuple(params), tuple(grads)), group)
        return group

    def updates_in_one_call(self, regularizers=()):
        """Whether a backend may update every parameter in one compiled call: the rule is
        one of fastnn's (not a subclass's own update_step) and every regularizer (None
        or a fastnn.regularizers object) is an L1/L2 penalty, not one of its own."""
        from fastnn.regularizers import Regularizer
        own_penalty = any(r is not None and (type(r).__call__ is not Regularizer.__call__ or
                                             type(r).add_gradient is not
                                             Regularizer.add_gradient)
                          for r in regularizers)
        return self._has_group_rule() and not own_penalty

    def _has_group_rule(self):
        """Whether this optimizer's update is a ParamGroup rule: its `_group_args` is
        defined by the class that defines its `update_step` or by a subclass (a
        subclass with an update of its own is updated parameter by parameter)."""
        mro = type(self).__mro__

        def owner(name):
            return next(i for i, c in enumerate(mro) if name in c.__dict__)

        return mro[owner("_group_args")] is not Optimizer and (
            owner("_group_args") <= owner("update_step"))

    def _group_args(self, scalars, wd_lr):
        """ParamGroup.update's row for this step: (rule, lr, decay_1, decay_2, epsilon,
        wd_lr, c_m, c_g, c_v), GROUP_UPDATE_WIDTH values."""
        raise NotImplementedError

    def apply_gradients(self, grads_and_vars):
        """Keras' form: an iterable of (gradient, variable) pairs."""
        pairs = list(grads_and_vars)
        self.apply([v for _, v in pairs], [g for g, _ in pairs])

    def _clip(self, backend, grad):
        """Keras' per-variable clipping: each gradient's values to [-clipvalue, clipvalue],
        or each gradient rescaled so its L2 norm is at most `clipnorm`."""
        xp = backend.xp
        if self.clipvalue is not None:
            return xp.clip(grad, -self.clipvalue, self.clipvalue)
        norm = float(xp.sqrt((grad * grad).sum()))
        if norm > self.clipnorm:
            grad = grad * (self.clipnorm / norm)
        return grad

    def _global_clip_scale(self, backend, grads):
        """The factor bringing the L2 norm of all gradients together down to
        `global_clipnorm`, or None when no rescaling is needed."""
        if self.global_clipnorm is None:
            return None
        total = math.sqrt(sum(float((g * g).sum()) for g in grads))
        return self.global_clipnorm / total if total > self.global_clipnorm else None

    def _step_scalars(self, lr, t):
        return {"lr": lr}

    def update_step(self, backend, param, grad, slots, scalars, wd_lr):
        """Update one parameter in place."""
        raise NotImplementedError

    def get_config(self):
        """JSON-safe constructor arguments."""
        lr = self._learning_rate
        if callable(lr):
            from fastnn.schedules import serialize as serialize_schedule
            lr = serialize_schedule(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm} | _optimizer_options.config(self)

    @classmethod
    def from_config(cls, config):
        """`cls(**config)` (a serialized schedule is rebuilt)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from fastnn.schedules import get as get_schedule
            config["learning_rate"] = get_schedule(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self._learning_rate!r})"
