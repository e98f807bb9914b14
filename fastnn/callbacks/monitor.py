"""Callbacks that watch a logged quantity: EarlyStopping and ReduceLROnPlateau."""
import warnings

from fastnn.callbacks.base import Callback

__all__ = ["EarlyStopping", "ReduceLROnPlateau"]

# metric names whose value improves when it grows ("acc" also covers "accuracy")
_UP = ("acc", "auc", "precision", "recall", "f1")


def check_mode(mode):
    """`mode` if it is 'auto', 'min' or 'max', else a ValueError."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be one of 'auto', 'min', 'max'; got {mode!r}")
    return mode


def direction(monitor, mode):
    """'min' or 'max': `mode`, or in 'auto' mode what the monitored name implies."""
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if any(word in name for word in _UP):
        return "max"
    if name.endswith("loss") or "error" in name or name in ("mse", "mae") or name == "lr" \
            or name == "learning_rate":
        return "min"
    raise ValueError(f"`mode` must be 'min' or 'max' for monitor={monitor!r}: 'auto' cannot "
                     f"tell whether it should grow or shrink")


def monitored(logs, monitor, who):
    """The value of `monitor` in `logs`, or None with a warning listing what is there."""
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who} is conditioned on `monitor`={monitor!r}, which is not in the "
                      f"logs; available: {sorted(logs or {})}", stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    Args:
        monitor: the logged quantity to watch ('val_loss').
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints when it stops and when it restores weights.
        mode: 'min', 'max', or 'auto' (from the name: accuracy grows, losses shrink).
        baseline: a value to beat; training stops after `patience` epochs that do not
            beat it.
        restore_best_weights: put back the weights of the best epoch when training ends.
        start_from_epoch: epochs to wait before watching (a warm-up).

    Example:
        >>> from fastnn.callbacks import EarlyStopping
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = check_mode(mode)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._direction = None
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = self.best_weights = None

    def _improves(self, value, reference):
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if self._direction is None:
            self._direction = direction(self.monitor, self.mode)
        current = monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # only a value that also beats the baseline restarts the count
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when a monitored quantity stops improving.

    Args:
        monitor: the logged quantity to watch ('val_loss').
        factor: the multiplier, < 1 (0.1).
        patience: epochs without improvement before a reduction (10).
        verbose: 1 prints each reduction.
        mode: 'min', 'max' or 'auto'.
        min_delta: the smallest change that counts as an improvement (1e-4).
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the learning rate never goes below this.

    Example:
        >>> from fastnn.callbacks import ReduceLROnPlateau
        >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if "epsilon" in kwargs:  # the Keras 2 name of min_delta
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected arguments {sorted(kwargs)}")
        if not 0 < factor < 1:
            raise ValueError(f"`factor` must be in (0, 1); got {factor!r}")
        self.monitor, self.factor = monitor, float(factor)
        self.patience, self.verbose = int(patience), verbose
        self.mode = check_mode(mode)
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), \
            float(min_lr)
        self._reset()

    def _reset(self):
        # Keras' rule: 'auto' maximises only names containing "acc"
        self._max = self.mode == "max" or (self.mode == "auto" and "acc" in self.monitor)
        self.best = -float("inf") if self._max else float("inf")
        self.wait = self.cooldown_counter = 0

    def _improves(self, value):
        if self._max:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new_lr}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0
