"""A tar header walker that never reads file data.

tarfile builds a TarInfo object per member and insists on reading through
every member's data on non-seekable streams; on a layer with tens of thousands
of entries that dominates the time. This walker decodes just what dockerviz
needs (name, type, size, mode, ids, link target) from each 512-byte header,
honours GNU long names and PAX records, and skips data with a seek when the
stream allows it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from zlib import adler32

from ..errors import ArchiveError

BLOCK = 512

# Typeflags (POSIX ustar, GNU, PAX).
REGTYPE = b"0"
AREGTYPE = b"\0"
LNKTYPE = b"1"
SYMTYPE = b"2"
CHRTYPE = b"3"
BLKTYPE = b"4"
DIRTYPE = b"5"
FIFOTYPE = b"6"
CONTTYPE = b"7"
GNU_LONGNAME = b"L"
GNU_LONGLINK = b"K"
PAX_HEADER = b"x"
PAX_GLOBAL = b"g"
GNU_SPARSE = b"S"

_ZERO_BLOCK = bytes(BLOCK)
_META_TYPES = {GNU_LONGNAME, GNU_LONGLINK, PAX_HEADER, PAX_GLOBAL}


@dataclass(slots=True)
class TarHeader:
    """One member of a tar stream, with every extension applied."""

    name: bytes
    typeflag: bytes
    size: int
    mode: int
    uid: int
    gid: int
    linkname: bytes
    offset: int  # where the member's data starts in the stream
    devmajor: int = 0
    devminor: int = 0

    @property
    def data_blocks(self) -> int:
        return (self.size + BLOCK - 1) // BLOCK * BLOCK


class ByteStream:
    """Sequential reader over a binary file object that can skip cheaply.

    Skips are seeks when the underlying object is seekable, the object's own
    `skip(n) -> int` when it has one (a save stream drops the bytes without
    copying them), and reads into a scratch buffer otherwise (decompressors).
    Decompressors must be passed seekable=False: they claim to seek, but only
    by decompressing everything up to the target and, backwards, from the
    start of a source that may not rewind.
    """

    def __init__(self, fileobj: BinaryIO, *, limit: int | None = None, seekable: bool | None = None):
        self._f = fileobj
        self.pos = 0
        self.limit = limit
        if seekable is None:
            try:
                seekable = bool(fileobj.seekable())
            except Exception:
                seekable = False
        self._seekable = seekable
        self._skip = None if seekable else getattr(fileobj, "skip", None)
        self._base = fileobj.tell() if self._seekable else 0
        self._end = None
        if self._seekable:
            # Seeks past the end succeed silently: remember the end to catch truncation.
            self._end = fileobj.seek(0, 2)
            fileobj.seek(self._base)

    def read(self, n: int) -> bytes:
        if self.limit is not None:
            n = max(0, min(n, self.limit - self.pos))
        data = self._f.read(n)
        if len(data) == n:  # the common case: one read
            self.pos += n
            return data
        chunks = [data]
        n -= len(data)
        if not data:
            return data
        want = n
        while want > 0:
            chunk = self._f.read(want)
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
        data = b"".join(chunks) if len(chunks) != 1 else chunks[0]
        self.pos += len(data)
        return data

    def skip(self, n: int) -> bool:
        """Advance n bytes; False when the stream ended first."""
        if n <= 0:
            return True
        if self.limit is not None and self.pos + n > self.limit:
            self.pos = self.limit
            return False
        if self._seekable:
            target = self._base + self.pos + n
            if self._end is not None and target > self._end:
                self._f.seek(self._end)
                self.pos = self._end - self._base
                return False
            self._f.seek(target)
            self.pos += n
            return True
        if self._skip is not None:
            done = self._skip(n)
            self.pos += done
            return done == n
        left = n
        while left > 0:
            chunk = self._f.read(min(left, 1 << 20))
            if not chunk:
                self.pos += n - left
                return False
            left -= len(chunk)
        self.pos += n
        return True


def _parse_number(field: bytes, what: str, name: bytes) -> int:
    """Octal, or GNU base-256 when the high bit of the first byte is set."""
    if field[-1:] == b"\0" and field[:1].isdigit():
        try:  # the usual form, digits then one NUL
            return int(field[:-1], 8)
        except ValueError:
            pass
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] & 0x40:  # negative base-256
            value -= 1 << (8 * (len(field) - 1) + 6)
        return value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ArchiveError(
            f"Corrupt tar header: {what} field {field!r} of member {name!r} is not a number. "
            "The archive is damaged; re-create it with `docker save -o FILE IMAGE`."
        ) from None


def _checksum_ok(block: bytes) -> bool:
    field = block[148:156]
    stored = field.split(b"\0", 1)[0].strip(b" \0")
    try:
        want = int(stored, 8)
    except ValueError:
        return False
    # Byte sums in C: adler32's low half is 1 + the sum of the bytes modulo
    # 65521, exact for 256 bytes (at most 65280).
    unsigned = (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2 - sum(field) + 8 * 32
    if unsigned == want:
        return True
    signed = sum((b - 256 if b > 127 else b) for b in block[:148]) + 256 + sum(
        (b - 256 if b > 127 else b) for b in block[156:]
    )
    return signed == want


def _parse_pax(data: bytes, name: bytes) -> dict[bytes, bytes]:
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise ArchiveError(f"Corrupt PAX header before {name!r}: a record has no length.")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ArchiveError(f"Corrupt PAX header before {name!r}: bad record length.") from None
        if length <= 0 or pos + length > len(data):
            raise ArchiveError(f"Corrupt PAX header before {name!r}: record overruns the header.")
        record = data[space + 1 : pos + length - 1]  # strip trailing newline
        key, sep, value = record.partition(b"=")
        if not sep:
            raise ArchiveError(f"Corrupt PAX header before {name!r}: record without '='.")
        records[key] = value
        pos += length
    return records


def iter_headers(stream: ByteStream, *, what: str = "archive") -> Iterator[TarHeader]:
    """Yield every real member of the tar in `stream`, skipping its data.

    Raises ArchiveError on truncation or a corrupt header; a clean end is two
    zero blocks or (as many writers leave it) end of stream at a block edge.
    """
    long_name: bytes | None = None
    long_link: bytes | None = None
    pax: dict[bytes, bytes] = {}
    pax_global: dict[bytes, bytes] = {}
    while True:
        start = stream.pos
        block = stream.read(BLOCK)
        if not block:
            return
        if len(block) < BLOCK:
            raise ArchiveError(
                f"The {what} is truncated: it ends inside a tar header at byte {start}. "
                "Re-create it (`docker save -o FILE IMAGE`) and check the copy finished."
            )
        if block == _ZERO_BLOCK:
            return  # end-of-archive marker
        if not _checksum_ok(block):
            raise ArchiveError(
                f"The {what} is corrupt: the tar header at byte {start} fails its checksum. "
                "It is not a tar archive, or it was damaged; re-create it with `docker save`."
            )
        raw_name = block[0:100].split(b"\0", 1)[0]
        typeflag = block[156:157]
        size = _parse_number(block[124:136], "size", raw_name)
        if size < 0:
            raise ArchiveError(f"Corrupt tar header for {raw_name!r}: negative size.")
        data_start = stream.pos
        padded = (size + BLOCK - 1) // BLOCK * BLOCK

        if typeflag in _META_TYPES:
            data = stream.read(padded)
            if len(data) < padded:
                raise ArchiveError(f"The {what} is truncated inside the extended header of {raw_name!r}. "
                                   "Re-create it (`docker save -o FILE IMAGE`) and check the copy finished.")
            payload = data[:size]
            if typeflag == GNU_LONGNAME:
                long_name = payload.split(b"\0", 1)[0]
            elif typeflag == GNU_LONGLINK:
                long_link = payload.split(b"\0", 1)[0]
            elif typeflag == PAX_HEADER:
                pax = _parse_pax(payload, raw_name)
            else:
                pax_global.update(_parse_pax(payload, raw_name))
            continue

        magic = block[257:263]
        if magic[:5] == b"ustar" and magic != b"ustar ":
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                raw_name = prefix + b"/" + raw_name
        name = raw_name
        linkname = block[157:257].split(b"\0", 1)[0]
        mode = _parse_number(block[100:108], "mode", name)
        uid = _parse_number(block[108:116], "uid", name)
        gid = _parse_number(block[116:124], "gid", name)
        devmajor = devminor = 0
        if typeflag in (CHRTYPE, BLKTYPE):
            devmajor = _parse_number(block[329:337], "devmajor", name)
            devminor = _parse_number(block[337:345], "devminor", name)

        merged = {**pax_global, **pax} if pax_global else pax
        if long_name is not None:
            name = long_name
        if long_link is not None:
            linkname = long_link
        if merged:
            if b"path" in merged:
                name = merged[b"path"]
            if b"linkpath" in merged:
                linkname = merged[b"linkpath"]
            try:
                if b"size" in merged:
                    size = int(merged[b"size"])
                    padded = (size + BLOCK - 1) // BLOCK * BLOCK
                if b"uid" in merged:
                    uid = int(merged[b"uid"])
                if b"gid" in merged:
                    gid = int(merged[b"gid"])
            except ValueError:
                raise ArchiveError(f"Corrupt PAX record for {name!r}: a number is not a number.") from None
        long_name = long_link = None
        pax = {}

        if typeflag in (LNKTYPE, SYMTYPE, DIRTYPE, CHRTYPE, BLKTYPE, FIFOTYPE):
            # Header-only types carry no data even when a writer fills the size field.
            data_size = 0
        else:
            data_size = size
        header = TarHeader(name, typeflag, size, mode & 0o7777, uid, gid, linkname, data_start, devmajor, devminor)
        yield header
        # The consumer may have read the data already (stream.pos moved on).
        end = data_start + (data_size + BLOCK - 1) // BLOCK * BLOCK
        if stream.pos < end and not stream.skip(end - stream.pos):
            raise ArchiveError(
                f"The {what} is truncated: member {name.decode('utf-8', 'replace')!r} promises {data_size} bytes "
                "but the stream ends first. Re-create it (`docker save -o FILE IMAGE`) and check the copy finished."
            )
        if stream.pos > end:
            raise ArchiveError(f"Internal: read past member {name!r}.")


def open_stream(data: bytes | BinaryIO) -> ByteStream:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return ByteStream(io.BytesIO(bytes(data)))
    return ByteStream(data)
