"""Layers that carry their own table of contents: eStargz and zstd:chunked.

Both list every tar entry of the layer, in tar order, with the facts a tar
header holds (name, type, size, mode, owner, link target) as JSON, so a layer
can be analysed from its table of contents alone, without its file data. The
table itself is not a member of the layer's tar as a tar reader sees it (eStargz
writes it after the end-of-archive blocks, zstd:chunked in a skippable frame),
so it is not an entry here either.

eStargz footer (51 bytes, an empty gzip member): FEXTRA subfield "SG" holding
"%016x" of the TOC's offset + "STARGZ". zstd:chunked footer (48 bytes, a zstd
skippable frame): offset, length, uncompressed length and type of the TOC as
little-endian uint64s, then the magic "GNUlInUx".
"""

from __future__ import annotations

import struct

from ..errors import ArchiveError
from . import tarheaders as th
from .layer import ContentBuilder, LayerContent

ESTARGZ_FOOTER = 51
ZSTD_CHUNKED_FOOTER = 48
ESTARGZ_TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest"
ZSTD_CHUNKED_CHECKSUM = "io.github.containers.zstd-chunked.manifest-checksum"
ZSTD_CHUNKED_POSITION = "io.github.containers.zstd-chunked.manifest-position"
# skopeo 1.9 (containers/image 5.23) writes the older annotation names
ZSTD_CHUNKED_CHECKSUM_OLD = "io.containers.zstd-chunked.manifest-checksum"
ZSTD_CHUNKED_POSITION_OLD = "io.containers.zstd-chunked.manifest-position"
MAX_TOC_BYTES = 256 << 20  # a TOC of ~1M entries; larger is refused, not read

_TYPES = {"reg": th.REGTYPE, "dir": th.DIRTYPE, "symlink": th.SYMTYPE, "hardlink": th.LNKTYPE,
          "char": th.CHRTYPE, "block": th.BLKTYPE, "fifo": th.FIFOTYPE}
_ZSTD_MAGIC = b"GNUlInUx"


def toc_kind(annotations: dict | None) -> str | None:
    """"estargz", "zstd:chunked" or None, from a layer descriptor's annotations."""
    ann = annotations if isinstance(annotations, dict) else {}
    if ann.get(ESTARGZ_TOC_DIGEST):
        return "estargz"
    if ann.get(ZSTD_CHUNKED_CHECKSUM) or ann.get(ZSTD_CHUNKED_CHECKSUM_OLD):
        return "zstd:chunked"
    return None


def estargz_toc_span(footer: bytes, blob_size: int, what: str) -> tuple[int, int]:
    """(start, end) in the blob of the gzip member holding the eStargz TOC, from the blob's footer."""
    if len(footer) != ESTARGZ_FOOTER or footer[:4] != b"\x1f\x8b\x08\x04" or footer[12:14] != b"SG" \
            or footer[32:38] != b"STARGZ":
        raise ArchiveError(f"The {what} is annotated as eStargz but does not end in an eStargz footer.")
    digits = footer[16:32]
    if not all(c in b"0123456789abcdefABCDEF" for c in digits):
        raise ArchiveError(f"The eStargz footer of the {what} holds no TOC offset.")
    start, end = int(digits, 16), blob_size - ESTARGZ_FOOTER
    if end - start > MAX_TOC_BYTES:
        # the member is read whole into memory: a footer pointing far back would fetch the layer
        raise ArchiveError(f"The eStargz footer of the {what} puts its table of contents {end - start} bytes "
                           f"before its end; a table of contents is at most {MAX_TOC_BYTES} bytes.")
    return start, end


