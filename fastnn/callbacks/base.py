"""The callback base class, the list that dispatches hooks, and the simple callbacks."""
import math

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "TerminateOnNaN"]


class Callback:
    """Base class of callbacks; override any of Keras' ``on_*`` hooks.

    `fit`, `evaluate` and `predict` set `self.model` and `self.params`
    (``{'epochs', 'steps', 'verbose'}``) before the first hook.

    Example:
        >>> from fastnn.callbacks import Callback
        >>> class Count(Callback):
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.seen = batch + 1
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Called before the first hook with the model being run."""
        self.model = model

    def set_params(self, params):
        """Called before the first hook with {'epochs', 'steps', 'verbose'}."""
        self.params = params

    def _writes_files(self):
        """Whether this process writes the callback's files: in a distributed fit
        (fastnn.distributed) only rank 0 does, so that each file is written once."""
        return getattr(self.model, "_is_chief", True)

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    # as in Keras, the training batch hooks default to the older on_batch_* names
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def wants_batch_hooks(self):
        """Whether this callback acts on training batches; fit skips the two hook calls
        per step when none does. By default: whether a batch hook is overridden."""
        cls = type(self)
        if cls.__getattribute__ is not object.__getattribute__ or hasattr(cls, "__getattr__"):
            return True  # hooks looked up dynamically: assume it wants them all
        return any(getattr(cls, name) is not getattr(Callback, name) or name in self.__dict__
                   for name in _BATCH_HOOKS)

    def __repr__(self):
        return f"<{type(self).__name__}>"


_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                "on_batch_end")


class CallbackList:
    """Calls a hook on every callback, in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"`callbacks` must hold fastnn.callbacks.Callback objects; "
                                f"got {cb!r}")
            cb.set_model(model)
            cb.set_params(params)

    def wants_train_batch_hooks(self):
        """Whether some callback acts on training batches: when none does, fit skips the
        two calls per step (microseconds that matter on small models)."""
        return any(cb.wants_batch_hooks() for cb in self.callbacks)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        n_index = 1 if ("batch" in hook or "epoch" in hook) else 0

        def call(*args, logs=None):
            # as in Keras, every hook receives its logs, a dict (possibly empty)
            if len(args) > n_index:
                args, logs = args[:n_index], args[n_index]
            logs = {} if logs is None else logs
            for cb in self.callbacks:
                getattr(cb, hook)(*args, logs)
        return call


class History(Callback):
    """Records each epoch's logs; `fit` returns it.

    Attributes:
        history: {'loss': [...], 'accuracy': [...], 'val_loss': [...], ...}.
        epoch: the epoch indices recorded (0-based).

    Example:
        >>> history = model.fit(x, y, epochs=3, verbose=0)      # doctest: +SKIP
        >>> history.history["loss"]                             # doctest: +SKIP
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    Args:
        raise_error: raise a RuntimeError instead of stopping quietly.

    Example:
        >>> from fastnn.callbacks import TerminateOnNaN
        >>> cb = TerminateOnNaN()
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"the loss of batch {batch} must be finite; got {loss}")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of plain functions, one per hook.

    Args:
        on_epoch_begin, on_epoch_end: called with (epoch, logs).
        on_train_begin, on_train_end: called with (logs).
        on_train_batch_begin, on_train_batch_end: called with (batch, logs).
        **kwargs: any other hook, e.g. ``on_test_end=f``.

    Example:
        >>> from fastnn.callbacks import LambdaCallback
        >>> losses = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(kwargs, on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"`{name}` must be a callback hook name such as "
                                 f"'on_epoch_end'; got {name!r}")
            if not callable(fn):
                raise TypeError(f"`{name}` must be callable; got {fn!r}")
            setattr(self, name, fn)
