"""Optimizers with Keras' names, defaults and update rules.

Each step computes the step-dependent scalars (bias corrections, the learning rate of a
schedule) once in Python, then makes one backend call per parameter that updates the
parameter and its slots in place, or, on the cpu backend's training step, one compiled
call for all of them (a ParamGroup: `_group_args` gives its row of values for the step;
the base class, Optimizer, is in fastnn/_optimizer.py).
"""
import math

from fastnn import _validation
from fastnn import schedules  # noqa: F401  (fastnn.optimizers.schedules, as in Keras)
from fastnn._optimizer import Optimizer, group_code
from fastnn._registry import Registry

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam",
           "Adadelta", "Lion", "Ftrl", "get"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _validation.real(momentum, "momentum", 0, 1, max_open=True)
        self.nesterov = bool(nesterov)

    def _active_slots(self):
        return ("momentum",) if self.momentum > 0 else ()

    def _group_args(self, s, wd_lr):
        rule = ("GROUP_SGD" if self.momentum <= 0 else "GROUP_SGD_NESTEROV" if self.nesterov
                else "GROUP_SGD_MOMENTUM")
        return group_code(rule), s["lr"], self.momentum, 0.0, 0.0, wd_lr, 0.0, 0.0, 0.0

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        backend.sgd_update(param, grad, slots.get("momentum"), s["lr"], self.momentum,
                           self.nesterov, wd_lr)

    def get_config(self):
        return super().get_config() | {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba), Keras' defaults; `amsgrad` keeps the running max of v."""
    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        # beta in [0, 1): the bias corrections divide by 1 - beta**t
        self.beta_1 = _validation.real(beta_1, "beta_1", 0, 1, max_open=True)
        self.beta_2 = _validation.real(beta_2, "beta_2", 0, 1, max_open=True)
        self.epsilon = _validation.real(epsilon, "epsilon", 0, min_open=True)
        self.amsgrad = bool(amsgrad)

    def _active_slots(self):
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_ADAM_AMSGRAD" if self.amsgrad else "GROUP_ADAM"),
                s["alpha"], self.beta_1, self.beta_2, self.epsilon, wd_lr, 0.0, 0.0, 0.0)

    def _alpha(self, lr, t):
        """The bias-corrected step size of step t."""
        return lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)

    def _step_scalars(self, lr, t):
        return {"alpha": self._alpha(lr, t)}

    def group_update_rows(self, n_steps):
        # Adamax and Nadam derive from Adam but have other step scalars
        if callable(self._learning_rate) or type(self) not in (Adam, AdamW):
            return super().group_update_rows(n_steps)
        # a constant rate: _next_step's values without its per-step calls and dicts
        lr, t0 = self._learning_rate, self.iterations
        wd_lr = (self.weight_decay or 0.0) * lr
        self.iterations = t0 + n_steps
        rule = group_code("GROUP_ADAM_AMSGRAD" if self.amsgrad else "GROUP_ADAM")
        return [(rule, self._alpha(lr, t), self.beta_1, self.beta_2, self.epsilon, wd_lr,
                 0.0, 0.0, 0.0) for t in range(t0 + 1, t0 + n_steps + 1)]

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        backend.adam_update(param, grad, slots["m"], slots["v"], slots.get("v_max"),
                            s["alpha"], self.beta_1, self.beta_2, self.epsilon, wd_lr)

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2,
                                        "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as in Keras)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop, Keras' defaults (rho 0.9, no momentum, not centered)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _validation.real(rho, "rho", 0, 1, max_open=True)
        self.momentum = _validation.real(momentum, "momentum", 0, 1, max_open=True)
        self.epsilon = _validation.real(epsilon, "epsilon", 0, min_open=True)
        self.centered = bool(centered)

    def _active_slots(self):
        return (("velocity",) + (("average_grad",) if self.centered else ())
                + (("momentum",) if self.momentum > 0 else ()))

    def _group_args(self, s, wd_lr):
        rule = "GROUP_RMSPROP" + ("_CENTERED" if self.centered else "") + (
            "_MOMENTUM" if self.momentum > 0 else "")
        return (group_code(rule), s["lr"], self.rho, self.momentum, self.epsilon, wd_lr,
                0.0, 0.0, 0.0)

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        backend.rmsprop_update(param, grad, slots["velocity"], slots.get("average_grad"),
                               slots.get("momentum"), s["lr"], self.rho, self.momentum,
                               self.epsilon, wd_lr)

    def get_config(self):
        return super().get_config() | {"rho": self.rho, "momentum": self.momentum,
                                        "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad, accumulators starting at `initial_accumulator_value` (0.1)."""
    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _validation.real(
            initial_accumulator_value, "initial_accumulator_value", 0)
        self.epsilon = _validation.real(epsilon, "epsilon", 0, min_open=True)

    def _init_slot(self, name, backend, param):
        slot = backend.zeros(param.shape, param.dtype)
        slot += self.initial_accumulator_value
        return slot

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_ADAGRAD"), s["lr"], 0.0, 0.0, self.epsilon, wd_lr, 0.0,
                0.0, 0.0)

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        backend.adagrad_update(param, grad, slots["accumulator"], s["lr"], self.epsilon,
                               wd_lr)

    def get_config(self):
        return super().get_config() | {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon}


