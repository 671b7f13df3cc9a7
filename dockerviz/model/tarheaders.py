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
import re
from zlib import adler32

from ..errors import ArchiveError
from . import limits as _limits
from .record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

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


class TarHeader(Record):
    """One member of a tar stream, with every extension applied. `offset`: where its data starts."""

    __slots__ = _fields = ("name", "typeflag", "size", "mode", "uid", "gid", "linkname", "offset", "devmajor",
                           "devminor")

    def __init__(self, name: bytes, typeflag: bytes, size: int, mode: int, uid: int, gid: int, linkname: bytes,
                 offset: int, devmajor: int = 0, devminor: int = 0):
        self.name = name
        self.typeflag = typeflag
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.linkname = linkname
        self.offset = offset
        self.devmajor = devmajor
        self.devminor = devminor

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


MAX_SIZE = (1 << 63) - 1  # what the cache and every consumer can hold
MAX_ID = (1 << 32) - 1  # Linux uid_t / gid_t
_OCTAL = re.compile(rb"^[ \0]*([0-7]+)[ \0]*$")
_DECIMAL = re.compile(rb"^[0-9]{1,19}$")


def _bad_number(what: str, field: bytes, name: bytes, why: str) -> ArchiveError:
    return ArchiveError(
        f"Corrupt tar header: the {what} field {field!r} of member {_shown(name)} {why}. "
        "The archive is damaged or hand-made; re-create it with `docker save -o FILE IMAGE`."
    )


def _shown(name: bytes) -> str:
    text = name[:200].decode("utf-8", "backslashreplace")
    return repr(text + ("..." if len(name) > 200 else ""))


def _parse_number(field: bytes, what: str, name: bytes, bound: int = MAX_SIZE) -> int:
    """Strictly octal digits (space or NUL padded), or GNU base-256 (high bit set); never negative."""
    if field[-1:] == b"\0" and field[:1].isdigit():
        try:  # the usual form, digits then one NUL
            value = int(field[:-1], 8)
        except ValueError:
            value = -1
        if value >= 0 and field[:-1].isdigit() and b"8" not in field and b"9" not in field:
            if value > bound:
                raise _bad_number(what, field, name, f"is {value}, beyond the largest dockerviz accepts ({bound})")
            return value
    if field and field[0] & 0x80:
        if field[0] & 0x40:
            raise _bad_number(what, field, name, "is a negative base-256 number")
        value = int.from_bytes(field[1:], "big") | ((field[0] & 0x3F) << (8 * (len(field) - 1)))
    elif not field.strip(b" \0"):
        return 0
    else:
        m = _OCTAL.match(field)
        if not m:
            raise _bad_number(what, field, name, "is not an octal number")
        value = int(m.group(1), 8)
    if value > bound:
        raise _bad_number(what, field, name, f"is {value}, beyond the largest dockerviz accepts ({bound})")
    return value


def _pax_number(value: bytes, key: bytes, name: bytes, bound: int) -> int:
    if not _DECIMAL.match(value):
        raise ArchiveError(
            f"Corrupt PAX record {key.decode('ascii', 'replace')}={value[:40]!r} for member {_shown(name)}: "
            "it must be plain decimal digits (no sign, '_' or prefix). The archive is damaged or hand-made."
        )
    n = int(value)
    if n > bound:
        raise ArchiveError(f"PAX record {key.decode('ascii', 'replace')}={n} for member {_shown(name)} "
                           f"is beyond the largest dockerviz accepts ({bound}).")
    return n


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
            raise ArchiveError(f"Corrupt PAX header before {_shown(name)}: a record has no length.")
        digits = data[pos:space]
        if not _DECIMAL.match(digits):
            raise ArchiveError(f"Corrupt PAX header before {_shown(name)}: bad record length {digits[:20]!r}.")
        length = int(digits)
        if length <= 0 or pos + length > len(data):
            raise ArchiveError(f"Corrupt PAX header before {_shown(name)}: a record overruns the header.")
        record = data[space + 1 : pos + length - 1]  # strip trailing newline
        key, sep, value = record.partition(b"=")
        if not sep:
            raise ArchiveError(f"Corrupt PAX header before {_shown(name)}: a record without '='.")
        records[key] = value
        pos += length
    return records


_SPARSE_KEYS = (b"GNU.sparse.major", b"GNU.sparse.name", b"GNU.sparse.map", b"GNU.sparse.offset",
                b"GNU.sparse.numblocks", b"GNU.sparse.size", b"GNU.sparse.realsize")


def _truncated(what: str, where: str) -> ArchiveError:
    return ArchiveError(
        f"The {what} is truncated: it ends {where}. "
        "Re-create it (`docker save -o FILE IMAGE`) and check the copy finished."
    )


