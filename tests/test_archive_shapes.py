"""Archive shapes real producers write: kaniko, jib, old `docker save`, dive's own OCI test images.

dive's test images (../shared/fixtures/dive-peer-images) must give exactly the
numbers dive 0.13.1 recorded beside them; the jib and pre-1.10 shapes are made
here from a real image's archive the way those producers lay them out.
"""

from __future__ import annotations

import io
import json
import tarfile

import pytest

import dockerviz
from dockerviz.errors import ArchiveError, UnsafePathError
from dockerviz.model import entries as E
from support import synth
from support.dive import run_dive, summarize
from test_parity_dive import assert_same_numbers, dockerviz_export

PEER_NAMES = ["test-kaniko-image", "test-oci-uncompressed-image", "test-oci-gzip-image", "test-oci-zstd-image",
              "test-oci-estargz-image"]


def _recorded(doc: dict) -> dict:
    """A .dive.json (dive's export, trimmed) in summarize()'s shape."""
    return {
        "layerSizeBytes": doc["layerSizes"],
        "sizeBytes": doc["image"]["sizeBytes"],
        "inefficientBytes": doc["image"]["inefficientBytes"],
        "efficiencyScore": doc["image"]["efficiencyScore"],
        "inefficientFiles": sorted((f, c, s) for f, c, s in doc["fileReference"]),
    }


@pytest.mark.parametrize("name", PEER_NAMES)
def test_dive_peer_image_numbers(shared_fixtures, name, tmp_path):
    folder = shared_fixtures / "dive-peer-images"
    expected = _recorded(json.loads((folder / f"{name}.dive.json").read_text()))
    assert_same_numbers(summarize(dockerviz_export(folder / f"{name}.tar", tmp_path)), expected)


def test_kaniko_commands_as_dive_exports_them(shared_fixtures, tmp_path):
    archive = shared_fixtures / "dive-peer-images" / "test-kaniko-image.tar"
    theirs = run_dive(archive)
    ours = dockerviz_export(archive, tmp_path)
    assert [layer["command"] for layer in ours["layer"]] == [layer["command"] for layer in theirs["layer"]]
    full = [layer["createdBy"] for layer in ours["layer"]]
    assert full[0].startswith("/bin/sh -c #(nop) ADD file:") and ours["layer"][0]["command"] == full[0][11:]


@pytest.mark.parametrize("root", ["/", "./", ".", "//", "/./"])
def test_root_entry_is_the_root(root):
    assert E.normalise(root.encode()) == ""


@pytest.mark.parametrize("name", ["/etc/passwd", "/..", "../", "./../x", "/../etc"])
def test_escapes_still_refused(name):
    with pytest.raises(UnsafePathError):
        E.normalise(name.encode())


