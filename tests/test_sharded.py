"""The sharded training step (fastnn/backend/sharded.py) without MPI: several "processes"
as threads of this one, each with its own copy of the model, exchanging rows through
shared memory; the weights must be bit for bit those of one model taking the same steps.
(tests/test_mpi.py runs the same step under a real mpirun.)"""
import threading

import numpy
import pytest

import fastnn
from fastnn import layers
from fastnn.backend import sharded, use_backend
from fastnn.layers.base import Workspace


class _Done:
    def wait(self):
        pass


class ThreadComm:
    """A communicator of `size` threads: allgather through a shared list and a barrier."""

    def __init__(self, rank, group):
        self.rank, self.group = rank, group
        self.size = len(group["slots"])

    def start_allgather(self, local, full, counts):
        slots, barrier = self.group["slots"], self.group["barrier"]
        assert local.size == counts[self.rank] * (full.size // max(sum(counts), 1))
        slots[self.rank] = numpy.array(local).reshape(-1)
        barrier.wait()
        numpy.concatenate(slots, out=full.reshape(-1))
        barrier.wait()
        return _Done()


def _model(kind):
    fastnn.utils.set_random_seed(11)
    if kind == "classifier":
        model = fastnn.Sequential([
            fastnn.Input((12,)), layers.Dropout(0.2), layers.Dense(24, activation="relu"),
            layers.Dropout(0.4), layers.Dense(9, activation="gelu"),
            layers.Dense(4, activation="softmax")])
        model.compile(optimizer="nadam", loss="sparse_categorical_crossentropy")
    else:
        model = fastnn.Sequential([fastnn.Input((12,)), layers.Dense(7, activation="tanh",
                                                                     kernel_regularizer="l2"),
                                   layers.Dense(3, activation="sigmoid")])
        model.compile(optimizer=fastnn.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    return model


def _data(kind):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((203, 12)).astype(numpy.float32)
    if kind == "classifier":
        y = rng.integers(0, 4, 203)
    else:
        y = rng.random((203, 3)).astype(numpy.float32)
    return x, y, rng.random(203).astype(numpy.float32)


def _train(model, executor, data, batch):
    """Steps over every batch of two shuffled epochs (the last batch short)."""
    x, y, w = data
    ws = Workspace()
    for epoch in range(2):
        order = numpy.random.default_rng(epoch).permutation(len(x)).astype(numpy.int64)
        for start in range(0, len(x), batch):
            rows = min(batch, len(x) - start)
            executor.train_steps(data, order, start, 1, rows, 1, ws, False)
    return model.get_weights()


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("kind", ["classifier", "regression"])
@pytest.mark.parametrize("size", [2, 3, 5])
def test_threads_sharing_steps_give_one_models_bits(backend, kind, size):
    data = _data(kind)
    with use_backend(backend):
        single = _model(kind)
        single._setup_training(data[1])
        want = _train(single, single.executor, data, 32)
        group = {"slots": [None] * size, "barrier": threading.Barrier(size)}
        results, errors = [None] * size, []
        models = [_model(kind) for _ in range(size)]   # here: the seed stream is global
        for model in models:
            model._setup_training(data[1])

        def run(rank):
            try:
                with use_backend(backend):
                    executor = sharded.ShardedExecutor(models[rank].executor,
                                                       ThreadComm(rank, group))
                    results[rank] = _train(models[rank], executor, data, 32)
            except BaseException as exc:     # reported below, with the others aborted
                errors.append(exc)
                group["barrier"].abort()

        threads = [threading.Thread(target=run, args=(r,)) for r in range(size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    for got in results:
        for a, b in zip(got, want):
            assert numpy.array_equal(a, b)


@pytest.mark.parametrize("n, size, want", [
    (10, 3, [(0, 4), (4, 7), (7, 10)]),
    (7, 3, [(0, 4), (4, 7), (7, 7)]),     # shards of 3, 2, 2 rows would be too thin
    (2, 4, [(0, 2), (2, 2), (2, 2), (2, 2)]),
    (0, 2, [(0, 0), (0, 0)]),
])
def test_shard_bounds_are_contiguous_and_thick_enough(n, size, want):
    assert sharded.shard_bounds(n, size, 3) == want


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_dropout_of_a_shard_draws_those_elements_of_the_batch(backend):
    x = numpy.random.default_rng(1).standard_normal((9, 7)).astype(numpy.float32)
    with use_backend(backend):
        b = fastnn.backend.get_backend()
        mask = numpy.empty(x.shape, numpy.uint8)
        full = b.dropout(x, 0.5, 77, 3, 2, mask=mask)
        part_mask = numpy.empty((4, 7), numpy.uint8)
        part = b.dropout(numpy.ascontiguousarray(x[3:7]), 0.5, 77, 3, 2, mask=part_mask,
                         first=3 * 7)
    assert numpy.array_equal(part, full[3:7]) and numpy.array_equal(part_mask, mask[3:7])
    assert 0 < mask.sum() < mask.size


def test_a_sharded_fit_refuses_what_it_cannot_run():
    model = fastnn.Sequential([fastnn.Input((4,)), layers.Dense(3),
                               layers.Activation("relu"), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model._setup_training(numpy.zeros((1, 2), numpy.float32))
    group = {"slots": [None], "barrier": threading.Barrier(1)}
    with pytest.raises(ValueError, match="activation=..."):
        sharded.ShardedExecutor(model.executor, ThreadComm(0, group))
