"""Image manifests: the legacy `docker save` manifest.json and OCI indexes.

Both the archive source (members of a tar) and the OCI layout source (files
in a directory) hand this module a Store: something that can read a named
file and open it as a stream. Layers are always taken in manifest order and
located by the manifest's own paths or digests, never by guessing file names.
"""

from __future__ import annotations

import re

from ..errors import ArchiveError
from ..model.digest import checked_bytes
from ..model.jsondoc import check_config, field
from .base import ImageRecord, LayerRef, diff_ids_of, load_json
from .choose import Candidate, choose, platform_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Protocol
else:
    Protocol = object

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
    m = _DIGEST.match(digest) if isinstance(digest, str) else None
    if not m:
        raise ArchiveError(f"{where} names a blob by an invalid digest {digest!r}.")
    return f"blobs/{m.group(1)}/{m.group(2)}"


NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")
MAX_INDEX_DEPTH = 4


def _is_index(body: dict, desc: dict) -> bool:
    media = body.get("mediaType") or desc.get("mediaType")
    return media in INDEX_TYPES or ("manifests" in body and "layers" not in body)


def _config_platform(store: Store, manifest: dict) -> str:
    """os/arch[/variant] from the image config, for manifests an index lists without a platform."""
    try:
        config = load_json(store.read(blob_path(str((manifest.get("config") or {}).get("digest") or ""), store.where),
                                      "image config blob"), "image config")
    except ArchiveError:
        return ""
    if not isinstance(config, dict):
        return ""
    values = [config.get(k) for k in ("os", "architecture", "variant")]
    return platform_text(*(v if isinstance(v, str) else None for v in values))


def _check_descriptor(desc, what: str) -> dict:
    """An OCI descriptor: an object with a string digest, an optional non-negative size, string annotations."""
    if not isinstance(desc, dict):
        raise ArchiveError(f"The {what} is not a JSON object.")
    field(desc, "digest", str, what)
    field(desc, "mediaType", str, what, default="")
    size = field(desc, "size", int, what, default=None)
    if size is not None and size < 0:
        raise ArchiveError(f"The {what} has a negative size.")
    field(desc, "annotations", dict, what, default={}, items=str)
    platform = field(desc, "platform", dict, what, default={})
    for key in ("architecture", "os", "variant"):
        field(platform, key, str, f"platform of the {what}", default="")
    return desc


def manifest_size(body: dict) -> int | None:
    """Bytes of an image manifest's layers as stored (their descriptors' sizes)."""
    sizes = [d.get("size") for d in (body.get("layers") or []) if isinstance(d, dict)]
    return sum(x for x in sizes if isinstance(x, int)) if sizes else None


def oci_candidates(store: Store, index_name: str = "index.json") -> list:
    """Every manifest an OCI index reaches (nested indexes followed), as choose.Candidates."""
    index = load_json(store.read(index_name, f"OCI {index_name}"), f"OCI {index_name}")
    found: list = []

    def walk(index, refs, depth):
        if depth > MAX_INDEX_DEPTH:
            raise ArchiveError(f"The OCI index in {store.where} nests deeper than dockerviz follows.")
        what = f"OCI index in {store.where}"
        manifests = field(index, "manifests", list, what, default=[])
        if not manifests:
            raise ArchiveError(f"The OCI index in {store.where} lists no manifests.")
        for i, desc in enumerate(manifests):
            _check_descriptor(desc, f"manifest descriptor {i} of the {what}")
            ann = desc.get("annotations") if isinstance(desc.get("annotations"), dict) else {}
            names = [str(ann[k]) for k in NAME_ANNOTATIONS if ann.get(k)] or refs
            digest = str(desc.get("digest") or "")
            body = load_json(checked_bytes(store.read(blob_path(digest, store.where), "manifest blob"), digest,
                                           f"manifest blob {digest} in {store.where}"), "manifest blob")
            if not isinstance(body, dict):
                raise ArchiveError(f"The manifest blob {digest} in {store.where} is not a JSON object.")
            field(body, "mediaType", str, f"manifest {digest} in {store.where}", default="")
            if _is_index(body, desc):
                walk(body, names, depth + 1)
                continue
            mwhat = f"image manifest {digest} in {store.where}"
            _check_descriptor(field(body, "config", dict, mwhat), f"config descriptor of the {mwhat}")
            for j, layer_desc in enumerate(field(body, "layers", list, mwhat)):
                _check_descriptor(layer_desc, f"layer descriptor {j} of the {mwhat}")
            plat = desc.get("platform") if isinstance(desc.get("platform"), dict) else {}
            arch = plat.get("architecture")
            attestation = ann.get("vnd.docker.reference.type") == "attestation-manifest" or arch == "unknown"
            text = "" if attestation else platform_text(plat.get("os"), arch, plat.get("variant"))
            if not text and not attestation:
                text = _config_platform(store, body)
            size = manifest_size(body)
            same = next((c for c in found if c.digest == digest and c.platform == text), None)
            if same is not None:  # one image under several names (Docker 25's save, skopeo's tags)
                same.refs.extend(n for n in names if n not in same.refs)
                continue
            found.append(Candidate(refs=list(names), digest=digest, platform=text,
                                   kind="attestation" if attestation else "image", size=size,
                                   attests=str(ann.get("vnd.docker.reference.digest") or ""), handle=body))

    walk(index, [], 0)
    return found


