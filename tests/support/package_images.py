"""Test images for file contents and package inventories, built locally with no network.

- dockerviz-test/packages: FROM the debootstrap Debian image. Local .deb
  packages (made here with dpkg-deb) installed with `dpkg -i` in one layer,
  one upgraded in a later layer and one removed (`dpkg -r`) in another;
  Python distributions (wheels made here with zipfile, unpacked into
  site-packages as a wheel installer does) in two layers, one upgraded and
  one removed; an npm node_modules tree (with a scoped package and a nested
  copy at another version), one package upgraded later; a config edited (a text diff), a file whose
  mode alone changes (attribute-only), and hostile contents (HTML, control
  characters, a 200 kB line, invalid UTF-8, a name with markup).
- dockerviz-test/apk: FROM busybox, an apk database rewritten by a later layer.
- dockerviz-test/bigfile: FROM busybox, one 100 MB file (the size cap).

Every input is deterministic (fixed mtimes, SOURCE_DATE_EPOCH), so images.build reuses an image whose inputs
did not change.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
import zipfile
from functools import cache
from pathlib import Path

from . import images

SITE = "usr/local/lib/python3.11/site-packages"
EPOCH = images.CONTEXT_MTIME

# name, version, installed size (KiB)
DEBS_1 = [("dvz-alpha", "1.0-1", 12), ("dvz-beta", "2.0-1", 7), ("dvz-gamma", "1:0.5~rc1-1", 3)]
DEBS_2 = [("dvz-alpha", "1.0-2", 13)]
REMOVED_DEB = "dvz-beta"

WHEELS_1 = [("dvz-widget", "1.0"), ("dvz-tool", "2.0"), ("dvz_legacy", "0.9.post1")]
WHEELS_2 = [("dvz-widget", "1.10"), ("dvz-extra", "0.3rc1")]  # 1.10 > 1.9 > 1.0 by PEP 440, not by text
REMOVED_WHEEL = "dvz-tool"

NPM_1 = {"node_modules/left-pad": ("left-pad", "1.3.0"), "node_modules/@dvz/util": ("@dvz/util", "2.0.0"),
         "node_modules/@dvz/util/node_modules/left-pad": ("left-pad", "1.1.0-beta.2")}
NPM_2 = {"node_modules/left-pad": ("left-pad", "1.10.0")}

APK_1 = [("musl", "1.2.4-r1", 622592), ("busybox", "1.36.1-r5", 946176), ("zlib", "1.3-r0", 98304)]
APK_2 = [("musl", "1.2.4-r2", 622592), ("busybox", "1.36.1-r5", 946176)]

APP_CONF_1 = b"# app\nname=app\nlevel=info\nlisten=127.0.0.1:8080\nworkers=2\n"
HOSTILE_NAME = "<img src=x onerror=alert(1)>.txt"
HOSTILE_TEXT = (b"<script>window.__pwned = 1</script><b>bold?</b>\n"
                b"\x1b[31mred\x1b[0m bell\x07 nul-free control chars \x01\x02\n"
                + b"x" * 200_000 + b"\n"
                b"invalid utf-8: \xff\xfe\xc3\x28 end\n")


def _tar(files: dict, *, modes: dict | None = None) -> bytes:
    """A tar of {path: bytes} with fixed metadata (ADD unpacks it)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = EPOCH
                    tar.addfile(info)
            data = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = (modes or {}).get(path, 0o644)
            info.mtime = EPOCH
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _deb(name: str, version: str, kib: int) -> bytes:
    with tempfile.TemporaryDirectory(prefix="dvz-deb-") as tmp:
        root = Path(tmp) / "pkg"
        (root / "DEBIAN").mkdir(parents=True)
        (root / "usr/share/dvz").mkdir(parents=True)
        (root / "DEBIAN/control").write_text(
            f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: tests <t@example.org>\n"
            f"Installed-Size: {kib}\nSection: misc\nPriority: optional\n"
            f"Description: dockerviz test package {name}\n a package built for the test suite\n")
        (root / f"usr/share/dvz/{name}.txt").write_text(f"{name} {version}\n")
        for p in root.rglob("*"):
            os.utime(p, (EPOCH, EPOCH))
        out = Path(tmp) / "out.deb"
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)], check=True,
                       capture_output=True, env=env)
        return out.read_bytes()


def wheel(name: str, version: str) -> bytes:
    """A minimal pure-Python wheel (PEP 427): a module and its .dist-info."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"Summary: dockerviz test distribution\n\nA long description.\n").encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: dockerviz-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{p},,\n" for p in files) + f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p, data in files.items():
            z.writestr(zipfile.ZipInfo(p, date_time=(2023, 11, 14, 0, 0, 0)), data)
    return buf.getvalue()


def _installed(wheels) -> bytes:
    """Wheels unpacked as an installer lays them into site-packages (a tar ADD unpacks)."""
    files = {}
    for name, version in wheels:
        with zipfile.ZipFile(io.BytesIO(wheel(name, version))) as z:
            for info in z.infolist():
                files[info.filename] = z.read(info)
    return _tar(files)


def _npm(tree: dict) -> bytes:
    files = {"package.json": json.dumps({"name": "app", "version": "1.0.0", "private": True}).encode()}
    for folder, (name, version) in tree.items():
        files[f"{folder}/package.json"] = json.dumps({"name": name, "version": version}, indent=2).encode()
        files[f"{folder}/index.js"] = b"module.exports = 1;\n"
    return _tar(files)


def _apk(pkgs) -> bytes:
    text = "".join(f"C:Q1{'A' * 27}=\nP:{n}\nV:{v}\nA:x86_64\nS:{s // 3}\nI:{s}\nT:{n}\nL:MIT\n\n" for n, v, s in pkgs)
    return _tar({"lib/apk/db/installed": text.encode()})


@cache
def packages_spec() -> images.ImageSpec:
    files = {f"l1/{n}_{v.split(':')[-1]}.deb": _deb(n, v, k) for n, v, k in DEBS_1}
    files.update({f"l2/{n}_{v.split(':')[-1]}.deb": _deb(n, v, k) for n, v, k in DEBS_2})
    files.update({"site1.tar": _installed(WHEELS_1), "site2.tar": _installed(WHEELS_2),
                  "npm1.tar": _npm(NPM_1), "npm2.tar": _npm(NPM_2), "app.conf": APP_CONF_1,
                  "hostile.tar": _tar({f"srv/{HOSTILE_NAME}": HOSTILE_TEXT, "srv/hostile.txt": HOSTILE_TEXT})})
    widget_old = "dvz_widget-1.0.dist-info"
    tool = "dvz_tool-2.0.dist-info"
    dockerfile = f"""FROM {images.DEBIAN.tag}
