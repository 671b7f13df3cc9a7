"""The one interface every image source implements.

A source turns what the user named (an image in a daemon, a `docker save`
archive, an OCI layout directory) into an ImageRecord: the image config and
its layers in manifest order, each able to produce its LayerContent. How the
layer is read (a blob stream, the daemon's own tar-split metadata, an overlay2
directory walk) is the source's business; the model never knows.
"""

from __future__ import annotations

from ..errors import ArchiveError
from ..model.layer import LayerContent, read_layer
from ..model.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Callable


class LayerRef(Record):
    """One layer of an image, in manifest order."""

    __slots__ = _fields = ("diff_id", "id", "open", "reader", "size_hint", "what", "fetch", "blob_digest", "blob_size",
                           "verify", "cache_key", "content_digest")

    def __init__(self, diff_id: str, id: str, open: Callable[[], BinaryIO] | None = None,
                 reader: Callable[[], LayerContent] | None = None, size_hint: int | None = None,
                 what: str = "layer", fetch: Callable[[str, int], bytes] | None = None, blob_digest: str | None = None,
                 blob_size: int | None = None, verify: bool = True, cache_key: str | None = None,
                 content_digest: str | None = None):
        self.diff_id = diff_id
        self.id = id  # the name dive prints: the legacy layer directory or the blob digest hex
        self.open = open  # the layer blob, possibly compressed
        self.reader = reader  # a faster way, when the source has one
        self.size_hint = size_hint  # bytes to read, for progress
        self.what = what
        self.fetch = fetch  # up to n bytes of one regular file, when read in place
        self.blob_digest = blob_digest  # what the stored (maybe compressed) bytes must hash to, when named
        self.blob_size = blob_size  # how many stored bytes the descriptor promises
        self.verify = verify  # False only for a daemon's own layer store, which the daemon verified
        # The key its content is cached under when that is not the diff id: a layer read from its
        # table of contents alone is proven by the TOC's digest, not by the diff id.
        self.cache_key = cache_key
        # What the layer tar hashes to when it is not the diff id: dockerviz's own blanked recordings
        # (file bytes zeroed, headers kept) name it in dockerviz-blanked.json.
        self.content_digest = content_digest

    def read(self) -> LayerContent:
        """The layer's content; from a blob, only once its bytes hash to the diff id (and blob digest)."""
        if self.reader is not None:
            return self.reader()
        if self.open is None:  # pragma: no cover - every source sets one
            raise ArchiveError(f"No way to read {self.what}.")
        with self.open() as f:
            if not self.verify:
                return read_layer(f, what=self.what)
            if self.content_digest is not None:
                return read_layer(f, what=self.what, diff_id=self.content_digest)
            return read_layer(f, what=self.what, diff_id=self.diff_id, blob_digest=self.blob_digest,
                              blob_size=self.blob_size)


class ImageRecord(Record):
    """What a source knows about an image before any layer is read.

    layers: LayerRef, manifest order; source_kind: daemon / archive / oci-layout;
    path: how layers are read: save-stream / archive / oci-layout / tar-split / overlay2-diff.
    """

    _fields = ("reference", "image_id", "repo_tags", "config", "layers", "source_kind", "path", "extra")

    def __init__(self, reference: str, image_id: str, repo_tags: list, config: dict, layers: list,
                 source_kind: str, path: str, extra: dict | None = None):
        self.reference = reference
        self.image_id = image_id
        self.repo_tags = repo_tags
        self.config = config
        self.layers = layers
        self.source_kind = source_kind
        self.path = path
        self.extra = {} if extra is None else extra


def load_json(data: bytes, what: str):
    from ..model.jsondoc import load

    return load(data, what)


def diff_ids_of(config: dict, what: str) -> list:
    from ..model.jsondoc import field

    rootfs = field(config, "rootfs", dict, f"image config in {what}")
    return field(rootfs, "diff_ids", list, f"rootfs of the image config in {what}", items=str)
