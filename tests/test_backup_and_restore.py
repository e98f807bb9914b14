"""BackupAndRestore (Keras 3's callback): a fit interrupted by an exception and run
again with the same callback gives the bits of the uninterrupted fit (weights,
optimizer state, Dropout steps, shuffling), on the cpu and reference backends; the
backup is deleted at the end, or kept; ModelCheckpoint's file-name templates."""
import json
import os

import numpy as np
import pytest

import fastnn
from fastnn import callbacks, layers, models, optimizers


class Interrupt(Exception):
    pass


class InterruptAt(callbacks.Callback):
    """Raise Interrupt at batch `batch` of epoch `epoch`."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise Interrupt


def _data():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((60, 5))
    return x, (x[:, :1] - x[:, 1:2] > 0).astype(int).ravel()


def _model(optimizer):
    fastnn.utils.set_random_seed(11)
    model = models.Sequential([layers.Input((5,)), layers.Dense(16, activation="relu"),
                               layers.Dropout(0.3), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(0.01),
    "lion_ema_accumulate": lambda: optimizers.Lion(0.003, use_ema=True,
                                                   gradient_accumulation_steps=2),
    "nadam": lambda: optimizers.Nadam(0.01),
}


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_interrupted_and_resumed_fit_has_the_bits_of_the_uninterrupted(tmp_path, backend,
                                                                        name):
    x, y = _data()
    with fastnn.use_backend(backend):
        whole = _model(OPTIMIZERS[name]())
        want = whole.fit(x, y, batch_size=8, epochs=5, verbose=0,
                         validation_split=0.2).history
        backup_dir = tmp_path / "backup"
        model = _model(OPTIMIZERS[name]())
        backup = callbacks.BackupAndRestore(backup_dir)
        with pytest.raises(Interrupt):
            model.fit(x, y, batch_size=8, epochs=5, verbose=0, validation_split=0.2,
                      callbacks=[backup, InterruptAt(3, 2)])
        with open(backup_dir / "training_metadata.json") as f:
            assert json.load(f)["epoch"] == 3
        # another process: a new model of the same seed, fit again with the callback
        model = _model(OPTIMIZERS[name]())
        got = model.fit(x, y, batch_size=8, epochs=5, verbose=0, validation_split=0.2,
                        callbacks=[callbacks.BackupAndRestore(backup_dir)]).history
        assert not backup_dir.exists()        # delete_checkpoint=True
    for a, b in zip(model.get_weights(), whole.get_weights()):
        assert a.tobytes() == b.tobytes()
    assert model.optimizer.iterations == whole.optimizer.iterations
    for key in want:
        assert got[key] == want[key][3:], key


def test_resume_of_a_fit_with_steps_per_epoch(tmp_path):
    """The batch-by-batch fit (steps_per_epoch) resumes with the same bits."""
    x, y = _data()
    whole = _model(optimizers.Adam(0.01))
    want = whole.fit(x, y, batch_size=8, epochs=4, steps_per_epoch=5, verbose=0).history
    model = _model(optimizers.Adam(0.01))
    with pytest.raises(Interrupt):
        model.fit(x, y, batch_size=8, epochs=4, steps_per_epoch=5, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(tmp_path), InterruptAt(2, 1)])
    model = _model(optimizers.Adam(0.01))
    got = model.fit(x, y, batch_size=8, epochs=4, steps_per_epoch=5, verbose=0,
                    callbacks=[callbacks.BackupAndRestore(tmp_path)]).history
    assert got == {k: v[2:] for k, v in want.items()}
    for a, b in zip(model.get_weights(), whole.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_backup_kept_and_interrupt_on_the_same_model(tmp_path):
    x, y = _data()
    whole = _model(optimizers.SGD(0.05, momentum=0.9))
    whole.fit(x, y, batch_size=16, epochs=4, verbose=0)
    model = _model(optimizers.SGD(0.05, momentum=0.9))
    backup = callbacks.BackupAndRestore(str(tmp_path / "b"), delete_checkpoint=False)
    with pytest.raises(Interrupt):
        model.fit(x, y, batch_size=16, epochs=4, verbose=0,
                  callbacks=[backup, InterruptAt(1, 1)])
    model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[backup])
    assert (tmp_path / "b" / "latest.fnn").exists()
    for a, b in zip(model.get_weights(), whole.get_weights()):
        assert a.tobytes() == b.tobytes()
    # a finished run's backup: a fit with it has no epoch left
    again = model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[backup])
    assert again.history == {}


def test_batch_backups(tmp_path):
    x, y = _data()
    model = _model(optimizers.Adam(0.01))
    backup = callbacks.BackupAndRestore(tmp_path / "b", save_freq=3, delete_checkpoint=False,
                                        double_checkpoint=True)
    assert backup.wants_batch_hooks()
    assert not callbacks.BackupAndRestore(tmp_path / "c").wants_batch_hooks()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[backup])
    assert sorted(os.listdir(tmp_path / "b")) == [
        "latest.fnn", "latest.fnn.bkp", "training_metadata.json",
        "training_metadata.json.bkp"]
    with pytest.raises(ValueError):
        callbacks.BackupAndRestore("")
    with pytest.raises(ValueError):
        callbacks.BackupAndRestore(tmp_path, save_freq="batch")


def test_model_checkpoint_file_name_templates(tmp_path):
    x, y = _data()
    model = _model(optimizers.Adam(0.01))
    paths = [str(tmp_path / "a-{epoch}.fnn"), str(tmp_path / "b-{epoch:02d}.fnn"),
             str(tmp_path / "c-{epoch:02d}-{val_loss:.2f}.weights.fnn"),
             str(tmp_path / "d-{epoch:03d}-{batch}.fnn")]
    cbs = [callbacks.ModelCheckpoint(paths[0]), callbacks.ModelCheckpoint(paths[1]),
           callbacks.ModelCheckpoint(paths[2], save_weights_only=True),
           callbacks.ModelCheckpoint(paths[3], save_freq=4)]
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.2,
                        callbacks=cbs).history
    names = set(os.listdir(tmp_path))
    val = history["val_loss"]
    assert {"a-1.fnn", "a-2.fnn", "b-01.fnn", "b-02.fnn", f"c-01-{val[0]:.2f}.weights.fnn",
            f"c-02-{val[1]:.2f}.weights.fnn", "d-002-1.fnn"} <= names, names
    with pytest.raises(KeyError, match="not in the logs"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{val_acc}.fnn"))])
