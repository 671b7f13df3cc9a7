"""The one interface every image source implements.

A source turns what the user named (an image in a daemon, a `docker save`
archive, an OCI layout directory) into an ImageRecord: the image config and
its layers in manifest order, each able to produce its LayerContent. How the
layer is read (a blob stream, the daemon's own tar-split metadata, an overlay2
directory walk) is the source's business; the model never knows.
"""

from __future__ import annotations

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
    blob_digest: str | None = None  # what the stored (maybe compressed) bytes must hash to, when named
    blob_size: int | None = None  # how many stored bytes the descriptor promises
    verify: bool = True  # False only for a daemon's own layer store, which the daemon verified

    def read(self) -> LayerContent:
        """The layer's content; from a blob, only once its bytes hash to the diff id (and blob digest)."""
        if self.reader is not None:
            return self.reader()
        if self.open is None:  # pragma: no cover - every source sets one
            raise ArchiveError(f"No way to read {self.what}.")
        with self.open() as f:
            if not self.verify:
                return read_layer(f, what=self.what)
            return read_layer(f, what=self.what, diff_id=self.diff_id, blob_digest=self.blob_digest,
                              blob_size=self.blob_size)


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
    from ..model.jsondoc import load

    return load(data, what)


def diff_ids_of(config: dict, what: str) -> list:
    from ..model.jsondoc import field

    rootfs = field(config, "rootfs", dict, f"image config in {what}")
    return field(rootfs, "diff_ids", list, f"rootfs of the image config in {what}", items=str)
