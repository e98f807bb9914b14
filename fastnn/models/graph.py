"""The graph of a functional model, read back from its symbolic tensors
(fastnn.layers.symbolic), and GraphLayer: the whole graph as one layer that runs it
layer by layer.

A graph model packs its inputs side by side into one array of rows (each input's
samples flattened, in the order of the model's inputs), so that the data pipeline,
the executor and the optimizer of a Sequential run it unchanged: GraphLayer splits
the rows into the inputs, runs each layer's forward in topological order, and its
backward in reverse order, summing the gradients of a tensor read by several layers.
"""
import math

from fastnn.layers.base import Layer


def trace(inputs, output):
    """The nodes [(layer, input tensors)] computing `output` from `inputs`, in
    topological order; a ValueError when the graph needs a tensor it is not given."""
    known = {id(t) for t in inputs}
    nodes, seen, stack = [], set(), [(output, False)]
    while stack:
        tensor, expanded = stack.pop()
        if id(tensor) in known and not expanded:
            continue
        if tensor.layer is None:
            raise ValueError(f"`outputs` depend on the input {tensor.name!r}, which is not "
                             f"one of the model's `inputs`")
        if expanded:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                known.add(id(tensor))
                nodes.append((tensor.layer, tensor.inputs, tensor))
            continue
        stack.append((tensor, True))
        for t in reversed(tensor.inputs):
            if id(t) not in known:
                stack.append((t, False))
    return nodes


def is_chain(inputs, nodes):
    """Whether the graph is a Sequential chain: one input, one-input layers, each
    reading the previous layer's output."""
    if len(inputs) != 1:
        return False
    previous = inputs[0]
    for layer, ins, _ in nodes:
        if getattr(layer, "takes_list", False) or len(ins) != 1 or ins[0] is not previous:
            return False
        previous = layer._symbolic_output
    return True


def _width(tensor):
    return math.prod(tensor.shape[1:])


