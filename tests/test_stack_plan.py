"""The compiled training step of Dense/Dropout stacks (the cpu backend's executor) takes
the same steps as the reference backend's layer-by-layer path."""
import numpy as np
import pytest

import fastnn
from fastnn import layers, models, regularizers

D, Drop = layers.Dense, layers.Dropout

STACKS = {
    "relu_dropout_softmax": (lambda: [D(9, "relu", input_shape=(6,)), Drop(0.3),
                                      D(4, "softmax")], "sparse_categorical_crossentropy"),
    "gelu_silu_needs_z": (lambda: [D(7, "gelu", input_shape=(6,)), D(5, "silu"),
                                   D(4, "softmax")], "categorical_crossentropy"),
    "sigmoid_bce_fused": (lambda: [D(8, "tanh", input_shape=(6,)), Drop(0.2),
                                   D(1, "sigmoid")], "binary_crossentropy"),
    "relu_output_mse": (lambda: [D(8, "elu", input_shape=(6,)), D(4, "relu")], "mse"),
    "linear_then_dropout": (lambda: [D(8, input_shape=(6,)), Drop(0.5), D(8, "selu"),
                                     Drop(0.1), D(4)], "huber"),
    "dropout_first_zero_rate": (lambda: [Drop(0.25, input_shape=(6,)), D(8, "softplus"),
                                         Drop(0.0), D(4, "softmax")],
                                "sparse_categorical_crossentropy"),
    "frozen_first_no_bias": (lambda: [D(8, "relu", input_shape=(6,), trainable=False),
                                      D(8, "leaky_relu", use_bias=False), Drop(0.3),
                                      D(4, "softmax")], "sparse_categorical_crossentropy"),
}


def _targets(loss, rng, n):
    labels = rng.integers(0, 4, n)
    if loss == "sparse_categorical_crossentropy":
        return labels
    if loss == "categorical_crossentropy":
        return np.eye(4)[labels]
    if loss == "binary_crossentropy":
        return (rng.random((n, 1)) > 0.5) * 1.0
    return rng.standard_normal((n, 4))


def _train(backend, make_layers, loss, x, y, optimizer, dtype):
    with fastnn.use_backend(backend):
        fastnn.config.set_floatx(dtype)
        fastnn.utils.set_random_seed(3)
        model = models.Sequential(make_layers())
        metric = "accuracy" if loss == "sparse_categorical_crossentropy" else "mae"
        model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)   # 13 rows: 8 + 5
        planned = model.executor.plan_for(8) is not None
        return model.get_weights(), history.history, planned


@pytest.mark.parametrize("case", sorted(STACKS))
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
def test_plan_matches_the_reference(case, optimizer, dtype):
    make_layers, loss = STACKS[case]
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((13, 6)), _targets(loss, rng, 13)
    name = np.dtype(dtype).name
    ref_w, ref_h, _ = _train("reference", make_layers, loss, x, y, optimizer, name)
    got_w, got_h, planned = _train("cpu", make_layers, loss, x, y, optimizer, name)
    assert planned, "the cpu backend should train this stack with a plan"
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    for ref, got in zip(ref_w, got_w):
        np.testing.assert_allclose(got, ref, **tol)
    for key in ref_h:
        np.testing.assert_allclose(got_h[key], ref_h[key], **tol)


