"""Choosing one image from a source that holds several: tags, platforms, attestations.

A `docker save` archive, an OCI layout or archive, a registry index or a
daemon's multi-platform image are all turned into a list of Candidates; one
function picks from it by reference and platform, with one rule for the
default (the host's platform, else the first image) and one error naming the
choices. Nothing here reads a file: the sources list candidates, this module
only compares names.
"""

from __future__ import annotations

import os

from ..errors import ImageChoiceError
from ..model.record import Record

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
                 "armv7l": "arm", "i386": "386", "i686": "386"}
_KNOWN_OS = {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix", "wasip1"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}  # as containerd normalises them


class Candidate(Record):
    """One image a source holds."""

    __slots__ = _fields = ("refs", "digest", "platform", "kind", "size", "attests", "handle")
    _shown = _fields[:-1]

    def __init__(self, refs: list, digest: str, platform: str, kind: str = "image", size: int | None = None,
                 attests: str = "", handle=None):
        self.refs = refs  # its names: tags, ref-name annotations ("" when it has none)
        self.digest = digest  # the manifest digest (OCI) or the config digest (legacy manifest.json)
        self.platform = platform  # "os/arch[/variant]"; "" when the source does not say
        self.kind = kind  # image / attestation
        self.size = size  # bytes of its blobs as stored
        self.attests = attests  # for an attestation: the digest of the image it describes
        self.handle = handle  # what the source needs to open it

    def row(self) -> dict:
        return {"ref": ", ".join(r for r in self.refs if r), "digest": self.digest, "platform": self.platform,
                "kind": self.kind, "attests": self.attests, "size": self.size}

    def label(self) -> str:
        name = next((r for r in self.refs if r), "") or self.digest[:19]
        return f"{name} ({self.platform})" if self.platform else name


def normalise_platform(text: str) -> tuple[str, str, str]:
    """'linux/arm64' -> ('linux', 'arm64', 'v8'); 'arm64' alone means linux/arm64."""
    parts = [p.strip().lower() for p in str(text).split("/")]
    if len(parts) == 1 or (len(parts) == 2 and parts[0] not in _KNOWN_OS):  # "arm64", "arm64/v8" as containerd
        parts = ["linux", *parts]
    if len(parts) > 3 or not all(parts):
        raise ImageChoiceError(f"{text!r} is not a platform; write it as OS/ARCH[/VARIANT], e.g. linux/arm64.")
    os_, arch = parts[0], _ARCH_ALIASES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else _DEFAULT_VARIANT.get(arch, "")
    if arch == "amd64":
        variant = ""  # v1..v4 are levels of one platform; a host accepts any
    return os_, arch, variant


def platform_text(os_: str | None, arch: str | None, variant: str | None = None) -> str:
    if not arch:
        return ""
    return "/".join(p for p in (os_ or "linux", arch, variant) if p)


def host_platform() -> str:
    # platform.machine() and platform.system(), without importing platform (start-up time)
    uname = os.uname()
    machine = uname.machine.lower()
    return platform_text(uname.sysname.lower() or "linux", _ARCH_ALIASES.get(machine, machine))


def platform_matches(want: str, have: str) -> bool:
    return bool(have) and normalise_platform(want) == normalise_platform(have)


def _ref_forms(ref: str) -> set:
    """The spellings one reference goes by: docker.io/library/app:latest, app:latest, app."""
    out = {ref}
    name, tag = ref, ""
    last = ref.rsplit("/", 1)[-1]
    if "@" in ref:
        return out
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    out.add(f"{name}:{tag}" if tag else name)
    if tag in ("", "latest"):
        out |= {name, f"{name}:latest"}
    return out


def ref_matches(want: str, candidate: Candidate) -> bool:
    want = want.strip()
    if want.startswith("sha256:") and len(want) >= 7 + 6:
        return candidate.digest.startswith(want)
    wanted = _ref_forms(want)
    return any(r and (_ref_forms(r) & wanted) for r in candidate.refs)


def choose(candidates: list, *, image: str | None = None, platform: str | None = None,
           where: str = "the source") -> tuple[Candidate, str]:
    """The candidate asked for, and a sentence saying which was taken when there was a choice."""
    images = [c for c in candidates if c.kind == "image"]
    if not images:
        raise ImageChoiceError(f"{where} holds no image" + (" (only attestations)" if candidates else "") + ".")
    pool = images
    if image:
        pool = [c for c in images if ref_matches(image, c)]
        if not pool:
            raise ImageChoiceError(f"{where} holds no image {image!r}; it holds {describe(images)}.")
    if platform:
        normalise_platform(platform)  # a malformed platform is an error even when there is one image
        exact = [c for c in pool if platform_matches(platform, c.platform)]
        if not exact:
            raise ImageChoiceError(f"{where} holds no {platform} image" + (f" named {image!r}" if image else "")
                                   + f"; it holds {describe(pool)}.")
        pool = exact
    if len(pool) == 1:
        note = "" if len(images) == 1 else f"took {pool[0].label()} of {len(images)} images in {where}"
        return pool[0], note
    host = host_platform()
    native = [c for c in pool if platform_matches(host, c.platform)]
    if native:
        return native[0], (f"took {native[0].label()}, the host's platform, of {len(images)} images in {where} "
                           "(choose another with image= / platform=, or --image / --platform)")
    return pool[0], (f"took the first image, {pool[0].label()}, of {len(images)} in {where}; none is for this "
                     f"host ({host}) (choose another with image= / platform=, or --image / --platform)")


def describe(candidates: list) -> str:
    labels = [c.label() for c in candidates if c.kind == "image"]
    shown = ", ".join(labels[:12]) + (f" and {len(labels) - 12} more" if len(labels) > 12 else "")
    return shown or "nothing"
