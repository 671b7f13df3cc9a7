"""What one layer tar holds: entries, whiteouts, opaque directories and sizes.

A LayerContent is built from tar headers alone (no file data is read) and is
the unit the cache stores under the layer's diff id.
"""

from __future__ import annotations

from functools import cached_property
from operator import attrgetter

from ..errors import ArchiveError, UnsafePathError
from . import entries as E
from . import tarheaders as th
from .record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Iterable


class LayerContent(Record):
    """The parsed content of one layer tar.

    entries       regular entries in tar order, last copy of a duplicated path kept
    whiteouts     paths deleted from the layers below (targets, not '.wh.' names)
    opaque_dirs   directories whose lower children this layer hides
    tar_bytes     sum of every header's size field (dive's layer size)
    packages      the package databases the layer writes, parsed (see model.packages)
    """

    _fields = ("entries", "whiteouts", "opaque_dirs", "tar_bytes", "packages")

    def __init__(self, entries: list[E.Entry] | None = None, whiteouts: list[str] | None = None,
                 opaque_dirs: list[str] | None = None, tar_bytes: int = 0, packages: dict | None = None,
                 offsets=None):
        self.entries = [] if entries is None else entries
        self.whiteouts = [] if whiteouts is None else whiteouts
        self.opaque_dirs = [] if opaque_dirs is None else opaque_dirs
        self.tar_bytes = tar_bytes
        # package-database files kept while reading: {path: [(name, version, size)]}; None: not captured
        self.packages = packages
        # where each entry's data starts in the uncompressed layer tar (an array, entries' order), when the
        # layer was read from a tar: a file's bytes are then one seek away. Not a fact of the layer's
        # content (a layer read in place has none), so not compared.
        self.offsets = offsets

    @cached_property
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
    def entry_count(self) -> int:
        return len(self.entries)

    @property
    def file_bytes(self) -> int:
        """Regular-file bytes stored in this layer (hard links add nothing)."""
        return sum(e.size for e in self.entries if e.kind == E.FILE)

    def __len__(self) -> int:
        return len(self.entries) + len(self.whiteouts) + len(self.opaque_dirs)


class ContentBuilder:
    """Collects the headers of one layer tar, in tar order, into a LayerContent.

    Readers with a faster way to turn plain headers into entries append those
    to `entries` themselves (clean paths only: no whiteout, no '.' or '..'
    component, no repeated or leading slash) and send every other header
    through `add`; `finish` applies tar's rule that the last copy of a
    duplicated path wins (at the place of the first).
    """

    __slots__ = ("what", "entries", "whiteouts", "opaque", "tar_bytes")

    def __init__(self, what: str = "layer"):
        self.what = what
        self.entries: list[E.Entry] = []
        self.whiteouts: dict[str, None] = {}
        self.opaque: dict[str, None] = {}
        self.tar_bytes = 0

    def add(self, h: th.TarHeader) -> None:
        self.add_fields(h.name, h.typeflag, h.size, h.mode, h.uid, h.gid, h.linkname)

    def add_fields(self, name: bytes, typeflag: bytes, size: int, mode: int, uid: int, gid: int,
                   linkname: bytes) -> None:
        what = self.what
        self.tar_bytes += size
        clean = name[2:] if name[:2] == b"./" else name
        if clean and clean[0] != 0x2F and clean[0] != 0x2E and b"/." not in clean and b"//" not in clean:
            # already canonical but for a trailing slash, and no whiteout: no component starts with '.'
            path = (clean[:-1] if clean[-1] == 0x2F else clean).decode("utf-8", "surrogateescape")
        else:
            path = E.normalise(name, what=f"a member of the {what}")
            if not path:
                return  # the root directory itself
            kind_of_name, target = E.split_whiteout(path)
            if kind_of_name == "whiteout":
                self.whiteouts[target] = None
                return
            if kind_of_name == "opaque":
                self.opaque[target] = None
                return
            if kind_of_name == "meta":
                return
        kind = E.entry_type(typeflag)
        link = ""
        if kind == E.HARDLINK:
            link = E.normalise(linkname, what=f"a hard link target in the {what}")
            if not link:
                raise UnsafePathError(f"Hard link {E.display_path(path)!r} in a {what} points at the root directory.")
            size = 0
        elif kind == E.SYMLINK:
            link = E.decode_name(linkname)  # verbatim, never followed
            size = 0
        elif kind in (E.DIR, E.OTHER):
            size = 0
        self.entries.append(E.Entry(path, kind, size, mode, uid, gid, link))

    def finish(self) -> LayerContent:
        content = LayerContent()
        entries = self.entries
        if len(set(map(_path_of, entries))) != len(entries):
            by_path: dict[str, int] = {}
            kept: list[E.Entry] = []
            for entry in entries:
                prev = by_path.get(entry.path)
                if prev is None:
                    by_path[entry.path] = len(kept)
                    kept.append(entry)
                else:
                    kept[prev] = entry  # tar semantics: the last copy wins
            entries = kept
        content.entries = entries
        content.whiteouts = list(self.whiteouts)
        content.opaque_dirs = list(self.opaque)
        content.tar_bytes = self.tar_bytes
        return content


