"""An image in a registry, read without pulling it: `registry://HOST[:PORT]/REPO[:TAG|@DIGEST]`.

The manifest (or index, resolved to one image as for OCI layouts) and the
config are fetched and checked against their digests; they are all a warm
analysis downloads, since the layer cache is asked by diff id before any
layer is fetched. A layer not in the cache is streamed once from its blob
(see registry_layers): never written to disk, verified before it is trusted.
A file's bytes, asked for later, come from one more such pass over the blob
that holds it, keeping only that file.
"""

from __future__ import annotations

import hashlib
import json

from ..errors import ArchiveError, RegistryError
from ..model.toc import toc_kind
from .base import ImageRecord, load_json
from .oci import INDEX_TYPES, MANIFEST_TYPES, _check_descriptor, oci_candidates, record_from_oci
from .registry_http import SMALL_LIMIT, RegistryClient, RegistryOptions
from .registry_layers import BlobLayer, TocLayer
from .transports import RegistryRef, parse_registry_ref

ACCEPT = ", ".join(sorted(INDEX_TYPES) + sorted(MANIFEST_TYPES))
SCHEMA1_TYPES = {"application/vnd.docker.distribution.manifest.v1+json",
                 "application/vnd.docker.distribution.manifest.v1+prettyjws"}


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryStore:
    """The registry seen as an OCI layout (index.json, blobs/sha256/...), for record_from_oci.

    index.json is the manifest the reference names (a single image manifest is
    wrapped in a one-entry index); manifests listed by an index are fetched
    from /manifests/, anything else (the config) from /blobs/. Every body is
    checked against its digest.
    """

    def __init__(self, client: RegistryClient, ref: RegistryRef, where: str):
        self.client = client
        self.ref = ref
        self.where = where
        self.bodies: dict[str, bytes] = {}  # digest -> verified manifest or config
        self.manifest_digests: set[str] = set()
        self.manifests: list[dict] = []  # image manifests read, in order
        self.descriptors: dict[str, dict] = {}  # digest -> descriptor of a config or layer
        self.index = b""
        self.top_digest = ""

    def fetch_top(self) -> None:
        resp = self.client.request("GET", f"/v2/{self.ref.repo}/manifests/{self.ref.reference}",
                                   headers={"Accept": ACCEPT}, what=f"image {self.ref}")
        media = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        said = resp.getheader("Docker-Content-Digest") or ""
        body = self.client.read_body(resp, what=f"manifest of {self.ref}")
        digest = _sha256(body)
        if self.ref.digest and digest != self.ref.digest:
            raise ArchiveError(f"The manifest {self.where} sent has digest {digest}, not the one asked for; "
                               "the registry's copy is corrupt or was altered.")
        if said.startswith("sha256:") and said != digest:
            raise ArchiveError(f"The manifest of {self.where} has digest {digest}, but the registry says {said}.")
        self.top_digest = digest
        parsed = self._parse(body, media)
        media = parsed.get("mediaType") or media
        if "manifests" in parsed and "layers" not in parsed:
            self.index = body
        else:
            self.index = json.dumps({"schemaVersion": 2, "manifests": [
                {"mediaType": media or "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                 "size": len(body)}]}).encode()
            self.manifest_digests.add(digest)
            self.bodies[digest] = body

    def narrow(self, platform: str | None) -> str:
        """Keep only the index entry that will be read, chosen from the index's own descriptors, so the
        other platforms' and attestations' manifests are never fetched; the choice's note ("" when
        there was none). An index whose entries do not all say their platform is left whole."""
        from .choose import Candidate, choose, platform_text

        if not self.index or self.top_digest in self.bodies:
            return ""  # a single manifest
        index = load_json(self.index, f"index of {self.where}")
        entries = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(entries, list) or not entries:
            return ""
        candidates = []
        for i, d in enumerate(entries):
            _check_descriptor(d, f"entry {i} of the index of {self.where}")  # typed before it is read
            if d.get("mediaType") in INDEX_TYPES:
                return ""  # nested indexes: the general walk
            plat = d.get("platform") if isinstance(d.get("platform"), dict) else {}
            ann = d.get("annotations") if isinstance(d.get("annotations"), dict) else {}
            attestation = ann.get("vnd.docker.reference.type") == "attestation-manifest" or \
                plat.get("architecture") == "unknown"
            text = "" if attestation else platform_text(plat.get("os"), plat.get("architecture"), plat.get("variant"))
            if not text and not attestation:
                return ""  # the platform is only in the config: the general walk reads it
            candidates.append(Candidate(refs=[], digest=d["digest"], platform=text,
                                        kind="attestation" if attestation else "image", handle=d))
        chosen, note = choose(candidates, platform=platform, where=self.where)
        self.index = json.dumps({**index, "manifests": [chosen.handle]}).encode()
        return note

    def _parse(self, body: bytes, media: str) -> dict:
        parsed = load_json(body, f"manifest of {self.where}")
        if not isinstance(parsed, dict):
            raise ArchiveError(f"The manifest of {self.where} is not a JSON object.")
        if media in SCHEMA1_TYPES or parsed.get("schemaVersion") == 1:
            raise RegistryError(f"{self.where} has only a schema 1 manifest, which dockerviz does not read. "
                                "Push the image again with a current client (docker, skopeo, buildah).")
        if isinstance(parsed.get("manifests"), list):
            for d in parsed["manifests"]:
                if isinstance(d, dict) and isinstance(d.get("digest"), str):
                    self.manifest_digests.add(d["digest"])
        if isinstance(parsed.get("layers"), list):
            self.manifests.append(parsed)
            for d in [parsed.get("config"), *parsed["layers"]]:
                if isinstance(d, dict) and isinstance(d.get("digest"), str):
                    self.descriptors[d["digest"]] = d
        return parsed

    # -- the Store protocol of sources.oci -------------------------------------------------
    def exists(self, name: str) -> bool:
        return name == "index.json" or name.startswith("blobs/")  # a missing blob shows when it is read

    def size(self, name: str) -> int | None:
        desc = self.descriptors.get(self._digest(name))
        return int(desc.get("size") or 0) if desc else None

    def opener(self, name: str):
        def refuse():  # pragma: no cover - RegistrySource replaces every opener with a reader
            raise ArchiveError(f"{name} of {self.where} is read through the registry only.")

        return refuse

    @staticmethod
    def _digest(name: str) -> str:
        parts = name.split("/")
        return f"{parts[1]}:{parts[2]}" if len(parts) == 3 and parts[0] == "blobs" else name

    def read(self, name: str, what: str) -> bytes:
        if name == "index.json":
            return self.index
        digest = self._digest(name)
        body = self.bodies.get(digest)
        if body is not None:
            return body
        if digest in self.manifest_digests:
            resp = self.client.request("GET", f"/v2/{self.ref.repo}/manifests/{digest}", headers={"Accept": ACCEPT},
                                       what=f"manifest {digest} of {self.ref}")
            media = (resp.getheader("Content-Type") or "").split(";")[0].strip()
            body = self.client.read_body(resp, what=f"manifest {digest}")
            self._check(body, digest, "manifest")
            self._parse(body, media)
        else:
            resp = self.client.request("GET", f"/v2/{self.ref.repo}/blobs/{digest}", what=f"{what} of {self.ref}")
            body = self.client.read_body(resp, limit=SMALL_LIMIT, what=what)
            self._check(body, digest, what)
        self.bodies[digest] = body
        return body

    def _check(self, body: bytes, digest: str, what: str) -> None:
        got = _sha256(body)
        if got != digest:
            raise ArchiveError(f"The {what} {digest} of {self.where} arrived with digest {got}: the registry's copy "
                               "is corrupt or was altered.")


class RegistrySource:
    """What open_source returns for `registry://…`: a context manager giving an ImageRecord."""

    kind = "registry"

    def __init__(self, reference: str, *, options=None, platform: str | None = None):
        self.text = reference
        self.platform = platform
        self.ref = parse_registry_ref(reference)
        self.options = RegistryOptions.coerce(options)
        self.client = RegistryClient(self.ref.host, self.ref.hostname, self.ref.repo, self.options)
        self.where = f"registry://{self.ref}"

    @property
    def downloaded(self) -> int:
        """Response body bytes received so far (manifests, config, layer blobs or their ranges)."""
        return self.client.downloaded

    def __enter__(self) -> ImageRecord:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def candidates(self) -> list:
        """The images the reference names: one, or each platform (and attestation) of its index."""
        store = RegistryStore(self.client, self.ref, self.where)
        store.fetch_top()
        return oci_candidates(store)

    def open(self) -> ImageRecord:
        store = RegistryStore(self.client, self.ref, self.where)
        store.fetch_top()
        note = store.narrow(self.platform)
        record = record_from_oci(store, reference=self.where, source_kind=self.kind, path="registry",
                                 platform=self.platform)
        if note:
            record.extra["chosen"] = note
        manifest = next((m for m in reversed(store.manifests)
                         if (m.get("config") or {}).get("digest") == record.image_id), None)
        if manifest is None:  # pragma: no cover - record_from_oci read it through the store
            raise ArchiveError(f"{self.where}: the chosen manifest was not read.")
        toc_layers = 0
        for ref, desc in zip(record.layers, manifest["layers"]):
            blob = BlobLayer(self.client, self.ref.repo, desc, ref.diff_id, ref.what)
            kind = toc_kind(desc.get("annotations"))
            if kind is not None:
                reader = TocLayer(self.client, self.ref.repo, desc, kind, ref.what)
                reader.fallback = blob
                ref.reader = reader
                ref.cache_key = reader.cache_key
                toc_layers += 1
            else:
                ref.reader = blob
            ref.open = None
            ref.fetch = blob.fetch  # a file's bytes: a second pass over the whole blob, verified as it streams
        record.repo_tags = [str(self.ref)]
        record.path = "registry-toc" if toc_layers else "registry"
        record.extra.update(manifest_digest=store.top_digest, toc_layers=toc_layers)
        return record


__all__ = ["RegistrySource", "RegistryStore"]
