"""Model: Keras 3's functional API (``Model(inputs, outputs)``) and subclassed models
(``class MyModel(Model)`` with its own `call`), on Sequential's machinery.

* A chain (one input, each layer used once and reading the previous one's output) is
  held as its list of layers and runs exactly as the equivalent Sequential: the same
  executor (compiled on the cpu backend), the same arithmetic, the same bits.
* Any other graph (several inputs, Concatenate, Add, a tensor read by several layers)
  is held as one GraphLayer (fastnn.models.graph) run layer by layer: `fit`, `predict`
  and `evaluate` take a list of arrays (in the order of `inputs`) or a dict by input
  name, packed side by side into one array of rows.
* A subclassed model's `call(inputs)` is traced once on a symbolic Input (shape from
  the first data or `build(input_shape)`), so a `call` made of layer calls (and merging
  layers) on its argument becomes the same graph. Python control flow on the data
  itself, and tensor arithmetic other than layers, are not supported. One input.

Limits: one output; each layer called once (no shared layers); streamed data
(generators, datasets) for several inputs yields each batch's inputs side by side in
one array, in the order of `inputs`.
"""
import numpy

from fastnn.layers.base import _snake
from fastnn.layers.symbolic import KerasTensor
from fastnn.models import graph as graph_lib
from fastnn.models.sequential import Sequential


