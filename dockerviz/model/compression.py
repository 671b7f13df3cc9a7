"""Layer compression detected by magic bytes, never by file name or media type."""

from __future__ import annotations

import io
from typing import BinaryIO

from ..errors import ArchiveError
from .tarheaders import ByteStream

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _Peeked(io.RawIOBase):
    """Put back the bytes read to sniff the format in front of a stream."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def readable(self):
        return True

    def readinto(self, buf):
        n = len(buf)
        if self._head:
            k = min(n, len(self._head))
            buf[:k] = self._head[:k]
            self._head = self._head[k:]
            return k
        data = self._rest.read(n)
        buf[: len(data)] = data
        return len(data)


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def open_layer_stream(fileobj: BinaryIO, *, what: str = "layer") -> ByteStream:
    """A ByteStream of the uncompressed tar, whatever the layer's compression."""
    seekable = False
    try:
        seekable = fileobj.seekable()
    except Exception:
        pass
    if seekable:
        start = fileobj.tell()
        head = fileobj.read(4)
        fileobj.seek(start)
        kind = sniff(head)
        raw = fileobj
    else:
        head = fileobj.read(4)
        kind = sniff(head)
        raw = io.BufferedReader(_Peeked(head, fileobj), 1 << 16)
    if kind == "tar":
        return ByteStream(raw)
    if kind == "gzip":
        import gzip

        return ByteStream(gzip.GzipFile(fileobj=raw, mode="rb"), seekable=False)
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a declared dependency
        raise ArchiveError(f"The {what} is zstd-compressed; install the 'zstandard' package to read it.") from None
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return ByteStream(reader, seekable=False)
