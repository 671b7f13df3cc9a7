"""`docker save` archives: the legacy layout and the OCI layout Engine 25+ writes, as tar stores.

An archive on disk opens through archive_file.ArchiveSource, a daemon's save stream through
daemon.DaemonSource and streaming.

The archive is indexed once by walking its tar headers; members are then read
in place through pread slices. A repeated layer is stored as a symlink to the
first copy: links are resolved inside the archive's own namespace and any link
that climbs out of it is refused.
"""

from __future__ import annotations

import json
import os
import posixpath

from ..errors import ArchiveError, DaemonError, UnsafePathError
from ..model import entries as E
from ..model import tarheaders as th
from .base import ImageRecord
from .oci import legacy_candidates, oci_candidates, record_from_legacy, record_from_oci
from .slices import FileSlice

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    import tempfile
    from typing import BinaryIO, Callable

MAX_LINK_HOPS = 16


class _Missing(ArchiveError):
    """The archive has no member of that name (other resolution errors are real problems)."""


def _daemon_error_in(tail: bytes) -> str | None:
    """The error a daemon appends to a save stream when export fails part-way.

    moby writes `{"errorDetail":{"message":...},"error":...}` after whatever tar
    bytes it had already sent, so the archive ends in JSON instead of tar.
    """
    start = max(tail.rfind(b'{"errorDetail"'), tail.rfind(b'{"message"'), tail.rfind(b'{"error"'))
    if start < 0:
        return None
    text = tail[start:].split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(obj, dict):
        detail = obj.get("errorDetail")
        if isinstance(detail, dict) and detail.get("message"):
            return str(detail["message"])
        return str(obj.get("message") or obj.get("error") or obj)
    return str(obj)


def raise_daemon_error_in(tail: bytes) -> None:
    """Raise DaemonError when a save stream ends in the daemon's error instead of tar."""
    message = _daemon_error_in(tail)
    if message:
        raise DaemonError(
            f"The daemon reported an error in the middle of the save stream: {message}. "
            "The image could not be exported; check the daemon's log and try again."
        ) from None


class TarStore:
    """Members of an uncompressed tar file, addressed by normalised name."""

    def __init__(self, fd: int, where: str):
        self._fd = fd
        self.where = where
        self.members: dict[str, th.TarHeader] = {}
        self._index()

    def _index(self) -> None:
        f = os.fdopen(os.dup(self._fd), "rb", buffering=0)
        try:
            f.seek(0)  # a dup shares its offset; a freshly written spool sits at its end
            stream = th.ByteStream(f)
            try:
                for h in th.iter_headers(stream, what=f"archive {self.where}"):
                    name = E.normalise(h.name, what=f"a member of the outer archive {self.where}")
                    self.members[name] = h
            except ArchiveError:
                size = os.fstat(self._fd).st_size
                raise_daemon_error_in(os.pread(self._fd, 4096, max(0, size - 4096)))
                raise
        finally:
            f.close()
        if not self.members:
            raise ArchiveError(f"{self.where} is empty or not a tar archive; pass the file `docker save` wrote.")

    def _resolve(self, name: str) -> th.TarHeader:
        seen = 0
        current = name
        while True:
            h = self.members.get(current)
            if h is None:
                raise _Missing(f"{self.where} has no member {current!r}"
                               + (f" (the link {name!r} points to it)." if current != name else "."))
            if h.typeflag == th.SYMTYPE:
                target = E.decode_name(h.linkname)
                if target.startswith("/"):
                    raise UnsafePathError(
                        f"Archive member {current!r} in {self.where} is a link to the absolute path {target!r}; "
                        "dockerviz does not follow links out of the archive."
                    )
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
                if joined.startswith("../") or joined == "..":
                    raise UnsafePathError(
                        f"Archive member {current!r} in {self.where} links to {target!r}, outside the archive; "
                        "dockerviz does not follow such links."
                    )
                current = joined
            elif h.typeflag == th.LNKTYPE:
                current = E.normalise(h.linkname, what=f"a hard link target in the outer archive {self.where}")
            else:
                return h
            seen += 1
            if seen > MAX_LINK_HOPS:
                raise ArchiveError(f"Archive member {name!r} in {self.where} is a loop of links "
                                   f"(more than {MAX_LINK_HOPS} hops); the archive is hand-made or damaged.")

    def exists(self, name: str) -> bool:
        try:
            self._resolve(name)
            return True
        except _Missing:
            return False

    def size(self, name: str) -> int | None:
        return self._resolve(name).size

    def read(self, name: str, what: str) -> bytes:
        if name not in self.members:
            raise ArchiveError(
                f"{self.where} has no {what} ({name}). It is not a `docker save` archive, or it is truncated."
            )
        h = self._resolve(name)
        from ..model import limits

        if h.size > limits.current().json_bytes:
            raise limits.exceeded("json_bytes", f"The {what} ({name}) in {self.where} is {h.size} bytes; that size")
        data = os.pread(self._fd, h.size, h.offset)
        if len(data) != h.size:
            raise ArchiveError(f"{self.where} is truncated inside {name}.")
        return data

    def opener(self, name: str) -> Callable[[], BinaryIO]:
        h = self._resolve(name)
        file_size = os.fstat(self._fd).st_size
        if h.offset + h.size > file_size:
            raise ArchiveError(
                f"{self.where} is truncated: member {name} needs {h.size} bytes at offset {h.offset} "
                f"but the file ends at {file_size}. Re-create the archive and check the copy finished."
            )
        fd = self._fd
        return lambda: FileSlice(fd, h.offset, h.size)


