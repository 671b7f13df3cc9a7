"""Moving images between engines: push to a registry, pull from it, or save and load.

Each call returns a Transfer: the image's id where it landed, and one row per
layer saying whether its bytes travelled ("sent") or were there already
("already there"), as the engine reported it while it worked. `push_index`
puts several platforms' images under one tag as an image index, the form in
which one name serves amd64 and arm64 hosts alike.
"""

from __future__ import annotations

import html
import json

from . import engine as _engine
from .errors import DaemonError, DockervizError, ImageChoiceError, RegistryError

__all__ = ["Transfer", "push", "pull", "copy_image", "push_index", "LAYER_COLUMNS"]

LAYER_COLUMNS = ["layer", "status", "bytes"]
SENT, THERE = "sent", "already there"
# what engines say of a layer: Docker's push and pull, Podman's pull
_THERE = {"Layer already exists", "Already exists"}
_SENT = {"Pushed", "Pull complete", "Download complete"}
INDEX_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")


def _split(ref: str) -> tuple[str, str]:
    """(repository, tag) of HOST[:PORT]/REPO[:TAG]."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return ref, "latest"
    return name, tag


class Transfer:
    """An image moved to an engine or a registry: where, how, its id there, and per layer whether
    its bytes travelled."""

    def __init__(self, *, kind: str, image: str, destination: str, engine_name: str, image_id: str | None = None,
                 digest: str | None = None, layers=None, platform: str | None = None):
        self.kind = kind  # push, pull or load
        self.image = image
        self.destination = destination
        self.engine_name = engine_name
        self.image_id = image_id
        self.digest = digest
        self.platform = platform
        self._layers = [tuple(r) for r in layers or []]  # [(layer, status, bytes)]
        self.recorded: str | None = None

    def to_dict(self) -> dict:
        """Plain JSON-able data; Transfer.from_dict() reads it back."""
        return {"kind": self.kind, "image": self.image, "destination": self.destination,
                "engine_name": self.engine_name, "image_id": self.image_id, "digest": self.digest,
                "platform": self.platform, "layers": [list(r) for r in self._layers]}

    @classmethod
    def from_dict(cls, doc: dict, recorded: str | None = None) -> "Transfer":
        t = cls(**{k: doc.get(k) for k in ("kind", "image", "destination", "engine_name", "image_id", "digest",
                                          "platform", "layers")})
        t.recorded = recorded
        return t

    @property
    def layers(self):
        """A DataFrame, one row per layer (LAYER_COLUMNS): its short id as the engine names it,
        "sent" or "already there", and the bytes sent when the engine said."""
        import pandas as pd

        return pd.DataFrame.from_records(self._layers, columns=LAYER_COLUMNS)

    @property
    def sent(self) -> int:
        return sum(1 for _, s, _ in self._layers if s == SENT)

    @property
    def already_there(self) -> int:
        return sum(1 for _, s, _ in self._layers if s == THERE)

    def summary(self) -> dict:
        return {"kind": self.kind, "image": self.image, "destination": self.destination,
                "engine": self.engine_name, "image_id": self.image_id, "digest": self.digest,
                "platform": self.platform, "layers": len(self._layers), "sent": self.sent,
                "already_there": self.already_there}

    def describe(self) -> str:
        verb = {"push": "pushed to", "pull": "pulled into", "load": "loaded into"}.get(self.kind, self.kind)
        return (f"{self.image} {verb} {self.destination}: {self.sent} layer(s) sent, "
                f"{self.already_there} already there")

    def __repr__(self) -> str:
        return f"<Transfer {self.describe()}>"

    def _repr_html_(self) -> str:
        from .views.recorded import banner_html

        banner = banner_html(self.recorded) if self.recorded else ""
        rows = "".join(f"<tr><td><code>{html.escape(str(a))}</code></td><td>{html.escape(str(b))}</td>"
                       f"<td>{html.escape(str(c if c is not None else ''))}</td></tr>" for a, b, c in self._layers)
        return (f"{banner}<div><b>{html.escape(self.describe())}</b><table><tr><th>layer</th><th>status</th>"
                f"<th>bytes</th></tr>{rows}</table></div>")


def _layers_from(messages, skip_prefix: str = "") -> tuple[list, dict]:
    """(rows, last aux) from an engine's push/pull progress messages."""
    seen: dict[str, list] = {}
    aux: dict = {}
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("error") or m.get("errorDetail"):
            raise DaemonError(str(m.get("error") or (m.get("errorDetail") or {}).get("message")))
        if isinstance(m.get("aux"), dict):
            aux.update(m["aux"])
        lid, status = m.get("id"), str(m.get("status") or "")
        if not lid or (skip_prefix and skip_prefix.startswith(str(lid))):
            continue
        row = seen.setdefault(str(lid), [str(lid), None, None])
        total = (m.get("progressDetail") or {}).get("total")
        if total:
            row[2] = int(total)
        if status in _THERE or status.startswith("Mounted from"):  # a blob the registry has in another repo
            row[1] = THERE
        elif status in _SENT and row[1] != THERE:
            row[1] = SENT
    rows = [(lid, status, size if status == SENT else 0) for lid, status, size in seen.values() if status]
    return rows, aux


