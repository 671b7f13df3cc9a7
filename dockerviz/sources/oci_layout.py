"""An OCI image layout directory (oci-layout, index.json, blobs/<alg>/<hex>)."""

from __future__ import annotations

import hashlib
import os
import stat

from ..errors import ArchiveError, SourceError, UnsafePathError
from .base import ImageRecord, load_json
from .choose import Candidate
from .oci import manifest_size, oci_candidates, platform_text, record_from_oci

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Callable


class DirStore:
    """Files of an OCI layout. Blobs must be regular files inside blobs/: checked before anything is opened,
    and again on the opened descriptor (no FIFO, device, directory or link out of the layout is ever read)."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.where = root

    def _path(self, name: str) -> str:
        full = os.path.realpath(os.path.join(self.root, name))
        inside = os.path.join(self.root, "blobs") if name.startswith("blobs/") else self.root
        if os.path.commonpath([full, inside]) != inside:
            raise UnsafePathError(
                f"{name} in the OCI layout {self.where} resolves outside "
                f"{'its blobs/ folder' if inside != self.root else 'the layout'}; dockerviz does not follow it."
            )
        return full

    def _stat(self, name: str):
        try:
            return os.stat(self._path(name))
        except FileNotFoundError:
            return None
        except OSError as exc:  # a loop of links, a name too long, no permission
            raise ArchiveError(f"{name} in the OCI layout {self.where} cannot be read: {exc.strerror}.") from None

    def _regular(self, name: str, what: str) -> str:
        st = self._stat(name)
        if st is None:
            raise ArchiveError(f"The OCI layout {self.where} has no {what} ({name}).")
        if not stat.S_ISREG(st.st_mode):
            raise ArchiveError(f"{name} in the OCI layout {self.where} is not a regular file; "
                               "a layout's blobs and index are plain files. The layout is damaged or hand-made.")
        return self._path(name)

    def exists(self, name: str) -> bool:
        st = self._stat(name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            self._regular(name, "blob")  # raises, naming what it is not
        return st is not None

    def size(self, name: str) -> int | None:
        st = self._stat(name)
        return None if st is None else st.st_size

    def _open(self, name: str, what: str):
        path = self._regular(name, what)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise ArchiveError(f"{name} in the OCI layout {self.where} cannot be opened: {exc.strerror}.") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the check
            os.close(fd)
            raise ArchiveError(f"{name} in the OCI layout {self.where} is not a regular file.")
        return os.fdopen(fd, "rb")

    def read(self, name: str, what: str) -> bytes:
        from ..model import limits

        with self._open(name, what) as f:
            bound = limits.current().json_bytes
            data = f.read(bound + 1)
        if len(data) > bound:
            raise limits.exceeded("json_bytes", f"The {what} ({name}) in the OCI layout {self.where} is over "
                                                f"{bound} bytes; that size")
        return data

    def opener(self, name: str) -> Callable[[], BinaryIO]:
        self._regular(name, "blob")
        return lambda: self._open(name, "blob")


class FlatDirStore(DirStore):
    """containers/image's `dir:` transport (podman save --format docker-dir): blobs named by their hex alone."""

    def _path(self, name: str) -> str:
        if name.startswith("blobs/"):
            name = name.rsplit("/", 1)[1]
        return super()._path(name)


class OCILayoutSource:
    kind = "oci-layout"

    def __init__(self, path: str | os.PathLike, *, want: str | None = None, platform: str | None = None):
        self.path = os.fspath(path)
        self.want = want
        self.platform = platform

    def __enter__(self) -> ImageRecord:
        return self.open()

    def __exit__(self, *exc) -> None:
        pass

    def candidates(self) -> list:
        """The images the layout's index reaches (choose.Candidates)."""
        return self._store()[1]

    def open(self) -> ImageRecord:
        store, candidates = self._store()
        return record_from_oci(store, reference=self.path, source_kind=self.kind, path="oci-layout",
                               want=self.want, platform=self.platform, candidates=candidates)

    def _store(self) -> tuple:
        if _is_docker_dir(self.path):
            flat = FlatDirStore(self.path)
            return flat, [docker_dir_candidate(flat)]
        self._check()
        store = DirStore(self.path)
        return store, oci_candidates(store)

    def _check(self) -> None:
        if not os.path.exists(os.path.join(self.path, "index.json")):
            raise SourceError(
                f"{self.path} is a directory but not an OCI image layout (no index.json) nor a `dir:` transport "
                "directory (version, manifest.json). Pass an image name, a `docker save` archive, or a directory "
                "written by e.g. `skopeo copy ... oci:DIR` or `podman save --format docker-dir`."
            )

    def close(self) -> None:
        pass


DIR_TRANSPORT = b"Directory Transport Version:"


def _is_docker_dir(path: str) -> bool:
    """A `podman save --format docker-dir` / `skopeo copy ... dir:` directory: version, manifest.json, blobs by hex."""
    try:
        with open(os.path.join(path, "version"), "rb") as f:
            return f.read(64).startswith(DIR_TRANSPORT) and os.path.isfile(os.path.join(path, "manifest.json"))
    except OSError:
        return False


def docker_dir_candidate(store: FlatDirStore) -> Candidate:
    data = store.read("manifest.json", "manifest.json")
    body = load_json(data, f"manifest.json of {store.where}")
    if not isinstance(body, dict):
        raise ArchiveError(f"manifest.json in {store.where} is not an image manifest.")
    config = {}
    try:
        config = load_json(store.read("blobs/" + str((body.get("config") or {}).get("digest", "")).split(":")[-1],
                                      "image config"), "image config")
    except ArchiveError:
        pass
    plat = platform_text(config.get("os"), config.get("architecture"), config.get("variant")) \
        if isinstance(config, dict) else ""
    return Candidate(refs=[], digest="sha256:" + hashlib.sha256(data).hexdigest(), platform=plat,
                     size=manifest_size(body), handle=body)
