"""fastnn itself, behind the same interface as its peers: one `fit` call times all the
epochs (a callback stamps each), so the per-call setup of `fit` is paid once, as a user
training for N epochs pays it."""
import time

import fastnn
from fastnn import layers, models, optimizers
from fastnn.callbacks import Callback

NAME = "fastnn"


def unavailable():
    return None


def threads(n):
    return fastnn.threads(n)


def build_model(task, seed=0, dtype=None):
    """The task's model; `dtype` a dtype policy of its Dense layers ("mixed_bfloat16")."""
    fastnn.utils.set_random_seed(seed)
    (units, act), rest = task.layers[0], task.layers[1:]
    stack = [layers.Dense(units, activation=act, input_shape=(task.n_features,), dtype=dtype)]
    if task.dropout:
        stack.append(layers.Dropout(task.dropout))
    stack += [layers.Dense(u, activation=a, dtype=dtype) for u, a in rest]
    model = models.Sequential(stack)
    opt = optimizers.Adam() if task.optimizer == "adam" else optimizers.RMSprop()
    loss = "binary_crossentropy" if task.binary else "sparse_categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss)
    return model


class _EpochClock(Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


class FastnnTrainer:
    def __init__(self, task, x, y, batch_size, seed=0, dtype=None):
        self.model = build_model(task, seed, dtype)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.note = ""

    def epoch_times(self, n_epochs):
        clock = _EpochClock()
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=n_epochs,
                       verbose=0, shuffle=True, callbacks=[clock])
        return clock.times

    def predict(self, x):
        return self.model.predict(x, verbose=0)


# fastnn's own variants, reported beside fastnn rather than as peers
MIXED = NAME + " mixed_bfloat16"
INT8, BF16 = NAME + " int8", NAME + " bfloat16"


def make_trainers(task, x, y, batch_size, seed=0):
    """fastnn in float32 and, for the tasks timed by the epoch, mixed_bfloat16."""
    trainers = {NAME: FastnnTrainer(task, x, y, batch_size, seed)}
    if not task.per_step:
        trainers[MIXED] = FastnnTrainer(task, x, y, batch_size, seed, "mixed_bfloat16")
    return trainers


def make_predictors(weights, task, n_threads):
    """fastnn's model in float32 and quantized to int8 and to bfloat16."""
    fns = {}
    for label, mode in ((NAME, None), (INT8, "int8"), (BF16, "bfloat16")):
        model = build_model(task)
        model.set_weights(weights)
        if mode:
            model.quantize(mode)
        fns[label] = lambda x, model=model: model.predict(x, verbose=0)
    return fns
