"""LearningRateScheduler: set the learning rate at the start of each epoch."""
import inspect
import numbers

from fastnn.callbacks.base import Callback

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate to ``schedule(epoch, lr)`` before each epoch.

    Args:
        schedule: a function of (epoch (0-based), current learning rate) returning the
            new rate as a float; a function of the epoch alone is accepted too.
        verbose: 1 prints each change.

    Example:
        >>> from fastnn.callbacks import LearningRateScheduler
        >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr / 2)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be callable as schedule(epoch, lr); got "
                            f"{schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = _takes_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError("`model.optimizer` must be set (compile the model) for "
                             "LearningRateScheduler; got None")
        # the form is read from the signature, so a TypeError raised inside the schedule
        # reaches the user instead of being retried as the one-argument form
        if self._takes_lr:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise ValueError(f"the output of `schedule` must be a float; got {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _takes_two_arguments(schedule):
    """Whether `schedule` can be called as schedule(epoch, lr) (else schedule(epoch));
    a callable whose signature cannot be read is given both."""
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(0, 0.1)
        return True
    except TypeError:
        return False
