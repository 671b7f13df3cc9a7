"""The test images, built locally with no registry and no network.

Every image is built through docker-py's low-level `APIClient.build` from an
in-memory tar context with network_mode="none" (no docker CLI needed), or, for
the Debian root, made with debootstrap and imported. Builds are idempotent: an
image whose `dockerviz.test.inputs` label equals the hash of its build inputs
(Dockerfile, context files, base image id) is reused as it is.

Tags (all under dockerviz-test/):

- busybox          FROM scratch + the static busybox; base of the parity images
- parity-delete    deleted file, deleted directory (files from an earlier layer),
                   `rm -rf d && mkdir d` in one step (opaque directory), a file
                   deleted then re-created, a file overwritten twice
- parity-links     hard links (same layer; to a lower file, which copies it up),
                   symbolic links (relative, absolute, dangling, retargeted),
                   a chmod-only change, the same content at several paths
- parity-replace   a file replaced by a directory and a directory (with a
                   subtree) replaced by a file, each across layers
- parity-names     paths and link targets longer than 100 bytes (PAX), a
                   non-UTF-8 file name, a UTF-8 one, steps without layers
                   (ENV, LABEL, EXPOSE, USER, CMD, WORKDIR of an existing dir,
                   `RUN true`), a WORKDIR that creates its directory, and the
                   same COPY twice (one layer repeated in the image)
- debian           `debootstrap --variant=minbase bookworm`, `docker import`ed
- debian-app       FROM debian: apt lists and docs removed, files appended and
                   edited, a user added, a config copied in and chowned
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import TEST_LABEL

PREFIX = "dockerviz-test"
INPUTS_LABEL = "dockerviz.test.inputs"
# Bump to force every test image to be rebuilt.
RECIPE_VERSION = "1"

CACHE_DIR = Path(os.environ.get("DOCKERVIZ_TEST_CACHE", "/var/tmp/dockerviz-test-cache"))
DEBIAN_SUITE = "bookworm"
DEBOOTSTRAP_TIMEOUT = 1200
CONTEXT_MTIME = 1_700_000_000  # fixed mtime for context files: same inputs, same cache


class ImageBuildError(RuntimeError):
    pass


def _log(msg: str) -> None:
    print(f"[images] {msg}", flush=True)


# --- static busybox -----------------------------------------------------------

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox")


def _is_static_elf(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP program header (no dynamic loader)."""
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if ident[:4] != b"\x7fELF":
                return False
            is64 = ident[4] == 2
            end = "<" if ident[5] == 1 else ">"
            if is64:
                f.seek(0x20)
                (phoff,) = struct.unpack(end + "Q", f.read(8))
                f.seek(0x36)
                phentsize, phnum = struct.unpack(end + "HH", f.read(4))
            else:
                f.seek(0x1C)
                (phoff,) = struct.unpack(end + "I", f.read(4))
                f.seek(0x2A)
                phentsize, phnum = struct.unpack(end + "HH", f.read(4))
            for i in range(phnum):
                f.seek(phoff + i * phentsize)
                (ptype,) = struct.unpack(end + "I", f.read(4))
                if ptype == 3:  # PT_INTERP
                    return False
            return True
    except (OSError, struct.error):
        return False


def find_static_busybox() -> str:
    override = os.environ.get("DOCKERVIZ_TEST_BUSYBOX")
    for p in ([override] if override else []) + list(BUSYBOX_CANDIDATES):
        if p and os.path.isfile(p) and _is_static_elf(p):
            return p
    raise ImageBuildError(
        "No statically linked busybox found (looked at "
        + ", ".join(BUSYBOX_CANDIDATES)
        + "). On Debian: apt-get install -y busybox-static (bash tests/run.sh does this)."
    )


# --- specs ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    covers: str
    dockerfile: str = ""
    files: dict = field(default_factory=dict)  # context name -> bytes, or callable returning a path
    base: str | None = None  # tag of another spec this one is FROM
    layers: int = 0  # expected len(RootFS.Layers)
    kind: str = "dockerfile"  # "dockerfile" or "debootstrap"

    def file_bytes(self, name: str) -> bytes:
        v = self.files[name]
        if callable(v):
            return Path(v()).read_bytes()
        return v


def t(name: str) -> str:
    return f"{PREFIX}/{name}"


def _fill(path: str, size: int, char: str) -> str:
    """Shell: write `size` bytes of repeated `char` lines to path (busybox yes + head)."""
    return f"yes {char} | head -c {size} > {path}"


