"""Reading the bytes of one file of a layer, in place: nothing is extracted to disk.

- An unpacked layer directory (overlay2/<cache-id>/diff): the file is opened
  one path component at a time relative to the directory, never following a
  symbolic link (O_NOFOLLOW on every component), so nothing outside it is read.
- A layer blob (an archive member, an OCI blob): an uncompressed tar is
  indexed once by its headers (file data skipped by seeks) and members are
  read where the index says; a gzip or zstd blob is decompressed up to the
  member and no further.
"""

from __future__ import annotations

import errno
import os

from ..errors import ArchiveError, DockervizError, FileContentsError
from ..model import entries as E
from ..model import tarheaders as th

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Callable

_DATA_TYPES = (th.REGTYPE, th.AREGTYPE, th.CONTTYPE)


MemberNotFound = FileContentsError  # the layer holds no regular file at that path


def read_in_dir(root: str, path: str, n: int) -> bytes:
    """Up to n bytes of the regular file `path` (normalised, relative) under root, no link followed."""
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise MemberNotFound(f"{E.display_path(path)} is not a file name inside the layer.")
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(root, flags_dir)
    except OSError as exc:
        raise ArchiveError(f"The layer directory {root} cannot be opened ({exc.strerror}).") from None
    try:
        for part in parts[:-1]:
            nxt = os.open(os.fsencode(part), flags_dir, dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf = os.open(os.fsencode(parts[-1]), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                       | getattr(os, "O_CLOEXEC", 0), dir_fd=fd)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            raise MemberNotFound(f"The layer holds no regular file {E.display_path(path)}.") from None
        raise ArchiveError(f"{E.display_path(path)} cannot be read from the layer ({exc.strerror}).") from None
    os.close(fd)
    try:
        import stat

        if not stat.S_ISREG(os.fstat(leaf).st_mode):
            raise MemberNotFound(f"{E.display_path(path)} in the layer is not a regular file.")
        chunks, left = [], n
        while left > 0:
            chunk = os.read(leaf, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(leaf)


def dir_reader(root: str) -> Callable[[str, int], bytes | None]:
    """read(path, n) over an unpacked layer; None for a file that is not there (the collector skips it)."""
    def read(path: str, n: int) -> bytes | None:
        try:
            return read_in_dir(root, path, n)
        except DockervizError:
            return None
    return read


class BlobIndex:
    """The members of one layer blob: located once by their headers, then read in place."""

    def __init__(self, opener: Callable[[], BinaryIO], what: str = "layer"):
        self._opener = opener
        self.what = what
        self._index: dict[str, th.TarHeader] | None = None
        self._compressed: bool | None = None

    def _sniff(self) -> bool:
        if self._compressed is None:
            from ..model.compression import sniff

            with self._opener() as f:
                self._compressed = sniff(f.read(4)) != "tar"
        return self._compressed

    def _build(self) -> None:
        index: dict[str, th.TarHeader] = {}
        with self._opener() as f:
            for h in th.iter_headers(th.ByteStream(f), what=self.what):
                try:
                    path = E.normalise(h.name, what=f"{self.what} member")
                except ArchiveError:
                    continue
                index[path] = h  # the last copy of a path wins, as in the filesystem
        self._index = index

    def read(self, path: str, n: int, offset: int | None = None) -> bytes:
        """Up to n bytes of the member `path`; `offset` (where the header walk found its data) saves the walk."""
        if self._sniff():
            return self._read_compressed(path, n, offset)
        if offset is not None:
            with self._opener() as f:
                f.seek(offset)
                return f.read(n)
        if self._index is None:
            self._build()
        h = self._index.get(path)
        if h is None or h.typeflag not in _DATA_TYPES:
            raise MemberNotFound(f"The layer holds no regular file {E.display_path(path)}.")
        with self._opener() as f:
            f.seek(h.offset)
            return f.read(min(n, h.size))

    def _read_compressed(self, path: str, n: int, offset: int | None = None) -> bytes:
        from ..model.compression import open_layer_stream

        with self._opener() as raw:
            stream = open_layer_stream(raw, what=self.what)
            if offset is not None:  # decompressed up to the member's data, and no further
                if not stream.skip(offset):
                    raise ArchiveError(f"The {self.what} ends before the member {E.display_path(path)}.")
                return stream.read(n)
            found = member_in_stream(stream, path, n, self.what)
        if found is None:
            raise MemberNotFound(f"The layer holds no regular file {E.display_path(path)}.")
        return found


def member_in_stream(stream: th.ByteStream, path: str, n: int, what: str) -> bytes | None:
    """Up to n bytes of the last regular-file copy of `path` in a layer tar read to its end-of-archive
    (None: no such file); every other member's data is skipped as it passes."""
    found = None
    try:
        for h in th.iter_headers(stream, what=what):
            try:
                name = E.normalise(h.name, what=f"{what} member")
            except ArchiveError:
                continue
            if name == path:
                # keep reading: a later copy of the path wins
                found = stream.read(min(n, h.size)) if h.typeflag in _DATA_TYPES else None
    except (EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"The {what} cannot be read ({exc}).") from None
    return found


__all__ = ["BlobIndex", "MemberNotFound", "dir_reader", "member_in_stream", "read_in_dir"]
