"""Decoding BuildKit's `moby.buildkit.trace` aux payload (a StatusResponse).

Schema (moby/buildkit api/services/control/control.proto):

    StatusResponse { repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2;
                     repeated VertexLog logs = 3; repeated VertexWarning warnings = 4; }
    Vertex { string digest = 1; repeated string inputs = 2; string name = 3; bool cached = 4;
             Timestamp started = 5; Timestamp completed = 6; string error = 7; }
    VertexStatus { string ID = 1; string vertex = 2; string name = 3; int64 current = 4;
                   int64 total = 5; Timestamp timestamp = 6; Timestamp started = 7;
                   Timestamp completed = 8; }
    VertexLog { string vertex = 1; Timestamp timestamp = 2; int64 stream = 3; bytes msg = 4; }
    VertexWarning { string vertex = 1; int64 level = 2; bytes short = 3; repeated bytes detail = 4; }
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from .protobuf import ProtobufError, decode_timestamp, iter_fields, to_signed


@dataclass
class Vertex:
    digest: str = ""
    inputs: list = field(default_factory=list)
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""


@dataclass
class VertexStatus:
    id: str = ""
    vertex: str = ""
    name: str = ""
    current: int = 0
    total: int = 0
    timestamp: float | None = None
    started: float | None = None
    completed: float | None = None


@dataclass
class VertexLog:
    vertex: str = ""
    timestamp: float | None = None
    stream: int = 1  # 1 stdout, 2 stderr
    msg: bytes = b""


@dataclass
class VertexWarning:
    vertex: str = ""
    level: int = 0
    short: bytes = b""
    detail: list = field(default_factory=list)


@dataclass
class StatusResponse:
    vertexes: list = field(default_factory=list)
    statuses: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _s(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else ""


def _vertex(buf: bytes) -> Vertex:
    v = Vertex()
    for f, w, val in iter_fields(buf):
        if f == 1 and w == 2:
            v.digest = _s(val)
        elif f == 2 and w == 2:
            v.inputs.append(_s(val))
        elif f == 3 and w == 2:
            v.name = _s(val)
        elif f == 4 and w == 0:
            v.cached = bool(val)
        elif f == 5 and w == 2:
            v.started = decode_timestamp(val)
        elif f == 6 and w == 2:
            v.completed = decode_timestamp(val)
        elif f == 7 and w == 2:
            v.error = _s(val)
    return v


def _status(buf: bytes) -> VertexStatus:
    s = VertexStatus()
    for f, w, val in iter_fields(buf):
        if f == 1 and w == 2:
            s.id = _s(val)
        elif f == 2 and w == 2:
            s.vertex = _s(val)
        elif f == 3 and w == 2:
            s.name = _s(val)
        elif f == 4 and w == 0:
            s.current = to_signed(val)
        elif f == 5 and w == 0:
            s.total = to_signed(val)
        elif f == 6 and w == 2:
            s.timestamp = decode_timestamp(val)
        elif f == 7 and w == 2:
            s.started = decode_timestamp(val)
        elif f == 8 and w == 2:
            s.completed = decode_timestamp(val)
    return s


def _log(buf: bytes) -> VertexLog:
    lg = VertexLog()
    for f, w, val in iter_fields(buf):
        if f == 1 and w == 2:
            lg.vertex = _s(val)
        elif f == 2 and w == 2:
            lg.timestamp = decode_timestamp(val)
        elif f == 3 and w == 0:
            lg.stream = to_signed(val)
        elif f == 4 and w == 2:
            lg.msg = val
    return lg


def _warning(buf: bytes) -> VertexWarning:
    wn = VertexWarning()
    for f, w, val in iter_fields(buf):
        if f == 1 and w == 2:
            wn.vertex = _s(val)
        elif f == 2 and w == 0:
            wn.level = to_signed(val)
        elif f == 3 and w == 2:
            wn.short = val
        elif f == 4 and w == 2:
            wn.detail.append(val)
    return wn


def decode_status(buf: bytes) -> StatusResponse:
    """Decode one serialized StatusResponse. Raises ProtobufError on bad input."""
    r = StatusResponse()
    for f, w, val in iter_fields(buf):
        if w != 2:
            continue
        if f == 1:
            r.vertexes.append(_vertex(val))
        elif f == 2:
            r.statuses.append(_status(val))
        elif f == 3:
            r.logs.append(_log(val))
        elif f == 4:
            r.warnings.append(_warning(val))
    return r


def decode_trace_aux(aux) -> StatusResponse:
    """The `aux` of a `moby.buildkit.trace` message: base64 text of a StatusResponse."""
    if not isinstance(aux, str):
        raise ProtobufError(f"expected base64 text, got {type(aux).__name__}")
    try:
        raw = base64.b64decode(aux, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ProtobufError(f"bad base64: {exc}") from None
    return decode_status(raw)
