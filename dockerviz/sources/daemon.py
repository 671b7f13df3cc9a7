"""An image in a Docker daemon: read from its local store when possible, else through the save stream.

Paths (ImageRecord.path says which one ran):

- tar-split / overlay2-diff: the daemon is on this machine, its classic
  overlay2 store is readable; layers are read in place (see local_store).
- save-stream: `docker save`. The outer tar is walked as the stream arrives
  and each layer's headers are parsed in passing (see streaming); file data is
  skipped and only small members (manifests, configs) are kept. Anything
  unexpected in the stream makes it read again, copied into an unlinked
  temporary file whose headers are walked in place.

The save stream is only started when a layer has to be read: when the layer
cache already holds every layer and the image description (config, layer
names), a warm run costs one inspect call.
"""

from __future__ import annotations

import os

from .. import engine
from ..engine_socket import LocalUnavailable, api_stream, inspect_local, local_socket
from ..engine_socket import _NotFound as LocalNotFound
from ..errors import ArchiveError, SourceError
from .archive import HeldFiles, TarStore, raise_daemon_error_in, record_from_store, spool_stream
from .base import ImageRecord, LayerRef
from .choose import Candidate, choose, platform_matches, platform_text, ref_matches
from .local_store import LOCAL_PATHS, local_record

DAEMON_PATHS = ("auto", "save-stream", *LOCAL_PATHS)
STREAM_CHUNK = 4 << 20  # large reads: fewer round trips through the HTTP layer