class HeldFiles:
    """A source holding an open descriptor and, for a stream, an unlinked spool file until closed."""

    _fd: int | None = None
    _spool: tempfile._TemporaryFileWrapper | None = None

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def candidates_in_store(store) -> list:
    """The images a tar or layout holds: the OCI index when there is one (it lists every platform), else
    manifest.json."""
    if store.exists("index.json"):
        return oci_candidates(store)
    if store.exists("manifest.json"):
        return legacy_candidates(store)
    record_from_store(store, reference=store.where, source_kind="archive", path="archive", want=None)  # its error
    return []


def record_from_store(store, *, reference: str, source_kind: str, path: str, want: str | None,
                      platform: str | None = None) -> ImageRecord:
    # manifest.json first (dive reads it, and its layer names are dive's ids); the OCI index when a
    # platform is asked for, since only the index lists every platform of a multi-platform image.
    if store.exists("manifest.json") and not (platform and store.exists("index.json")):
        return record_from_legacy(store, reference=reference, source_kind=source_kind, path=path, want=want,
                                  platform=platform)
    if store.exists("index.json"):
        return record_from_oci(store, reference=reference, source_kind=source_kind, path=path, want=want,
                               platform=platform)
    if store.exists("repositories") or any(n.endswith("/VERSION") for n in store.members):
        raise ArchiveError(
            f"{store.where} is a `docker save` archive from Docker before 1.10 (one folder per layer with `json` "
            "and `VERSION`, no manifest.json). That format names no image config or diff ids, so it cannot be read "
            "as an image: load it into a current engine and save it again (`docker load -i FILE`, then "
            "`docker save -o NEW.tar IMAGE`)."
        )
    raise ArchiveError(
        f"{store.where} has neither manifest.json nor index.json: it is not a `docker save` archive "
        "or an OCI image. (A `docker export` archive is a container filesystem, not an image.)"
    )


def spool_stream(chunks, *, on_bytes=None, what: str = "save stream") -> "tempfile._TemporaryFileWrapper":
    """Copy an iterable of byte chunks into an unlinked temporary file, at most limit spool_bytes of them."""
    import tempfile

    from ..model import limits

    bound = limits.current().spool_bytes
    spool = tempfile.TemporaryFile(prefix="dockerviz-save-")
    done = 0
    try:
        for chunk in chunks:
            spool.write(chunk)
            done += len(chunk)
            if done > bound:
                raise limits.exceeded("spool_bytes", f"The {what} goes on past {done} bytes spooled to disk; that")
            if on_bytes is not None:
                on_bytes(done)
    except BaseException:
        spool.close()
        raise
    spool.flush()
    return spool


