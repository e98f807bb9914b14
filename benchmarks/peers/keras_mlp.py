"""The Keras peer (Keras 3 on TensorFlow, or tf.keras), only when it can be imported:
the same Sequential model, compiled and fitted with Keras' own defaults. TensorFlow fixes
its thread pools when it starts, so a second thread count in the same process is skipped
with a note rather than timed on the wrong number of threads."""
import contextlib
import os
import time

NAME = "keras"
_state = {"threads": None}


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras
    return tf, keras


def unavailable():
    try:
        _keras()
    except Exception as exc:  # ImportError, or a TensorFlow build that cannot load here
        return f"keras/tensorflow cannot be imported here ({type(exc).__name__})"
    return None


@contextlib.contextmanager
def threads(n):
    tf, _ = _keras()
    if _state["threads"] is None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            _state["threads"] = n
        except RuntimeError:  # already initialised by someone else
            _state["threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    if _state["threads"] not in (n, 0):
        raise RuntimeError(f"TensorFlow already runs on {_state['threads']} threads")
    yield


def build_model(task, seed=0):
    _, keras = _keras()
    keras.utils.set_random_seed(seed)
    stack = [keras.Input((task.n_features,))]
    for i, (units, act) in enumerate(task.layers):
        stack.append(keras.layers.Dense(units, activation=act))
        if i == 0 and task.dropout:
            stack.append(keras.layers.Dropout(task.dropout))
    model = keras.Sequential(stack)
    loss = "binary_crossentropy" if task.binary else "sparse_categorical_crossentropy"
    model.compile(optimizer=task.optimizer, loss=loss)
    return model


class KerasTrainer:
    def __init__(self, task, x, y, batch_size, seed=0):
        self.model = build_model(task, seed)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.note = ""

    def epoch_times(self, n_epochs):
        _, keras = _keras()
        times = []
        clock = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda e, logs: times.append(-time.perf_counter()),
            on_epoch_end=lambda e, logs: times.__setitem__(-1, times[-1]
                                                           + time.perf_counter()))
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=n_epochs,
                       verbose=0, shuffle=True, callbacks=[clock])
        return times

    def predict(self, x):
        return self.model.predict(x, verbose=0)


def make_trainers(task, x, y, batch_size, seed=0):
    return {NAME: KerasTrainer(task, x, y, batch_size, seed)}


def make_predictors(weights, task, n_threads):
    model = build_model(task)
    model.set_weights(weights)
    return {NAME: lambda x: model(x, training=False).numpy()}
