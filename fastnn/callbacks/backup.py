"""BackupAndRestore: resume an interrupted fit where its last backup left it."""
import json
import os
import shutil

from fastnn import _validation
from fastnn.callbacks.base import Callback

__all__ = ["BackupAndRestore"]


class BackupAndRestore(Callback):
    """Back the training up to `backup_dir` and, when a fit starts with a backup
    there, restore it and go on from the epoch after the one it recorded (Keras 3's
    callback, names and defaults).

    The backup is a whole-model file (weights, the optimizer's slots and step count,
    the Dropout layers' step counters and the shuffling seed) and a small JSON record
    of the epoch, so a fit interrupted after epoch e (by an exception, a killed
    process) and run again with the same callback gives the bits of the uninterrupted
    fit. With an int `save_freq` the backup is also written every that many batches; a
    resumed fit then restarts the recorded epoch from its first batch with the weights of
    the last backup (as Keras does), which is not the uninterrupted run.

    Args:
        backup_dir: the directory of the backup (created when needed).
        save_freq: 'epoch' (at the end of each epoch), an int (every that many
            training batches) or False (never: only restore).
        double_checkpoint: also keep the previous backup (`*.bkp`), restored when the
            latest cannot be read.
        delete_checkpoint: delete `backup_dir` when the fit ends normally.

    Example:
        >>> from fastnn.callbacks import BackupAndRestore
        >>> backup = BackupAndRestore("/tmp/backup")   # fit(..., callbacks=[backup])
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir or not isinstance(backup_dir, (str, os.PathLike)):
            raise ValueError(f"`backup_dir` must be a non-empty path; got {backup_dir!r}")
        if save_freq not in ("epoch", False) and not (_validation.is_int(save_freq)
                                                      and save_freq > 0):
            raise ValueError(f"`save_freq` must be 'epoch', a positive int or False; got "
                             f"{save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._model_path = os.path.join(self.backup_dir, "latest.fnn")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._batches_since_save = 0
        self._current_epoch = 0
        self._last_batch = 0

    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        try:
            self._restore(self._model_path, self._metadata_path)
        except (OSError, ValueError):
            # the latest backup cannot be read: the previous one, where it was kept
            if not os.path.exists(self._model_path + ".bkp"):
                raise
            self._restore(self._model_path + ".bkp", self._metadata_path + ".bkp")

    def _restore(self, model_path, metadata_path):
        from fastnn.saving import restore_training_state
        if os.path.exists(model_path):
            restore_training_state(self.model, model_path)
        if os.path.exists(metadata_path):
            with open(metadata_path) as f:
                epoch = json.load(f)["epoch"]
            self._current_epoch = epoch
            self.model._initial_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch = 0
        if self.save_freq == "epoch":
            self._save()

    def wants_batch_hooks(self):
        return self.save_freq not in ("epoch", False)

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq in ("epoch", False):
            return
        self._batches_since_save += 1
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save()

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and self._writes_files() and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)

    def _save(self):
        if not self._writes_files():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path in (self._model_path, self._metadata_path):
                if os.path.exists(path):
                    shutil.copyfile(path, path + ".bkp")
        self.model.save(self._model_path)
        tmp = self._metadata_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch}, f)
        os.replace(tmp, self._metadata_path)
