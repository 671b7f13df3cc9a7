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


def estargz_toc_offset(footer: bytes, what: str) -> int:
    if len(footer) != ESTARGZ_FOOTER or footer[:4] != b"\x1f\x8b\x08\x04" or footer[12:14] != b"SG" \
            or footer[32:38] != b"STARGZ":
        raise ArchiveError(f"The {what} is annotated as eStargz but does not end in an eStargz footer.")
    try:
        return int(footer[16:32], 16)
    except ValueError:
        raise ArchiveError(f"The eStargz footer of the {what} holds no TOC offset.") from None


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
    if kind != 1 or offset < 0 or length <= 0 or ulength <= 0 or ulength > MAX_TOC_BYTES:
        raise ArchiveError(f"The zstd:chunked table of contents of the {what} has an unusable position "
                           f"({offset}:{length}:{ulength}:{kind}).")
    return offset, length, ulength


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
            size = int(e.get("size") or 0) if flag == th.REGTYPE else 0
            link = e.get("linkName") or ""
            add(name.encode("utf-8", "surrogateescape"), flag, size, int(e.get("mode") or 0) & 0o7777,
                int(e.get("uid") or 0), int(e.get("gid") or 0), str(link).encode("utf-8", "surrogateescape"))
    except (AttributeError, TypeError, ValueError):
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
    "estargz_toc_offset",
    "toc_kind",
    "zstd_chunked_position",
]
