"""The one interface every image source implements.

A source turns what the user named (an image in a daemon, a `docker save`
archive, an OCI layout directory) into an ImageRecord: the image config and
its layers in manifest order, each able to produce its LayerContent. How the
layer is read (a blob stream, the daemon's own tar-split metadata, an overlay2
directory walk) is the source's business; the model never knows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from ..errors import ArchiveError
from ..model.layer import LayerContent, read_layer


@dataclass
class LayerRef:
    """One layer of an image, in manifest order."""

    diff_id: str
    id: str  # the name dive prints: the legacy layer directory or the blob digest hex
    open: Callable[[], BinaryIO] | None = None  # the layer blob, possibly compressed
    reader: Callable[[], LayerContent] | None = None  # a faster way, when the source has one
    size_hint: int | None = None  # bytes to read, for progress
    what: str = "layer"
    fetch: Callable[[str, int], bytes] | None = None  # up to n bytes of one regular file, when read in place

    def read(self) -> LayerContent:
        if self.reader is not None:
            return self.reader()
        if self.open is None:  # pragma: no cover - every source sets one
            raise ArchiveError(f"No way to read {self.what}.")
        with self.open() as f:
            return read_layer(f, what=self.what)


@dataclass
class ImageRecord:
    """What a source knows about an image before any layer is read."""

    reference: str
    image_id: str
    repo_tags: list
    config: dict
    layers: list  # LayerRef, manifest order
    source_kind: str  # daemon / archive / oci-layout
    path: str  # how layers are read: save-stream / archive / oci-layout / tar-split / overlay2-diff
    extra: dict = field(default_factory=dict)


def load_json(data: bytes, what: str):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(
            f"The {what} is not valid JSON ({exc}). The archive is corrupt or was not written by `docker save`."
        ) from None


def diff_ids_of(config: dict, what: str) -> list:
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ArchiveError(f"The image config in {what} has no rootfs.diff_ids list; it is not an image config.")
    return ids
