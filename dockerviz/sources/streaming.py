"""A `docker save` stream parsed as it arrives: no temporary copy of the archive.

The outer tar is walked straight from the response. Each layer member (a
legacy `<id>/layer.tar` or an OCI blob that looks like a tar, gzip or zstd
stream) has its headers parsed in place, through a reader limited to the
member; small members (manifests, configs, indexes) are kept in memory. At the
end the manifest is read from a small in-memory Store and each layer is
matched to the content parsed for its member.

Large members that are not layers are kept in memory up to limit
json_bytes and skipped past it; nothing is spooled to disk on this path.
"""

from __future__ import annotations

import hashlib
import io

from ..errors import ArchiveError
from ..model import entries as E
from ..model import limits
from ..model import tarheaders as th
from ..model.compression import sniff
from ..model.layer import LayerContent, parse_layer, read_layer_stream, verify
from .archive import TarStore, record_from_store
from .base import ImageRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Any, Callable

SMALL = 1 << 20  # members below this size are kept whole in memory
TAIL = 4096  # bytes of the stream's end kept to find a daemon's error message
_DATA_TYPES = (th.REGTYPE, th.AREGTYPE, th.CONTTYPE)


class Unusual(Exception):
    """The stream holds something the in-stream parse does not handle."""


class ChunkReader(io.RawIOBase):
    """A non-seekable file over a byte stream, keeping the stream's tail.

    The source is either an object with `readinto` (the daemon's socket: read
    into one reused buffer, so file data that is only skipped is copied once,
    from the kernel) or an iterable of bytes chunks (docker-py's response).
    `skip` and `peek` let the header walkers pass over file data and look at
    a member's first bytes without copying.
    """

    def __init__(self, source, *, on_bytes: Callable[[int], None] | None = None, scratch: int = 1 << 20):
        self._on_bytes = on_bytes
        self._buf = b""
        self._pos = 0
        self.done = 0
        self.tail = b""
        self._eof = False
        self._hash: Any = None  # a hashlib object fed the next _hash_left bytes consumed (read or skipped)
        self._hash_left = 0
        self._readinto = getattr(source, "readinto", None)
        if self._readinto is not None:
            self._scratch = memoryview(bytearray(scratch))
        else:
            self._iter = iter(source)

    def _next(self):
        """The next chunk (bytes, or a view of the scratch buffer valid until the next call); None at the end."""
        if self._eof:
            return None
        if self._readinto is not None:
            n = self._readinto(self._scratch)
            if not n:
                self._eof = True
                return None
            chunk = self._scratch[:n]
        else:
            for chunk in self._iter:
                if chunk:
                    break
            else:
                self._eof = True
                return None
        n = len(chunk)
        self.done += n
        self.tail = (self.tail + bytes(chunk[-TAIL:]))[-TAIL:] if n < TAIL else bytes(chunk[-TAIL:])
        if self._on_bytes is not None:
            self._on_bytes(self.done)
        return chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def hash_next(self, n: int, hasher) -> None:
        """Feed `hasher` the next n bytes consumed, whether read or skipped."""
        self._hash, self._hash_left = hasher, n

    def _feed(self, buf, start: int, end: int) -> None:
        end = min(end, start + self._hash_left)
        if end > start:
            self._hash.update(memoryview(buf)[start:end])
            self._hash_left -= end - start
        if not self._hash_left:
            self._hash = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [bytes(self._buf[self._pos:])]
            while True:
                chunk = self._next()
                if chunk is None:
                    break
                parts.append(bytes(chunk))
            self._buf, self._pos = b"", 0
            data = b"".join(parts)
            if self._hash is not None:
                self._feed(data, 0, len(data))
            return data
        if self._pos >= len(self._buf):
            chunk = self._next()
            if chunk is None:
                return b""
            self._buf, self._pos = chunk, 0
        start = self._pos
        end = min(start + n, len(self._buf))
        self._pos = end
        if self._hash is not None:
            self._feed(self._buf, start, end)
        return bytes(self._buf[start:end])

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def skip(self, n: int) -> int:
        """Drop the next n bytes; how many there were."""
        avail = len(self._buf) - self._pos
        hashing = self._hash is not None
        if n <= avail:
            if hashing:
                self._feed(self._buf, self._pos, self._pos + n)
            self._pos += n
            return n
        done = avail
        if hashing:
            self._feed(self._buf, self._pos, len(self._buf))
        self._buf, self._pos = b"", 0
        while done < n:
            chunk = self._next()
            if chunk is None:
                break
            if done + len(chunk) > n:
                if self._hash is not None:
                    self._feed(chunk, 0, n - done)
                self._buf, self._pos = chunk, n - done
                return n
            if self._hash is not None:
                self._feed(chunk, 0, len(chunk))
            done += len(chunk)
        return done

    def peek(self, n: int) -> bytes:
        """The next n bytes (fewer at the end), left unread."""
        avail = len(self._buf) - self._pos
        if avail >= n:
            return bytes(self._buf[self._pos:self._pos + n])
        have = bytes(self._buf[self._pos:])  # a copy: the next read may reuse the buffer
        while len(have) < n:
            chunk = self._next()
            if chunk is None:
                break
            have += bytes(chunk)
        self._buf, self._pos = have, 0
        return have[:n]

    def drain(self) -> None:
        """Read what is left of the stream (so `tail` holds its end)."""
        self._buf, self._pos = b"", 0
        while self._next() is not None:
            pass


