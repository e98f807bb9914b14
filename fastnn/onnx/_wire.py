"""The protocol buffers wire format, as much of it as an ONNX file needs.

A message is the concatenation of its fields; each field is a key (field number << 3 |
wire type) as a varint, then the value: a varint (ints, enums), 8 or 4 little-endian
bytes (double, float) or a length-prefixed byte string (strings, bytes, embedded
messages, packed repeated scalars). See
https://protobuf.dev/programming-guides/encoding/.

The functions return the bytes of one field; a message is ``b"".join`` of its fields in
field-number order, the order protobuf's own serializers write, so a file parsed and
written again by the `onnx` package comes back byte for byte.
"""
import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def varint(value):
    """`value` (an int, negative ones as 64-bit two's complement) as a base-128 varint."""
    value = int(value)
    if value < 0:
        value += 1 << 64
    if not 0 <= value < 1 << 64:
        raise ValueError(f"`value` must fit in 64 bits; got {value}")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number, wire_type):
    return varint(number << 3 | wire_type)


def int_field(number, value):
    """An int64 / int32 / enum field."""
    return _key(number, VARINT) + varint(value)


def float_field(number, value):
    """A `float` (32-bit) field."""
    return _key(number, I32) + struct.pack("<f", value)


def bytes_field(number, value):
    """A `bytes` field, or a `string` one given a str (written as UTF-8)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _key(number, LEN) + varint(len(value)) + bytes(value)


def message_field(number, fields):
    """An embedded message made of the encoded `fields` (an iterable of bytes)."""
    return bytes_field(number, b"".join(fields))


def repeated(encode, number, values):
    """A repeated field written unpacked (proto2's default): one `encode(number, v)`
    per value."""
    return b"".join(encode(number, v) for v in values)
