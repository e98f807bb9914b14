"""GraphBuilder: the nodes and initializers of one ONNX graph, as the layers' converters
add them, in the model's dtype."""
import numpy

from fastnn.onnx import _proto


class GraphBuilder:
    """Collects the nodes and weights of a graph computing in `dtype`.

    Tensor names are unique: a node's output is "<scope>/<op>" (with a suffix where that
    is taken), a weight "<scope>/<weight name>"; `scope` is the layer being converted.
    """

    def __init__(self, dtype):
        self.dtype = numpy.dtype(dtype)
        self.scope = ""
        self._nodes = []          # [op_type, inputs, outputs, name, attributes]
        self._initializers = {}   # name -> array
        self._constants = {}      # (dtype, shape, bytes) -> name: each constant once
        self._used = set()

    def fresh(self, base):
        """A name not used yet in the graph, from `base`."""
        name, n = base, 1
        while name in self._used:
            name, n = f"{base}_{n}", n + 1
        self._used.add(name)
        return name

    def reserve(self, name):
        """Mark `name` (a graph input) as used; a ValueError where it is already."""
        if name in self._used:
            raise ValueError(f"the ONNX tensor name {name!r} is used twice; give the "
                             f"model's inputs distinct names")
        self._used.add(name)

    def _scoped(self, name):
        return f"{self.scope}/{name}" if self.scope else name

    def node(self, op_type, inputs, attributes=(), outputs=1):
        """Add a node; returns its output name (or a list of `outputs` names if more
        than one)."""
        names = [self.fresh(self._scoped(op_type if outputs == 1 else f"{op_type}_{i}"))
                 for i in range(outputs)]
        self._nodes.append([op_type, list(inputs), names, self.fresh(names[0] + ":node"),
                            list(attributes)])
        return names[0] if outputs == 1 else names

    def weight(self, name, array, dtype=None):
        """An initializer holding `array` in `dtype` (by default the graph's)."""
        full = self.fresh(self._scoped(name))
        self._initializers[full] = numpy.array(array, dtype=dtype or self.dtype)
        return full

    def const(self, value, dtype=None):
        """A constant initializer (shared by equal constants): `value` in `dtype`, by
        default the graph's."""
        array = numpy.array(value, dtype=dtype or self.dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            scope, self.scope = self.scope, ""
            self._constants[key] = self.weight(f"const_{len(self._constants)}", array,
                                               array.dtype)
            self.scope = scope
        return self._constants[key]

    def ints(self, values):
        """A constant int64 vector (shapes, axes, sizes)."""
        return self.const(list(values), numpy.int64)

    def name_output(self, tensor, name):
        """Make the graph output called `name` hold `tensor`: the node that computes it
        writes `name` instead, or, for a graph input or a weight, an Identity node."""
        producers = [n for n in self._nodes if tensor in n[2]]
        if not producers or tensor in self._initializers:
            self._nodes.append(["Identity", [tensor], [name], self.fresh(name + ":node"),
                                []])
            return
        for entry in self._nodes:
            entry[1] = [name if t == tensor else t for t in entry[1]]
            entry[2] = [name if t == tensor else t for t in entry[2]]

    def to_bytes(self, name, inputs, outputs, doc_string=""):
        """The GraphProto: `inputs` and `outputs` are lists of (name, shape) of the
        graph's dtype."""
        nodes = [_proto.node(op, ins, outs, node_name, attrs)
                 for op, ins, outs, node_name, attrs in self._nodes]
        initializers = [_proto.tensor(k, v) for k, v in self._initializers.items()]
        return _proto.graph(name, nodes, initializers,
                            [_proto.value_info(n, self.dtype, s) for n, s in inputs],
                            [_proto.value_info(n, self.dtype, s) for n, s in outputs],
                            doc_string)
