"""A small protocol-buffers writer and reader for MapLibre's glyph PBFs.

Only what ``glyphs.proto`` needs: varints, zig-zag ``sint32`` and length-delimited fields::

    message glyphs { repeated fontstack stacks = 1; }
    message fontstack { required string name = 1; required string range = 2;
                        repeated glyph glyphs = 3; }
    message glyph { required uint32 id = 1; optional bytes bitmap = 2;
                    required uint32 width = 3; required uint32 height = 4;
                    required sint32 left = 5; required sint32 top = 6;
                    required uint32 advance = 7; }
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

VARINT = 0
LENGTH = 2


@dataclass(frozen=True)
class Glyph:
    """One glyph as MapLibre reads it: an SDF bitmap of (width+6)×(height+6) bytes or none."""

    id: int
    bitmap: bytes
    width: int
    height: int
    left: int
    top: int
    advance: int


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer."""
    if value < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> int:
    """Zig-zag encoding of a signed 32-bit integer."""
    return ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF


def unzigzag(value: int) -> int:
    """Inverse of :func:`zigzag`."""
    return (value >> 1) ^ -(value & 1)


def _key(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def field_varint(field: int, value: int) -> bytes:
    """A varint field."""
    return _key(field, VARINT) + varint(value)


def field_bytes(field: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return _key(field, LENGTH) + varint(len(data)) + data


def encode_glyph(glyph: Glyph) -> bytes:
    """One ``glyph`` message."""
    parts = [field_varint(1, glyph.id)]
    if glyph.bitmap:
        parts.append(field_bytes(2, glyph.bitmap))
    parts += [
        field_varint(3, glyph.width),
        field_varint(4, glyph.height),
        field_varint(5, zigzag(glyph.left)),
        field_varint(6, zigzag(glyph.top)),
        field_varint(7, glyph.advance),
    ]
    return b"".join(parts)


def encode_glyphs(name: str, start: int, end: int, glyphs: list[Glyph]) -> bytes:
    """A ``glyphs`` message with one fontstack holding ``glyphs``."""
    stack = [field_bytes(1, name.encode("utf-8")), field_bytes(2, f"{start}-{end}".encode())]
    stack += [field_bytes(3, encode_glyph(g)) for g in glyphs]
    return field_bytes(1, b"".join(stack))


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def read_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field, value)`` pairs of a message: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _read_varint(data, pos)
            yield field, value
        elif wire == LENGTH:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            yield field, data[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


def decode_glyphs(data: bytes) -> list[tuple[str, str, list[Glyph]]]:
    """Every fontstack of a glyph PBF as ``(name, range, glyphs)``."""
    stacks = []
    for field, stack in read_fields(data):
        if field != 1 or not isinstance(stack, bytes):
            continue
        name = rng = ""
        glyphs = []
        for sfield, value in read_fields(stack):
            if sfield == 1 and isinstance(value, bytes):
                name = value.decode("utf-8")
            elif sfield == 2 and isinstance(value, bytes):
                rng = value.decode("utf-8")
            elif sfield == 3 and isinstance(value, bytes):
                glyphs.append(_decode_glyph(value))
        stacks.append((name, rng, glyphs))
    return stacks


def _decode_glyph(data: bytes) -> Glyph:
    values: dict[int, int | bytes] = dict(read_fields(data))

    def number(field: int) -> int:
        value = values.get(field, 0)
        return value if isinstance(value, int) else 0

    bitmap = values.get(2, b"")
    return Glyph(
        id=number(1),
        bitmap=bitmap if isinstance(bitmap, bytes) else b"",
        width=number(3),
        height=number(4),
        left=unzigzag(number(5)),
        top=unzigzag(number(6)),
        advance=number(7),
    )
