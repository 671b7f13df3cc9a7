"""Transport prefixes in a SOURCE: `registry://`, dive's `docker://`, skopeo's `docker-daemon:` and friends.

`docker://` names an image in the daemon, as in dive (skopeo reads a registry
there; dockerviz spells that `registry://`). skopeo's other transports name
what dockerviz already reads: `docker-daemon:IMG`, `docker-archive:FILE[:REF]`,
`oci:DIR[:REF]`, `oci-archive:FILE[:REF]`.
"""

from __future__ import annotations

import os
import re

from ..errors import SourceError
from ..model.record import Record

DOCKER_HUB = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# distribution's grammar, simplified: lower-case path components separated by '/'
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$")


class RegistryRef(Record):
    """HOST[:PORT]/REPO with a tag or a digest (or both: the digest decides)."""

    __slots__ = _fields = ("host", "repo", "tag", "digest")

    def __init__(self, host: str, repo: str, tag: str | None, digest: str | None):
        self.host = host  # host[:port] as written
        self.repo = repo
        self.tag = tag
        self.digest = digest

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest when there is one."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.host}/{self.repo}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def hostname(self) -> str:
        host = self.host
        if host.startswith("["):
            return host[1:host.index("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def port(self) -> int | None:
        host = self.host
        tail = host[host.index("]") + 1:] if host.startswith("[") else host
        if ":" in tail:
            return int(tail.rsplit(":", 1)[1])
        return None


def parse_registry_ref(text: str) -> RegistryRef:
    """`HOST[:PORT]/REPO[:TAG][@sha256:HEX]`; a first component without '.', ':' or 'localhost' is Docker Hub's."""
    original = text
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise SourceError(f"{original!r}: the digest after '@' must be sha256:<64 hex digits>, not {digest!r}.")
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, text
        if "/" not in path:
            path = "library/" + path
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise SourceError(f"{original!r}: {tag!r} is not a valid tag.")
    if not _HOST.match(host):
        raise SourceError(f"{original!r}: {host!r} is not a registry host[:port].")
    if not path or not _REPO.match(path):
        raise SourceError(
            f"{original!r}: {path!r} is not a repository name (lower-case letters, digits and . _ - separated by /). "
            "Write registry://HOST[:PORT]/REPO[:TAG] or registry://HOST[:PORT]/REPO@sha256:DIGEST."
        )
    return RegistryRef(host=host, repo=path, tag=tag if tag or digest else "latest", digest=digest)


class Transport(Record):
    __slots__ = _fields = ("kind", "target", "want")

    def __init__(self, kind: str, target: str, want: str | None = None):
        self.kind = kind  # registry / daemon / archive / oci-layout
        self.target = target  # what that source opens
        self.want = want  # a reference inside an archive or layout


def _split_ref(rest: str, transport: str) -> tuple[str, str | None]:
    """PATH[:REF], where the path itself may hold ':' (an existing path wins)."""
    if not rest:
        raise SourceError(f"{transport}: needs a path after the colon, e.g. {transport}:image.tar")
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    path, ref = rest.rsplit(":", 1)
    return path, (ref or None)


def parse_transport(text: str) -> Transport | None:
    """The transport named by a prefix of `text`, or None when it has none."""
    if text.startswith("registry://"):
        return Transport("registry", text[len("registry://"):])
    if text.startswith("docker://"):
        return Transport("daemon", text[len("docker://"):])
    if text.startswith("docker-daemon:"):
        return Transport("daemon", text[len("docker-daemon:"):])
    for prefix, kind in (("docker-archive:", "archive"), ("oci-archive:", "archive"), ("oci:", "oci-layout")):
        if text.startswith(prefix):
            path, want = _split_ref(text[len(prefix):], prefix[:-1])
            return Transport(kind, path, want)
    return None


__all__ = ["DOCKER_HUB", "DOCKER_HUB_AUTH_KEY", "RegistryRef", "Transport", "parse_registry_ref", "parse_transport"]