COPY l1/ /tmp/l1/
RUN dpkg -i /tmp/l1/*.deb && rm -rf /tmp/l1 && mkdir -p /etc/dvz && echo mode > /etc/dvz/mode.conf
COPY app.conf /etc/dvz/app.conf
ADD site1.tar /{SITE}/
ADD npm1.tar /app/
COPY l2/ /tmp/l2/
RUN dpkg -i /tmp/l2/*.deb && rm -rf /tmp/l2 /{SITE}/{widget_old} /{SITE}/dvz_widget
ADD site2.tar /{SITE}/
ADD npm2.tar /app/
RUN sed -i -e 's/^level=info/level=debug/' -e '/^workers/d' /etc/dvz/app.conf && echo 'tls=on' >> /etc/dvz/app.conf
RUN chmod 600 /etc/dvz/mode.conf
RUN dpkg -r {REMOVED_DEB} && rm -rf /{SITE}/{tool} /{SITE}/dvz_tool
ADD hostile.tar /
"""
    return images.ImageSpec(tag=images.t("packages"), covers="package databases and file contents", base=images.DEBIAN.tag,
                            dockerfile=dockerfile, files=files, layers=1 + 13)


@cache
def apk_spec() -> images.ImageSpec:
    """An apk database rewritten by a later layer (on busybox: Debian's /lib is a link an ADD would replace)."""
    return images.ImageSpec(
        tag=images.t("apk"), covers="an apk database, one package upgraded and one removed", base=images.BUSYBOX.tag,
        dockerfile=f"FROM {images.BUSYBOX.tag}\nADD apk1.tar /\nRUN mkdir -p /tmp/x\nADD apk2.tar /\n",
        files={"apk1.tar": _apk(APK_1), "apk2.tar": _apk(APK_2)}, layers=2 + 3)


BIGFILE_SIZE = 100 * 1024 * 1024
BIGFILE = images.ImageSpec(
    tag=images.t("bigfile"), covers="one 100 MB file", base=images.BUSYBOX.tag,
    dockerfile=f"FROM {images.BUSYBOX.tag}\nRUN head -c {BIGFILE_SIZE} /dev/zero > /big.bin && echo small > /small.txt\n",
    layers=3)


def build_packages(client):
    return images.build(client, packages_spec())


def build_apk(client):
    return images.build(client, apk_spec())


def build_bigfile(client):
    return images.build(client, BIGFILE)


def layer_images(client, tag: str) -> list:
    """For each layer k (base first), an image of this daemon whose layers are exactly the first k+1:
    the classic builder commits every step as an image, and `docker history` names them."""
    by_count: dict = {}
    for h in client.api.history(tag):
        ident = h.get("Id") or "<missing>"
        if ident == "<missing>":
            continue
        layers = client.api.inspect_image(ident)["RootFS"]["Layers"]
        by_count.setdefault(len(layers), ident)  # newest first: keep the image that made the layer... any will do
    n = len(client.api.inspect_image(tag)["RootFS"]["Layers"])
    return [by_count.get(k) for k in range(1, n + 1)]


def _cp_tar(client, image: str, path: str) -> tarfile.TarFile:
    container = client.api.create_container(image, command=["true"], labels={images.TEST_LABEL: "1"},
                                            network_disabled=True)
    try:
        stream, _ = client.api.get_archive(container["Id"], path)
        data = b"".join(stream)
    finally:
        client.api.remove_container(container["Id"], force=True)
    return tarfile.open(fileobj=io.BytesIO(data))


def docker_cp_bytes(client, image: str, path: str) -> bytes:
    """The bytes of one file as `docker cp` gives it (through a container created, never started)."""
    with _cp_tar(client, image, path) as tar:
        member = tar.next()
        return tar.extractfile(member).read()


def diff_u_hunks(old: bytes, new: bytes, folder: Path) -> list:
    """The hunks GNU `diff -u` prints between two byte strings (its two header lines carry timestamps)."""
    (folder / "old").write_bytes(old)
    (folder / "new").write_bytes(new)
    r = subprocess.run(["diff", "-u", str(folder / "old"), str(folder / "new")], capture_output=True)
    assert r.returncode == 1
    return r.stdout.decode().splitlines()[2:]


def docker_cp_tree(client, image: str, path: str, dest: Path) -> Path:
    """Copy a folder of a container of `image` to dest (a test oracle's working copy)."""
    with _cp_tar(client, image, path) as tar:
        tar.extractall(dest, filter="data")
    return dest / Path(path).name