_path_of = attrgetter("path")
_DATA_TYPES = (th.REGTYPE, th.AREGTYPE, th.CONTTYPE)


def content_from_headers(headers: Iterable[th.TarHeader], *, what: str = "layer") -> LayerContent:
    builder = ContentBuilder(what)
    add = builder.add
    for h in headers:
        add(h)
    return builder.finish()


def read_layer(fileobj: BinaryIO, *, what: str = "layer", diff_id: str | None = None,
               blob_digest: str | None = None, blob_size: int | None = None) -> LayerContent:
    """Parse a layer stream (gzip and zstd detected by magic bytes), verifying what it hashes to.

    `diff_id` is checked against the sha256 of the uncompressed tar and
    `blob_digest` / `blob_size` against the stored (maybe compressed) bytes,
    as the bytes are read; a mismatch raises IntegrityError and nothing of the
    layer is returned. With none of them given nothing is hashed.
    """
    content, digests = parse_layer(fileobj, what=what, hash_diff=diff_id is not None,
                                   blob_algorithm=_algorithm(blob_digest, what))
    verify(digests, what=what, diff_id=diff_id, blob_digest=blob_digest, blob_size=blob_size)
    return content


def _algorithm(digest: str | None, what: str) -> str | None:
    if digest is None:
        return None
    from .digest import parse_digest

    return parse_digest(digest, f"The descriptor of the {what}")[0]


def parse_layer(fileobj: BinaryIO, *, what: str = "layer", hash_diff: bool = True,
                blob_algorithm: str | None = None) -> tuple[LayerContent, dict]:
    """Parse a layer, hashing as it goes; (content, {"diff": digest, "blob": digest, "blob_size": n}).

    Every byte is read through the hashes (skipped file data too, and what
    follows the end-of-archive blocks), so the digests cover the whole stream.
    """
    from .compression import decompressed
    from .digest import HashingReader

    if not hash_diff and blob_algorithm is None:
        from .compression import open_layer_stream

        return read_layer_stream(open_layer_stream(fileobj, what=what), what=what), {}
    blob = HashingReader(fileobj, blob_algorithm or "sha256")
    kind, inner = decompressed(blob, what=what)
    # A plain tar's stored bytes are its uncompressed bytes: one sha256 serves both digests.
    diff = blob if kind == "tar" and blob_algorithm in (None, "sha256") else HashingReader(inner)
    stream = th.ByteStream(inner if diff is blob else diff, seekable=False)
    content = read_layer_stream(stream, what=what)
    try:
        while stream.read(1 << 20):
            pass
        if diff is not blob:
            blob.drain()
    except ArchiveError:
        raise
    except (EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"The {what} cannot be read to its end ({type(exc).__name__}: {exc}).") from None
    out = {"blob": blob.digest(), "blob_size": blob.count}
    if hash_diff:
        out["diff"] = diff.digest()
    return content, out


def verify(digests: dict, *, what: str, diff_id: str | None = None, blob_digest: str | None = None,
           blob_size: int | None = None) -> None:
    """Check digests made by parse_layer against what the image names."""
    from .digest import check, check_size

    if blob_size is not None and "blob_size" in digests:
        check_size(blob_size, digests["blob_size"], what)
    if blob_digest is not None and "blob" in digests:
        check(blob_digest, digests["blob"], what, kind="blob digest")
    if diff_id is not None and "diff" in digests:
        check(diff_id, digests["diff"], what)


def set_offsets(content: LayerContent, entries: list, offsets) -> None:
    """content.offsets from the data offset of each entry as the builder collected them (`entries`,
    before finish() kept only the last copy of a path)."""
    from array import array

    if len(content.entries) != len(offsets):  # duplicated paths: the last copy's data
        where = dict(zip(map(_path_of, entries), offsets))
        offsets = array("q", [where[e.path] for e in content.entries])
    content.offsets = offsets


def read_layer_stream(stream: th.ByteStream, *, what: str = "layer") -> LayerContent:
    """Parse an uncompressed layer tar from a ByteStream."""
    from array import array

    from . import packages

    try:
        builder = ContentBuilder(what)
        add = builder.add
        entries = builder.entries
        offsets = array("q")  # where each entry's data starts: a file is read later by one seek
        record = offsets.append
        collector = packages.Collector() if packages.CAPTURE else None
        wanted = packages.wanted_raw
        for h in th.iter_headers(stream, what=what):
            n = len(entries)
            add(h)
            if len(entries) != n:
                record(h.offset)
            if collector is not None and h.typeflag in _DATA_TYPES and wanted(h.name):
                # the walker lets a consumer read the member's data before it skips on
                path = E.normalise(h.name, what=f"{what} member")
                n = collector.want(path, h.size)
                if n and stream.pos == h.offset:
                    collector.add(path, stream.read(n))
        content = builder.finish()
        set_offsets(content, entries, offsets)
        content.packages = collector.result() if collector is not None else None
        return content
    except ArchiveError:
        raise
    except (EOFError, OSError, ValueError) as exc:
        raise ArchiveError(
            f"The {what} cannot be read ({type(exc).__name__}: {exc}). The archive is truncated or corrupt; "
            "re-create it with `docker save -o FILE IMAGE`."
        ) from None
