"""Sequential: a linear stack of layers, as ``keras.Sequential``."""
from fastnn import _validation
from fastnn import layers as layers_module
from fastnn import losses, optimizers
from fastnn import metrics as metrics_lib
from fastnn.layers.base import Layer
from fastnn.layers.input_layer import InputLayer
from fastnn.models.summary import summary_text
from fastnn.models.gradients import GradientMixin
from fastnn.models.inference import InferenceMixin
from fastnn.models.training import TrainingMixin


class Sequential(TrainingMixin, InferenceMixin, GradientMixin):
    """A model made of layers applied one after another.

    Args:
        layers: a list of layers (or add them with `add`); a Sequential among them is
            flattened into its layers, which stay shared with it (see `add`).
        name: the model's name.

    Example:
        >>> from fastnn.models import Sequential
        >>> from fastnn.layers import Dense, Dropout
        >>> model = Sequential([Dense(128, activation="relu", input_shape=(784,)),
        ...                     Dropout(0.2), Dense(10, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
    """

    _count = 0

    def __init__(self, layers=None, name=None):
        if name is None:
            name = "sequential" if Sequential._count == 0 else f"sequential_{Sequential._count}"
            Sequential._count += 1
        self.name = name
        self._layers = []
        self._input_layer = None   # an Input / InputLayer given first, if any
        self.built = False
        self.input_shape = None
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.compiled_weighted_metrics = []
        self._metric_specs = []
        self._weighted_metric_specs = []
        self._loss_weight = 1.0
        # the seed of every epoch's shuffling order: drawn at the first fit, kept in the
        # model file, so that a resumed run shuffles as the uninterrupted one
        self.training_seed = None
        self.stop_training = False
        self._training_ready = False
        self.program = self.executor = None   # set when the model is compiled and trained
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self):
        """The layers, in order (a copy of the list)."""
        return list(self._layers)

    def add(self, layer):
        """Append a layer; an `Input(shape=...)` / `InputLayer` first sets the input
        shape (and builds the layers as they come), as in Keras 3. A Sequential given
        as a layer is spliced in: its layers (the same objects, which share their weights
        with it) are appended one by one, and `layers` lists them flattened."""
        if getattr(layer, "input_layer", None) is not None:   # Input(...)'s tensor
            layer = layer.input_layer
        if isinstance(layer, Sequential):
            return self._add_model(layer)
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"`layer` {layer!r} must come first, before any other "
                                 f"layer, and only once")
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"`layer` must be a fastnn layer (e.g. fastnn.layers.Dense); "
                            f"got {layer!r}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"`layer` name {layer.name!r} is already used in this model; "
                             f"layer names must be unique")
        self._layers.append(layer)
        self.built = False
        self._training_ready = False   # parameters and plans are set up again
        # as in Keras, a model whose input shape is known builds each layer as it comes
        shape = self._declared_input_shape()
        if shape is not None:
            self._build_with_dtype((None,) + shape)

    def _add_model(self, model):
        """Splice in the layers of the Sequential `model` (the same layer objects, so
        training this model trains `model`'s weights); its Input comes along when this
        model has no layer yet. `layers` lists the spliced layers one by one."""
        if not model._layers:
            raise ValueError(f"`layer` {model!r} is a Sequential without layers; add its "
                             f"layers before adding it to another model")
        if model is self:
            raise ValueError("a Sequential cannot be added to itself")
        if model._input_layer is not None and not self._layers and self._input_layer is None:
            self._input_layer = model._input_layer
        for inner in model._layers:
            self.add(inner)

    def _declared_input_shape(self):
        """One sample's shape from the Input or the first layer's input_shape, or None."""
        if self._input_layer is not None:
            return self._input_layer.shape_per_sample
        return self._layers[0].input_shape if self._layers else None

    def _build_with_dtype(self, input_shape):
        """build, in the Input's dtype where it names one."""
        from fastnn import config
        with config.floatx_scope(None if self._input_layer is None
                                 else self._input_layer.dtype):
            self.build(input_shape)

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("`pop` needs a model with at least one layer; this one is empty")
        layer = self._layers.pop()
        self.built = all(l.built for l in self._layers) and bool(self._layers)
        self._training_ready = False   # parameters and plans are set up again
        return layer

    def get_layer(self, name=None, index=None):
        """A layer by name or by index."""
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"`name` must be one of {[l.name for l in self._layers]}; "
                         f"got {name!r}")

    def build(self, input_shape=None):
        """Create every layer's weights for inputs of `input_shape` ((None, n_features))."""
        if input_shape is None:
            if self._declared_input_shape() is None:
                raise ValueError("`input_shape` is unknown: open the model with "
                                 "Input(shape=(n_features,)), give the first layer "
                                 "input_shape=(n_features,) or call fit/predict first")
            input_shape = (None,) + self._declared_input_shape()
        if not self._layers:
            raise ValueError("the model has no layers; add some before building it")
        shape = tuple(input_shape[1:])
        self.input_shape = (None,) + shape
        for index, layer in enumerate(self._layers):
            if not layer.built:
                layer.build(shape)
            if hasattr(layer, "layer_index"):
                layer.layer_index = index
            shape = layer.compute_output_shape(shape)
        self.output_shape = (None,) + tuple(shape)
        self.built = True

    @property
    def weights(self):
        """Every parameter array, layer by layer (kernel, then bias)."""
        return [p for layer in self._layers for p in layer.weights]

    @property
    def trainable_weights(self):
        """The weights an optimizer updates, layer by layer (Keras' order)."""
        return [p for layer in self._layers for p in layer.trainable_weights]

    def get_weights(self):
        """The parameters as NumPy arrays, in Keras' order and layout."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set the parameters from a list shaped as `get_weights` returns it."""
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"`weights` must be a list of {expected} arrays; got "
                             f"{len(weights)}")
        i = 0
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        """The number of scalars in all parameters."""
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, print_fn=None):
        """Print the layers, their output shapes and parameter counts (Keras' layout)."""
        (print_fn or print)(summary_text(self))

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training, with Keras 3's arguments in Keras 3's positional order.

        Args:
            optimizer: an optimizer name or object ('rmsprop' by default, as in Keras).
            loss: a loss name or object.
            loss_weights: a number (or a list or dict of one number) scaling the loss
                and its gradient, as Keras scales a single output's loss.
            metrics: a list of metric names or objects ('accuracy' is resolved from the
                loss and labels, as in Keras); they ignore sample and class weights.
            weighted_metrics: metrics computed with the sample and class weights; one
                whose name a plain metric already has is logged as 'weighted_<name>'.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for
                Keras compatibility; fastnn runs its own compiled step either way.

        Example:
            >>> model.compile("adam", "sparse_categorical_crossentropy",
            ...               metrics=["accuracy"])                     # doctest: +SKIP
        """
        if loss is None:
            raise ValueError("`loss` must be given to compile, e.g. "
                             "loss='sparse_categorical_crossentropy'; got None")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self._loss_weight = _single_loss_weight(loss_weights)
        self._metric_specs = _metric_list(metrics, "metrics")
        self._weighted_metric_specs = _metric_list(weighted_metrics, "weighted_metrics")
        _validation.positive_int(steps_per_execution, "steps_per_execution")
        self.compiled_metrics = []
        self.compiled_weighted_metrics = []
        self._training_ready = False

    def get_compile_config(self):
        """The arguments of the last `compile` as JSON-safe data (None before `compile`):
        {'optimizer', 'loss' (serialized), 'loss_weights', 'metrics', 'weighted_metrics'
        (names, or serialized metrics)}."""
        if self.optimizer is None or self.loss is None:
            return None
        def specs(metrics):
            return [spec if isinstance(spec, str) else metrics_lib.serialize(spec)
                    for spec in metrics]
        return {"optimizer": optimizers.serialize(self.optimizer),
                "loss": losses.serialize(self.loss), "loss_weights": self._loss_weight,
                "metrics": specs(self._metric_specs),
                "weighted_metrics": specs(self._weighted_metric_specs)}

    def compile_from_config(self, config):
        """`compile` with the settings `get_compile_config` returned (None compiles
        nothing); an unknown or invalid entry raises a ValueError."""
        if config is None:
            return
        def specs(metrics):
            return [spec if isinstance(spec, str) else metrics_lib.get(spec)
                    for spec in metrics]
        self.compile(optimizer=optimizers.get(config["optimizer"]),
                     loss=losses.get(config["loss"]),
                     loss_weights=config.get("loss_weights"),
                     metrics=specs(config["metrics"]),
                     weighted_metrics=specs(config.get("weighted_metrics") or []))

    @property
    def metrics_names(self):
        """'loss' then each compiled metric's log name: the labels of the list
        `evaluate` returns (resolved once the model has met its data)."""
        return ["loss"] + list(getattr(self, "_metric_names", None) or
                               [m if isinstance(m, str) else m.name
                                for m in self._metric_specs + self._weighted_metric_specs])

    @property
    def losses(self):
        """The layers' regularization penalties (floats), as Keras lists them."""
        return [float(penalty) for layer in self._layers
                if hasattr(layer, "regularization_losses")
                for penalty in layer.regularization_losses()]

    # ------------------------------------------------------------------ config
    def get_config(self):
        """JSON-safe description of the architecture (no weights).

        Example:
            >>> config = model.get_config()                    # doctest: +SKIP
            >>> clone = Sequential.from_config(config)         # doctest: +SKIP
        """
        config = {"name": self.name,
                  "layers": [layers_module.serialize(layer) for layer in self._layers]}
        if self.built:
            config["build_input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        """A new model with the architecture of `config` and freshly initialised weights
        (built when the config records the input shape)."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"`config` must be a dict with a 'layers' list; got {config!r}")
        model = cls([layers_module.get(c) for c in config["layers"]], name=config.get("name"))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def to_json(self, **kwargs):
        """The architecture as a JSON string; `fastnn.models.model_from_json` reads it.

        Args:
            **kwargs: passed to `json.dumps` (e.g. ``indent=2``).
        """
        import json
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()},
                          **kwargs)

    # ------------------------------------------------------------------ saving
    def save(self, filepath, overwrite=True):
        """Save architecture, weights, compile settings and optimizer state to one file:
        Keras 3's format for a ".keras" name, else fastnn's own (a versioned zip of JSON
        and .npy arrays, never code); see fastnn.saving.

        Example:
            >>> model.save("m.fnn")                             # doctest: +SKIP
            >>> model = fastnn.models.load_model("m.fnn")       # doctest: +SKIP
        """
        from fastnn import saving
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save only the weights (see fastnn.saving)."""
        from fastnn import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by `save_weights` (or `save`) into this model's layers."""
        from fastnn import saving
        saving.load_weights(self, filepath)

    def export(self, filepath, format=None, verbose=None, input_signature=None, **kwargs):
        """Write the model for inference elsewhere, as Keras 3's `export`: format 'onnx'
        (None infers it from a filepath ending in '.onnx'); `opset_version` may be
        given. See fastnn.onnx.export."""
        from fastnn.onnx._export import model_export
        model_export(self, filepath, format, verbose, input_signature, **kwargs)

    def quantize(self, mode):
        """Quantize the built model for inference, in place (Keras 3's `quantize`): mode
        "bfloat16" (fastnn.models.quantize_bf16) or "int8" (fastnn.models.quantize_int8)."""
        if mode == "bfloat16":
            from fastnn.models.quantize_bf16 import quantize_bfloat16
            return quantize_bfloat16(self)
        if mode == "int8":
            from fastnn.models.quantize_int8 import quantize_int8
            return quantize_int8(self)
        raise ValueError(f"`mode` must be 'int8' or 'bfloat16'; got {mode!r}")

    def __reduce__(self):
        # pickling goes through the model file format, so a model travels to worker
        # processes without pickling backend arrays or buffers
        from fastnn import saving
        return _from_model_bytes, (saving.model_to_bytes(self),)

    def __repr__(self):
        return f"<Sequential name={self.name!r}, layers={len(self._layers)}>"