def push(image: str, ref: str, *, engine=None) -> Transfer:
    """Push `image` (a name or id in `engine`) to the registry reference HOST[:PORT]/REPO[:TAG]. The
    tag made for the push is removed after, unless the image had it already."""
    eng = _engine.as_engine(engine)
    repo, tag = _split(ref)
    client = eng.client(timeout=None)
    try:
        with _engine.translated(image, engine=eng):
            info = client.api.inspect_image(image)
            had = f"{repo}:{tag}" in (info.get("RepoTags") or [])
            if not had:
                client.api.tag(info["Id"], repo, tag)
            digests_before = set(info.get("RepoDigests") or [])
            try:
                rows, aux = _layers_from(client.api.push(repo, tag, stream=True, decode=True))
            finally:
                if not had:  # the tag made for the push, and the digest reference the push left
                    client.api.remove_image(f"{repo}:{tag}", noprune=True)
                    left = set(client.api.inspect_image(info["Id"]).get("RepoDigests") or []) - digests_before
                    for ref in sorted(d for d in left if d.startswith(repo + "@")):
                        client.api.remove_image(ref, noprune=True)
    finally:
        client.close()
    return Transfer(kind="push", image=image, destination=f"{repo}:{tag}", engine_name=eng.name,
                    image_id=info["Id"], digest=aux.get("Digest"), layers=rows)


def pull(ref: str, *, engine=None, platform: str | None = None) -> Transfer:
    """Pull HOST[:PORT]/REPO[:TAG] into `engine` (for `platform`, e.g. linux/arm64, from an index)."""
    eng = _engine.as_engine(engine)
    repo, tag = _split(ref)
    client = eng.client(timeout=None)
    try:
        with _engine.translated(ref, engine=eng):
            messages = list(client.api.pull(repo, tag, stream=True, decode=True, platform=platform))
            info = client.api.inspect_image(f"{repo}:{tag}")
    finally:
        client.close()
    rows, _ = _layers_from(messages, skip_prefix=info["Id"].split(":")[-1])  # Podman lists the config too
    digests = [d.split("@", 1)[1] for d in info.get("RepoDigests") or [] if d.startswith(repo + "@")]
    plat = f"{info.get('Os', '')}/{info.get('Architecture', '')}"
    return Transfer(kind="pull", image=ref, destination=eng.name, engine_name=eng.name, image_id=info["Id"],
                    digest=digests[0] if digests else None, layers=rows, platform=plat)


def copy_image(image: str, to, *, engine=None, registry: str | None = None) -> Transfer:
    """Copy `image` from `engine` (default: as the docker CLI picks) to the engine `to`: through
    `registry` (HOST[:PORT]: a push, then a pull) or, without one, as a `docker save` stream loaded
    into `to` (nothing written to disk). The Transfer is the arrival's; through a registry,
    `.pushed` is the push's."""
    src, dst = _engine.as_engine(engine), _engine.as_engine(to)
    if src == dst:
        raise DockervizError(f"The source and the target are the same engine ({src.describe()}).")
    if registry:
        if image.startswith("sha256:"):
            raise DockervizError("Through a registry an image travels by name: give its name, not its id.")
        path, tag = _split(image)
        first, _, rest = path.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            path = rest  # the repository, without the registry it was named after
        ref = f"{registry}/{path}:{tag}"
        pushed = push(image, ref, engine=src)
        result = pull(ref, engine=dst)
        result.pushed = pushed  # type: ignore[attr-defined]
        return result
    return _save_load(image, src, dst)