def zstd_chunked_position(annotations: dict | None, footer: bytes | None, what: str) -> tuple[int, int, int]:
    """(offset, compressed length, uncompressed length) of a zstd:chunked TOC."""
    ann = annotations if isinstance(annotations, dict) else {}
    text = ann.get(ZSTD_CHUNKED_POSITION) or ann.get(ZSTD_CHUNKED_POSITION_OLD)
    if text:
        try:
            offset, length, ulength, kind = (int(x) for x in str(text).split(":"))
        except ValueError:
            raise ArchiveError(f"The zstd:chunked position {text!r} of the {what} is not offset:length:size:type.") \
                from None
    elif footer is not None and len(footer) == ZSTD_CHUNKED_FOOTER and footer.endswith(_ZSTD_MAGIC):
        offset, length, ulength, kind = struct.unpack_from("<4Q", footer, 8)
    else:
        raise ArchiveError(f"The {what} is annotated as zstd:chunked but has no table of contents position.")
    if kind != 1 or offset < 0 or not 0 < length <= MAX_TOC_BYTES or not 0 < ulength <= MAX_TOC_BYTES:
        raise ArchiveError(f"The zstd:chunked table of contents of the {what} has an unusable position "
                           f"({offset}:{length}:{ulength}:{kind}).")
    return offset, length, ulength


def zstd_chunked_toc(frame: bytes, ulength: int, what: str) -> bytes:
    """The zstd:chunked TOC frame decompressed, never past `ulength` bytes (the annotation's size).

    Read as a stream: a one-shot decompress allocates what the frame's header claims, whatever
    the annotation said."""
    import zstandard

    try:
        data = zstandard.ZstdDecompressor().stream_reader(frame).read(ulength + 1)
    except zstandard.ZstdError as exc:
        raise ArchiveError(f"The zstd:chunked table of contents of the {what} cannot be decompressed "
                           f"({exc}).") from None
    if len(data) > ulength:
        raise ArchiveError(f"The zstd:chunked table of contents of the {what} inflates past the {ulength} bytes "
                           "its position annotation declares.")
    return data


def _count(value, field: str, what: str) -> int:
    n = int(value or 0)
    if n < 0:
        raise ArchiveError(f"The table of contents of the {what} has an entry with a negative {field} ({n}).")
    return n


def content_from_toc(toc, *, what: str = "layer") -> LayerContent:
    """The LayerContent a full read of the layer's tar would give, from its TOC's entries."""
    entries = toc.get("entries") if isinstance(toc, dict) else None
    if not isinstance(entries, list):
        raise ArchiveError(f"The table of contents of the {what} has no entries list.")
    builder = ContentBuilder(what)
    add = builder.add_fields
    try:
        for e in entries:
            kind = e.get("type")
            if kind == "chunk":
                continue  # the rest of the file before it
            flag = _TYPES.get(kind)
            if flag is None:
                raise ArchiveError(f"The table of contents of the {what} has an entry of unknown type {kind!r}.")
            name = e.get("name")
            if not isinstance(name, str) or not name:
                raise ArchiveError(f"The table of contents of the {what} has an entry without a name.")
            size = _count(e.get("size"), "size", what) if flag == th.REGTYPE else 0
            link = e.get("linkName") or ""
            add(name.encode("utf-8", "surrogateescape"), flag, size, int(e.get("mode") or 0) & 0o7777,
                _count(e.get("uid"), "uid", what), _count(e.get("gid"), "gid", what),
                str(link).encode("utf-8", "surrogateescape"))
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise ArchiveError(f"The table of contents of the {what} has an entry with fields of the wrong type.") \
            from None
    return builder.finish()


__all__ = [
    "ESTARGZ_FOOTER",
    "ESTARGZ_TOC_DIGEST",
    "MAX_TOC_BYTES",
    "ZSTD_CHUNKED_CHECKSUM",
    "ZSTD_CHUNKED_CHECKSUM_OLD",
    "ZSTD_CHUNKED_FOOTER",
    "ZSTD_CHUNKED_POSITION",
    "ZSTD_CHUNKED_POSITION_OLD",
    "content_from_toc",
    "estargz_toc_span",
    "toc_kind",
    "zstd_chunked_position",
    "zstd_chunked_toc",
]
