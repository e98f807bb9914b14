"""The compiled update of all parameters at once (ParamGroup, fastnn/_kernels/optimizers.pxi)
for every optimizer and option: the same bits as the per-parameter compiled kernels, on
1 and 2 threads, with the regularizers' gradients and Keras' clipping in the same call;
and models with regularizers, clipping or any optimizer trained by fit on the compiled
step, matching the reference backend."""
import numpy as np
import pytest

import fastnn
from fastnn import layers, models, optimizers, regularizers, schedules
from fastnn._optimizer import group_code

compiled = pytest.importorskip("fastnn._kernels.compiled")

# parameters of several CHUNK pieces (8192 values) and big enough to run on 2 threads
SHAPES = [(300, 70), (70,), (37, 5), (1,)]

OPTIMIZERS = {   # name: (class, constructor arguments)
    "sgd": (optimizers.SGD, {"learning_rate": 0.05}),
    "sgd_momentum": (optimizers.SGD, {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": (optimizers.SGD, {"learning_rate": 0.05, "momentum": 0.9,
                                      "nesterov": True}),
    "adam": (optimizers.Adam, {"learning_rate": 0.01}),
    "adam_amsgrad": (optimizers.Adam, {"learning_rate": 0.01, "amsgrad": True}),
    "adamw": (optimizers.AdamW, {"learning_rate": 0.01}),
    "rmsprop": (optimizers.RMSprop, {"learning_rate": 0.01}),
    "rmsprop_centered": (optimizers.RMSprop, {"learning_rate": 0.01, "centered": True}),
    "rmsprop_momentum": (optimizers.RMSprop, {"learning_rate": 0.01, "momentum": 0.5}),
    "rmsprop_centered_momentum": (optimizers.RMSprop, {"learning_rate": 0.01,
                                                       "centered": True, "momentum": 0.5}),
    "adagrad": (optimizers.Adagrad, {"learning_rate": 0.05}),
    "adamax": (optimizers.Adamax, {"learning_rate": 0.01}),
    "nadam": (optimizers.Nadam, {"learning_rate": 0.01}),
    "adadelta": (optimizers.Adadelta, {"learning_rate": 1.0}),
    "lion": (optimizers.Lion, {"learning_rate": 0.01}),
    "ftrl": (optimizers.Ftrl, {"learning_rate": 0.1, "l1_regularization_strength": 0.01,
                               "l2_regularization_strength": 0.02,
                               "l2_shrinkage_regularization_strength": 0.01, "beta": 0.1}),
}

OPTIONS = {
    "plain": {},
    "weight_decay": {"weight_decay": 0.01},
    "schedule": {"learning_rate": schedules.ExponentialDecay(0.02, 2, 0.5)},
    "clipvalue": {"clipvalue": 0.7},
}


def _make(name, option="plain", **options):
    cls, kwargs = OPTIMIZERS[name]
    return cls(**(kwargs | OPTIONS[option] | options))


