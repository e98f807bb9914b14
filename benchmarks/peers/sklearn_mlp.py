"""The scikit-learn peer: `MLPClassifier`, one `partial_fit` call per epoch (one pass of
mini-batches). Matched: layer sizes, ReLU, batch size, solver adam with lr 1e-3 and
eps 1e-7, no L2 (alpha=0). Not matched: sklearn has no dropout and no RMSprop (adam is
used instead and the table says so), and it computes in float64 unless given float32."""
import contextlib
import time
import warnings

import numpy

NAME = "sklearn"


def unavailable():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "scikit-learn is not installed (pip install scikit-learn)"
    return None


def threads(n):
    return contextlib.nullcontext()  # the caller's threadpoolctl limit covers the BLAS


def _classifier(task, batch_size, seed=0):
    from sklearn.neural_network import MLPClassifier
    hidden = tuple(u for u, _ in task.layers[:-1])
    return MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                         alpha=0.0, batch_size=batch_size, learning_rate_init=1e-3,
                         epsilon=1e-7, shuffle=True, random_state=seed)


class SklearnTrainer:
    def __init__(self, task, x, y, batch_size, seed=0):
        self.clf = _classifier(task, batch_size, seed)
        self.x, self.y = x, y.astype(numpy.int64)
        self.classes = numpy.arange(task.n_classes)
        self.task = task
        notes = ["no dropout"] if task.dropout else []
        if task.optimizer != "adam":
            notes.append(f"adam, not {task.optimizer}")
        self.note = "; ".join(notes)

    def epoch_times(self, n_epochs):
        times = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(n_epochs):
                start = time.perf_counter()
                self.clf.partial_fit(self.x, self.y, classes=self.classes)
                times.append(time.perf_counter() - start)
        return times

    def predict(self, x):
        proba = self.clf.predict_proba(numpy.asarray(x, numpy.float32))
        return proba[:, 1:] if self.task.binary else proba


def make_trainers(task, x, y, batch_size, seed=0):
    return {NAME: SklearnTrainer(task, x, y, batch_size, seed)}


def make_predictors(weights, task, n_threads):
    """An MLPClassifier initialised by one tiny partial_fit, then given `weights`."""
    clf = _classifier(task, 32)
    n = task.n_classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(numpy.zeros((n, task.n_features), numpy.float32), numpy.arange(n),
                        classes=numpy.arange(n))
    clf.coefs_ = [w.astype(numpy.float32) for w in weights[0::2]]
    clf.intercepts_ = [b.astype(numpy.float32) for b in weights[1::2]]
    return {NAME: clf.predict_proba}