class Adamax(Adam):
    """Adamax: Adam with the infinity norm."""
    slot_names = ("m", "u")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)

    def _active_slots(self):
        return self.slot_names

    def _step_scalars(self, lr, t):
        return {"alpha": lr / (1 - self.beta_1 ** t)}

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_ADAMAX"), s["alpha"], self.beta_1, self.beta_2,
                self.epsilon, wd_lr, 0.0, 0.0, 0.0)

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        backend.adamax_update(param, grad, slots["m"], slots["u"], s["alpha"], self.beta_1,
                              self.beta_2, self.epsilon, wd_lr)

    def get_config(self):
        config = super().get_config()
        del config["amsgrad"]
        return config


class Nadam(Adamax):
    """Adam with Nesterov momentum and Keras 3's momentum schedule:
    u_t = beta_1 (1 - 0.5 * 0.96 ** t) at step t (1 for the first update)."""
    slot_names = ("m", "v")
    state_scalars = ("_u_product",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._u_product = 1.0

    def _step_scalars(self, lr, t):
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = self.beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        self._u_product *= u_t
        u_product_t1 = self._u_product * u_t1
        return {"lr": lr, "c_m": u_t1 / (1.0 - u_product_t1),
                "c_g": (1.0 - u_t) / (1.0 - self._u_product),
                "c_v": 1.0 / (1.0 - self.beta_2 ** t)}

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_NADAM"), s["lr"], self.beta_1, self.beta_2, self.epsilon,
                wd_lr, s["c_m"], s["c_g"], s["c_v"])

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        backend.nadam_update(param, grad, slots["m"], slots["v"], s["lr"], self.beta_1,
                             self.beta_2, self.epsilon, s["c_m"], s["c_g"], s["c_v"], wd_lr)


def _rule_update(opt, backend, param, grad, slots, s, wd_lr):
    """The compiled per-parameter update by opt's ParamGroup rule where the backend has
    one (cpu: the bits of the update of all parameters at once); False elsewhere."""
    update = getattr(backend, "rule_update", None)
    if update is None:
        return False
    update(param, grad, [slots[n] for n in opt.group_slots], opt._group_args(s, wd_lr))
    return True


class Adadelta(Optimizer):
    """Adadelta, Keras' defaults (rho 0.95, epsilon 1e-7, learning_rate 0.001)."""
    slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _validation.real(rho, "rho", 0, 1)
        self.epsilon = _validation.real(epsilon, "epsilon", 0, min_open=True)

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_ADADELTA"), s["lr"], self.rho, 0.0, self.epsilon, wd_lr,
                0.0, 0.0, 0.0)

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        if _rule_update(self, backend, param, grad, slots, s, wd_lr):
            return
        xp, rho, eps = backend.xp, self.rho, self.epsilon
        acc_grad, acc_delta = slots["accumulated_grad"], slots["accumulated_delta_var"]
        param -= param * wd_lr
        acc_grad[...] = rho * acc_grad + (1 - rho) * grad * grad
        delta = -(xp.sqrt(acc_delta + eps) * grad / xp.sqrt(acc_grad + eps))
        acc_delta[...] = rho * acc_delta + (1 - rho) * delta * delta
        param += s["lr"] * delta

    def get_config(self):
        return super().get_config() | {"rho": self.rho, "epsilon": self.epsilon}