class DaemonSource(HeldFiles):
    kind = "daemon"

    def __init__(self, reference: str, *, client=None, on_bytes=None, on_wait=None, on_export_size=None,
                 path: str = "auto", cache=None, platform: str | None = None):
        if path not in DAEMON_PATHS:
            raise SourceError(f"--path {path} does not apply to an image in a daemon; choose one of "
                              f"{', '.join(DAEMON_PATHS)}.")
        self.reference = reference
        self._client = client
        self._on_bytes = on_bytes
        self._on_wait = on_wait  # called while the daemon prepares an export, before its first byte
        self._on_export_size = on_export_size  # told the export's expected size before it starts
        self.path = path
        self.platform = platform
        self._cache = cache
        self._saved: ImageRecord | None = None
        self.inspect: dict | None = None
        self.fallback_reason: str | None = None  # why a local path was not used

    def __enter__(self) -> ImageRecord:
        return self.open()

    def _client_for_streams(self):
        return self._client if self._client is not None else engine.client(timeout=None)

    def _inspect(self) -> dict:
        if self._client is None:
            found = inspect_local(self.reference)  # the local socket without docker-py: cheap
            if found is not None:
                return found
        client = self._client_for_streams()
        self._client = client
        with engine.translated(self.reference, kind="image"):
            return client.api.inspect_image(self.reference)

    def candidates(self) -> list:
        """The image and, on a daemon that stores several platforms (API 1.48+ `Manifests`), each of them."""
        if self.inspect is None:
            self.inspect = self._inspect()
        return daemon_candidates(self.inspect, self.reference)

    def _check_platform(self) -> None:
        if not self.platform:
            return
        inspect = self.inspect or {}
        where = f"the daemon's image {self.reference}"
        chosen, _ = choose(daemon_candidates(inspect, self.reference), platform=self.platform, where=where)
        own = platform_text(inspect.get("Os"), inspect.get("Architecture"), inspect.get("Variant"))
        if not platform_matches(chosen.platform, own):
            raise SourceError(
                f"{where} is {own}; its {chosen.platform} variant is stored too, but dockerviz reads a daemon image "
                f"at its default platform. Export that variant and analyse the archive: "
                f"`docker save --platform {chosen.platform} -o image.tar {self.reference}`."
            )

    def open(self) -> ImageRecord:
        self.inspect = self._inspect()
        self._check_platform()
        image_id = self.inspect["Id"]
        diff_ids = list((self.inspect.get("RootFS") or {}).get("Layers") or [])
        known = self._cache.get_image(image_id) if self._cache else None
        if known is not None and len(known["layer_ids"]) != len(diff_ids):
            known = None
        if self.path in ("auto", *LOCAL_PATHS):
            try:
                return local_record(self.reference, self.inspect, path=self.path,
                                    config=known["config"] if known else None,
                                    layer_ids=known["layer_ids"] if known else None,
                                    api_version=self.inspect.get("_api_version"))
            except LocalUnavailable as exc:
                self.fallback_reason = str(exc)
                if self.path != "auto":
                    raise SourceError(
                        f"--path {self.path} cannot read {self.reference}: {exc}. "
                        "Use --path save-stream (works with any daemon) or --path auto."
                    ) from None
        if known is not None and (known["config"].get("rootfs") or {}).get("diff_ids") == diff_ids:
            # Everything but the layers is known: export only if a layer turns out to be missing.
            layers = [LayerRef(diff_id=d, id=known["layer_ids"][i], reader=self._saved_reader(i),
                               what=f"layer {i} ({d[:19]}) of {self.reference}")
                      for i, d in enumerate(diff_ids)]
            return ImageRecord(reference=self.reference, image_id=image_id,
                               repo_tags=list(self.inspect.get("RepoTags") or []), config=known["config"],
                               layers=layers, source_kind=self.kind, path="save-stream")
        return self._save()

    def _saved_reader(self, index: int):
        def read():
            record = self._saved if self._saved is not None else self._save()
            return record.layers[index].read()
        return read

    def _save(self) -> ImageRecord:
        image_id = self.inspect["Id"]
        if self._on_export_size is not None:
            # the layers' bytes; the tar adds headers and padding on top (a few per cent)
            self._on_export_size(int(self.inspect.get("Size") or 0))
        from .streaming import Unusual  # the save stream's parser: not needed when the local store is read

        record = None
        if self._client is None:
            # A local daemon: stream `docker save` straight off its socket, no docker-py needed.
            record = self._save_streamed_locally(image_id)
        if record is None:
            client = self._client_for_streams()
            self._client = client
            try:
                record = self._save_streamed(client, image_id)
            except (Unusual, ArchiveError):
                # Something the in-stream parse does not expect: read the stream again, spooled.
                record = self._save_spooled(client, image_id)
        if record.config.get("rootfs", {}).get("diff_ids") != self.inspect.get("RootFS", {}).get("Layers"):
            raise ArchiveError(f"The save stream of {self.reference} does not match the image the daemon describes.")
        record.image_id = image_id
        record.repo_tags = list(self.inspect.get("RepoTags") or [])
        if self._cache:
            self._cache.put_image(image_id, config=record.config, layer_ids=[l.id for l in record.layers])
        self._saved = record
        return record

    def fetch_saved(self, index: int, path: str, n: int) -> bytes:
        """Up to n bytes of one file of layer `index`, by a second pass over the save stream
        that keeps only that file (a remote daemon, Podman: no other way to reach a layer's bytes)."""
        from .files import MemberNotFound
        from .streaming import ChunkReader, fetch_members, layer_member_names

        image_id = self.inspect["Id"] if self.inspect else self.reference
        where = f"the save stream of {self.reference}"
        body = None
        sock = local_socket() if self._client is None else None
        if sock is not None:
            try:
                body = api_stream(sock, f"/images/{image_id}/get")
            except (LocalUnavailable, LocalNotFound):
                body = None
        if body is not None:
            try:
                store, kept = fetch_members(ChunkReader(body), where, {path}, n)
            finally:
                body.close()
        else:
            client = self._client_for_streams()
            self._client = client
            with engine.translated(self.reference, kind="image"):
                response = client.api.get_image(image_id, chunk_size=STREAM_CHUNK)
                try:
                    store, kept = fetch_members(ChunkReader(response), where, {path}, n)
                finally:
                    close = getattr(response, "close", None)
                    if close:
                        close()
        names = layer_member_names(store, reference=self.reference)
        if not 0 <= index < len(names):
            raise ArchiveError(f"{where} has {len(names)} layers, not {index + 1}.")
        data = kept.get((names[index], path))
        if data is None:
            raise MemberNotFound(f"Layer {index} of {self.reference} holds no regular file /{path}.")
        return data

    def _save_streamed_locally(self, image_id: str) -> ImageRecord | None:
        """The in-stream parse over the local socket; None when that cannot be used."""
        sock = local_socket()
        if sock is None:
            return None
        try:
            body = api_stream(sock, f"/images/{image_id}/get", on_wait=self._on_wait)
        except (LocalUnavailable, LocalNotFound):
            return None
        from .streaming import ChunkReader, Unusual, record_from_stream

        reader = ChunkReader(body, on_bytes=self._on_bytes)
        try:
            return record_from_stream(reader, reference=self.reference, where=f"the save stream of {self.reference}",
                                      source_kind=self.kind, path="save-stream")
        except (Unusual, ArchiveError):
            return None  # docker-py's path words daemon errors and falls back to a spool
        finally:
            body.close()

    def _save_streamed(self, client, image_id: str) -> ImageRecord:
        from .streaming import ChunkReader, record_from_stream

        where = f"the save stream of {self.reference}"
        with engine.translated(self.reference, kind="image"):
            response = client.api.get_image(image_id, chunk_size=STREAM_CHUNK)
            reader = ChunkReader(response, on_bytes=self._on_bytes)
            try:
                try:
                    return record_from_stream(reader, reference=self.reference, where=where,
                                              source_kind=self.kind, path="save-stream")
                except ArchiveError:
                    reader.drain()
                    raise_daemon_error_in(reader.tail)
                    raise
            finally:
                reader.close()
                close = getattr(response, "close", None)
                if close:
                    close()

    def _save_spooled(self, client, image_id: str) -> ImageRecord:
        with engine.translated(self.reference, kind="image"):
            response = client.api.get_image(image_id)
            try:
                self._spool = spool_stream(response, on_bytes=self._on_bytes)
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()
        self._fd = os.dup(self._spool.fileno())
        store = TarStore(self._fd, f"the save stream of {self.reference}")
        return record_from_store(store, reference=self.reference, source_kind=self.kind, path="save-stream",
                                 want=None)


