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


def build_model(task, seed=0):
    fastnn.utils.set_random_seed(seed)
    (units, act), rest = task.layers[0], task.layers[1:]
    stack = [layers.Dense(units, activation=act, input_shape=(task.n_features,))]
    if task.dropout:
        stack.append(layers.Dropout(task.dropout))
    stack += [layers.Dense(u, activation=a) for u, a in rest]
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
    def __init__(self, task, x, y, batch_size, seed=0):
        self.model = build_model(task, seed)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.note = ""

    def epoch_times(self, n_epochs):
        clock = _EpochClock()
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=n_epochs,
                       verbose=0, shuffle=True, callbacks=[clock])
        return clock.times

    def predict(self, x):
        return self.model.predict(x, verbose=0)


def make_trainers(task, x, y, batch_size, seed=0):
    return {NAME: FastnnTrainer(task, x, y, batch_size, seed)}


def make_predictors(weights, task, n_threads):
    model = build_model(task)
    model.set_weights(weights)
    return {NAME: lambda x: model.predict(x, verbose=0)}