def record_from_oci(store: Store, *, reference: str, source_kind: str, path: str, want: str | None = None,
                    index_name: str = "index.json", platform: str | None = None,
                    candidates: list | None = None) -> ImageRecord:
    if candidates is None:
        candidates = oci_candidates(store, index_name)
    chosen, note = choose(candidates, image=want, platform=platform, where=store.where)
    manifest = chosen.handle
    what = f"image manifest {chosen.digest} in {store.where}"
    layers_desc = field(manifest, "layers", list, what)
    config_desc = _check_descriptor(field(manifest, "config", dict, what), f"config descriptor of the {what}")
    for i, desc in enumerate(layers_desc):
        _check_descriptor(desc, f"layer descriptor {i} of the {what}")
    config_name = blob_path(config_desc.get("digest"), store.where)
    config_bytes = checked_bytes(store.read(config_name, "image config blob"), config_desc["digest"],
                                 f"image config blob {config_desc['digest']} in {store.where}")
    config = check_config(load_json(config_bytes, "image config"), store.where)
    diff_ids = diff_ids_of(config, store.where)
    if len(diff_ids) != len(layers_desc):
        raise ArchiveError(
            f"The manifest in {store.where} lists {len(layers_desc)} layers but the config has "
            f"{len(diff_ids)} diff ids. The archive is inconsistent."
        )
    layers = []
    for i, (desc, diff_id) in enumerate(zip(layers_desc, diff_ids)):
        name = blob_path(desc.get("digest"), store.where)
        if not store.exists(name):
            raise ArchiveError(
                f"The manifest in {store.where} names layer blob {name} which is not there. "
                "The archive is incomplete; re-create it with `docker save`."
            )
        layers.append(LayerRef(diff_id=diff_id, id=name.rsplit("/", 1)[1], open=store.opener(name),
                               size_hint=store.size(name), what=f"layer {i} ({name}) of {store.where}",
                               blob_digest=desc["digest"], blob_size=desc.get("size")))
    tags = [r for r in chosen.refs if ":" in r or "/" in r]  # a bare ref name ("latest") is no tag
    return ImageRecord(reference=reference, image_id=config_desc.get("digest", ""), repo_tags=tags, config=config,
                       layers=layers, source_kind=source_kind, path=path,
                       extra={"chosen": note, "platform": chosen.platform} if note else {})


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
    entries = [go_keys(m) for m in manifest]
    for i, m in enumerate(entries):
        what = f"image {i} of manifest.json in {store.where}"
        field(m, "RepoTags", list, what, default=[], items=str)
        field(m, "Config", str, what)
        field(m, "Layers", list, what, items=str)
    return entries