class Model(Sequential):
    """A model from symbolic `inputs` (one `Input(...)` or a list of them) to one
    symbolic `outputs` tensor, or the base class of a subclassed model with `call`.

    Example:
        >>> import fastnn
        >>> from fastnn import layers
        >>> inputs = fastnn.Input(shape=(8,))
        >>> outputs = layers.Dense(1)(layers.Dense(16, activation="relu")(inputs))
        >>> model = fastnn.Model(inputs, outputs)
    """

    saved_class_name = "Functional"
    _model_count = 0

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if name is None:
            base = "functional" if type(self) is Model else _snake(type(self).__name__)
            name = base if Model._model_count == 0 else f"{base}_{Model._model_count}"
            Model._model_count += 1
        super().__init__(name=name)
        self._graph = None
        self.inputs = self.outputs = self.input = self.output = None
        if inputs is None and outputs is None:
            return    # a subclassed model: traced from `call` when built
        if inputs is None or outputs is None:
            raise ValueError("give both `inputs` and `outputs`, e.g. "
                             "fastnn.Model(inputs, outputs)")
        self._set_graph(inputs, outputs)

    def _set_graph(self, inputs, outputs):
        many = isinstance(inputs, (list, tuple))
        inputs = list(inputs) if many else [inputs]
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise ValueError(f"a fastnn Model has one output; got {len(outputs)}")
            outputs = outputs[0]
        for t in inputs + [outputs]:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"`inputs` and `outputs` must be symbolic tensors (from "
                                f"fastnn.Input and layer calls on them); got {t!r}")
        if any(t.layer is not None for t in inputs):
            raise ValueError("`inputs` must be tensors returned by fastnn.Input(...)")
        nodes = graph_lib.trace(inputs, outputs)
        if not nodes:
            raise ValueError("`outputs` must come from at least one layer call")
        self.inputs, self.outputs, self.output = inputs, [outputs], outputs
        self.input = inputs[0] if len(inputs) == 1 else inputs
        self._layers = []
        self._input_layer = None
        if graph_lib.is_chain(inputs, nodes):
            self._input_layer = inputs[0].input_layer
            for layer, _, _ in nodes:
                self.add(layer)
        else:
            self._graph = graph_lib.GraphLayer(inputs, outputs, name=f"{self.name}_graph")
            self._layers = [self._graph]
            self.build()

    # ------------------------------------------------------------------ structure
    @property
    def layers(self):
        """The layers in topological order (a copy of the list)."""
        return list(self._graph.inner_layers if self._graph is not None else self._layers)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"`name` must be one of {[l.name for l in self.layers]}; got "
                         f"{name!r}")

    def add(self, layer):
        if self.inputs is not None and self._graph is not None:
            raise TypeError("`add` is for chains; build a graph model with Model(inputs, "
                            "outputs)")
        super().add(layer)

    def build(self, input_shape=None):
        """Build the model: a subclassed model traces `call` on Input(shape=
        input_shape[1:]) first."""
        if self.inputs is None:
            if input_shape is None:
                raise ValueError("`input_shape` is unknown: call build((None, "
                                 "n_features)) or fit/predict first")
            from fastnn.layers.input_layer import Input
            inputs = Input(shape=tuple(input_shape[1:]))
            self._set_graph(inputs, self.call(inputs))
            if self._graph is not None:
                return
        super().build(input_shape)

    def _declared_input_shape(self):
        if self._graph is not None:
            return self._graph.input_shape
        return super()._declared_input_shape()

    def call(self, inputs):
        """The outputs for symbolic `inputs` (override in a subclassed model)."""
        raise NotImplementedError("a subclassed Model must define call(self, inputs), or "
                                  "construct it as Model(inputs, outputs)")

    def summary(self, print_fn=None):
        """As Sequential's summary; a graph model lists each layer with the tensors it
        reads and says that it runs layer by layer on the graph."""
        if self._graph is None:
            return super().summary(print_fn)
        lines = [f'Model: "{self.name}" (graph of {len(self.layers)} layers, run layer '
                 f'by layer on the graph executor)']
        for t in self.inputs:
            lines.append(f"  {t.name} (Input) {_fmt(t.shape)}")
        for layer, ins, out in self._graph.nodes:
            reads = ", ".join(t.name if t.layer is None else t.layer.name for t in ins)
            lines.append(f"  {layer.name} ({type(layer).__name__}) {_fmt(out.shape)} "
                         f"params={layer.count_params():,} <- {reads}")
        total = self.count_params()
        trainable = sum(l.count_trainable_params() for l in self.layers)
        lines.append(f" Total params: {total:,}")
        lines.append(f" Trainable params: {trainable:,}")
        lines.append(f" Non-trainable params: {total - trainable:,}")
        if self.executor is not None and self._training_ready:
            lines.append(f" Executor ({self.executor.backend.name}): graph, "
                         f"{self.executor.description}")
        (print_fn or print)("\n".join(lines))

    def _compile_program(self):
        if self._graph is not None:
            flags = self._graph.refresh()
            if flags != self.__dict__.get("_graph_flags"):
                self.executor, self._graph_flags = None, flags
        super()._compile_program()

    # ------------------------------------------------------------------ data
    def _pack(self, x):
        """Several inputs (a list in the order of `inputs`, or a dict by input name) as
        one array of rows side by side; anything else as given."""
        if self.inputs is None:
            return x
        from fastnn.models import data_adapters
        if data_adapters.is_streamed(x):
            # streamed batches for several inputs: each batch's inputs side by side in
            # one array (numpy.concatenate([x1, x2], axis=1)), in the order of `inputs`
            return x
        if len(self.inputs) == 1:
            if isinstance(x, dict) and len(x) == 1:
                return next(iter(x.values()))
            # [array] for the one input (a list of rows stays a list of rows)
            if isinstance(x, (list, tuple)) and len(x) == 1 and \
                    getattr(x[0], "ndim", None) == len(self.inputs[0].shape):
                return x[0]
            return x
        if isinstance(x, dict):
            missing = [t.name for t in self.inputs if t.name not in x]
            if missing:
                raise ValueError(f"`x` must hold an array for each input "
                                 f"{[t.name for t in self.inputs]}; missing {missing}")
            x = [x[t.name] for t in self.inputs]
        if not isinstance(x, (list, tuple)):
            return x    # packed already (or refused by the checks of one array)
        if len(x) != len(self.inputs):
            raise ValueError(f"`x` must be a list of {len(self.inputs)} arrays (one per "
                             f"input, in order) or a dict by input name; got "
                             f"{type(x).__name__}")
        arrays = [numpy.asarray(a) for a in x]
        parts = []
        for a, t in zip(arrays, self.inputs):
            if a.ndim == 1 and tuple(t.shape[1:]) == (1,):
                a = a.reshape(-1, 1)
            if tuple(a.shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(f"input {t.name!r} must have samples of shape "
                                 f"{tuple(t.shape[1:])}; got array of shape {a.shape}")
            parts.append(a.reshape(len(a), -1))
        if len({len(a) for a in parts}) != 1:
            raise ValueError(f"the inputs must have the same number of samples; got "
                             f"{[len(a) for a in parts]}")
        return numpy.concatenate(parts, axis=1)

    def _prepare_x(self, x, name="x", finite=True):
        return super()._prepare_x(self._pack(x), name, finite)

    def fit(self, x=None, y=None, *args, **kwargs):
        """As Sequential.fit; `x` (and `validation_data`'s) may be a list or dict of
        arrays for a model of several inputs."""
        vd = kwargs.get("validation_data")
        if isinstance(vd, tuple) and vd:
            kwargs["validation_data"] = (self._pack(vd[0]),) + tuple(vd[1:])
        return super().fit(self._pack(x), y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(self._pack(x), y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        return super().predict(self._pack(x), *args, **kwargs)

    def train_on_batch(self, x, y, *args, **kwargs):
        return super().train_on_batch(self._pack(x), y, *args, **kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self):
        """Sequential's config; a graph model's also holds its graph (see
        fastnn.models.graph.GraphLayer.graph_config)."""
        from fastnn import layers as layers_module
        if self._graph is None:
            config = super().get_config()
            if self._input_layer is not None and self.inputs is not None:
                config["input_name"] = self.inputs[0].name
            return config
        return {"name": self.name,
                "layers": [layers_module.serialize(l) for l in self.layers],
                "graph": self._graph.graph_config()}

    @classmethod
    def from_config(cls, config):
        """A functional Model with the architecture of `config` and fresh weights."""
        from fastnn import layers as layers_module
        from fastnn.layers.input_layer import Input
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"`config` must be a dict with a 'layers' list; got {config!r}")
        layers = [layers_module.get(c) for c in config["layers"]]
        if "graph" in config:
            inputs, output = graph_lib.rebuild(config["graph"], layers)
            return Model(inputs, output, name=config.get("name"))
        shape = config.get("build_input_shape") or (
            [None] + list(layers[0].input_shape) if layers and layers[0].input_shape
            else None)
        if shape is None:
            model = Model(name=config.get("name"))
            for layer in layers:
                Sequential.add(model, layer)
            return model
        x = inputs = Input(shape=tuple(shape[1:]), name=config.get("input_name"))
        for layer in layers:
            x = layer(x)
        return Model(inputs, x, name=config.get("name"))

    def to_json(self, **kwargs):
        import json
        return json.dumps({"class_name": self.saved_class_name,
                           "config": self.get_config()}, **kwargs)

    def __reduce__(self):
        from fastnn import saving
        return _from_model_bytes, (saving.model_to_bytes(self),)

    def __repr__(self):
        kind = "graph" if self._graph is not None else "chain"
        return f"<{type(self).__name__} name={self.name!r}, {kind}, layers={len(self.layers)}>"


def _from_model_bytes(data):
    from fastnn import saving
    return saving.model_from_bytes(data, model_class={"Functional": Model})


def _fmt(shape):
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"
