"""A minimal protobuf wire-format reader for BuildKit's progress messages.

Only what `moby.buildkit.trace` needs: varints, length-delimited fields and the
fixed-width types (skipped). No schema, no code generation, no dependency.
"""

from __future__ import annotations

from typing import Iterator


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if pos >= n:
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of one message.

    Varints come back as int, length-delimited fields as bytes; fixed32/fixed64
    come back as int (little endian).
    """
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ProtobufError("field number 0")
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > n:
                raise ProtobufError("truncated length-delimited field")
            value = bytes(buf[pos:pos + length])
            pos += length
        elif wire == 1:
            if pos + 8 > n:
                raise ProtobufError("truncated fixed64")
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            if pos + 4 > n:
                raise ProtobufError("truncated fixed32")
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:  # groups (3, 4) are long deprecated and never used by BuildKit
            raise ProtobufError(f"unsupported wire type {wire}")
        yield field, wire, value


def to_signed(v: int) -> int:
    """int64 fields arrive as two's complement varints."""
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_timestamp(buf: bytes) -> float | None:
    """google.protobuf.Timestamp {1 seconds, 2 nanos} -> POSIX seconds."""
    seconds = nanos = 0
    for field, wire, value in iter_fields(buf):
        if field == 1 and wire == 0:
            seconds = to_signed(value)
        elif field == 2 and wire == 0:
            nanos = to_signed(value)
    if seconds <= 0 and nanos == 0:
        return None  # Go's zero time marshals as negative seconds; treat as unset
    return seconds + nanos / 1e9
