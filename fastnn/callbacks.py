"""Callbacks, with Keras' hook names: History and the progress display for now."""
import sys
import time

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]


class Callback:
    """Base class; override any of the ``on_*`` hooks. `self.model` is set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Called by fit before training."""
        self.model = model

    def set_params(self, params):
        """Called by fit with {'epochs', 'steps', 'verbose'}."""
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return call


class History(Callback):
    """Records each epoch's logs: ``history.history['loss']``, ``['val_accuracy']``..."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


def _format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _format_time(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


class ProgbarLogger(Callback):
    """Keras-style progress: verbose=1 a live bar (one line per epoch when the output is
    not a terminal), verbose=2 one line per epoch."""

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream or sys.stdout

    def _live(self):
        return self.verbose == 1 and getattr(self.stream, "isatty", lambda: False)()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last_draw = time.perf_counter()
        self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")

    def on_train_batch_end(self, batch, logs=None):
        if not self._live():
            return
        now = time.perf_counter()
        steps = self.params.get("steps") or 1
        if now - self._last_draw < 0.05 and batch + 1 < steps:
            return
        self._last_draw = now
        done = batch + 1
        per_step = (now - self._start) / done
        width = 30
        filled = int(width * done / steps)
        bar = "=" * max(filled - 1, 0) + (">" if filled < width else "=") + "." * (width - filled)
        eta = per_step * (steps - done)
        self.stream.write(f"\r{done}/{steps} [{bar}] - ETA: {_format_time(eta)} - "
                          f"{_format_time(per_step)}/step - {_format_logs(logs or {})}")
        self.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        steps = self.params.get("steps") or 1
        prefix = "\r" if self._live() else ""
        self.stream.write(f"{prefix}{steps}/{steps} - {_format_time(elapsed)} - "
                          f"{_format_time(elapsed / steps)}/step - {_format_logs(logs or {})}\n")
        self.stream.flush()