def legacy_candidates(store: Store) -> list:
    """The images of a legacy manifest.json, as choose.Candidates (platform from each config)."""
    out = []
    for entry in legacy_manifest(store):
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ArchiveError(f"manifest.json in {store.where} has no Config or Layers.")
        named = _config_digest(config_name)
        config_bytes = checked_bytes(store.read(config_name, f"image config {config_name}"),
                                     named if _DIGEST.match(named) else None, f"image config {config_name} in {store.where}")
        config = check_config(load_json(config_bytes, "image config"), store.where)
        text = platform_text(config.get("os"), config.get("architecture"), config.get("variant")) \
            if isinstance(config, dict) else ""
        sizes = [store.size(n) if isinstance(n, str) and store.exists(n) else None for n in layer_names]
        size = sum(x for x in sizes if x is not None) if None not in sizes else None
        tags = entry.get("RepoTags") if isinstance(entry.get("RepoTags"), list) else []
        out.append(Candidate(refs=[str(t) for t in tags], digest=_config_digest(config_name), platform=text,
                             size=size, handle=(entry, config)))
    return out


def _config_digest(config_name: str) -> str:
    if config_name.startswith("blobs/sha256/"):
        return "sha256:" + config_name.rsplit("/", 1)[1]
    if config_name.endswith(".json"):
        return "sha256:" + config_name[: -len(".json")]
    return config_name


BLANKED = "dockerviz-blanked.json"  # written by dockerviz.recorder.blank.write_blank_archive


def _blanked_digests(store: Store) -> dict:
    """Layer name -> sha256 of its blanked tar, for a recording dockerviz blanked; {} otherwise."""
    if not store.exists(BLANKED):
        return {}
    doc = load_json(store.read(BLANKED, BLANKED), f"{BLANKED} in {store.where}")
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.startswith("sha256:")
                                               for k, v in layers.items()):
        raise ArchiveError(f"{BLANKED} in {store.where} is not a map of layer names to sha256 digests.")
    return layers


def record_from_legacy(store: Store, *, reference: str, source_kind: str, path: str,
                       want: str | None = None, platform: str | None = None) -> ImageRecord:
    picked, note = choose(legacy_candidates(store), image=want, platform=platform, where=store.where)
    chosen, config = picked.handle
    config_name = chosen["Config"]
    layer_names = chosen["Layers"]
    diff_ids = diff_ids_of(config, store.where)
    if len(diff_ids) != len(layer_names):
        raise ArchiveError(
            f"manifest.json in {store.where} lists {len(layer_names)} layers but the config has "
            f"{len(diff_ids)} diff ids. The archive is inconsistent."
        )
    blanked = _blanked_digests(store)
    layers = []
    for i, (name, diff_id) in enumerate(zip(layer_names, diff_ids)):
        if not isinstance(name, str) or not store.exists(name):
            raise ArchiveError(
                f"manifest.json in {store.where} names layer {name!r} which is not in the archive. "
                "The archive is incomplete; re-create it with `docker save`."
            )
        parts = name.split("/")
        layer_id = parts[-1] if parts[0] == "blobs" else (parts[-2] if len(parts) > 1 else name)
        blob_digest = f"sha256:{parts[-1]}" if parts[0] == "blobs" and parts[1:2] == ["sha256"] else None
        content = blanked.get(name)
        layers.append(LayerRef(diff_id=diff_id, id=layer_id, open=store.opener(name), size_hint=store.size(name),
                               what=f"layer {i} ({name}) of {store.where}", blob_digest=blob_digest,
                               content_digest=content, cache_key=content))
    extra = {"chosen": note, "platform": picked.platform} if note else {}
    if _repeats_listed_as_first(layer_names, diff_ids):
        extra["dive_full_repeats"] = True
    return ImageRecord(reference=reference, image_id=_config_digest(config_name),
                       repo_tags=list(chosen.get("RepoTags") or []), config=config, layers=layers,
                       source_kind=source_kind, path=path, extra=extra)


def _repeats_listed_as_first(layer_names: list, diff_ids: list) -> bool:
    """True when the archive repeats a layer by naming its first blob again (Engine 25+), not by a link to it."""
    first: dict = {}
    repeated = False
    for name, diff_id in zip(layer_names, diff_ids):
        if diff_id in first:
            repeated = True
            if first[diff_id] != name:
                return False
        else:
            first[diff_id] = name
    return repeated