def _from_model_bytes(data):
    """The model of a model file's bytes (what unpickling a model calls)."""
    from fastnn import saving
    return saving.model_from_bytes(data, model_class=Sequential)


def _metric_list(metrics, name):
    """`metrics` (None, one metric or a list) as a list, unknown names refused now."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, metrics_lib.Metric)) or callable(metrics):
        metrics = [metrics]
    # a plain function fn(y_true, y_pred) becomes a MeanMetricWrapper named after it
    metrics = [metrics_lib.get(m) if callable(m) and not isinstance(m, metrics_lib.Metric)
               else m for m in metrics] if isinstance(metrics, (list, tuple)) else metrics
    if not isinstance(metrics, (list, tuple)):
        raise ValueError(f"`{name}` must be a list of metric names or objects; got "
                         f"{type(metrics).__name__}")
    for spec in metrics:
        if isinstance(spec, str):
            metrics_lib.get(spec)  # fail now on an unknown name
        elif not isinstance(spec, metrics_lib.Metric):
            raise ValueError(f"`{name}` must hold metric names or fastnn.metrics.Metric "
                             f"objects; got {spec!r}")
    return list(metrics)


def _single_loss_weight(loss_weights):
    """The factor on the loss of the model's single output (1.0 for None)."""
    if loss_weights is None:
        return 1.0
    value = loss_weights
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"`loss_weights` must hold one weight for the model's single "
                             f"output; got {loss_weights!r}")
        value = value[0]
    return _validation.real(value, "loss_weights", minimum=0)