class Lion(Optimizer):
    """Lion (Chen et al., 2023): p -= lr sign(b1 m + (1 - b1) g); m := b2 m + (1 - b2) g."""
    slot_names = ("momentum",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _validation.real(beta_1, "beta_1", 0, 1, min_open=True)
        self.beta_2 = _validation.real(beta_2, "beta_2", 0, 1)

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_LION"), s["lr"], self.beta_1, self.beta_2, 0.0, wd_lr,
                0.0, 0.0, 0.0)

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        if _rule_update(self, backend, param, grad, slots, s, wd_lr):
            return
        m = slots["momentum"]
        param -= param * wd_lr
        param -= s["lr"] * backend.xp.sign(m * self.beta_1 + grad * (1 - self.beta_1))
        m[...] = m * self.beta_2 + grad * (1 - self.beta_2)

    def get_config(self):
        return super().get_config() | {"beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """FTRL-proximal (McMahan et al., 2013) with Keras' arguments and defaults;
    accumulators start at `initial_accumulator_value`, the linear terms at zero."""
    slot_names = ("accumulator", "linear")
    _CONFIG = ("learning_rate_power", "initial_accumulator_value",
               "l1_regularization_strength", "l2_regularization_strength",
               "l2_shrinkage_regularization_strength", "beta")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.learning_rate_power = _validation.real(
            learning_rate_power, "learning_rate_power", None, 0)
        self.initial_accumulator_value = _validation.real(
            initial_accumulator_value, "initial_accumulator_value", 0)
        self.l1_regularization_strength = _validation.real(
            l1_regularization_strength, "l1_regularization_strength", 0)
        self.l2_regularization_strength = _validation.real(
            l2_regularization_strength, "l2_regularization_strength", 0)
        self.l2_shrinkage_regularization_strength = _validation.real(
            l2_shrinkage_regularization_strength, "l2_shrinkage_regularization_strength", 0)
        self.beta = _validation.real(beta, "beta", 0)

    def _init_slot(self, name, backend, param):
        slot = backend.zeros(param.shape, param.dtype)
        if name == "accumulator":
            slot += self.initial_accumulator_value
        return slot

    def _step_scalars(self, lr, t):
        return {"lr": lr, "l2": self.l2_regularization_strength + self.beta / (2.0 * lr)}

    def _group_args(self, s, wd_lr):
        return (group_code("GROUP_FTRL"), s["lr"], self.learning_rate_power,
                self.l1_regularization_strength, s["l2"], wd_lr,
                self.l2_shrinkage_regularization_strength, 0.0, 0.0)

    def update_step(self, backend, param, grad, slots, s, wd_lr):
        if _rule_update(self, backend, param, grad, slots, s, wd_lr):
            return
        xp, lr, power = backend.xp, s["lr"], -self.learning_rate_power
        accum, linear, l1 = slots["accumulator"], slots["linear"], self.l1_regularization_strength
        param -= param * wd_lr
        shrunk = grad + 2 * self.l2_shrinkage_regularization_strength * param
        new_accum = accum + grad * grad
        linear += shrunk - (new_accum ** power - accum ** power) / lr * param
        quadratic = new_accum ** power / lr + 2 * s["l2"]
        param[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
        accum[...] = new_accum

    def get_config(self):
        return super().get_config() | {k: getattr(self, k) for k in self._CONFIG}


_NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
          "adamax": Adamax, "nadam": Nadam, "adadelta": Adadelta, "lion": Lion, "ftrl": Ftrl}
REGISTRY = Registry("optimizer", "optimizer", _NAMES, base=Optimizer)


def get(identifier):
    """The optimizer named `identifier` with Keras' defaults, or `identifier` itself."""
    return REGISTRY.get(identifier)


def serialize(optimizer):
    """{'class_name': ..., 'config': ...} of an optimizer."""
    return REGISTRY.serialize(optimizer)
