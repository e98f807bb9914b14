"""fastnn.onnx's protobuf writer: the wire format against the protobuf documentation's
examples and a decoder written here (no `onnx` needed), then, where `onnx` is
installed, message by message against onnx.helper and whole files against onnx's own
parser (parsed and written again, byte for byte)."""
import struct

import numpy as np
import pytest

import fastnn
import fastnn.onnx
from fastnn import layers
from fastnn.models import Sequential
from fastnn.onnx import _proto, _wire


def decode(data):
    """{field number: [values]} of a protobuf message: ints for varints, bytes for
    length-delimited fields, floats for 32-bit ones; a ValueError for bad bytes."""
    fields, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _read_varint(data, i)
        elif wire_type == 2:
            size, i = _read_varint(data, i)
            value, i = data[i:i + size], i + size
            if i > len(data):
                raise ValueError("a length-delimited field runs past the end")
        elif wire_type == 5:
            value, i = struct.unpack("<f", data[i:i + 4])[0], i + 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
        fields.setdefault(number, []).append(value)
    return fields


def _read_varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def _model():
    model = Sequential([layers.Input(shape=(4,), name="features"),
                        layers.Dense(3, activation="relu"),
                        layers.Dense(2, activation="softmax")])
    model.build()
    return model


@pytest.mark.parametrize("value, encoded", [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (150, b"\x96\x01"),
    (300, b"\xac\x02"), (2 ** 63 - 1, b"\xff" * 8 + b"\x7f"),
    (-1, b"\xff" * 9 + b"\x01"), (-2, b"\xfe" + b"\xff" * 8 + b"\x01")])
def test_varints_as_protobuf_documents_them(value, encoded):
    assert _wire.varint(value) == encoded
    assert _read_varint(encoded, 0)[0] == value % 2 ** 64


def test_fields_as_protobuf_documents_them():
    # https://protobuf.dev/programming-guides/encoding/: field 1 = 150; field 2 = "testing"
    assert _wire.int_field(1, 150) == b"\x08\x96\x01"
    assert _wire.bytes_field(2, "testing") == b"\x12\x07testing"
    assert _wire.float_field(2, 1.0) == b"\x15" + struct.pack("<f", 1.0)
    assert _wire.message_field(3, [_wire.int_field(1, 150)]) == b"\x1a\x03\x08\x96\x01"
    with pytest.raises(ValueError, match="`value` must fit in 64 bits"):
        _wire.varint(2 ** 64)


def test_the_model_file_decodes_to_its_graph():
    model = _model()
    fields = decode(fastnn.onnx.to_bytes(model))
    assert fields[1] == [8]                                # ir_version
    assert fields[2] == [b"fastnn"]                        # producer_name
    opset = decode(fields[8][0])
    assert opset == {1: [b""], 2: [fastnn.onnx.OPSET]}
    graph = decode(fields[7][0])
    nodes = [decode(n) for n in graph[1]]
    assert [n[4][0] for n in nodes] == [b"Gemm", b"Relu", b"Gemm", b"Softmax"]
    first = model.layers[0]
    assert nodes[0][1] == [b"features", f"{first.name}/kernel".encode(),
                           f"{first.name}/bias".encode()]
    assert nodes[-1][2] == [b"output"]
    softmax_axis = decode(nodes[-1][5][0])
    assert softmax_axis == {1: [b"axis"], 3: [2 ** 64 - 1], 20: [2]}   # axis = -1 (INT)
    kernel = decode(graph[5][0])
    assert kernel[1] == [4, 3] and kernel[2] == [1]       # dims, FLOAT
    assert np.frombuffer(kernel[9][0], "<f4").reshape(4, 3).tolist() == \
        first.get_weights()[0].tolist()
    (input_info,) = [decode(v) for v in graph[11]]
    assert input_info[1] == [b"features"]
    tensor_type = decode(decode(input_info[2][0])[1][0])
    dims = [decode(d) for d in decode(tensor_type[2][0])[1]]
    assert tensor_type[1] == [1] and dims == [{2: [b"batch"]}, {1: [4]}]


def test_float64_tensors_and_unsupported_dtypes():
    fields = decode(_proto.tensor("w", np.arange(3.0)))
    raw = np.arange(3.0).astype("<f8").tobytes()
    assert fields == {1: [3], 2: [11], 8: [b"w"], 9: [raw]}       # dims, DOUBLE, name, data
    with pytest.raises(TypeError, match="`dtype` must be one of .*; got complex128"):
        _proto.tensor("w", np.zeros(2, complex))
    with pytest.raises(TypeError, match="attribute 'a' must be an int, float, str"):
        _proto.attribute("a", object())


# ------------------------------------------------------------------ against onnx
def test_messages_equal_onnx_helper():
    onnx = pytest.importorskip("onnx", reason="comparing with onnx.helper needs `onnx` "
                                              "(pip install fastnn[onnx])")
    helper = onnx.helper
    for name, value in [("alpha", 0.2), ("axis", -1), ("mode", "constant"),
                        ("perm", [0, 2, 1]), ("scales", [0.5, 2.0])]:
        assert _proto.attribute(name, value) == \
            helper.make_attribute(name, value).SerializeToString()
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert _proto.tensor("k", array) == helper.make_tensor(
        "k", onnx.TensorProto.FLOAT, [2, 3], array.tobytes(), raw=True).SerializeToString()
    assert _proto.value_info("x", np.float64, ["batch", 5]) == \
        helper.make_tensor_value_info("x", onnx.TensorProto.DOUBLE,
                                      ["batch", 5]).SerializeToString()
    assert _proto.node("LeakyRelu", ["x"], ["y"], "n", [("alpha", 0.1)]) == \
        helper.make_node("LeakyRelu", ["x"], ["y"], "n", alpha=0.1).SerializeToString()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_parses_and_rewrites_the_file_byte_for_byte(dtype):
    onnx = pytest.importorskip("onnx", reason="parsing with onnx needs `onnx` "
                                              "(pip install fastnn[onnx])")
    with fastnn.config.floatx_scope(dtype):
        model = Sequential([layers.Input(shape=(3, 4)), layers.Flatten(),
                            layers.Dense(5, activation="gelu"), layers.BatchNormalization(),
                            layers.LayerNormalization(), layers.Dense(2, activation="elu")])
        data = fastnn.onnx.to_bytes(model)
    proto = onnx.load_from_string(data)
    assert proto.SerializeToString() == data
    onnx.checker.check_model(proto, full_check=True)
