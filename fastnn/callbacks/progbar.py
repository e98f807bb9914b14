"""The progress display of fit / evaluate / predict, in Keras' format.

On a terminal with ``verbose=1`` the line is redrawn in place: a 20-cell bar, the ETA,
the time per step and the running metrics. Otherwise (``verbose=2``, or output that is
not a terminal, such as a log file) each epoch prints exactly one line when it ends,
so logs are never flooded with per-batch updates.
"""
import sys
import time

from fastnn.callbacks.base import Callback

__all__ = ["ProgbarLogger"]

_BAR_WIDTH = 20
_REDRAW_INTERVAL = 0.05  # seconds between redraws of a live bar


def format_value(value):
    """A log value as Keras prints it: .4f, or .4e when |value| <= 1e-3."""
    if isinstance(value, (int, float)):
        return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"
    return str(value)


def format_logs(logs):
    """' - name: value' for each entry, names sorted as Keras does."""
    return "".join(f" - {k}: {format_value(v)}" for k, v in sorted((logs or {}).items()))


def format_step_time(seconds):
    """Seconds per step as Keras prints them: '2s/step', '15ms/step', '40us/step'."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_eta(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class ProgbarLogger(Callback):
    """Prints progress: `fit` adds one when ``verbose`` is 1 or 2.

    Args:
        verbose: 1 for a live bar on a terminal (one line per epoch elsewhere), 2 for one
            line per epoch.
        stream: where to write; sys.stdout (at the time of the call) by default.

    Example:
        >>> model.fit(x, y, epochs=2, verbose=2)                 # doctest: +SKIP
        Epoch 1/2 - 29/29 - 0s - 1ms/step - loss: 0.6931
        Epoch 2/2 - 29/29 - 0s - 1ms/step - loss: 0.5012
    """

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        if verbose not in (1, 2):
            raise ValueError(f"`verbose` must be 1 or 2; got {verbose!r}")
        self.verbose = verbose
        self._stream = stream
        self._in_fit = False

    @property
    def stream(self):
        """The output stream."""
        return self._stream or sys.stdout

    def _live(self):
        isatty = getattr(self.stream, "isatty", None)
        return self.verbose == 1 and bool(isatty and isatty())

    def wants_batch_hooks(self):
        # only a live bar redraws during an epoch; the one-line form writes at its end
        return self._live()

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _begin(self, steps, header=""):
        self._steps = steps or 1
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._header = header
        if self._live() and header:
            self._write(header + "\n")

    def _line(self, done, logs, final):
        now = time.perf_counter()
        elapsed = now - self._start
        per_step = elapsed / max(done, 1)
        count = f"{done:>{len(str(self._steps))}}/{self._steps}"
        if not self._live():
            prefix = self._header + " - " if self._header else ""
            return f"{prefix}{count} - {elapsed:.0f}s - {format_step_time(per_step)}" \
                   f"{format_logs(logs)}\n"
        filled = int(_BAR_WIDTH * done / self._steps)
        bar = "\x1b[32m" + "━" * filled + "\x1b[37m" + "━" * (_BAR_WIDTH - filled) + "\x1b[0m"
        when = f"{elapsed:.0f}s" if final else _format_eta(per_step * (self._steps - done))
        return (f"\r{count} {bar} {when} {format_step_time(per_step)}{format_logs(logs)}"
                + ("\n" if final else "\x1b[K"))

    def _batch(self, batch, logs):
        if not self._live():
            return
        now = time.perf_counter()
        if now - self._last_draw < _REDRAW_INTERVAL and batch + 1 < self._steps:
            return
        self._last_draw = now
        self._write(self._line(batch + 1, logs, final=False))

    # -- fit
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", "?")
        self._begin(self.params.get("steps"), f"Epoch {epoch + 1}/{epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._batch(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._write(self._line(self._steps, logs, final=True))

    # -- evaluate / predict (silent for the validation run inside fit)
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._begin(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._batch(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._write(self._line(self._steps, logs, final=True))

    def on_predict_begin(self, logs=None):
        self._begin(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        self._batch(batch, None)

    def on_predict_end(self, logs=None):
        self._write(self._line(self._steps, None, final=True))