def daemon_candidates(inspect: dict, reference: str | None = None) -> list:
    """choose.Candidates for an image inspect: its `Manifests` (API 1.48+, containerd store), else itself.

    An image tagged several times is named by the tag it was asked for, when it was asked by one."""
    tags = list(inspect.get("RepoTags") or [])
    if reference:
        tags.sort(key=lambda t: not ref_matches(reference, Candidate(refs=[t], digest="", platform="")))
    out = []
    for m in inspect.get("Manifests") or []:
        if not isinstance(m, dict):
            continue
        data = m.get("ImageData") or {}
        plat = data.get("Platform") or (m.get("Descriptor") or {}).get("platform") or {}
        kind = "attestation" if m.get("Kind") == "attestation" else "image"
        size = (m.get("Size") or {}).get("Content")
        out.append(Candidate(refs=tags, digest=str(m.get("ID") or (m.get("Descriptor") or {}).get("digest") or ""),
                             platform="" if kind != "image" else platform_text(plat.get("os"), plat.get("architecture"),
                                                                               plat.get("variant")),
                             kind=kind, size=size if isinstance(size, int) else None,
                             attests=str((m.get("AttestationData") or {}).get("For") or "")))
    if not out:
        out.append(Candidate(refs=tags, digest=str(inspect.get("Id") or ""),
                             platform=platform_text(inspect.get("Os"), inspect.get("Architecture"),
                                                    inspect.get("Variant")),
                             size=inspect.get("Size") if isinstance(inspect.get("Size"), int) else None))
    return out