def _rewrite(archive: bytes, change) -> bytes:
    """A copy of a tar with change(name, data) -> (name, data) | None applied to each regular member."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            if m.isfile():
                changed = change(m.name, data)
                if changed is None:
                    continue
                m.name, data = changed
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _layers():
    return [synth.layer_tar([("dir", "app"), ("file", "app/a", 300)]),
            synth.layer_tar([("file", "app/a", 500), ("file", "app/b", 10)])]


def test_jib_lower_case_manifest_keys(tmp_path):
    plain = synth.legacy_archive(_layers(), tags=("jib:1",))

    def lower(name, data):
        if name != "manifest.json":
            return name, data
        (m,) = json.loads(data)
        return name, json.dumps([{"config": m["Config"], "repoTags": m["RepoTags"], "layers": m["Layers"]}]).encode()

    jib = synth.write(tmp_path / "jib.tar", _rewrite(plain, lower))
    ref = dockerviz.analyze(synth.write(tmp_path / "plain.tar", plain))
    img = dockerviz.analyze(jib)
    assert img.dive.layer_sizes == ref.dive.layer_sizes and img.inefficient_bytes == ref.inefficient_bytes == 800
    assert img.reclaimable_bytes == 300
    assert img.name == "jib:1"


def test_pre_1_10_save_archive_is_named(tmp_path):
    layer = synth.layer_tar([("file", "x", 3)])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("abc123/VERSION", b"1.0"), ("abc123/json", b'{"id":"abc123"}'),
                           ("abc123/layer.tar", layer), ("repositories", b'{"old":{"latest":"abc123"}}')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ArchiveError, match=r"before 1\.10.*save it again"):
        dockerviz.analyze(synth.write(tmp_path / "old.tar", buf.getvalue()))


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_compressed_whole_archive(tmp_path, compress):
    plain = synth.legacy_archive(_layers())
    if compress == "gzip":
        import gzip

        packed = gzip.compress(plain)
    else:
        import zstandard

        packed = zstandard.ZstdCompressor().compress(plain)
    ref = dockerviz.analyze(synth.write(tmp_path / "plain.tar", plain), cache=False)
    img = dockerviz.analyze(synth.write(tmp_path / f"packed.tar.{compress}", packed), cache=False)
    assert (img.dive.layer_sizes, img.reclaimable_bytes, img.id) == (ref.dive.layer_sizes, 300, ref.id)


def test_empty_layer_history_entries(tmp_path):
    history = [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
               {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
               {"created_by": "/bin/sh -c echo b > /app/b"},
               {"created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True}]
    img = dockerviz.analyze(synth.write(tmp_path / "a.tar", synth.legacy_archive(_layers(), history)), cache=False)
    layers = img.to_dive_json()["layer"]
    assert [layer["command"] for layer in layers] == ["#(nop) ADD file:abc in / ", "echo b > /app/b"]
    assert [layer["createdBy"] for layer in layers] == [history[0]["created_by"], history[2]["created_by"]]
    assert len(img.steps) == 4 and [s.layer for s in img.steps] == [0, None, 1, None]


DOCKER_TYPES = {"application/vnd.oci.image.manifest.v1+json": "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.config.v1+json": "application/vnd.docker.container.image.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip"}


def test_docker_media_types_and_a_nested_manifest_list_in_an_oci_layout(tmp_path):
    """An OCI layout whose index points at a Docker manifest list of Docker v2 manifests (what a registry
    copy of a Docker Hub image holds), against the same image with OCI types."""
    import hashlib

    files = synth.oci_files(_layers(), compress="gzip")
    index = json.loads(files["index.json"])
    desc = next(d for d in index["manifests"] if "io.containerd.image.name" in d.get("annotations", {}))
    old = desc["digest"].split(":")[1]
    manifest = files.pop("blobs/sha256/" + old).decode()
    for oci, docker in DOCKER_TYPES.items():
        manifest = manifest.replace(oci, docker)
    data = manifest.encode()
    files["blobs/sha256/" + hashlib.sha256(data).hexdigest()] = data
    mlist = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                        "manifests": [{"mediaType": DOCKER_TYPES["application/vnd.oci.image.manifest.v1+json"],
                                       "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data),
                                       "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    files["blobs/sha256/" + hashlib.sha256(mlist).hexdigest()] = mlist
    desc.update(mediaType="application/vnd.docker.distribution.manifest.list.v2+json",
                digest="sha256:" + hashlib.sha256(mlist).hexdigest(), size=len(mlist))
    files["index.json"] = json.dumps(index).encode()
    for name, blob in files.items():
        (tmp_path / "docker" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "docker" / name).write_bytes(blob)
    ref = dockerviz.analyze(synth.write_oci_layout(tmp_path / "oci", _layers(), compress="gzip"), cache=False)
    img = dockerviz.analyze(str(tmp_path / "docker"), cache=False)
    assert (img.dive.layer_sizes, img.reclaimable_bytes) == (ref.dive.layer_sizes, 300)
    assert dockerviz.images(str(tmp_path / "docker"))["kind"].tolist() == ["attestation", "image"]


def test_docker_25_archive_with_manifest_json_and_index(tmp_path):
    files = synth.oci_files(_layers())
    index = json.loads(files["index.json"])
    desc = next(d for d in index["manifests"] if "io.containerd.image.name" in d.get("annotations", {}))
    manifest = json.loads(files["blobs/sha256/" + desc["digest"].split(":")[1]])
    files["manifest.json"] = json.dumps([{
        "Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1], "RepoTags": ["synthetic:latest"],
        "Layers": ["blobs/sha256/" + d["digest"].split(":")[1] for d in manifest["layers"]]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = synth.write(tmp_path / "docker25.tar", buf.getvalue())
    img = dockerviz.analyze(path, cache=False)
    assert img.name == "synthetic:latest" and img.reclaimable_bytes == 300
    assert img.layer_ids == [d["digest"].split(":")[1] for d in manifest["layers"]]
    assert dockerviz.analyze(path, platform="linux/amd64", cache=False).dive.layer_sizes == img.dive.layer_sizes
