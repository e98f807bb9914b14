"""An epoch's whole batches as one compiled loop (fastnn/_kernels/step_train.pxi, driven by
the cpu backend's executor): the same weights and losses, bit for bit, as one compiled call
per step, on every stack of tests/test_stack_plan.py."""
import numpy as np
import pytest

import fastnn
from fastnn import models, optimizers, schedules
from fastnn.callbacks import Callback
from fastnn.backend.compiled_executor import CompiledExecutor
from fastnn.models.thread_choice import RECHECK_STEPS, ThreadChoice
from test_stack_plan import STACKS, _targets


class StepByStep(Callback):
    """A batch hook: fit then runs (and times) every step on its own."""

    def on_train_batch_end(self, batch, logs=None):
        pass


def _fit(make_layers, loss, x, y, optimizer, callbacks, epochs=3, batch_size=8,
         metrics=()):
    fastnn.utils.set_random_seed(5)
    model = models.Sequential(make_layers())
    model.compile(optimizer=optimizer(), loss=loss, metrics=list(metrics))
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=callbacks)
    if metrics:
        return model.get_weights(), history.history
    return model.get_weights(), history.history["loss"]


def _spy_blocks(monkeypatch):
    """Counts the steps the executor runs as compiled runs of more than one step."""
    ran = []
    original = CompiledExecutor.train_steps

    def spy(self, data, order, first_row, n_steps, *args):
        out = original(self, data, order, first_row, n_steps, *args)
        if n_steps > 1 and self.compiled:
            ran.append(n_steps)
        return out
    monkeypatch.setattr(CompiledExecutor, "train_steps", spy)
    return ran


OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(0.01),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "adam_schedule": lambda: optimizers.Adam(schedules.ExponentialDecay(0.02, 5, 0.5)),
}


@pytest.mark.parametrize("case", sorted(STACKS))
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_blocks_take_the_steps_of_single_calls(case, opt, monkeypatch):
    make_layers, loss = STACKS[case]
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((70, 6)), _targets(loss, rng, 70)   # 8 batches of 8 + 6
    with fastnn.threads(1):
        ran = _spy_blocks(monkeypatch)
        w_blocks, loss_blocks = _fit(make_layers, loss, x, y, OPTIMIZERS[opt], None)
        assert sum(ran) == 3 * 8, ran   # every whole batch of the 3 epochs, in blocks
        ran.clear()
        w_steps, loss_steps = _fit(make_layers, loss, x, y, OPTIMIZERS[opt], [StepByStep()])
        assert not ran
    assert loss_blocks == loss_steps
    for a, b in zip(w_blocks, w_steps):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("case", ["relu_dropout_softmax", "sigmoid_bce_fused",
                                  "relu_output_mse"])
def test_blocks_update_the_metrics(case, monkeypatch):
    """With metrics, each block hands its outputs to them at once: the weights and losses
    of single calls, accuracies exactly, mean errors to rounding (summed in a different
    order)."""
    make_layers, loss = STACKS[case]
    metrics = (["accuracy"] if loss == "sparse_categorical_crossentropy" else
               ["binary_accuracy", "mae"] if loss == "binary_crossentropy" else ["mae", "mse"])
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((70, 6)), _targets(loss, rng, 70)
    with fastnn.threads(1):
        ran = _spy_blocks(monkeypatch)
        w_blocks, h_blocks = _fit(make_layers, loss, x, y, OPTIMIZERS["adam"], None,
                                  metrics=metrics)
        assert sum(ran) == 3 * 8, ran
        w_steps, h_steps = _fit(make_layers, loss, x, y, OPTIMIZERS["adam"], [StepByStep()],
                                metrics=metrics)
    for a, b in zip(w_blocks, w_steps):
        assert a.tobytes() == b.tobytes()
    assert h_blocks["loss"] == h_steps["loss"]
    for name in h_steps:
        if "accuracy" in name:
            assert h_blocks[name] == h_steps[name], name
        else:
            np.testing.assert_allclose(h_blocks[name], h_steps[name], rtol=1e-12)