class GraphLayer(Layer):
    """A graph of layers (from `inputs` to `output` symbolic tensors) as one layer whose
    input is the model's inputs packed side by side (see the module docstring)."""

    def __init__(self, inputs, output, name=None):
        super().__init__(name=name or "graph")
        self.inputs, self.output = list(inputs), output
        self.nodes = trace(self.inputs, output)
        self.inner_layers = [layer for layer, _, _ in self.nodes]
        for index, layer in enumerate(self.inner_layers):
            if hasattr(layer, "layer_index"):
                layer.layer_index = index
        self.input_shape = (sum(_width(t) for t in self.inputs),)
        self.refresh()
        self.built = True

    def refresh(self):
        """Take the inner layers' trainable parameters and gradient buffers as this
        layer's (what the optimizer updates); returns the layers' trainable flags."""
        trainable = [l for l in self.inner_layers if l.trainable]
        self._params = [p for l in trainable for p in l._params]
        self._grads = [g for l in trainable for g in l._grads]
        return tuple(l.trainable for l in self.inner_layers)

    @property
    def weights(self):
        return [p for l in self.inner_layers for p in l.weights]

    @property
    def trainable_weights(self):
        return [p for l in self.inner_layers for p in l.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [p for l in self.inner_layers for p in l.non_trainable_weights]

    @property
    def weight_names(self):
        return [n for l in self.inner_layers for n in l.weight_names]

    def get_weights(self):
        return [w for l in self.inner_layers for w in l.get_weights()]

    def set_weights(self, weights):
        weights, i = list(weights), 0
        for layer in self.inner_layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(l.count_params() for l in self.inner_layers)

    def compute_output_shape(self, input_shape):
        return tuple(self.output.shape[1:])

    def regularization_losses(self):
        return [p for l in self.inner_layers if hasattr(l, "regularization_losses")
                for p in l.regularization_losses()]

    def regularization_loss(self):
        return sum(self.regularization_losses(), 0.0)

    def activity_loss(self):
        """The inner layers' activity penalties of the last training forward pass."""
        return sum((l.activity_loss() for l in self.inner_layers
                    if hasattr(l, "activity_loss")), 0.0)

    def apply_constraints(self):
        """Applies the trainable inner layers' weight constraints (after an update)."""
        for layer in self.inner_layers:
            if layer.trainable and hasattr(layer, "apply_constraints"):
                layer.apply_constraints()

    # ------------------------------------------------------------------ running
    def forward(self, x, training, workspace):
        values, start = {}, 0
        for i, t in enumerate(self.inputs):
            width = _width(t)
            if len(self.inputs) == 1:
                part = x
            else:
                part = workspace.buffer(self, ("in", i), (x.shape[0], width), x.dtype)
                part[...] = x[:, start:start + width]
            values[id(t)] = part.reshape((x.shape[0],) + tuple(t.shape[1:]))
            start += width
        self._rows, self._dtype = x.shape[0], x.dtype
        for layer, ins, out in self.nodes:
            if getattr(layer, "takes_list", False):
                values[id(out)] = layer.forward_many([values[id(t)] for t in ins],
                                                     training, workspace)
            else:
                values[id(out)] = layer.forward(values[id(ins[0])], training, workspace)
        return values[id(self.output)]

    def backward(self, grad, workspace, grad_is_dz=False, need_input_grad=True, fuse=None,
                 param_grads=True):
        grads, owned = {id(self.output): grad}, set()
        input_ids = {id(t) for t in self.inputs}

        def add(tensor, g):
            key = id(tensor)
            if g is None:
                return
            if key not in grads:
                grads[key] = g
                return
            if key not in owned:
                acc = workspace.buffer(self, ("acc", key), grads[key].shape, g.dtype)
                acc[...] = grads[key]
                grads[key], _ = acc, owned.add(key)
            grads[key] += g

        for layer, ins, out in reversed(self.nodes):
            g = grads.pop(id(out), None)
            if g is None:
                continue
            if getattr(layer, "takes_list", False):
                for t, gi in zip(ins, layer.backward_many(g, workspace)):
                    add(t, gi)
            else:
                need = need_input_grad or id(ins[0]) not in input_ids
                add(ins[0], layer.backward(g, workspace, grad_is_dz=False,
                                           need_input_grad=need, param_grads=param_grads))
        if not need_input_grad:
            return None
        total = sum(_width(t) for t in self.inputs)
        dx = workspace.buffer(self, "dx", (self._rows, total), self._dtype)
        start = 0
        for t in self.inputs:
            width = _width(t)
            g = grads.get(id(t))
            if g is None:
                dx[:, start:start + width] = 0
            else:
                dx[:, start:start + width] = g.reshape(self._rows, width)
            start += width
        return dx

    # ------------------------------------------------------------------ config
    def graph_config(self):
        """The graph as JSON-safe data: each input's name, shape and dtype, and each
        layer's name with the names of the tensors it reads (an input's name or the
        producing layer's)."""
        def tensor_name(t):
            return t.name if t.layer is None else t.layer.name
        return {"inputs": [{"name": t.name, "shape": list(t.shape[1:]), "dtype": t.dtype}
                           for t in self.inputs],
                "nodes": [[layer.name, [tensor_name(t) for t in ins],
                           bool(getattr(layer, "takes_list", False))]
                          for layer, ins, _ in self.nodes],
                "output": tensor_name(self.output)}


def rebuild(graph, layers):
    """(inputs, output) symbolic tensors of `graph` (a `graph_config`), calling the
    `layers` (by name) as the graph says."""
    from fastnn.layers.input_layer import Input
    by_name = {layer.name: layer for layer in layers}
    tensors = {}
    inputs = []
    for spec in graph["inputs"]:
        t = Input(shape=tuple(spec["shape"]), dtype=spec.get("dtype"), name=spec["name"])
        tensors[spec["name"]] = t
        inputs.append(t)
    for name, ins, many in graph["nodes"]:
        args = [tensors[n] for n in ins]
        tensors[name] = by_name[name](args if many else args[0])
    return inputs, tensors[graph["output"]]