def test_models_the_plan_does_not_cover_take_the_layer_path():
    fastnn.utils.set_random_seed(0)
    # a row-wise softmax layer inside the stack (not fused into the loss)
    model = models.Sequential([D(4, "tanh", input_shape=(3,)), layers.Softmax(), D(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert model.executor.plan_for(4) is None
    assert "has a row-wise softmax inside" in model.executor.description

    class Scale(layers.Layer):
        """A user's own layer: its forward and backward in Python."""

        def forward(self, x, training, workspace):
            return x * 2.0

        def backward(self, grad, workspace, **kwargs):
            return grad * 2.0

    own = models.Sequential([D(4, input_shape=(3,)), Scale(), D(2)])
    own.compile("adam", "mse")
    own.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert own.executor.plan_for(4) is None and "scale" in own.executor.description
    hidden_softmax = models.Sequential([D(4, "softmax", input_shape=(3,)), D(2)])
    hidden_softmax.compile("adam", "mse")
    hidden_softmax.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert hidden_softmax.executor.plan_for(4) is None
    with fastnn.use_backend("reference"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
        assert model.executor.plan_for(4) is None


def test_flatten_and_activation_layers_run_compiled_with_the_bits_of_dense_activations():
    rng = np.random.default_rng(0)
    x = rng.random((40, 4, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    stacks = {"dense": lambda: [layers.Flatten(input_shape=(4, 5)), D(8, "relu"),
                                D(3, "softmax")],
              "layers": lambda: [layers.Flatten(input_shape=(4, 5)), D(8), layers.ReLU(),
                                 D(3), layers.Softmax()]}
    got = {}
    for name, make in stacks.items():
        fastnn.utils.set_random_seed(1)
        model = models.Sequential(make())
        model.compile("adam", "sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert model.executor.compiled and model.executor.plan_for(8) is not None
        got[name] = (model.get_weights(), history.history["loss"], model.predict(x, verbose=0))
    for a, b in zip(got["dense"][0], got["layers"][0]):
        np.testing.assert_array_equal(a, b)
    assert got["dense"][1] == got["layers"][1]
    np.testing.assert_array_equal(got["dense"][2], got["layers"][2])


def test_plan_rejects_a_batch_of_the_wrong_shape():
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([D(4, "relu", input_shape=(3,)), D(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), batch_size=4, verbose=0)
    plan = model.executor.plan_for(4)
    with pytest.raises(ValueError, match="x"):
        plan.forward(np.ones((5, 3), np.float32), (), 1)


@pytest.mark.parametrize("last", ["softmax", "log_softmax", "sigmoid", None])
@pytest.mark.parametrize("rows", [1, 2, 3, 1025])   # few-row GEMM, tiles, two chunks
def test_quiet_predict_matches_the_reference(last, rows, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((rows, 6))
    outputs = {}
    for backend in ("reference", "cpu"):
        with fastnn.use_backend(backend):
            fastnn.config.set_floatx(np.dtype(dtype).name)
            fastnn.utils.set_random_seed(4)
            model = models.Sequential([D(9, "gelu", input_shape=(6,)), Drop(0.5),
                                       D(7, "relu"), D(5, last)])
            outputs[backend] = (model.predict(x, verbose=0), model(x),
                                model.predict_on_batch(x))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for ref, got in zip(outputs["reference"], outputs["cpu"]):
        assert got.dtype == dtype and got.shape == (rows, 5)
        np.testing.assert_allclose(got, ref, **tol)


def test_thread_choice_keeps_the_faster_count():
    from fastnn.models.thread_choice import TRIALS, WARMUP_STEPS, ThreadChoice
    choice = ThreadChoice(2)
    seen = []
    while choice.chosen is None:
        n = choice.threads()
        seen.append(n)
        choice.record(0.002 if n == 2 else 0.001)    # one thread is faster here
    assert set(seen) == {1, 2} and len(seen) == WARMUP_STEPS + 2 * TRIALS
    assert choice.chosen == 1 and choice.threads() == 1
    assert ThreadChoice(1).threads() == 1


def test_thread_choice_is_tried_again_later():
    from fastnn.models.thread_choice import RECHECK_STEPS, ThreadChoice
    choice = ThreadChoice(2)
    for _ in range(200):             # the second core is slow at first: one thread wins
        n = choice.threads()
        choice.record(0.002 if n == 2 else 0.001)
    assert choice.chosen == 1
    counts = []
    for _ in range(RECHECK_STEPS + 100):   # then it is fast: the next trial picks two
        n = choice.threads()
        counts.append(n)
        choice.record(0.0005 if n == 2 else 0.001)
    assert choice.chosen == 2 and counts[-1] == 2
    assert 2 not in counts[:RECHECK_STEPS - 200]     # the choice holds until the recheck


def test_training_gives_the_same_weights_at_any_thread_count():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((600, 40)), rng.integers(0, 3, 600)
    weights = []
    for n in (1, 2):
        with fastnn.threads(n):
            fastnn.utils.set_random_seed(1)
            model = models.Sequential([D(256, "relu", input_shape=(40,)), Drop(0.2),
                                       D(3, "softmax")])
            model.compile("adam", "sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=200, epochs=3, verbose=0)
            weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_in", [784, 301])
def test_train_step_gathers_the_batch_on_any_team(n_in):
    """The batch a step trains on is exactly x[indices] on 1, 2 and 3 threads, with a
    first layer big enough to sum its product in k halves."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, n_in)).astype(np.float32)
    y = rng.integers(0, 3, 500)
    fastnn.utils.set_random_seed(2)
    model = models.Sequential([D(256, "relu", input_shape=(n_in,)), D(3, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:128], y[:128], batch_size=128, epochs=1, verbose=0)
    plan = model.executor.plan_for(128)
    group = model.optimizer.param_group(model.program.params, model.program.grads)
    update = model.optimizer.group_update_args()
    for n_threads in (1, 2, 3):
        idx = rng.permutation(500)[:128].astype(np.int64)
        plan.train_step(x, y, None, idx, model.program.loss_kind, 0.0, model.program.fused, (), group,
                        update, n_threads)
        np.testing.assert_array_equal(plan.batch_x, x[idx])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_param_group_updates_each_row_once_on_any_team(dtype):
    """On several threads the update cuts every parameter into row strips (as the GEMM
    cuts the gradient's rows): each element is updated exactly once, with the same bits
    as on one thread, for shapes whose rows do not divide evenly."""
    from fastnn._kernels.compiled import ParamGroup
    from fastnn._optimizer import group_code
    rng = np.random.default_rng(4)
    shapes = [(784, 128), (128,), (37, 5), (1,), (3, 70000), (70001,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    results = []
    for n_threads in (1, 2, 3):
        params = [p.copy() for p in start]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        group = ParamGroup(params, grads, m, v)
        for _ in range(2):
            group.update(group_code("GROUP_ADAM"), 0.01, 0.9, 0.999, 1e-7, 0.0, n_threads)
        results.append(params)
    for i, (p0, g) in enumerate(zip(start, grads)):   # two Adam steps, a constant gradient
        m1, v1 = 0.1 * g, 0.001 * g * g
        p1 = p0 - 0.01 * m1 / (np.sqrt(v1) + 1e-7)
        m2, v2 = m1 + 0.1 * (g - m1), v1 + 0.001 * (g * g - v1)
        want = p1 - 0.01 * m2 / (np.sqrt(v2) + 1e-7)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(results[0][i], want, rtol=tol, atol=tol)
        for other in results[1:]:
            assert other[i].tobytes() == results[0][i].tobytes(), shapes[i]


def _weighted_fit(backend, loss, x, y, dtype, **fit_args):
    with fastnn.use_backend(backend):
        fastnn.config.set_floatx(dtype)
        fastnn.utils.set_random_seed(5)
        model = models.Sequential([D(6, "relu", input_shape=(5,)), Drop(0.2),
                                   D(3, "softmax" if "categorical" in loss else None)])
        model.compile(optimizer="adam", loss=loss)
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, **fit_args)
        return model.get_weights(), history.history["loss"]


@pytest.mark.parametrize("loss, weights", [
    ("sparse_categorical_crossentropy", "class_weight"),
    ("categorical_crossentropy", "sample_weight"),
    ("mse", "sample_weight"),
])
def test_whole_steps_with_weights_match_the_reference(loss, weights, dtype):
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((10, 5)), rng.integers(0, 3, 10)
    y = {"sparse_categorical_crossentropy": labels, "categorical_crossentropy":
         np.eye(3)[labels], "mse": rng.standard_normal((10, 3))}[loss]
    fit_args = ({"class_weight": {0: 0.5, 1: 2.0, 2: 1.0}} if weights == "class_weight"
                else {"sample_weight": rng.random(10)})
    name = np.dtype(dtype).name
    ref_w, ref_loss = _weighted_fit("reference", loss, x, y, name, **fit_args)
    got_w, got_loss = _weighted_fit("cpu", loss, x, y, name, **fit_args)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    for ref, got in zip(ref_w, got_w):
        np.testing.assert_allclose(got, ref, **tol)
    np.testing.assert_allclose(got_loss, ref_loss, **tol)


def test_fit_runs_each_step_as_one_compiled_call(monkeypatch):
    from fastnn.backend import compiled_executor
    real, rows = compiled_executor._k, []

    class Spy:
        """The compiled module, with its training loop's calls counted."""

        def __getattr__(self, name):
            return getattr(real, name)

        def train_steps(self, plan, *args):
            rows.extend([plan.output.shape[0]] * len(args[10]))   # one per step
            return real.train_steps(plan, *args)

    monkeypatch.setattr(compiled_executor, "_k", Spy())
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([D(8, "relu", input_shape=(4,)), D(2, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.ones((10, 4)), np.arange(10) % 2, batch_size=4, verbose=0)
    assert rows == [4, 4, 2]    # every step, the short last one too, in the compiled loop
    sgd = models.Sequential([D(2, input_shape=(4,))])
    sgd.compile("sgd", "mse")        # every optimizer updates all parameters in one call
    sgd.fit(np.ones((4, 4)), np.ones((4, 2)), verbose=0)
    assert sgd.optimizer.param_group(sgd.program.params, sgd.program.grads) is not None


def test_train_step_rejects_arrays_it_cannot_read():
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([D(4, "relu", input_shape=(3,)), D(2)])
    model.compile("adam", "mse")
    x, y = np.ones((8, 3), np.float32), np.ones((8, 2), np.float32)
    model.fit(x, y, batch_size=4, verbose=0)
    plan = model.executor.plan_for(4)
    group = model.optimizer.param_group(model.program.params, model.program.grads)
    update = model.optimizer.group_update_args()
    idx = np.arange(4, dtype=np.int64)

    def step(x=x, y=y, w=None, idx=idx, kind=model.program.loss_kind):
        return plan.train_step(x, y, w, idx, kind, 0.0, False, (), group, update, 1)

    assert np.isfinite(step())
    with pytest.raises(ValueError, match="x"):
        step(x=x.astype(np.float64))
    with pytest.raises(ValueError, match="y"):
        step(y=np.ones((8, 3), np.float32))
    with pytest.raises(ValueError, match="indices"):
        step(idx=np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="cross-entropy"):
        step(y=np.zeros(8, np.int64))
    with pytest.raises(ValueError, match="sample_weight"):
        step(w=np.ones(8, np.float64))
    with pytest.raises(ValueError, match="`y` must have as many rows"):   # rows past its end
        step(y=np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="`sample_weight` must have as many rows"):
        step(w=np.ones(5, np.float32))
    assert np.isfinite(step(w=np.ones(8, np.float32)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_counts_every_nonfinite_value(kernel_isa, dtype):
    """The input check counts NaN and both infinities exactly, on every ISA and in both
    dtypes, at the edges of its 4096-element blocks; the largest finite value, a
    subnormal and -0 are finite."""
    fastnn.config.set_floatx(np.dtype(dtype).name)   # restored by conftest
    model = models.Sequential([D(3, "relu", input_shape=(1000,))])
    assert model.get_weights()[0].dtype == dtype
    x = np.ones((5, 1000), dtype)
    info = np.finfo(dtype)
    flat = x.reshape(-1)
    flat[[1, 2, 3]] = info.max, info.smallest_subnormal, -0.0
    flat[[0, 4095, 4096, 4999]] = np.nan, np.inf, -np.inf, np.nan
    with pytest.raises(ValueError, match="`x` must be finite; got 4 NaN or infinite"):
        model.predict(x, verbose=0)
    flat[[0, 4095, 4096, 4999]] = 0.0
    assert np.isfinite(model.predict(x, verbose=0)).all()


@pytest.mark.parametrize("rows", [1, 1500])
def test_predict_names_nan_and_infinity_in_any_chunk(rows):
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([D(4, "relu", input_shape=(3,)), D(2)])
    x = np.ones((rows, 3), np.float32)
    x[-1, 0], x[0, 2] = np.nan, np.inf
    with pytest.raises(ValueError, match="`x` must be finite; got 2 NaN or infinite"):
        model.predict(x, verbose=0)
    x[-1, 0] = x[0, 2] = 0.0
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_repeated_predict_of_one_kind_keeps_every_check():
    # the second call of a kind takes the serving shortcut (InferenceMixin._serve); it
    # must give the general path's bits and refuse what the general path refuses
    fastnn.utils.set_random_seed(1)
    model = models.Sequential([D(16, "relu", input_shape=(5,)), Drop(0.5), D(3, "softmax")])
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 5)).astype(np.float32)
    first = model.predict(x, verbose=0)
    assert model._thread_local().serve[0] == (1, 5)
    general = model._predict_rows(model._prepare_x(x))
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)
    np.testing.assert_array_equal(general, first)
    bad = x.copy()
    bad[0, 2] = np.nan
    with pytest.raises(ValueError, match="`x` must be finite; got 1 NaN or infinite"):
        model.predict(bad, verbose=0)
    # other shapes, dtypes and layouts take the general path and are still right
    wide = rng.standard_normal((4, 10))
    strided = wide[:, ::2]                                  # not C-contiguous
    np.testing.assert_array_equal(model.predict(strided, verbose=0),
                                  model.predict(np.ascontiguousarray(strided, np.float32),
                                                verbose=0))
    np.testing.assert_array_equal(model.predict(x.astype(np.float64), verbose=0), first)
    with pytest.raises(ValueError, match="x"):
        model.predict(np.ones((1, 4), np.float32), verbose=0)
    # a changed stack is seen at once
    model.pop()
    model.add(D(2))
    assert model.predict(x, verbose=0).shape == (1, 2)


def test_predict_under_another_backend_does_not_reuse_the_compiled_plan():
    fastnn.utils.set_random_seed(2)
    model = models.Sequential([D(300, "tanh", input_shape=(300,)), D(200)])
    x = np.random.default_rng(4).standard_normal((1, 300)).astype(np.float32)
    compiled = model.predict(x, verbose=0)
    model.predict(x, verbose=0)                         # now cached for this kind of call
    fresh = models.Sequential([D(300, "tanh", input_shape=(300,)), D(200)])
    fresh.set_weights(model.get_weights())
    with fastnn.use_backend("reference"):
        expected = fresh.predict(x, verbose=0)
        got = model.predict(x, verbose=0)
    assert not np.array_equal(compiled, expected)   # the two backends differ in the bits
    np.testing.assert_array_equal(got, expected)
