"""Watching training from the inside: per-layer weight, gradient and activation statistics,
recorded every epoch into the History."""
import numpy

from fastnn.backend import get_backend
from fastnn.callbacks.base import Callback

__all__ = ["TrainingMonitor"]

# Activations whose units can die: output exactly 0 for every input.
_DYING = ("relu",)


def _norm(array):
    return float(numpy.linalg.norm(numpy.asarray(array, dtype=numpy.float64).ravel()))


class TrainingMonitor(Callback):
    """Record per-layer statistics at the end of every epoch, for each Dense layer:

    - ``<layer>/weight_norm``: the kernel's Frobenius norm;
    - ``<layer>/grad_norm``: the norm of the kernel's gradient, averaged over the epoch's
      batches (vanishing or exploding gradients show here);
    - ``<layer>/update_ratio``: ‖W_end − W_start‖ / ‖W_start‖ over the epoch;
    - ``<layer>/dead_fraction`` (ReLU layers): the fraction of units that output 0 for
      every sample of the probe batch;
    - ``<layer>/activation_std``: the standard deviation of the layer's outputs.

    The values are added to the epoch's `logs`, so they land in ``history.history`` and
    `fastnn.plot.plot_training_stats` can draw them.

    Args:
        probe: a batch of inputs to measure activations on, in inference mode (e.g. 256
            training samples). Default: the epoch's last training batch as it was seen
            in training (with dropout), which is noisier.
        stats: the statistics to record; default all of the above.

    Example:
        >>> from fastnn.callbacks import TrainingMonitor
        >>> history = model.fit(x, y, epochs=5, callbacks=[TrainingMonitor(probe=x[:256])])
        >>> history.history["dense/dead_fraction"]
    """

    STATS = ("weight_norm", "grad_norm", "update_ratio", "dead_fraction", "activation_std")

    def __init__(self, probe=None, stats=None):
        super().__init__()
        self.probe = None if probe is None else numpy.asarray(probe)
        stats = self.STATS if stats is None else tuple(stats)
        unknown = [s for s in stats if s not in self.STATS]
        if unknown:
            raise ValueError(f"`stats` must be among {list(self.STATS)}; got {unknown}")
        self.stats = stats
        self._start = {}
        self._grad_sums = {}
        self._n_batches = 0

    def _layers(self):
        return [l for l in self.model.layers if getattr(l, "kernel", None) is not None]

    def on_epoch_begin(self, epoch, logs=None):
        backend = get_backend()
        self._start = {l.name: backend.to_numpy(l.kernel).astype(numpy.float64)
                       for l in self._layers()}
        self._grad_sums = {}
        self._n_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        if "grad_norm" not in self.stats:
            return
        # the step has just run: each layer's gradient buffers hold this batch's gradients
        backend = get_backend()
        for layer in self._layers():
            if layer._grads:
                norm = _norm(backend.to_numpy(layer._grads[0]))
                self._grad_sums[layer.name] = self._grad_sums.get(layer.name, 0.0) + norm
        self._n_batches += 1

    def _outputs(self):
        """{layer name: its outputs on the probe (or the last training batch)}."""
        layers = self._layers()
        if self.probe is not None:
            from fastnn.explain import activations
            outs = activations(self.model, self.probe)
            return {l.name: outs[self.model.layers.index(l)] for l in layers}
        backend = get_backend()
        return {l.name: backend.to_numpy(l._y) for l in layers
                if getattr(l, "_y", None) is not None}

    def compute(self):
        """This moment's statistics, {'<layer>/<stat>': float}."""
        backend = get_backend()
        outputs = self._outputs() if {"dead_fraction", "activation_std"} & set(self.stats) \
            else {}
        result = {}
        for layer in self._layers():
            kernel = backend.to_numpy(layer.kernel).astype(numpy.float64)
            values = {"weight_norm": _norm(kernel)}
            if layer.name in self._grad_sums:
                values["grad_norm"] = self._grad_sums[layer.name] / self._n_batches
            elif layer._grads:  # outside fit: the gradients of the last step
                values["grad_norm"] = _norm(backend.to_numpy(layer._grads[0]))
            if layer.name in self._start:
                start = self._start[layer.name]
                values["update_ratio"] = _norm(kernel - start) / max(_norm(start), 1e-12)
            out = outputs.get(layer.name)
            if out is not None and len(out):
                if layer.activation.name in _DYING:
                    values["dead_fraction"] = float(numpy.mean(~(out > 0).any(axis=0)))
                values["activation_std"] = float(numpy.std(out))
            result.update({f"{layer.name}/{k}": v for k, v in values.items()
                           if k in self.stats})
        return result

    def on_epoch_end(self, epoch, logs=None):
        values = self.compute()
        if logs is not None:
            logs.update(values)
        self._sync_history(values)

    def _sync_history(self, values):
        """Add the values to the model's History if it already recorded this epoch
        (callbacks that run before this one do not see what it adds to `logs`)."""
        history = getattr(self.model, "history", None)
        data = getattr(history, "history", None)
        if not isinstance(data, dict) or not getattr(history, "epoch", None):
            return
        n = len(history.epoch)
        for key, value in values.items():
            series = data.setdefault(key, [])
            if len(series) < n:
                series.extend([float("nan")] * (n - 1 - len(series)))
                series.append(value)

    def __repr__(self):
        probe = "last batch" if self.probe is None else f"{len(self.probe)} samples"
        return f"<TrainingMonitor stats={list(self.stats)} probe={probe}>"