def iter_headers(stream: ByteStream, *, what: str = "archive") -> Iterator[TarHeader]:
    """Yield every real member of the tar in `stream`, skipping its data.

    Raises ArchiveError on truncation or a corrupt header. The tar must end
    with its end-of-archive block: a stream that stops at a member boundary
    has lost the members after it, and is refused.
    """
    limits = _limits.current()
    long_name: bytes | None = None
    long_link: bytes | None = None
    pax: dict[bytes, bytes] = {}
    pax_global: dict[bytes, bytes] = {}
    while True:
        start = stream.pos
        block = stream.read(BLOCK)
        if not block:
            raise _truncated(what, f"at byte {start} without the end-of-archive marker (lost members after it)")
        if len(block) < BLOCK:
            raise _truncated(what, f"inside a tar header at byte {start}")
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
        data_start = stream.pos
        padded = (size + BLOCK - 1) // BLOCK * BLOCK

        if typeflag in _META_TYPES:
            bound = limits.pax_bytes if typeflag in (PAX_HEADER, PAX_GLOBAL) else limits.long_name_bytes
            if size > bound:
                kind = "PAX extended header" if typeflag in (PAX_HEADER, PAX_GLOBAL) else "GNU long name"
                raise _limits.exceeded("pax_bytes" if typeflag in (PAX_HEADER, PAX_GLOBAL) else "long_name_bytes",
                                       f"A {kind} of {size} bytes in the {what} (before {_shown(raw_name)})")
            data = stream.read(padded)
            if len(data) < padded:
                raise _truncated(what, f"inside the extended header of {_shown(raw_name)}")
            payload = data[:size]
            if typeflag == GNU_LONGNAME:
                long_name = payload.split(b"\0", 1)[0]
            elif typeflag == GNU_LONGLINK:
                long_link = payload.split(b"\0", 1)[0]
            elif typeflag == PAX_HEADER:
                pax = _parse_pax(payload, raw_name)
            else:
                pax_global.update(_parse_pax(payload, raw_name))
                if sum(len(k) + len(v) for k, v in pax_global.items()) > limits.pax_bytes:
                    raise _limits.exceeded("pax_bytes", f"The global PAX records of the {what}")
            continue

        magic = block[257:263]
        if magic[:5] == b"ustar" and magic != b"ustar ":
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                raw_name = prefix + b"/" + raw_name
        name = raw_name
        linkname = block[157:257].split(b"\0", 1)[0]
        mode = _parse_number(block[100:108], "mode", name, 0o7777777)
        uid = _parse_number(block[108:116], "uid", name, MAX_ID)
        gid = _parse_number(block[116:124], "gid", name, MAX_ID)
        devmajor = devminor = 0
        if typeflag in (CHRTYPE, BLKTYPE):
            devmajor = _parse_number(block[329:337], "devmajor", name, MAX_ID)
            devminor = _parse_number(block[337:345], "devminor", name, MAX_ID)
        if typeflag == GNU_SPARSE:
            raise ArchiveError(
                f"Member {_shown(name)} of the {what} is an old GNU sparse file, which image layers never hold "
                "(container engines write PAX); dockerviz does not read it. Rebuild the image with a container engine."
            )

        merged = {**pax_global, **pax} if pax_global else pax
        if long_name is not None:
            name = long_name
        if long_link is not None:
            linkname = long_link
        data_size = size
        if merged:
            if b"path" in merged:
                name = merged[b"path"]
            if b"linkpath" in merged:
                linkname = merged[b"linkpath"]
            if b"size" in merged:
                size = data_size = _pax_number(merged[b"size"], b"size", name, MAX_SIZE)
            if b"uid" in merged:
                uid = _pax_number(merged[b"uid"], b"uid", name, MAX_ID)
            if b"gid" in merged:
                gid = _pax_number(merged[b"gid"], b"gid", name, MAX_ID)
            if any(k in merged for k in _SPARSE_KEYS):
                name, size = _pax_sparse(merged, name, size, what)
        long_name = long_link = None
        pax = {}
        if len(name) > limits.path_bytes:
            raise _limits.exceeded("path_bytes", f"A member name of {len(name)} bytes in the {what}")
        if len(linkname) > limits.path_bytes:
            raise _limits.exceeded("path_bytes", f"A link target of {len(linkname)} bytes in the {what}")
        if name.count(b"/") >= limits.path_depth:
            raise _limits.exceeded("path_depth", f"Member {_shown(name)} of the {what} is a path whose depth",
                                   name.count(b"/") + 1)

        if typeflag in (LNKTYPE, SYMTYPE, DIRTYPE, CHRTYPE, BLKTYPE, FIFOTYPE):
            # Header-only types carry no data even when a writer fills the size field.
            data_size = 0
        header = TarHeader(name, typeflag, size, mode & 0o7777, uid, gid, linkname, data_start, devmajor, devminor)
        yield header
        # The consumer may have read the data already (stream.pos moved on).
        end = data_start + (data_size + BLOCK - 1) // BLOCK * BLOCK
        if stream.pos < end and not stream.skip(end - stream.pos):
            raise _truncated(what, f"inside member {_shown(name)}, which promises {data_size} bytes")
        if stream.pos > end:
            raise ArchiveError(f"The {what} was read past the end of member {_shown(name)}; "
                               "its header and its data disagree.")


def _pax_sparse(merged: dict, name: bytes, size: int, what: str) -> tuple[bytes, int]:
    """A PAX sparse file (GNU formats 0.0, 0.1 and 1.0): its real name and its real size.

    The data (and, in 1.0, the map at its start) is skipped like any file data;
    only the name and apparent size matter here, as `tar -tv` shows them.
    """
    real = merged.get(b"GNU.sparse.name")
    if real is None and merged.get(b"GNU.sparse.major") == b"1":
        raise ArchiveError(f"Member {_shown(name)} of the {what} is a PAX sparse file without its real name.")
    real_size = merged.get(b"GNU.sparse.realsize", merged.get(b"GNU.sparse.size"))
    if real_size is None:
        raise ArchiveError(f"Member {_shown(name)} of the {what} is a PAX sparse file without its real size; "
                           "dockerviz cannot tell how big it is. Rebuild the image with a container engine.")
    return (real if real is not None else name), _pax_number(real_size, b"GNU.sparse.realsize", name, MAX_SIZE)


def open_stream(data: bytes | BinaryIO) -> ByteStream:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return ByteStream(io.BytesIO(bytes(data)))
    return ByteStream(data)
