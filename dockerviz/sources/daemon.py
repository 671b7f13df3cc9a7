"""An image in a Docker daemon, read through the save stream.

`docker save` stages the whole archive before its first byte, so the stream is
copied into an unlinked temporary file and then read like any archive. Faster
local paths (the daemon's own layer metadata) plug in as LayerRef readers.
"""

from __future__ import annotations

import os

from .. import engine
from ..errors import ArchiveError
from .archive import TarStore, record_from_store, spool_stream
from .base import ImageRecord


class DaemonSource:
    kind = "daemon"

    def __init__(self, reference: str, *, client=None, on_bytes=None):
        self.reference = reference
        self._client = client
        self._on_bytes = on_bytes
        self._spool = None
        self._fd = None
        self.inspect: dict | None = None

    def __enter__(self) -> ImageRecord:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _client_for_streams(self):
        return self._client if self._client is not None else engine.client(timeout=None)

    def open(self) -> ImageRecord:
        client = self._client_for_streams()
        with engine.translated(self.reference, kind="image"):
            self.inspect = client.api.inspect_image(self.reference)
            image_id = self.inspect["Id"]
            response = client.api.get_image(image_id)
            try:
                self._spool = spool_stream(response, on_bytes=self._on_bytes)
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()
        self._fd = os.dup(self._spool.fileno())
        store = TarStore(self._fd, f"the save stream of {self.reference}")
        record = record_from_store(store, reference=self.reference, source_kind=self.kind, path="save-stream",
                                   want=None)
        if record.config.get("rootfs", {}).get("diff_ids") != self.inspect.get("RootFS", {}).get("Layers"):
            raise ArchiveError(f"The save stream of {self.reference} does not match the image the daemon describes.")
        record.image_id = image_id
        record.repo_tags = list(self.inspect.get("RepoTags") or [])
        return record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None