def _steps(opt, dtype, n_threads, grouped, grads_of_step, regs=None, n_steps=3, seed=0):
    """n_steps updates of random parameters by `opt`: through its ParamGroup (`grouped`)
    or parameter by parameter (the regularizers' gradients added in Python, as the
    layer-by-layer step adds them). Returns the parameters, slots and penalties."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [np.zeros(s, dtype) for s in SHAPES]
    penalties = []
    if not grouped:
        opt._has_group_rule = lambda: False
    with fastnn.use_backend("cpu"):
        for step in range(n_steps):
            for g, new in zip(grads, grads_of_step(step, dtype)):
                g[...] = new
            if grouped:
                group = opt.param_group(params, grads, regs)
                assert group is not None
                penalties.append(group.update(*opt.group_update_args(), n_threads))
            else:
                penalty = 0.0
                for p, g, r in zip(params, grads, regs or [None] * len(params)):
                    if r is not None:
                        penalty += r(p)
                        r.add_gradient(p, g)
                penalties.append(penalty)
                with fastnn.threads(n_threads):
                    opt.apply(params, grads)
    return params, opt.variables, penalties


def _random_grads(step, dtype):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _assert_same_bits(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_group_update_has_the_bits_of_the_per_parameter_kernels(name, option, dtype,
                                                                  n_threads):
    got = _steps(_make(name, option), dtype, n_threads, True, _random_grads)
    want = _steps(_make(name, option), dtype, n_threads, False, _random_grads)
    _assert_same_bits(got[0], want[0])
    _assert_same_bits(got[1], want[1])


REGULARIZERS = [regularizers.L1(0.01), regularizers.L2(0.02), regularizers.L1L2(0.01, 0.03),
                None]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_centered", "nadam"])
def test_regularizers_gradient_and_penalty_in_the_group(name, dtype):
    """The penalties' gradients with the bits of fastnn.regularizers' add_gradient; the
    penalty of the weights before each update, as Regularizer.__call__ computes it."""
    got = _steps(_make(name, "clipvalue"), dtype, 1, True, _random_grads, REGULARIZERS)
    want = _steps(_make(name, "clipvalue"), dtype, 1, False, _random_grads, REGULARIZERS)
    _assert_same_bits(got[0], want[0])
    _assert_same_bits(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6 if dtype == np.float32 else 1e-13)
    two = _steps(_make(name, "clipvalue"), dtype, 2, True, _random_grads, REGULARIZERS)
    _assert_same_bits(two[0], got[0])
    assert two[2] == got[2]      # summed in a fixed order on any team


def _exact_norm_grads(step, dtype):
    """Gradients of +-1 and +-0.5 whose norms are exact in any precision and summation
    order (4, 4, 2 and 0; 6 together), so that clipping by norm has the same bits
    however the norm is summed."""
    rng = np.random.default_rng(200 + step)
    out = []
    for shape, (count, value) in zip(SHAPES, ((16, 1.0), (64, 0.5), (16, 0.5), (0, 0.0))):
        n = int(np.prod(shape))
        g = np.zeros(n)
        g[rng.choice(n, count, replace=False)] = value
        g *= rng.choice([-1.0, 1.0], n)
        out.append(g.reshape(shape).astype(dtype))
    return out


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", [{"clipnorm": 3.0}, {"global_clipnorm": 5.0}])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_clipping_by_norm_has_the_per_parameter_bits(name, clip, dtype, n_threads):
    got = _steps(_make(name, **clip), dtype, n_threads, True, _exact_norm_grads)
    want = _steps(_make(name, **clip), dtype, n_threads, False, _exact_norm_grads)
    _assert_same_bits(got[0], want[0])
    _assert_same_bits(got[1], want[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", [{"clipnorm": 30.0}, {"global_clipnorm": 100.0},
                                  {"clipnorm": 1000.0}])
@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop_momentum", "adagrad"])
def test_clipping_by_norm_on_any_team(name, clip, dtype):
    """Norms of random gradients: the same bits on 1 and 2 threads, and within rounding
    of the per-parameter path's NumPy norms."""
    one = _steps(_make(name, **clip), dtype, 1, True, _random_grads, REGULARIZERS)
    two = _steps(_make(name, **clip), dtype, 2, True, _random_grads, REGULARIZERS)
    _assert_same_bits(one[0], two[0])
    _assert_same_bits(one[1], two[1])
    want = _steps(_make(name, **clip), dtype, 1, False, _random_grads, REGULARIZERS)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(one[0], want[0]):
        np.testing.assert_allclose(a, b, **tol)


def test_group_refuses_a_rule_whose_slots_it_lacks():
    p, g = np.zeros(6, np.float32), np.zeros(6, np.float32)
    group = compiled.ParamGroup([p], [g], [np.zeros(6, np.float32)])
    with pytest.raises(ValueError, match="slots"):
        group.update(group_code("GROUP_ADAM"), 0.1, 0.9, 0.999, 1e-7, 0.0, 1)
    with pytest.raises(ValueError, match="GROUP_"):
        group.update(group_code("GROUP_N_RULES"), 0.1, 0.9, 0.999, 1e-7, 0.0, 1)
    with pytest.raises(ValueError, match="clip"):
        compiled.ParamGroup([p], [g], clip=group_code("CLIP_NORM"), clip_value=0.0)
    with pytest.raises(ValueError, match="l1"):
        compiled.ParamGroup([p], [g], l1=[0.1, 0.2])
    assert group.update(group_code("GROUP_SGD"), 0.1, 0.0, 0.0, 0.0, 0.0, 1) == 0.0