BUSYBOX = ImageSpec(
    tag=t("busybox"),
    covers="FROM scratch + static busybox (COPY, then RUN --install -s)",
    dockerfile=(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    ),
    files={"busybox": find_static_busybox},
    layers=2,
)

PARITY_DELETE = ImageSpec(
    tag=t("parity-delete"),
    covers="deleted file; deleted directory with files from an earlier layer; "
    "rm -rf d && mkdir d in one step (opaque dir); file deleted then re-created; file overwritten twice",
    base=BUSYBOX.tag,
    dockerfile=f"""FROM {BUSYBOX.tag}
RUN mkdir -p /data/gone/sub /data/opq/inner /data/keep && \\
    {_fill('/data/file-to-delete', 11000, 'a')} && \\
    {_fill('/data/gone/a.bin', 12000, 'b')} && \\
    {_fill('/data/gone/sub/b.bin', 13000, 'c')} && \\
    {_fill('/data/opq/old.bin', 14000, 'd')} && \\
    {_fill('/data/opq/inner/old2.bin', 14500, 'd')} && \\
    {_fill('/data/overwritten.txt', 15000, 'e')} && \\
    {_fill('/data/phoenix.bin', 16000, 'f')} && \\
    {_fill('/data/keep/kept.bin', 17000, 'g')}
RUN rm /data/file-to-delete
RUN rm -rf /data/gone
RUN rm -rf /data/opq && mkdir /data/opq && {_fill('/data/opq/new.bin', 18000, 'h')}
RUN {_fill('/data/overwritten.txt', 19000, 'i')} && rm /data/phoenix.bin
RUN echo appended >> /data/overwritten.txt && {_fill('/data/phoenix.bin', 21000, 'j')}
""",
    layers=2 + 6,
)

PARITY_LINKS = ImageSpec(
    tag=t("parity-links"),
    covers="hard links (same layer, and to a lower-layer file = copy-up); symlinks "
    "(relative, absolute, dangling, retargeted); chmod-only change; duplicate content at several paths",
    base=BUSYBOX.tag,
    dockerfile=f"""FROM {BUSYBOX.tag}
RUN mkdir /links && \\
    {_fill('/links/target.bin', 21000, 'k')} && \\
    ln /links/target.bin /links/hard-same-layer && \\
    ln -s target.bin /links/sym-rel && \\
    ln -s /links/target.bin /links/sym-abs && \\
    ln -s /does/not/exist /links/dangling && \\
    {_fill('/links/mode.bin', 22000, 'l')} && \\
    {_fill('/links/dup-a', 23000, 'm')} && \\
    cp /links/dup-a /links/dup-b
RUN ln /links/target.bin /links/hard-later-layer
RUN chmod 600 /links/mode.bin
RUN mkdir /dup && cp /links/dup-a /dup/dup-c
RUN ln -sf dup-b /links/sym-rel
""",
    layers=2 + 5,
)

PARITY_REPLACE = ImageSpec(
    tag=t("parity-replace"),
    covers="directory (with a subtree) replaced by a file; file replaced by a directory; "
    "a directory that becomes a file and then a directory again",
    base=BUSYBOX.tag,
    dockerfile=f"""FROM {BUSYBOX.tag}
RUN mkdir -p /swap/dir-becomes-file/inner /swap/flip/in && \\
    {_fill('/swap/dir-becomes-file/inner/x.bin', 31000, 'n')} && \\
    {_fill('/swap/dir-becomes-file/y.bin', 32000, 'o')} && \\
    {_fill('/swap/file-becomes-dir', 33000, 'p')} && \\
    {_fill('/swap/flip/in/f.bin', 34000, 'q')}
RUN rm -rf /swap/dir-becomes-file && {_fill('/swap/dir-becomes-file', 35000, 'r')}
RUN rm /swap/file-becomes-dir && mkdir /swap/file-becomes-dir && {_fill('/swap/file-becomes-dir/z.bin', 36000, 's')}
RUN rm -rf /swap/flip && {_fill('/swap/flip', 37000, 't')}
RUN rm /swap/flip && mkdir -p /swap/flip/in && {_fill('/swap/flip/in/f.bin', 38000, 'u')}
""",
    layers=2 + 5,
)

