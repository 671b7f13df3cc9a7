"""Layer compression detected by magic bytes, never by file name or media type.

Decompression is guarded: errors of the decompressors (zlib.error,
ZstdError, EOFError) become ArchiveError, and a stream that inflates far
beyond what any real layer does (limits `ratio` past `ratio_floor`) is
refused while it inflates, not after.
"""

from __future__ import annotations

import io

from ..errors import ArchiveError, DockervizError
from . import limits as _limits
from .tarheaders import ByteStream

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO

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


class Counting(io.RawIOBase):
    """Counts the bytes read through it (the compressed side of a decompressor)."""

    def __init__(self, fileobj: BinaryIO):
        self._f = fileobj
        self.count = 0

    def readable(self):
        return True

    def read(self, n=-1):
        data = self._f.read(n)
        self.count += len(data)
        return data

    def readinto(self, buf):
        data = self._f.read(len(buf))
        buf[: len(data)] = data
        self.count += len(data)
        return len(data)


class Inflated(io.RawIOBase):
    """The decompressed side: errors translated, inflation bounded by the compressed bytes read."""

    def __init__(self, reader, compressed: Counting, kind: str, what: str):
        self._r = reader
        self._in = compressed
        self.kind = kind
        self.what = what
        self.count = 0
        limits = _limits.current()
        self._ratio = limits.ratio
        self._floor = limits.ratio_floor

    def readable(self):
        return True

    def seekable(self):
        return False

    def read(self, n=-1):
        try:
            data = self._r.read(n)
        except DockervizError:
            raise
        except Exception as exc:  # zlib.error, ZstdError, EOFError, BadGzipFile: all from the bytes given
            raise ArchiveError(
                f"The {self.what} is a corrupt or truncated {self.kind} stream ({type(exc).__name__}: {exc}). "
                "Re-create it with `docker save -o FILE IMAGE` and check the copy finished."
            ) from None
        self.count += len(data)
        if self.count > self._floor and self.count > self._ratio * max(self._in.count, 1):
            raise _limits.exceeded(
                "ratio", f"The {self.what} inflates {self.count // max(self._in.count, 1)}:1 "
                f"({self.count} bytes from {self._in.count}, still going); that decompression ratio")
        return data

    def readinto(self, buf):
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def decompressed(fileobj: BinaryIO, *, what: str = "layer") -> tuple[str, BinaryIO]:
    """(kind, the uncompressed bytes as a file object) whatever the compression.

    A plain tar comes back as `fileobj` itself (seekable if it was); a
    compressed one as a non-seekable Inflated reader.
    """
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
        return kind, raw
    counted = Counting(raw)
    if kind == "gzip":
        import gzip

        return kind, Inflated(gzip.GzipFile(fileobj=counted, mode="rb"), counted, kind, what)
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a declared dependency
        raise ArchiveError(f"The {what} is zstd-compressed; install the 'zstandard' package to read it.") from None
    reader = zstandard.ZstdDecompressor().stream_reader(counted, read_across_frames=True)
    return kind, Inflated(reader, counted, kind, what)


def open_layer_stream(fileobj: BinaryIO, *, what: str = "layer") -> ByteStream:
    """A ByteStream of the uncompressed tar, whatever the layer's compression."""
    kind, f = decompressed(fileobj, what=what)
    return ByteStream(f, seekable=None if kind == "tar" else False)
