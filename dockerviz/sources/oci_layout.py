"""An OCI image layout directory (oci-layout, index.json, blobs/<alg>/<hex>)."""

from __future__ import annotations

import os
from typing import BinaryIO, Callable

from ..errors import ArchiveError, SourceError, UnsafePathError
from .base import ImageRecord
from .oci import oci_candidates, record_from_oci


class DirStore:
    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.where = root

    def _path(self, name: str) -> str:
        full = os.path.realpath(os.path.join(self.root, name))
        if os.path.commonpath([full, self.root]) != self.root:
            raise UnsafePathError(
                f"{name} in the OCI layout {self.where} resolves outside the layout; dockerviz does not follow it."
            )
        return full

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int | None:
        return os.path.getsize(self._path(name))

    def read(self, name: str, what: str) -> bytes:
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise ArchiveError(f"The OCI layout {self.where} has no {what} ({name}).") from None

    def opener(self, name: str) -> Callable[[], BinaryIO]:
        path = self._path(name)
        return lambda: open(path, "rb")


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
        self._check()
        return oci_candidates(DirStore(self.path))

    def open(self) -> ImageRecord:
        self._check()
        return record_from_oci(DirStore(self.path), reference=self.path, source_kind=self.kind, path="oci-layout",
                               want=self.want, platform=self.platform)

    def _check(self) -> None:
        if not os.path.isfile(os.path.join(self.path, "index.json")):
            raise SourceError(
                f"{self.path} is a directory but not an OCI image layout (no index.json). "
                "Pass an image name, a `docker save` archive, or a directory written by e.g. `skopeo copy ... oci:DIR`."
            )

    def close(self) -> None:
        pass
