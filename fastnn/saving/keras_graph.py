"""The structure of a model as Keras 3 sees it: its graph (inputs, layer calls, output)
and the order of Keras' ``model.layers``, which names each layer's group in the weights
file (``layers/dense``, ``layers/dense_1``, ... counted by class in that order).

A graph is the data of `fastnn.models.graph.GraphLayer.graph_config`:
``{"inputs": [{"name", "shape", "dtype"}], "nodes": [[layer name, [input names],
takes a list]], "output": name}``, a tensor being named by its Input or its layer.
"""
from fastnn.layers.base import _snake
from fastnn.saving.archive import FormatError


def describe(model):
    """('Sequential', None) or ('Functional', graph) of a fastnn model."""
    kind = getattr(type(model), "saved_class_name", type(model).__name__)
    if kind == "Sequential":
        return kind, None
    graph_layer = getattr(model, "_graph", None)
    if graph_layer is not None:
        return kind, graph_layer.graph_config()
    inputs = getattr(model, "inputs", None)
    if not inputs or not model.built:
        raise ValueError(f"model {model.name!r} must be built on an Input (a functional "
                         f"model) to be written as a Keras file")
    x = inputs[0]
    graph = {"inputs": [{"name": x.name, "shape": list(x.shape[1:]), "dtype": x.dtype}],
             "nodes": [], "output": None}
    previous = x.name
    for layer in model.layers:
        graph["nodes"].append([layer.name, [previous], False])
        previous = layer.name
    graph["output"] = previous
    return kind, graph


def keras_order(graph):
    """The names of the graph's inputs and layers in the order of Keras' `model.layers`
    (keras.src.ops.function.map_graph): by decreasing depth from the output, ties in
    the order a depth-first walk from the output first reaches them."""
    parents = {spec["name"]: [] for spec in graph["inputs"]}
    for name, ins, _ in graph["nodes"]:
        parents[name] = list(ins)
    index, post, done, active = {}, [], set(), set()
    stack = [(graph["output"], False)]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            active.discard(name)
            done.add(name)
            post.append(name)
            continue
        if name in done:
            continue
        if name in active:    # reached again below itself
            raise FormatError(f"the model's graph has a cycle through {name!r}")
        index.setdefault(name, len(index))
        active.add(name)
        stack.append((name, True))
        stack.extend((p, False) for p in reversed(parents[name]) if p not in done)
    depth = {}
    for name in reversed(post):
        d = depth.setdefault(name, 0)
        for p in parents[name]:
            depth[p] = max(d + 1, depth.get(p, 0))
    for spec in graph["inputs"]:     # an input the output does not read
        if spec["name"] not in depth:
            depth[spec["name"]], index[spec["name"]] = 0, -1
    return sorted(depth, key=lambda n: (-depth[n], index[n]))


def weight_groups(model):
    """[(h5 path, name, layer or None)] of the model's layers in Keras' order: what
    Keras' weights file holds (None for an input layer, which has no weights)."""
    kind, graph = describe(model)
    if graph is None:
        items = [(type(layer).__name__, layer.name, layer) for layer in model.layers]
    else:
        by_name = {layer.name: layer for layer in model.layers}
        items = [("InputLayer", n, None) if n not in by_name else
                 (type(by_name[n]).__name__, n, by_name[n]) for n in keras_order(graph)]
    used, groups = {}, []
    for class_name, name, layer in items:
        key = _snake(class_name)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        groups.append((f"layers/{key}", name, layer))
    return groups


def keras_params(model):
    """The trainable parameters in the order of Keras' `model.trainable_variables`."""
    return [p for _, _, layer in weight_groups(model)
            if layer is not None and layer.trainable for p in layer._params]