LONG_DIR = "long-directory-name-" + "d" * 100  # 120 bytes
LONG_FILE = "long-file-name-" + "f" * 135 + ".txt"  # 154 bytes
LONG_PATH = f"/names/{LONG_DIR}/{LONG_FILE}"
# Shell words; the names are made by printf inside the RUN step, so the
# Dockerfile itself stays ASCII.
UTF8_NAME_WORD = "\"/names/caf$(printf '\\xc3\\xa9')-utf8.bin\""
NON_UTF8_NAME_WORD = "\"/names/bad-$(printf '\\xff')-name.bin\""
UTF8_NAME = "caf\u00e9-utf8.bin".encode()
NON_UTF8_NAME = b"bad-\xff-name.bin"

PARITY_NAMES = ImageSpec(
    tag=t("parity-names"),
    covers="paths and link targets longer than 100 bytes (PAX headers); a non-UTF-8 file name "
    "(byte 0xff); a UTF-8 name; a WORKDIR that creates its directory (a layer) and WORKDIR, ENV, "
    "LABEL, EXPOSE, USER, CMD and `RUN true` steps without layers; the same COPY twice "
    "(the same layer twice: a repeated layer in docker save)",
    base=BUSYBOX.tag,
    dockerfile=f"""FROM {BUSYBOX.tag}
ENV APP_HOME=/names GREETING="hello world"
LABEL org.example.purpose="parity" org.example.owner="tests"
WORKDIR /names
RUN mkdir -p /names/{LONG_DIR} && \\
    {_fill(LONG_PATH, 41000, 'v')} && \\
    ln {LONG_PATH} /names/{LONG_DIR}/hard-link-to-long-name && \\
    ln -s {LONG_PATH} /names/symlink-with-long-target && \\
    {_fill(UTF8_NAME_WORD, 42000, 'w')} && \\
    {_fill(NON_UTF8_NAME_WORD, 43000, 'x')}
RUN {_fill(LONG_PATH, 44000, 'y')}
RUN true
COPY same.txt /same.txt
WORKDIR /names
EXPOSE 8080
COPY same.txt /same.txt
WORKDIR /
USER 1000:1000
CMD ["/bin/sh"]
""",
    files={"same.txt": b"the same file copied twice gives the same layer twice\n"},
    layers=2 + 5,
)

DEBIAN = ImageSpec(
    tag=t("debian"),
    covers=f"debootstrap --variant=minbase {DEBIAN_SUITE}, docker import (one layer, ~200 MB)",
    kind="debootstrap",
    layers=1,
)

DEBIAN_APP_CONF = b"""# example service configuration
name=app
level=info
listen=127.0.0.1:8080
"""

DEBIAN_APP = ImageSpec(
    tag=t("debian-app"),
    covers="FROM debian: apt lists/docs/man removed (deleted directories), bash.bashrc appended, "
    "useradd (passwd/shadow/group rewritten), COPY + sed + chown of a config (copy-ups), a copy then removal of a binary",
    base=DEBIAN.tag,
    dockerfile=f"""FROM {DEBIAN.tag}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* /var/log/apt
RUN echo 'alias ll="ls -l"' >> /etc/bash.bashrc && echo 'export PS1="app$ "' >> /etc/bash.bashrc
RUN useradd --create-home --uid 1000 --shell /bin/bash app
COPY app.conf /etc/app/app.conf
RUN sed -i 's/^level=.*/level=debug/' /etc/app/app.conf && chown -R app:app /etc/app /home/app
RUN cp /usr/bin/perl /usr/local/bin/perl-copy && cp /usr/bin/perl /usr/local/bin/perl-copy2
RUN rm /usr/local/bin/perl-copy && chmod 700 /usr/local/bin/perl-copy2
WORKDIR /home/app
USER app
CMD ["bash"]
""",
    files={"app.conf": DEBIAN_APP_CONF},
    layers=1 + 7,
)

SPECS: dict[str, ImageSpec] = {
    s.tag: s for s in (BUSYBOX, PARITY_DELETE, PARITY_LINKS, PARITY_REPLACE, PARITY_NAMES, DEBIAN, DEBIAN_APP)
}
PARITY_IMAGES = [PARITY_DELETE.tag, PARITY_LINKS.tag, PARITY_REPLACE.tag, PARITY_NAMES.tag]
DEBIAN_IMAGES = [DEBIAN.tag, DEBIAN_APP.tag]
ALL_IMAGES = [BUSYBOX.tag, *PARITY_IMAGES, *DEBIAN_IMAGES]
SMALL_IMAGES = [BUSYBOX, PARITY_DELETE, PARITY_LINKS, PARITY_REPLACE, PARITY_NAMES]  # a few MB each


# --- building -----------------------------------------------------------------