class _MemberReader(io.RawIOBase):
    """The data of one outer member (a compressed layer), read through the outer ByteStream."""

    def __init__(self, outer: th.ByteStream, size: int):
        self._outer = outer
        self._left = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._outer.read(n)
        self._left -= len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Opener:
    """What StreamStore.opener hands a LayerRef: names the member; opens small ones from memory."""

    __slots__ = ("name", "_data")

    def __init__(self, name: str, data: bytes | None):
        self.name = name
        self._data = data

    def __call__(self):
        if self._data is None:
            raise ArchiveError(f"Member {self.name} of the save stream was not kept.")
        return io.BytesIO(self._data)


class StreamStore:
    """The members of a walked save stream: headers of all, data of the small ones."""

    _resolve = TarStore._resolve
    exists = TarStore.exists
    size = TarStore.size

    def __init__(self, where: str):
        self.where = where
        self.members: dict[str, th.TarHeader] = {}
        self.small: dict[str, bytes] = {}
        self.contents: dict[str, LayerContent] = {}
        self.digests: dict[str, dict] = {}  # member -> what its bytes hashed to (see layer.parse_layer)
        self.skipped: dict[str, int] = {}  # members over limit json_bytes that are not layers -> their size

    def read(self, name: str, what: str) -> bytes:
        if name not in self.members:
            raise ArchiveError(
                f"{self.where} has no {what} ({name}). It is not a `docker save` archive, or it is truncated."
            )
        resolved = self._resolve_name(name)
        data = self.small.get(resolved)
        if data is None:
            if resolved in self.skipped:
                raise limits.exceeded("json_bytes", f"The {what} ({name}) in {self.where} is "
                                                    f"{self.skipped[resolved]} bytes; that size")
            raise ArchiveError(f"The {what} ({name}) in {self.where} is a layer, not a document.")
        return data

    def _resolve_name(self, name: str) -> str:
        h = self._resolve(name)
        for key, value in self.members.items():
            if value is h:
                return key
        raise ArchiveError(f"{self.where} has no member {name!r}.")  # pragma: no cover

    def opener(self, name: str):
        resolved = self._resolve_name(name)
        return _Opener(resolved, self.small.get(resolved))

    def content(self, name: str, what: str) -> tuple[LayerContent, dict]:
        found = self.contents.get(name)
        if found is None:
            data = self.small.get(name)
            if data is None:
                if name in self.skipped:
                    raise ArchiveError(f"The {what} is neither a tar nor a gzip or zstd stream; "
                                       "the archive is damaged or hand-made.")
                raise Unusual(f"layer member {name} was not parsed")
            found, self.digests[name] = parse_layer(io.BytesIO(data), what=what)
            self.contents[name] = found
        return found, self.digests[name]


def _looks_like_layer(head: bytes) -> bool:
    """A large member that starts like a layer: compressed, or a tar header (an empty tar is small)."""
    kind = sniff(head)
    if kind != "tar":
        return True
    return len(head) == th.BLOCK and head != bytes(th.BLOCK) and th._checksum_ok(head)


def _keep_small(store: StreamStore, outer: th.ByteStream, h: th.TarHeader, name: str) -> bytes:
    data = outer.read(h.size)
    if len(data) < h.size:
        raise ArchiveError(f"{store.where} is truncated inside {name}.")
    store.small[name] = data
    return data


