"""What one layer tar holds: entries, whiteouts, opaque directories and sizes.

A LayerContent is built from tar headers alone (no file data is read) and is
the unit the cache stores under the layer's diff id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterable

from ..errors import ArchiveError, UnsafePathError
from . import entries as E
from . import tarheaders as th


@dataclass
class LayerContent:
    """The parsed content of one layer tar.

    entries       regular entries in tar order, last copy of a duplicated path kept
    whiteouts     paths deleted from the layers below (targets, not '.wh.' names)
    opaque_dirs   directories whose lower children this layer hides
    tar_bytes     sum of every header's size field (dive's layer size)
    """

    entries: list[E.Entry] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)
    tar_bytes: int = 0

    @property
    def disk_bytes(self) -> int:
        """The size `docker history` shows: lstat sizes, hard links once, dirs 0."""
        total = 0
        for e in self.entries:
            if e.kind == E.FILE:
                total += e.size
            elif e.kind == E.SYMLINK:
                total += len(e.link.encode("utf-8", "surrogateescape"))
        return total

    @property
    def file_bytes(self) -> int:
        """Regular-file bytes stored in this layer (hard links add nothing)."""
        return sum(e.size for e in self.entries if e.kind == E.FILE)

    def __len__(self) -> int:
        return len(self.entries) + len(self.whiteouts) + len(self.opaque_dirs)


def content_from_headers(headers: Iterable[th.TarHeader], *, what: str = "layer") -> LayerContent:
    content = LayerContent()
    by_path: dict[str, int] = {}
    whiteouts: dict[str, None] = {}
    opaque: dict[str, None] = {}
    entries = content.entries
    for h in headers:
        content.tar_bytes += h.size
        path = E.normalise(h.name, what=f"{what} member")
        if not path:
            continue  # the root directory itself
        kind_of_name, target = E.split_whiteout(path)
        if kind_of_name == "whiteout":
            whiteouts[target] = None
            continue
        if kind_of_name == "opaque":
            opaque[target] = None
            continue
        if kind_of_name == "meta":
            continue
        kind = E.entry_type(h.typeflag)
        link = ""
        size = h.size
        if kind == E.HARDLINK:
            link = E.normalise(h.linkname, what=f"{what} hard link target")
            if not link:
                raise UnsafePathError(f"Hard link {E.display_path(path)!r} in a {what} points at the root directory.")
            size = 0
        elif kind == E.SYMLINK:
            link = E.decode_name(h.linkname)  # verbatim, never followed
            size = 0
        elif kind in (E.DIR, E.OTHER):
            size = 0
        entry = E.Entry(path, kind, size, h.mode, h.uid, h.gid, link)
        prev = by_path.get(path)
        if prev is None:
            by_path[path] = len(entries)
            entries.append(entry)
        else:
            entries[prev] = entry  # tar semantics: the last copy wins
    content.whiteouts = list(whiteouts)
    content.opaque_dirs = list(opaque)
    return content


def read_layer(fileobj: BinaryIO, *, what: str = "layer") -> LayerContent:
    """Parse a layer stream; detects gzip and zstd by magic bytes."""
    from .compression import open_layer_stream

    stream = open_layer_stream(fileobj, what=what)
    try:
        return content_from_headers(th.iter_headers(stream, what=what), what=what)
    except ArchiveError:
        raise
    except (EOFError, OSError, ValueError) as exc:
        raise ArchiveError(
            f"The {what} cannot be read ({type(exc).__name__}: {exc}). The archive is truncated or corrupt; "
            "re-create it with `docker save -o FILE IMAGE`."
        ) from None