def _existing(client, tag: str):
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def inputs_hash(client, spec: ImageSpec) -> str:
    h = hashlib.sha256()
    h.update(f"recipe {RECIPE_VERSION}\nkind {spec.kind}\ntag {spec.tag}\n".encode())
    if spec.kind == "debootstrap":
        h.update(f"debootstrap --variant=minbase {DEBIAN_SUITE}\n".encode())
    h.update(spec.dockerfile.encode())
    for name in sorted(spec.files):
        h.update(f"\nfile {name} ".encode() + hashlib.sha256(spec.file_bytes(name)).hexdigest().encode())
    if spec.base:
        base = _existing(client, spec.base)
        h.update(f"\nbase {base.id if base else 'missing'}".encode())
    return "sha256:" + h.hexdigest()


def _context_tar(spec: ImageSpec) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = {"Dockerfile": (spec.dockerfile.encode(), 0o644)}
        for name in spec.files:
            entries[name] = (spec.file_bytes(name), 0o755 if name == "busybox" else 0o644)
        for name, (data, mode) in sorted(entries.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = CONTEXT_MTIME
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _labels(digest: str) -> dict:
    return {INPUTS_LABEL: digest, TEST_LABEL: "1"}


def _dockerfile_build(client, spec: ImageSpec, digest: str):
    ctx = _context_tar(spec)
    log: list[str] = []
    image_id = None
    error = None
    stream = client.api.build(
        fileobj=ctx,
        custom_context=True,
        tag=spec.tag,
        network_mode="none",
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        labels=_labels(digest),
    )
    for msg in stream:
        if "stream" in msg:
            line = msg["stream"].rstrip("\n")
            if line.strip():
                log.append(line)
        if "aux" in msg and isinstance(msg["aux"], dict) and "ID" in msg["aux"]:
            image_id = msg["aux"]["ID"]
        if "error" in msg or "errorDetail" in msg:
            error = msg.get("error") or msg["errorDetail"].get("message")
    if error or image_id is None:
        tail = "\n".join(log[-30:])
        raise ImageBuildError(f"building {spec.tag} failed: {error or 'no image id in the build output'}\n{tail}")
    return client.images.get(spec.tag)


def build(client, spec: ImageSpec | str, *, force: bool = False):
    """Build (or reuse) one test image and its base; return the docker-py Image."""
    if isinstance(spec, str):
        spec = SPECS[spec]
    if spec.base:
        build(client, SPECS[spec.base], force=False)
    digest = inputs_hash(client, spec)
    img = _existing(client, spec.tag)
    if img is not None and not force and (img.labels or {}).get(INPUTS_LABEL) == digest:
        return img
    _log(f"building {spec.tag}")
    t0 = time.monotonic()
    if spec.kind == "debootstrap":
        img = _import_debian(client, spec, digest)
    else:
        img = _dockerfile_build(client, spec, digest)
    _log(f"built {spec.tag} ({img.short_id}) in {time.monotonic() - t0:.1f} s")
    return img


def build_all(client, *, debian: bool = True, force: bool = False) -> dict:
    """Build every test image (busybox, parity, and with debian=True the Debian ones)."""
    tags = [BUSYBOX.tag, *PARITY_IMAGES] + (DEBIAN_IMAGES if debian else [])
    return {tag: build(client, SPECS[tag], force=force) for tag in tags}


# --- Debian root ----------------------------------------------------------------


def debian_mirror() -> str | None:
    """The Debian mirror apt uses here (DOCKERVIZ_DEBIAN_MIRROR overrides it); None: debootstrap's own default."""
    override = os.environ.get("DOCKERVIZ_DEBIAN_MIRROR")
    if override:
        return override
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for path in files:
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        if path.endswith(".sources"):  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.lstrip().startswith("#"):
                        k, v = line.split(":", 1)
                        fields[k.strip().lower()] = v.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if DEBIAN_SUITE not in fields.get("suites", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    if "debian" in uri and "security" not in uri:
                        return uri
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(parts) >= 3 and parts[0] == "deb" and parts[2] == DEBIAN_SUITE:
                    if "debian" in parts[1] and "security" not in parts[1]:
                        return parts[1]
    return None


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _unmount_under(root: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside root (deepest first)."""
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    prefix = str(root.resolve()) + "/"
    for m in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False, stdin=subprocess.DEVNULL)


def debian_rootfs_tar(cache_dir: Path = CACHE_DIR) -> Path:
    """A tarball of a debootstrap minbase root, cached in cache_dir (about 30 s the first time)."""
    out = cache_dir / f"debian-{DEBIAN_SUITE}-minbase.tar"
    if out.exists():
        return out
    with _file_lock(cache_dir / ".debootstrap.lock"):
        if out.exists():
            return out
        debootstrap = shutil.which("debootstrap") or next(
            (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.path.exists(p)), None
        )
        if debootstrap is None:
            raise ImageBuildError("debootstrap is not installed (apt-get install -y debootstrap; bash tests/run.sh does this)")
        if os.geteuid() != 0:
            raise ImageBuildError("debootstrap needs root to build the Debian test root")
        root = cache_dir / f"rootfs-{DEBIAN_SUITE}.tmp-{os.getpid()}"
        log_path = cache_dir / "debootstrap.log"
        mirror = debian_mirror()
        cmd = [debootstrap, "--variant=minbase", DEBIAN_SUITE, str(root)] + ([mirror] if mirror else [])
        _log(f"$ {' '.join(cmd)} (log: {log_path})")
        t0 = time.monotonic()
        try:
            with open(log_path, "wb") as log:
                try:
                    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       timeout=DEBOOTSTRAP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise ImageBuildError(f"debootstrap did not finish within {DEBOOTSTRAP_TIMEOUT} s; see {log_path}") from None
            if r.returncode != 0:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
                raise ImageBuildError(f"debootstrap failed (exit {r.returncode}, mirror {mirror}):\n{tail}")
            _unmount_under(root)
            _log(f"debootstrap done in {time.monotonic() - t0:.1f} s; packing {out}")
            part = out.with_name(out.name + ".part")
            subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(part), "."],
                           check=True, stdin=subprocess.DEVNULL, timeout=600)
            os.replace(part, out)
        finally:
            _unmount_under(root)
            if root.exists():
                shutil.rmtree(root, ignore_errors=True)
    return out


def _import_debian(client, spec: ImageSpec, digest: str):
    tarball = debian_rootfs_tar()
    repo, _, tag = spec.tag.partition(":")
    changes = ['CMD ["bash"]', f"LABEL {INPUTS_LABEL}={digest}", f"LABEL {TEST_LABEL}=1"]
    _log(f"importing {tarball} as {spec.tag}")
    client.api.import_image_from_file(str(tarball), repository=repo, tag=tag or "latest", changes=changes)
    img = client.images.get(spec.tag)
    if (img.labels or {}).get(INPUTS_LABEL) != digest:
        raise ImageBuildError(f"imported {spec.tag} but its labels are {img.labels!r}")
    return img


# --- archives -------------------------------------------------------------------


def save_archive(client, tag: str, path) -> Path:
    """Write `docker save TAG` to path (atomically); return the path."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    stream = client.api.get_image(tag, chunk_size=1 << 20)
    with open(part, "wb") as f:
        for chunk in stream:
            f.write(chunk)
    os.replace(part, path)
    return path


def _open_layer_stream(fileobj) -> tarfile.TarFile:
    """A streaming TarFile over a layer blob: plain tar, gzip or zstd (by magic)."""
    head = fileobj.read(4)
    fileobj.seek(0)
    if head[:2] == b"\x1f\x8b":
        import gzip

        fileobj = gzip.GzipFile(fileobj=fileobj)
    elif head == b"\x28\xb5\x2f\xfd":
        import zstandard

        fileobj = zstandard.ZstdDecompressor().stream_reader(fileobj)
    return tarfile.open(fileobj=fileobj, mode="r|")


def saved_layers(archive) -> Iterator[tuple[int, str, tarfile.TarFile]]:
    """Yield (index, diff_id, streaming TarFile) for each layer of a `docker save`
    archive, in manifest order (a repeated layer is yielded each time it occurs).

    Works for the legacy layout (<id>/layer.tar, repeats as symlinks) and the
    OCI layout of Engine 25+ (manifest.json pointing into blobs/).
    """
    import json

    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        if len(manifest) != 1:
            raise ValueError(f"{archive}: expected one image in manifest.json, found {len(manifest)}")
        entry = manifest[0]
        config = json.load(outer.extractfile(entry["Config"]))
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(entry["Layers"]):
            raise ValueError(f"{archive}: {len(entry['Layers'])} layers but {len(diff_ids)} diff_ids")
        for i, (name, diff_id) in enumerate(zip(entry["Layers"], diff_ids)):
            f = outer.extractfile(name)  # follows the symlink of a repeated layer
            if f is None:
                raise ValueError(f"{archive}: layer {name} is not a file")
            yield i, diff_id, _open_layer_stream(f)
