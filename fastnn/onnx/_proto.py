"""The ONNX messages fastnn writes (onnx/onnx.proto, proto2), encoded with
fastnn.onnx._wire.

Each function returns a message's bytes, its fields in field-number order; the field
numbers are those of onnx.proto and are named once here.
"""
import numpy

from fastnn.onnx import _wire as w

# TensorProto.DataType of the dtypes fastnn writes
DATA_TYPES = {numpy.dtype("float32"): 1, numpy.dtype("int64"): 7, numpy.dtype("bool"): 9,
              numpy.dtype("float64"): 11}
# AttributeProto.AttributeType
_FLOAT, _INT, _STRING, _FLOATS, _INTS = 1, 2, 3, 6, 7


def data_type(dtype):
    """The TensorProto.DataType code of the NumPy `dtype`."""
    dtype = numpy.dtype(dtype)
    if dtype not in DATA_TYPES:
        raise TypeError(f"`dtype` must be one of {sorted(str(d) for d in DATA_TYPES)} to "
                        f"be written to ONNX; got {dtype}")
    return DATA_TYPES[dtype]


def tensor(name, array):
    """TensorProto: `array` (a NumPy array) as dims, data_type, name and little-endian
    raw_data."""
    array = numpy.asarray(array)
    raw = numpy.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return b"".join([w.repeated(w.int_field, 1, array.shape),
                     w.int_field(2, data_type(array.dtype)),
                     w.bytes_field(8, name),
                     w.bytes_field(9, raw)])


def value_info(name, dtype, shape):
    """ValueInfoProto of a tensor of `dtype` and `shape`, each dimension an int (a
    fixed size) or a str (a symbolic one, such as "batch")."""
    dims = [w.message_field(1, [w.bytes_field(2, d) if isinstance(d, str)
                                else w.int_field(1, d)]) for d in shape]
    tensor_type = [w.int_field(1, data_type(dtype)), w.message_field(2, dims)]
    return b"".join([w.bytes_field(1, name),
                     w.message_field(2, [w.message_field(1, tensor_type)])])


def attribute(name, value):
    """AttributeProto `name` = `value`: an int, a float, a str, or a list of ints or of
    floats."""
    if isinstance(value, bool) or isinstance(value, (int, numpy.integer)):
        fields, kind = [w.int_field(3, value)], _INT
    elif isinstance(value, (float, numpy.floating)):
        fields, kind = [w.float_field(2, value)], _FLOAT
    elif isinstance(value, str):
        fields, kind = [w.bytes_field(4, value)], _STRING
    elif isinstance(value, (list, tuple)) and all(
            isinstance(v, (int, numpy.integer)) for v in value):
        fields, kind = [w.repeated(w.int_field, 8, value)], _INTS
    elif isinstance(value, (list, tuple)):
        fields, kind = [w.repeated(w.float_field, 7, value)], _FLOATS
    else:
        raise TypeError(f"attribute {name!r} must be an int, float, str or list of them; "
                        f"got {value!r}")
    return b"".join([w.bytes_field(1, name), *fields, w.int_field(20, kind)])


def node(op_type, inputs, outputs, name, attributes=()):
    """NodeProto of the default domain: `attributes` is an iterable of (name, value),
    written sorted by name (as onnx.helper.make_node writes them)."""
    return b"".join([w.repeated(w.bytes_field, 1, inputs),
                     w.repeated(w.bytes_field, 2, outputs),
                     w.bytes_field(3, name),
                     w.bytes_field(4, op_type),
                     b"".join(w.message_field(5, [attribute(k, v)])
                              for k, v in sorted(attributes))])


def graph(name, nodes, initializers, inputs, outputs, doc_string=""):
    """GraphProto from encoded nodes, initializers (TensorProto) and inputs and outputs
    (ValueInfoProto)."""
    return b"".join([w.repeated(w.bytes_field, 1, nodes),
                     w.bytes_field(2, name),
                     w.repeated(w.bytes_field, 5, initializers),
                     w.bytes_field(10, doc_string) if doc_string else b"",
                     w.repeated(w.bytes_field, 11, inputs),
                     w.repeated(w.bytes_field, 12, outputs)])


def model(graph_bytes, opset, ir_version, producer_name, producer_version,
          metadata=()):
    """ModelProto of one graph using the default ONNX domain at `opset`; `metadata` is
    an iterable of (key, value) strings."""
    opset_id = w.message_field(8, [w.bytes_field(1, ""), w.int_field(2, opset)])
    props = b"".join(w.message_field(14, [w.bytes_field(1, k), w.bytes_field(2, v)])
                     for k, v in metadata)
    return b"".join([w.int_field(1, ir_version),
                     w.bytes_field(2, producer_name),
                     w.bytes_field(3, producer_version),
                     w.bytes_field(7, graph_bytes),
                     opset_id,
                     props])
