"""What a model compiles to, whatever the backend: its layers, loss and optimizer as one
Program, which each backend turns into an executor (``backend.compile(program)``).

A layer names the op it is (`Layer.op_kind`: "dense", "dropout", "reshape",
"activation", "batch_norm", "layer_norm", "rescale", "prelu", "normalize",
"gaussian_noise", "gaussian_dropout", "alpha_dropout", or None for a user's own Python
layer); an executor runs the ops it knows in its own way (the cpu backend's as one
fused compiled loop) and any other program layer by layer on its backend's kernels.
"""
from fastnn.variables import plain

# the op kinds that draw from Philox, each at its own step counter (`step`)
RANDOM_KINDS = ("dropout", "gaussian_noise", "gaussian_dropout", "alpha_dropout")


class Program:
    """A model's layers, loss and optimizer, fixed for one executor.

    Attributes:
        layers: the layers, in order (they hold the parameters and gradients).
        input_shape, output_shape: one sample's shapes, without the batch axis.
        dtype: the parameters' NumPy dtype.
        loss: the loss object, or None for an inference-only program.
        loss_kind, loss_param: the loss code the kernels run and its parameter.
        fused: whether the loss is computed from the last layer's logits (softmax or
            sigmoid + their cross-entropy), so that its gradient is p - y.
        optimizer: the optimizer object, or None.
        params, grads: the trainable parameters and their gradient buffers, in order.
        regularizers: each parameter's regularizer (a layer's `<name>_regularizer`
            for its parameter `<name>`), or None, in the order of `params`.
        dropout_layers: the layers that draw from Philox at each training step
            (Dropout and the noise layers: RANDOM_KINDS), in order.
    """

    def __init__(self, layers, input_shape, output_shape, dtype, loss=None,
                 optimizer=None):
        self.layers = tuple(layers)
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(output_shape)
        self.dtype = dtype
        self.loss, self.optimizer = loss, optimizer
        last = self.layers[-1] if self.layers else None
        self.loss_kind, self.fused, self.loss_param = None, False, 0.0
        if loss is not None:
            if getattr(loss, "reduction", "mean") not in ("sum_over_batch_size", "mean"):
                raise ValueError(f"training needs a loss with reduction "
                                 f"'sum_over_batch_size' (or 'mean'); loss {loss.name!r} "
                                 f"has reduction {loss.reduction!r}")
            self.loss_kind, fused = loss.kernel(getattr(last, "activation", None))
            self.fused = bool(fused and hasattr(last, "keep_preact"))
            self.loss_param = loss._param()
        # only a training program decides: an inference program of the same layers
        # (predict on another backend) must not undo what the training one set
        if loss is not None and hasattr(last, "keep_preact"):
            last.keep_preact = self.fused
        # the weights' buffers as plain arrays: updates skip the Variables' NumPy dispatch
        self.params = [plain(p) for l in self.layers if l.trainable for p in l._params]
        self.grads = [g for l in self.layers if l.trainable for g in l._grads]
        self.regularizers = [r for l in self.layers if l.trainable
                             for r in _param_regularizers(l)]
        self.dropout_layers = [l for l in self.layers if l.op_kind in RANDOM_KINDS]

    @property
    def op_kinds(self):
        """Each layer's op kind, in order (None for a user's own layer)."""
        return tuple(l.op_kind for l in self.layers)

    def next_dropout_steps(self, n_steps=1):
        """The Philox step of each layer of `dropout_layers` for the next training step
        (the first of the next n_steps), then advanced past those steps."""
        steps = tuple([d.step for d in self.dropout_layers])
        for d in self.dropout_layers:
            d.step += n_steps
        return steps

    def regularization_loss(self):
        """The layers' regularization penalties, summed."""
        return sum(l.regularization_loss() for l in self.layers
                   if hasattr(l, "regularization_loss"))

    def activity_loss(self):
        """The layers' activity penalties of the last forward pass, summed."""
        return sum(l.activity_loss() for l in self.layers if hasattr(l, "activity_loss"))


def _param_regularizers(layer):
    """The regularizer of each of `layer`'s parameters (None where it has none)."""
    names = getattr(layer, "_param_names", None)
    if names is None or len(names) != len(layer._params):
        return [None] * len(layer._params)
    return [getattr(layer, f"{name}_regularizer", None) for name in names]
