"""Callbacks, with Keras' names, defaults and hooks.

Example:
    >>> from fastnn.callbacks import EarlyStopping, ModelCheckpoint
    >>> callbacks = [EarlyStopping(patience=3, restore_best_weights=True),
    ...              ModelCheckpoint("best.fnn", save_best_only=True)]
"""
from fastnn.callbacks.backup import BackupAndRestore
from fastnn.callbacks.base import Callback, CallbackList, History, LambdaCallback, \
    TerminateOnNaN
from fastnn.callbacks.checkpoint import ModelCheckpoint
from fastnn.callbacks.csv_logger import CSVLogger
from fastnn.callbacks.lr_scheduler import LearningRateScheduler
from fastnn.callbacks.monitor import EarlyStopping, ReduceLROnPlateau
from fastnn.callbacks.progbar import ProgbarLogger
from fastnn.callbacks.training_monitor import TrainingMonitor

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History",
           "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
           "ReduceLROnPlateau", "TerminateOnNaN", "TrainingMonitor"]
