"""Image manifests: the legacy `docker save` manifest.json and OCI indexes.

Both the archive source (members of a tar) and the OCI layout source (files
in a directory) hand this module a Store: something that can read a named
file and open it as a stream. Layers are always taken in manifest order and
located by the manifest's own paths or digests, never by guessing file names.
"""

from __future__ import annotations

import platform
import re
from typing import BinaryIO, Callable, Protocol

from ..errors import ArchiveError
from .base import ImageRecord, LayerRef, diff_ids_of, load_json

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{32,128})$")


class Store(Protocol):
    where: str

    def exists(self, name: str) -> bool: ...

    def read(self, name: str, what: str) -> bytes: ...

    def opener(self, name: str) -> Callable[[], BinaryIO]: ...

    def size(self, name: str) -> int | None: ...


def blob_path(digest: str, where: str) -> str:
    m = _DIGEST.match(digest or "")
    if not m:
        raise ArchiveError(f"{where} names a blob by an invalid digest {digest!r}.")
    return f"blobs/{m.group(1)}/{m.group(2)}"


def _host_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def _pick_manifest(store: Store, index: dict, want: str | None, depth: int = 0) -> dict:
    if depth > 4:
        raise ArchiveError(f"The OCI index in {store.where} nests deeper than dockerviz follows.")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ArchiveError(f"The OCI index in {store.where} lists no manifests.")

    def is_attestation(d):
        ann = d.get("annotations") or {}
        return ann.get("vnd.docker.reference.type") == "attestation-manifest" or (
            (d.get("platform") or {}).get("architecture") == "unknown"
        )

    candidates = [d for d in manifests if isinstance(d, dict) and not is_attestation(d)]
    if want:
        named = [
            d for d in candidates
            if want in ((d.get("annotations") or {}).get("io.containerd.image.name", ""),
                        (d.get("annotations") or {}).get("org.opencontainers.image.ref.name", ""))
        ]
        candidates = named or candidates
    if not candidates:
        raise ArchiveError(f"The OCI index in {store.where} holds only attestation manifests, no image.")
    arch = _host_arch()
    candidates.sort(key=lambda d: 0 if (d.get("platform") or {}).get("architecture") in (None, arch) else 1)
    desc = candidates[0]
    body = load_json(store.read(blob_path(desc.get("digest"), store.where), "manifest blob"), "manifest blob")
    media = body.get("mediaType") or desc.get("mediaType")
    if media in INDEX_TYPES or ("manifests" in body and "layers" not in body):
        return _pick_manifest(store, body, want, depth + 1)
    return body


def record_from_oci(store: Store, *, reference: str, source_kind: str, path: str, want: str | None = None,
                    index_name: str = "index.json") -> ImageRecord:
    index = load_json(store.read(index_name, "OCI index.json"), "OCI index.json")
    manifest = _pick_manifest(store, index, want)
    layers_desc = manifest.get("layers")
    config_desc = manifest.get("config")
    if not isinstance(layers_desc, list) or not isinstance(config_desc, dict):
        raise ArchiveError(f"The image manifest in {store.where} has no config or layers.")
    config_name = blob_path(config_desc.get("digest"), store.where)
    config = load_json(store.read(config_name, "image config blob"), "image config")
    diff_ids = diff_ids_of(config, store.where)
    if len(diff_ids) != len(layers_desc):
        raise ArchiveError(
            f"The manifest in {store.where} lists {len(layers_desc)} layers but the config has "
            f"{len(diff_ids)} diff ids. The archive is inconsistent."
        )
    layers = []
    for i, (desc, diff_id) in enumerate(zip(layers_desc, diff_ids)):
        name = blob_path((desc or {}).get("digest"), store.where)
        if not store.exists(name):
            raise ArchiveError(
                f"The manifest in {store.where} names layer blob {name} which is not there. "
                "The archive is incomplete; re-create it with `docker save`."
            )
        layers.append(LayerRef(diff_id=diff_id, id=name.rsplit("/", 1)[1], open=store.opener(name),
                               size_hint=store.size(name), what=f"layer {i} ({name}) of {store.where}"))
    return ImageRecord(reference=reference, image_id=config_desc.get("digest", ""), repo_tags=[], config=config,
                       layers=layers, source_kind=source_kind, path=path)


LEGACY_KEYS = ("Config", "RepoTags", "Layers")


def go_keys(entry: dict, names=LEGACY_KEYS) -> dict:
    """Keys matched as Go's encoding/json does: case-insensitively (jib writes `config`, `repoTags`,
    `layers`), an exact match preferred, the last of several case-variants winning otherwise."""
    out = {}
    for name in names:
        if name in entry:
            out[name] = entry[name]
            continue
        folded = [v for k, v in entry.items()
                  if isinstance(k, str) and k.lower().replace("\u017f", "s") == name.lower()]
        if folded:
            out[name] = folded[-1]
    return out


def legacy_manifest(store: Store) -> list:
    """manifest.json of a `docker save` archive (or jib's, kaniko's): a list of {Config, RepoTags, Layers}."""
    manifest = load_json(store.read("manifest.json", "manifest.json"), "manifest.json")
    if not isinstance(manifest, list) or not manifest or not all(isinstance(m, dict) for m in manifest):
        raise ArchiveError(f"manifest.json in {store.where} is not a list of images.")
    return [go_keys(m) for m in manifest]


def record_from_legacy(store: Store, *, reference: str, source_kind: str, path: str,
                       want: str | None = None) -> ImageRecord:
    manifest = legacy_manifest(store)
    chosen = manifest[0]
    if want:
        for m in manifest:
            if want in (m.get("RepoTags") or []):
                chosen = m
                break
    config_name = chosen.get("Config")
    layer_names = chosen.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise ArchiveError(f"manifest.json in {store.where} has no Config or Layers.")
    config = load_json(store.read(config_name, f"image config {config_name}"), "image config")
    diff_ids = diff_ids_of(config, store.where)
    if len(diff_ids) != len(layer_names):
        raise ArchiveError(
            f"manifest.json in {store.where} lists {len(layer_names)} layers but the config has "
            f"{len(diff_ids)} diff ids. The archive is inconsistent."
        )
    layers = []
    for i, (name, diff_id) in enumerate(zip(layer_names, diff_ids)):
        if not isinstance(name, str) or not store.exists(name):
            raise ArchiveError(
                f"manifest.json in {store.where} names layer {name!r} which is not in the archive. "
                "The archive is incomplete; re-create it with `docker save`."
            )
        parts = name.split("/")
        layer_id = parts[-1] if parts[0] == "blobs" else (parts[-2] if len(parts) > 1 else name)
        layers.append(LayerRef(diff_id=diff_id, id=layer_id, open=store.opener(name), size_hint=store.size(name),
                               what=f"layer {i} ({name}) of {store.where}"))
    image_id = config_name
    if image_id.startswith("blobs/sha256/"):
        image_id = "sha256:" + image_id.rsplit("/", 1)[1]
    elif image_id.endswith(".json"):
        image_id = "sha256:" + image_id[: -len(".json")]
    return ImageRecord(reference=reference, image_id=image_id, repo_tags=list(chosen.get("RepoTags") or []),
                       config=config, layers=layers, source_kind=source_kind, path=path)