def test_a_user_optimizer_with_its_own_update_is_updated_per_parameter():
    class Halving(optimizers.SGD):
        def update_step(self, backend, param, grad, slots, s, wd_lr):
            param -= 0.5 * grad

    p, g = np.ones(4, np.float32), np.ones(4, np.float32)
    with fastnn.use_backend("cpu"):
        opt = Halving()
        assert opt.param_group([p], [g]) is None
        opt.apply([p], [g])
    np.testing.assert_array_equal(p, 0.5)


# ------------------------------------------------------------------ fit, cpu vs reference

def _fit(backend, optimizer, dtype, kernel_reg=None, bias_reg=None):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 6))
    y = rng.integers(0, 3, 40)
    with fastnn.use_backend(backend):
        fastnn.config.set_floatx(dtype)
        try:
            fastnn.utils.set_random_seed(4)
            model = models.Sequential([
                layers.Dense(16, "relu", input_shape=(6,), kernel_regularizer=kernel_reg,
                             bias_regularizer=bias_reg),
                layers.Dropout(0.1),
                layers.Dense(3, "softmax", kernel_regularizer=kernel_reg)])
            model.compile(optimizer=optimizers.get(optimizers.serialize(optimizer)),
                          loss="sparse_categorical_crossentropy")
            runs = []
            if backend == "cpu":
                steps = compiled.train_steps

                def spy(*args, **kwargs):
                    runs.append(args[10])      # the ParamGroup
                    return steps(*args, **kwargs)
                compiled.train_steps = spy
                try:
                    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
                finally:
                    compiled.train_steps = steps
                assert model.executor.compiled
                assert runs and all(isinstance(g, compiled.ParamGroup) for g in runs)
            else:
                history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
            return model.get_weights(), history.history["loss"]
        finally:
            fastnn.config.set_floatx("float32")


FIT_CASES = {
    "l2": ({}, regularizers.L2(1e-2), None),
    "l1l2": ({}, regularizers.L1L2(1e-3, 1e-2), regularizers.L1(1e-3)),
    "clipvalue": ({"clipvalue": 0.05}, None, None),
    "clipnorm": ({"clipnorm": 0.2}, regularizers.L2(1e-2), None),
    "global_clipnorm": ({"global_clipnorm": 0.3}, None, regularizers.L2(1e-2)),
    "weight_decay": ({"weight_decay": 0.05}, None, None),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(FIT_CASES))
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fit_on_the_compiled_step_matches_the_reference(name, case, dtype):
    kwargs, kernel_reg, bias_reg = FIT_CASES[case]
    ref_w, ref_loss = _fit("reference", _make(name, **kwargs), dtype, kernel_reg, bias_reg)
    got_w, got_loss = _fit("cpu", _make(name, **kwargs), dtype, kernel_reg, bias_reg)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for ref, got in zip(ref_w, got_w):
        np.testing.assert_allclose(got, ref, **tol)
    np.testing.assert_allclose(got_loss, ref_loss, **tol)


def test_the_cached_group_belongs_to_its_backend():
    """A model trained on cpu and then stepped on the reference backend is updated by
    the reference's own per-parameter code, not by the compiled group cached on cpu."""
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    params, grads = model.program.params, model.program.grads
    assert model.optimizer.param_group(params, grads) is not None
    with fastnn.use_backend("reference"):
        assert model.optimizer.param_group(params, grads) is None
    assert model.optimizer.param_group(params, grads) is not None


def test_a_refused_group_is_raised_not_replaced_by_the_slow_path():
    """Only parameters of mixed dtypes or layouts go parameter by parameter; any other
    refusal of the compiled group (here a gradient of the wrong size) is a fault."""
    opt = optimizers.SGD(0.1)
    with fastnn.use_backend("cpu"):
        with pytest.raises(ValueError, match="gradient"):
            opt.param_group([np.ones(3, np.float32)], [np.ones(4, np.float32)])
        mixed = [np.ones(3, np.float32), np.ones(2, np.float64)]
        assert opt.param_group(mixed, [np.zeros_like(a) for a in mixed]) is None