def _save_load(image: str, src, dst) -> Transfer:
    import re

    out = src.client(timeout=None)
    into = dst.client(timeout=None)
    try:
        with _engine.translated(image, engine=src):
            info = out.api.inspect_image(image)
            stream = out.api.get_image(image)
        with _engine.translated(image, engine=dst):
            answer = into.api.load_image(stream)
            loaded = into.api.inspect_image(info["Id"])
    finally:
        out.close()
        into.close()
    said = " ".join(str(m.get("stream") or m.get("status") or "") for m in answer or [] if isinstance(m, dict))
    if re.search(r"error", said, re.I):
        raise DaemonError(f"{dst.name} could not load {image!r}: {said.strip()}")
    layers = [(lid.split(":")[-1][:12], SENT, None) for lid in (info.get("RootFS") or {}).get("Layers") or []]
    return Transfer(kind="load", image=image, destination=dst.name, engine_name=dst.name, image_id=loaded["Id"],
                    layers=layers, platform=f"{loaded.get('Os', '')}/{loaded.get('Architecture', '')}")


def push_index(ref: str, images: dict, *, engine=None, registry=None) -> Transfer:
    """Push each image of {platform ("linux/arm64"): image in `engine`} under REF-<arch>, then put an
    image index naming them all under REF itself: one tag, several platforms."""
    from .sources.choose import normalise_platform
    from .sources.registry_http import RegistryClient, RegistryOptions
    from .sources.transports import parse_registry_ref

    if not images:
        raise DockervizError("Give at least one {platform: image} to push_index().")
    for platform in images:  # all checked before anything is pushed; the index says each as it was given
        if str(platform).count("/") not in (1, 2):
            raise ImageChoiceError(f"{platform!r} is not a platform; write it as OS/ARCH[/VARIANT], e.g. linux/arm64.")
        normalise_platform(platform)
    repo, tag = _split(ref)
    parsed = parse_registry_ref(f"{repo}:{tag}")
    rows, entries = [], []
    client = RegistryClient(parsed.host, parsed.host.split(":")[0], parsed.repo, RegistryOptions.coerce(registry))
    try:
        for platform, image in images.items():
            os_, arch, variant = (str(platform).split("/") + [""])[:3]
            pushed = push(image, f"{repo}:{tag}-{arch}{variant}", engine=engine)
            rows += pushed._layers
            resp = client.request("GET", f"/v2/{parsed.repo}/manifests/{pushed.digest}",
                                  headers={"Accept": ", ".join(MANIFEST_TYPES)}, what=f"manifest of {image}")
            media = (resp.getheader("Content-Type") or MANIFEST_TYPES[0]).split(";")[0].strip()
            body = client.read_body(resp, what=f"manifest of {image}")
            plat = {"architecture": arch, "os": os_, **({"variant": variant} if variant else {})}
            entries.append({"mediaType": media, "digest": pushed.digest, "size": len(body), "platform": plat})
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": entries}, indent=1).encode()
        resp = client.request("PUT", f"/v2/{parsed.repo}/manifests/{tag}", headers={"Content-Type": INDEX_TYPE},
                              body=index, ok=(201,), what=f"index {ref}")
        digest = resp.getheader("Docker-Content-Digest")
        client.discard(resp)
    finally:
        client.close()
    if not digest:
        raise RegistryError(f"The registry took the index {ref} but did not say its digest.")
    return Transfer(kind="push", image=", ".join(images.values()), destination=f"{repo}:{tag}",
                    engine_name=_engine.as_engine(engine).name, digest=digest, layers=rows,
                    platform=", ".join(images))
