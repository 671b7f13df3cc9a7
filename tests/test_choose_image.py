"""Choosing one image from a source holding several: tags, a nested multi-platform index, attestations.

The layout is written here (an index naming two tags, one of them a nested
index of amd64 and arm64 images with an attestation beside them, as BuildKit
writes); the real producers' multi-image sources are in test_producers.py.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

import dockerviz
from dockerviz.errors import ImageChoiceError
from dockerviz.sources.choose import host_platform, normalise_platform
from support import REPO_ROOT, synth

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _blob(files: dict, data: bytes, media: str, **extra) -> dict:
    files["blobs/sha256/" + hashlib.sha256(data).hexdigest()] = data
    return {"mediaType": media, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data), **extra}


def _image(files: dict, size: int, arch: str) -> dict:
    layer = synth.layer_tar([("file", f"data-{arch}-{size}", size)])
    config = synth.config_for([layer])
    config["architecture"] = arch
    return _blob(files, json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": _blob(files, json.dumps(config).encode(),
                                                    "application/vnd.oci.image.config.v1+json"),
                                    "layers": [_blob(files, layer, "application/vnd.oci.image.layer.v1.tar")]}
                                   ).encode(), OCI_MANIFEST)


@pytest.fixture
def layout(tmp_path):
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    amd, arm = _image(files, 1000, "amd64"), _image(files, 2000, "arm64")
    amd["platform"] = {"os": "linux", "architecture": "amd64"}
    arm["platform"] = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    statement = _blob(files, b'{"_type":"https://in-toto.io/Statement/v0.1"}', "application/vnd.in-toto+json")
    attestation_body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": _blob(files, b"{}", "application/vnd.oci.image.config.v1+json"),
                        "layers": [statement]}
    attestation = _blob(files, json.dumps(attestation_body).encode(), OCI_MANIFEST,
                        platform={"os": "unknown", "architecture": "unknown"},
                        annotations={"vnd.docker.reference.type": "attestation-manifest",
                                     "vnd.docker.reference.digest": amd["digest"]})
    multi = _blob(files, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                     "manifests": [amd, arm, attestation]}).encode(), OCI_INDEX,
                  annotations={"org.opencontainers.image.ref.name": "app:2"})
    single = dict(_image(files, 300, "amd64"), annotations={"org.opencontainers.image.ref.name": "app:1"})
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [single, multi]}).encode()
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "dockerviz", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)


def test_images_lists_tags_platforms_and_attestations(layout):
    df = dockerviz.images(str(layout))
    assert list(df["kind"]) == ["image", "image", "image", "attestation"]
    assert list(df["platform"]) == ["linux/amd64", "linux/amd64", "linux/arm64/v8", ""]
    assert list(df["ref"][:3]) == ["app:1", "app:2", "app:2"]
    assert df["attests"][3] == df["digest"][1]
    out = json.loads(_cli("images", str(layout), "--json").stdout)
    assert [r["digest"] for r in out] == list(df["digest"])


def test_choose_by_ref_and_platform(layout):
    assert dockerviz.analyze(str(layout), image="app:1", cache=False).size_bytes == 300
    assert dockerviz.analyze(str(layout), image="app:2", platform="linux/arm64", cache=False).size_bytes == 2000
    assert dockerviz.analyze(str(layout), image="app:2", platform="arm64/v8", cache=False).size_bytes == 2000
    default = dockerviz.analyze(str(layout), image="app:2", cache=False)
    if normalise_platform(host_platform())[1] == "amd64":
        assert default.size_bytes == 1000 and "host's platform" in default.chosen
    r = _cli("analyze", str(layout), "--image", "app:2", "--platform", "linux/arm64", "--json", "-", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["image"]["sizeBytes"] == 2000
    assert "took app:2 (linux/arm64/v8) of 3 images" in r.stderr


def test_missing_choice_names_the_choices(layout):
    with pytest.raises(ImageChoiceError, match=r"no image 'app:3'.*app:1 \(linux/amd64\), app:2 \(linux/amd64\)"):
        dockerviz.analyze(str(layout), image="app:3", cache=False)
    with pytest.raises(ImageChoiceError, match=r"no linux/s390x image.*app:2 \(linux/arm64/v8\)"):
        dockerviz.analyze(str(layout), platform="linux/s390x", cache=False)
    r = _cli("analyze", str(layout), "--platform", "linux/riscv64", "--no-cache")
    assert r.returncode == 2 and "app:1 (linux/amd64)" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ImageChoiceError, match="OS/ARCH"):
        dockerviz.analyze(str(layout), platform="linux//", cache=False)


def test_daemon_image_platforms_from_an_inspect_answer():
    """Image inspect as API 1.48+ answers on a containerd-store daemon (`Manifests`), and as older ones do."""
    from dockerviz.sources.daemon import daemon_candidates

    inspect = {"Id": "sha256:" + "a" * 64, "RepoTags": ["app:2"], "Os": "linux", "Architecture": "amd64",
               "Manifests": [
                   {"ID": "sha256:" + "1" * 64, "Kind": "image", "Size": {"Content": 1000},
                    "ImageData": {"Platform": {"os": "linux", "architecture": "amd64"}}},
                   {"ID": "sha256:" + "2" * 64, "Kind": "image", "Size": {"Content": 2000},
                    "ImageData": {"Platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}},
                   {"ID": "sha256:" + "3" * 64, "Kind": "attestation",
                    "AttestationData": {"For": "sha256:" + "1" * 64}}]}
    found = daemon_candidates(inspect)
    assert [(c.kind, c.platform, c.size) for c in found] == [
        ("image", "linux/amd64", 1000), ("image", "linux/arm64/v8", 2000), ("attestation", "", None)]
    assert found[2].attests == found[0].digest
    old = daemon_candidates({k: v for k, v in inspect.items() if k != "Manifests"} | {"Size": 5})
    assert [(c.refs, c.platform, c.size) for c in old] == [(["app:2"], "linux/amd64", 5)]
    # an image tagged several times is named as it was asked for, whatever order the daemon lists its tags in
    tagged = {k: v for k, v in inspect.items() if k != "Manifests"} | {"RepoTags": ["reg:5000/x/bb:1", "app:2"]}
    assert daemon_candidates(tagged, "docker.io/library/app:2")[0].label() == "app:2 (linux/amd64)"
    assert daemon_candidates(tagged)[0].label() == "reg:5000/x/bb:1 (linux/amd64)"


def test_platform_of_a_daemon_image(test_images):
    from dockerviz.errors import SourceError
    from support import images

    host = host_platform()
    img = dockerviz.analyze(images.BUSYBOX.tag, platform=host)
    assert img.size_bytes > 0
    other = "linux/s390x" if normalise_platform(host)[1] != "s390x" else "linux/amd64"
    with pytest.raises(ImageChoiceError, match=f"no {other} image.*{images.BUSYBOX.tag}:latest \\({host}\\)"):
        dockerviz.analyze(images.BUSYBOX.tag, platform=other)
    with pytest.raises(SourceError, match="chooses among the images of an archive"):
        dockerviz.analyze(images.BUSYBOX.tag, image="other:1")
