"""Other tools that write images, from Debian's packages: skopeo, umoci, buildah, podman.

Each runs with its own storage under a temporary folder (buildah and podman
with `--root/--runroot` and the vfs driver), so nothing the tests make lands
in the machine's container storage. An arm64 busybox comes from Debian's
busybox-static:arm64 package: `dpkg --add-architecture arm64`, `apt-get
update` and `apt-get download`, done here once and cached.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .images import CACHE_DIR, _file_lock

TOOL_TIMEOUT = 600  # seconds for one tool call
APT_TIMEOUT = 900


class ProducerError(RuntimeError):
    pass


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        from . import unavailable

        unavailable(f"{tool} is not installed (Debian package {tool}; bash tests/run.sh installs it)")
    return found


def run(*cmd, timeout: float = TOOL_TIMEOUT, cwd=None) -> str:
    """Run a tool; its stdout. A failure raises with the tool's own words."""
    try:
        r = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise ProducerError(f"`{' '.join(map(str, cmd))}` did not finish within {timeout:.0f} s") from None
    if r.returncode != 0:
        raise ProducerError(f"`{' '.join(map(str, cmd))}` failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


_RUNROOTS: dict = {}


def storage_args(root: Path) -> list:
    """buildah / podman options keeping their storage in root (the run root short: podman allows 50 characters)."""
    if root not in _RUNROOTS:
        _RUNROOTS[root] = tempfile.mkdtemp(prefix="dvp-", dir="/tmp")
        atexit.register(shutil.rmtree, _RUNROOTS[root], True)
    return ["--root", str(root / "storage"), "--runroot", _RUNROOTS[root], "--storage-driver", "vfs"]


def skopeo_copy(src: str, dest: str, *extra, arch: str | None = None) -> None:
    """skopeo copy SRC DEST (extra: copy's options; arch: the platform to take from an index)."""
    need("skopeo")
    choose = ["--override-arch", arch] if arch else []
    run("skopeo", "--insecure-policy", *choose, "copy", "-q", *extra, src, dest)


def arm64_busybox(cache_dir: Path = CACHE_DIR) -> Path:
    """The statically linked arm64 busybox of Debian's busybox-static:arm64, extracted (cached)."""
    target = cache_dir / "busybox-static-arm64" / "bin" / "busybox"
    with _file_lock(cache_dir / "busybox-static-arm64.lock"):
        if target.is_file():
            return target
        for tool in ("dpkg", "apt-get", "dpkg-deb"):
            need(tool)
        if "arm64" not in run("dpkg", "--print-foreign-architectures").split():
            run("dpkg", "--add-architecture", "arm64")
            run("apt-get", "update", timeout=APT_TIMEOUT)
        with tempfile.TemporaryDirectory(prefix="dockerviz-arm64-") as tmp:
            try:
                run("apt-get", "download", "busybox-static:arm64", cwd=tmp, timeout=APT_TIMEOUT)
            except ProducerError:  # lists fetched before arm64 was added
                run("apt-get", "update", timeout=APT_TIMEOUT)
                run("apt-get", "download", "busybox-static:arm64", cwd=tmp, timeout=APT_TIMEOUT)
            (deb,) = Path(tmp).glob("busybox-static_*_arm64.deb")
            out = target.parent.parent
            if out.exists():
                shutil.rmtree(out)
            run("dpkg-deb", "-x", deb, out)
    if not target.is_file():
        raise ProducerError(f"busybox-static:arm64 has no bin/busybox (looked in {target.parent})")
    return target


def scratch_busybox_image(root: Path, busybox: Path, arch: str, tag: str) -> str:
    """`FROM scratch` + one busybox binary, committed by buildah for arch; the image name."""
    need("buildah")
    b = ["buildah", *storage_args(root)]
    ctr = run(*b, "from", "--arch", arch, "--os", "linux", "scratch").strip()
    try:
        run(*b, "copy", "--chmod", "0755", ctr, busybox, "/bin/busybox")
        run(*b, "config", "--arch", arch, "--os", "linux", "--label", "dockerviz.test=1",
            "--created-by", f"COPY busybox-static:{arch} /bin/busybox", ctr)
        run(*b, "commit", "-q", ctr, tag)
    finally:
        run(*b, "rm", ctr)
    return tag


def file_size(path: os.PathLike) -> int:
    return os.stat(path).st_size