def test_blocks_follow_the_thread_trial(monkeypatch):
    """On two threads the first steps are timed one by one, then blocks run on the chosen
    count; the weights are those of one thread, step by step."""
    make_layers, loss = STACKS["relu_dropout_softmax"]
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((256, 6)), _targets(loss, rng, 256)
    ran = _spy_blocks(monkeypatch)
    with fastnn.threads(2):
        w_two, loss_two = _fit(make_layers, loss, x, y, OPTIMIZERS["adam"], None, epochs=4)
    assert 0 < sum(ran) < 4 * 32
    with fastnn.threads(1):
        w_one, loss_one = _fit(make_layers, loss, x, y, OPTIMIZERS["adam"], [StepByStep()],
                               epochs=4)
    assert loss_two == loss_one
    for a, b in zip(w_two, w_one):
        assert a.tobytes() == b.tobytes()


def test_thread_choice_counts_skipped_steps():
    choice = ThreadChoice(2)
    assert choice.steady_steps() == 0   # a trial is on
    choice.chosen = 2
    choice._step = 10
    assert choice.steady_steps() == RECHECK_STEPS - 10
    choice.skip(RECHECK_STEPS - 10)
    assert choice.chosen is None and choice.steady_steps() == 0   # the recheck is due
    assert ThreadChoice(1).steady_steps() > 10 ** 9


def test_train_steps_rejects_what_it_cannot_run():
    from fastnn._kernels.compiled import train_steps
    fastnn.utils.set_random_seed(0)
    make_layers, loss = STACKS["relu_output_mse"]
    model = models.Sequential(make_layers())
    model.compile(optimizer="adam", loss=loss)
    x = np.zeros((16, 6), np.float32)
    y = np.zeros((16, 4), np.float32)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    plan = model.executor.plan_for(8)
    group = model.optimizer.param_group(model.program.params, model.program.grads)
    order = np.arange(16, dtype=np.int64)
    ok = np.zeros((2, 6))
    args = (model.program.loss_kind, 0.0, model.program.fused, ())
    with pytest.raises(ValueError, match="columns"):
        train_steps(plan, x, y, None, order, 0, *args, group, np.zeros((2, 5)), 1)
    with pytest.raises(ValueError, match="do not fit"):
        train_steps(plan, x, y, None, order, 8, *args, group, ok, 1)
    with pytest.raises(ValueError, match="ParamGroup"):
        train_steps(plan, x, y, None, order, 0, *args, None, ok, 1)
    with pytest.raises(ValueError, match="`x`"):
        train_steps(plan, x[:, :5].copy(), y, None, order, 0, *args, group, ok, 1)
    with pytest.raises(ValueError, match="`outputs`"):
        train_steps(plan, x, y, None, order, 0, *args, group, ok, 1,
                    np.empty((8, 4), np.float32))
    outputs, targets = np.full((16, 4), 7, np.float32), np.full((16, 4), 7, np.float32)
    losses = train_steps(plan, x, y, None, order, 0, *args, group, ok, 1, outputs, targets)
    assert losses.shape == (2,) and np.all(losses == 0)
    assert np.all(targets == 0) and np.all(np.isfinite(outputs)) and np.all(outputs != 7)


@pytest.mark.parametrize("make", [lambda: optimizers.Adam(0.01), lambda: optimizers.AdamW(0.02),
                                  lambda: optimizers.RMSprop(0.01, rho=0.8),
                                  lambda: optimizers.Adam(schedules.ExponentialDecay(0.1, 3, 0.5))])
def test_group_update_rows_are_the_per_step_arguments(make):
    """An optimizer's rows for a block of steps: group_update_args of each step, exactly,
    and the step counter advanced by the block."""
    block, steps = make(), make()
    block.iterations = steps.iterations = 7
    rows = block.group_update_rows(30)
    assert rows == [steps.group_update_args() for _ in range(30)]
    assert block.iterations == steps.iterations == 37