def walk_stream(reader, where: str) -> StreamStore:
    """Walk the outer tar from `reader`, parsing layer members as they pass."""
    store = StreamStore(where)
    outer = th.ByteStream(reader)
    for h in th.iter_headers(outer, what=f"archive {where}"):
        name = E.normalise(h.name, what=f"a member of the outer archive {where}")
        store.members[name] = h
        if h.typeflag not in _DATA_TYPES:
            continue
        if h.size < SMALL:
            _keep_small(store, outer, h, name)
            continue
        what = f"layer {name} of {where}"
        head = reader.peek(th.BLOCK)
        if not _looks_like_layer(head):
            # Not a layer: a large document (kept, within limit json_bytes) or something dockerviz never
            # reads (skipped; reading it later says why it is not there). Nothing is spooled.
            if h.size <= limits.current().json_bytes:
                data = outer.read(h.size)
                if len(data) < h.size:
                    raise ArchiveError(f"{where} is truncated inside {name}.")
                store.small[name] = data
            else:
                store.skipped[name] = h.size
            continue
        if sniff(head) == "tar":
            # An uncompressed layer (what `docker save` writes): walk its headers
            # on the stream itself, file data skipped without a copy, every byte hashed.
            hasher = hashlib.sha256()
            reader.hash_next(h.size, hasher)
            inner = th.ByteStream(reader, limit=h.size, seekable=False)
            store.contents[name] = read_layer_stream(inner, what=what)
            if not inner.skip(h.size - inner.pos):
                raise ArchiveError(f"{where} is truncated inside {name}.")
            outer.pos += inner.pos
            digest = "sha256:" + hasher.hexdigest()
            store.digests[name] = {"diff": digest, "blob": digest, "blob_size": h.size}
        else:
            store.contents[name], store.digests[name] = parse_layer(_MemberReader(outer, h.size), what=what)
    if not store.members:
        raise ArchiveError(f"{where} is empty or not a tar archive; pass the file `docker save` wrote.")
    return store


def record_from_stream(reader, *, reference: str, where: str, source_kind: str, path: str,
                       want: str | None = None) -> ImageRecord:
    store = walk_stream(reader, where)
    record = record_from_store(store, reference=reference, source_kind=source_kind, path=path, want=want)
    for ref in record.layers:
        opener = ref.open
        if not isinstance(opener, _Opener):  # pragma: no cover - StreamStore always hands these
            raise Unusual("a layer without a stream opener")
        content, digests = store.content(opener.name, ref.what)
        if ref.content_digest is not None:  # a blanked recording: its tar, not the original, is named
            verify(digests, what=ref.what, diff_id=ref.content_digest)
        else:
            verify(digests, what=ref.what, diff_id=ref.diff_id, blob_digest=ref.blob_digest, blob_size=ref.blob_size)
        ref.reader = (lambda c=content: c)
        ref.open = None
    return record


__all__ = ["ChunkReader", "StreamStore", "Unusual", "record_from_stream", "walk_stream"]


def fetch_members(reader, where: str, wanted: set, n: int) -> tuple[StreamStore, dict]:
    """A second pass over a save stream keeping only the wanted files of every layer.

    Returns the store (small members, for the manifest) and {(layer member, path): first n bytes}.
    File data of anything else is skipped as it passes; nothing is written to disk.
    """
    from ..model.compression import open_layer_stream

    store = StreamStore(where)
    kept: dict = {}
    outer = th.ByteStream(reader)
    for h in th.iter_headers(outer, what=f"archive {where}"):
        name = E.normalise(h.name, what="archive member")
        store.members[name] = h
        if h.typeflag not in _DATA_TYPES:
            continue
        head = reader.peek(th.BLOCK) if h.size >= SMALL else b""
        if h.size < SMALL:
            data = _keep_small(store, outer, h, name)
            if not _looks_like_layer(data[:th.BLOCK]):
                continue
            inner = open_layer_stream(io.BytesIO(data), what=name)
        elif not _looks_like_layer(head):
            continue
        elif sniff(head) == "tar":
            inner = th.ByteStream(reader, limit=h.size, seekable=False)
        else:
            inner = open_layer_stream(_MemberReader(outer, h.size), what=name)
        start = outer.pos
        try:
            for m in th.iter_headers(inner, what=f"layer {name} of {where}"):
                if m.typeflag in _DATA_TYPES:
                    try:
                        path = E.normalise(m.name, what="layer member")
                    except ArchiveError:
                        continue
                    if path in wanted:
                        kept[(name, path)] = inner.read(min(n, m.size))
        except (EOFError, OSError, ValueError) as exc:
            raise ArchiveError(f"Layer {name} of {where} cannot be read ({exc}).") from None
        if h.size >= SMALL and sniff(head) == "tar":
            outer.pos = start + inner.pos
    return store, kept


def layer_member_names(store: StreamStore, *, reference: str) -> list:
    """The member each layer of the image is stored as, in manifest order."""
    record = record_from_store(store, reference=reference, source_kind="daemon", path="save-stream", want=None)
    return [ref.open.name for ref in record.layers]
