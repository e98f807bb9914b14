"""ModelCheckpoint: save the model (or its weights) while training."""
import os
import warnings

from fastnn import _validation
from fastnn.callbacks.base import Callback
from fastnn.callbacks.monitor import check_mode

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save the model at the end of every epoch (or every `save_freq` batches).

    Args:
        filepath: where to save; may hold ``str.format`` fields filled from the epoch
            (1-based) and the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.fnn"``; a
            ".keras" (or ".weights.h5") name writes Keras 3's format, any other fastnn's.
        monitor: the logged quantity compared when `save_best_only` ('val_loss').
        verbose: 1 prints each save.
        save_best_only: save only when `monitor` improves on the best so far.
        save_weights_only: write `model.save_weights` files instead of whole models.
        mode: 'min', 'max', or 'auto' (maximise names containing "acc", as Keras does).
        save_freq: 'epoch', or an int: save every that many training batches.
        initial_value_threshold: the value a first save must beat (with save_best_only).

    Example:
        >>> from fastnn.callbacks import ModelCheckpoint
        >>> ckpt = ModelCheckpoint("best.fnn", monitor="val_accuracy", save_best_only=True)
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"`filepath` must be a str or path; got {filepath!r}")
        if save_freq != "epoch" and not (_validation.is_int(save_freq) and save_freq > 0):
            raise ValueError(f"`save_freq` must be 'epoch' or a positive int; got "
                             f"{save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = bool(save_best_only), \
            bool(save_weights_only)
        self.mode = check_mode(mode)
        self.save_freq = save_freq
        self._max = self.mode == "max" or (self.mode == "auto" and
                                           ("acc" in monitor or monitor.startswith("fmeasure")))
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = -float("inf") if self._max else float("inf")
        self._batches = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, dict(logs or {}, batch=batch + 1))

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise KeyError(f"`filepath` {self.filepath!r} names {exc}, which is not in the "
                           f"logs; available: {['epoch'] + sorted(logs)}") from None

    def _save(self, epoch, logs):
        path = self._path(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint can save the best model only with "
                              f"{self.monitor!r} in the logs; skipping", stacklevel=2)
                return
            better = current > self.best if self._max else current < self.best
            if not better:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1:05d}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1:05d}: {self.monitor} improved from "
                      f"{self.best:.5f} to {current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1:05d}: saving model to {path}")
        if not self._writes_files():
            return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
