"""Entries of a layer: normalised paths, types, and the whiteout rules.

Paths are stored without a leading slash ("etc/passwd"), '/'-separated, with
'.' components and repeated slashes removed. Names that are not UTF-8 are kept
losslessly as surrogate escapes; `display_path` renders them for people.
"""

from __future__ import annotations

from ..errors import UnsafePathError, WhiteoutError
from . import tarheaders as th

FILE = "file"
DIR = "dir"
SYMLINK = "symlink"
HARDLINK = "hardlink"
OTHER = "other"

ADDED = "added"
MODIFIED = "modified"
REMOVED = "removed"

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."

_TYPES = {
    th.REGTYPE: FILE,
    th.AREGTYPE: FILE,
    th.CONTTYPE: FILE,
    th.GNU_SPARSE: FILE,
    th.LNKTYPE: HARDLINK,
    th.SYMTYPE: SYMLINK,
    th.DIRTYPE: DIR,
    th.CHRTYPE: OTHER,
    th.BLKTYPE: OTHER,
    th.FIFOTYPE: OTHER,
}


def entry_type(typeflag: bytes) -> str:
    return _TYPES.get(typeflag, OTHER)


_SHARED_ATTRS: dict[tuple, tuple] = {}  # (kind, mode, uid, gid) -> that tuple, one object per combination
_SHARED_ATTRS_MAX = 1 << 16  # a layer has a handful; past this, tuples are simply not shared


class Entry:
    """One filesystem object as a layer records it (tar header facts only).

    Type, mode and owner are held as one tuple shared by every entry with the
    same four values (a layer has a handful of combinations): an entry is then
    a 4-slot object, 32 bytes less than one slot per field, which matters at
    hundreds of thousands of entries.
    """

    __slots__ = ("path", "size", "link", "attrs")

    def __init__(self, path: str, kind: str, size: int, mode: int, uid: int, gid: int, link: str):
        self.path = path
        self.size = size
        self.link = link
        key = (kind, mode, uid, gid)
        attrs = _SHARED_ATTRS.get(key)
        if attrs is None:
            attrs = key
            if len(_SHARED_ATTRS) < _SHARED_ATTRS_MAX:
                _SHARED_ATTRS[key] = key
        self.attrs = attrs

    kind = property(lambda self: self.attrs[0], doc="file, dir, symlink, hardlink or other")
    mode = property(lambda self: self.attrs[1], doc="permission bits (0o7777)")
    uid = property(lambda self: self.attrs[2])
    gid = property(lambda self: self.attrs[3])

    def key(self) -> tuple:
        kind, mode, uid, gid = self.attrs
        return (self.path, kind, self.size, mode, uid, gid, self.link)

    def __eq__(self, other):
        return isinstance(other, Entry) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return f"Entry({display_path(self.path)!r}, {self.kind}, size={self.size}, mode={self.mode:o})"


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def display_path(path: str) -> str:
    """'/'-rooted; bytes that are not UTF-8 shown as \\xNN escapes, never dropped."""
    return "/" + path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def normalise(raw: bytes, *, what: str = "a layer member") -> str:
    """Archive member name -> canonical relative path; '' for the root itself.

    Rejects absolute names and any '..' component: such members would land
    outside the image root if anything ever followed them. The root itself
    spelt `/`, `./` or `.` (kaniko writes one in most layers) is the root, as
    it is for dive, not an escape.
    """
    name = decode_name(raw)
    if not name.replace("/", "").replace(".", "") and ".." not in name:
        return ""
    if name.startswith("/"):
        raise UnsafePathError(
            f"{what[:1].upper()}{what[1:]} has an absolute name {display_path(name.lstrip('/'))!r}. "
            "Image layers use relative names; this archive was not written by a container engine "
            "and dockerviz will not read it."
        )
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UnsafePathError(
                f"{what[:1].upper()}{what[1:]} is named {display_path(name)[1:]!r}, with a '..' component that "
                "points outside the image root. "
                "dockerviz refuses such archives; rebuild the image with a container engine."
            )
        parts.append(part)
    return "/".join(parts)


def split_whiteout(path: str) -> tuple[str, str | None]:
    """Classify a normalised path by its basename.

    Returns ("opaque", dir) for an opaque marker, ("whiteout", target) for a
    whiteout, ("meta", None) for other AUFS metadata, ("plain", None) otherwise.
    """
    if WHITEOUT_PREFIX not in path:
        return "plain", None
    parent, _, base = path.rpartition("/")
    if AUFS_META_PREFIX in parent and any(p.startswith(AUFS_META_PREFIX) for p in parent.split("/")):
        return "meta", None  # inside AUFS bookkeeping such as .wh..wh.plnk/
    if not base.startswith(WHITEOUT_PREFIX):
        return "plain", None
    if base == OPAQUE_MARKER:
        return "opaque", parent
    if base.startswith(AUFS_META_PREFIX):
        return "meta", None
    target = base[len(WHITEOUT_PREFIX):]
    if target in ("", ".", ".."):
        raise WhiteoutError(
            f"Invalid whiteout name {display_path(path)!r}: '.wh.' must be followed by the name of the file it "
            "deletes. The layer is malformed; rebuild the image with a container engine."
        )
    return "whiteout", (parent + "/" + target) if parent else target


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]
