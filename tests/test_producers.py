"""Images written by other tools, from Debian's packages: skopeo, umoci, podman, buildah.

Each output is read by dockerviz and compared with dive and with the
reclaimable-bytes oracle (test_reclaimable_oracle.py: layer-tar bytes minus
what `docker export` shows) on the same image. dive is run on a shape it reads
correctly: the daemon image, or a `docker-archive:` copy; never an OCI archive
without manifest.json, where its numbers are wrong and change from run to run.
"""

from __future__ import annotations

import json
import os
import tarfile

import pytest

import dockerviz
from dockerviz.errors import ImageChoiceError
from support import images, producers
from support.dive import run_dive, summarize
from test_parity_dive import assert_same_numbers
from test_reclaimable_oracle import INIT_LAYER_FILES, exported_bytes, image_bytes_at, layers_bytes

TAG = images.PARITY_DELETE.tag + ":latest"  # busybox plus deletes, an opaque dir, overwrites: every kind of waste


def _numbers(img) -> dict:
    return summarize(img.to_dive_json())


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("producers")


@pytest.fixture(scope="module")
def loaded(docker_client, work):
    """loaded(src, name) -> tag: a producer's image copied into the daemon by skopeo (removed afterwards)."""
    made = []

    def load(src: str, name: str, arch: str | None = None) -> str:
        tag = f"dockerviz-test/producers-{name}:{os.getpid()}"
        producers.skopeo_copy(src, f"docker-daemon:{tag}", arch=arch)
        made.append(tag)
        return tag

    yield load
    for tag in made:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:
            pass


@pytest.fixture(scope="module")
def oracle(docker_client, work):
    """oracle(tag) -> reclaimable bytes by tarfile alone, from the daemon's save and export of tag."""
    done = {}

    def compute(tag: str) -> int:
        if tag not in done:
            folder = work / f"oracle-{len(done)}"
            folder.mkdir()
            archive = images.save_archive(docker_client, tag, folder / "saved.tar")
            in_final = exported_bytes(docker_client, tag, folder) + image_bytes_at(archive, INIT_LAYER_FILES)
            done[tag] = layers_bytes(archive) - in_final
        return done[tag]

    return compute


@pytest.fixture(scope="module")
def reference(test_images, oracle):
    """dive's numbers and the oracle's on the daemon image every producer copies."""
    return summarize(run_dive(TAG)), oracle(TAG)


def _layer_media_types(layout_index: dict, read_blob) -> list:
    manifest = json.loads(read_blob(layout_index["manifests"][0]["digest"]))
    return [d["mediaType"] for d in manifest["layers"]]


def _blob_reader_dir(root):
    return lambda digest: (root / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def _blob_reader_tar(path):
    def read(digest):
        with tarfile.open(path) as tar:
            return tar.extractfile(f"blobs/sha256/{digest.split(':')[1]}").read()
    return read


@pytest.mark.parametrize("dest", ["oci", "oci-archive"])
@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_skopeo_copies(reference, work, dest, compression):
    out = work / f"skopeo-{compression}{'.tar' if dest == 'oci-archive' else ''}"
    producers.skopeo_copy(f"docker-daemon:{TAG}", f"{dest}:{out}:parity", "--dest-compress",
                          "--dest-compress-format", compression)
    if dest == "oci":
        index, read = json.loads((out / "index.json").read_text()), _blob_reader_dir(out)
    else:
        with tarfile.open(out) as tar:
            assert "manifest.json" not in tar.getnames()  # the shape dive misreads
            index = json.load(tar.extractfile("index.json"))
        read = _blob_reader_tar(out)
    assert all(m.endswith("+" + compression) for m in _layer_media_types(index, read))
    dive_numbers, reclaimable = reference
    img = dockerviz.analyze(str(out), cache=False)
    assert_same_numbers(_numbers(img), dive_numbers)
    assert img.reclaimable_bytes == reclaimable
    assert dockerviz.images(str(out))["ref"].tolist() == ["parity"]


def test_podman_saves(reference, work, saved_archive):
    producers.need("podman")
    root = work / "podman"
    podman = ["podman", *producers.storage_args(root)]
    producers.run(*podman, "load", "-q", "-i", saved_archive(TAG))
    dive_numbers, reclaimable = reference
    for fmt, out in (("oci-archive", work / "podman-oci.tar"), ("docker-dir", work / "podman-dir")):
        producers.run(*podman, "save", "-q", "--format", fmt, "-o", out, TAG)
        img = dockerviz.analyze(str(out), cache=False)
        assert_same_numbers(_numbers(img), dive_numbers)
        assert img.reclaimable_bytes == reclaimable, fmt


def test_umoci_repack(work, loaded, oracle):
    """umoci writes the layer itself: a file deleted (its whiteout), one overwritten, one added."""
    producers.need("umoci")
    layout, bundle = work / "umoci", work / "bundle"
    producers.skopeo_copy(f"docker-daemon:{TAG}", f"oci:{layout}:base")
    producers.run("umoci", "unpack", "--image", f"{layout}:base", bundle)
    rootfs = bundle / "rootfs"
    removed = sorted(p for p in (rootfs / "data").iterdir() if p.is_file())[0]
    removed.unlink()
    (rootfs / "data" / "added-by-umoci.bin").write_bytes(b"u" * 7000)
    producers.run("umoci", "repack", "--image", f"{layout}:changed", bundle)
    listed = dockerviz.images(str(layout))
    assert sorted(listed["ref"]) == ["base", "changed"]

    img = dockerviz.analyze(str(layout), image="changed", cache=False)
    base = dockerviz.analyze(str(layout), image="base", cache=False)
    assert len(img.diff_ids) == len(base.diff_ids) + 1
    archive = work / "umoci-changed.tar"
    producers.skopeo_copy(f"oci:{layout}:changed", f"docker-archive:{archive}:dockerviz-test/umoci:changed")
    assert_same_numbers(_numbers(img), summarize(run_dive(archive)))
    assert img.reclaimable_bytes == oracle(loaded(f"oci:{layout}:changed", "umoci"))
    assert img.reclaimable_bytes > base.reclaimable_bytes  # the deleted file's bytes are now hidden


@pytest.fixture(scope="module")
def multi_platform(work):
    """An image index made by `buildah manifest`: FROM-scratch busybox for arm64 (Debian's
    busybox-static:arm64) and amd64, as an OCI layout and an OCI archive."""
    root = work / "buildah"
    arm_busybox = producers.arm64_busybox()
    arm = producers.scratch_busybox_image(root, arm_busybox, "arm64", "localhost/dockerviz-multi:arm64")
    amd = producers.scratch_busybox_image(root, images.find_static_busybox(), "amd64",
                                          "localhost/dockerviz-multi:amd64")
    b = ["buildah", *producers.storage_args(root)]
    producers.run(*b, "manifest", "create", "localhost/dockerviz-multi:latest")
    for name in (arm, amd):
        producers.run(*b, "manifest", "add", "localhost/dockerviz-multi:latest", name)
    layout, archive = work / "multi", work / "multi.tar"
    producers.run(*b, "manifest", "push", "-q", "--all", "localhost/dockerviz-multi:latest", f"oci:{layout}:multi")
    producers.run(*b, "manifest", "push", "-q", "--all", "localhost/dockerviz-multi:latest",
                  f"oci-archive:{archive}:multi")
    return layout, archive, producers.file_size(arm_busybox), producers.file_size(images.find_static_busybox())


@pytest.mark.parametrize("shape", ["layout", "archive"])
def test_buildah_multi_platform_index(multi_platform, work, loaded, oracle, shape):
    layout, archive, arm_size, amd_size = multi_platform
    source = str(layout if shape == "layout" else archive)
    listed = dockerviz.images(source)
    assert sorted(listed["platform"]) == ["linux/amd64", "linux/arm64"] and set(listed["ref"]) == {"multi"}

    arm = dockerviz.analyze(source, platform="linux/arm64", cache=False)
    amd = dockerviz.analyze(source, image="multi", platform="linux/amd64", cache=False)
    assert (arm.size_bytes, amd.size_bytes) == (arm_size, amd_size)  # one file each: the package's busybox
    assert arm.config["architecture"] == "arm64" and "of 2 images" in arm.chosen
    with pytest.raises(ImageChoiceError, match=r"linux/riscv64.*multi \(linux/arm64\), multi \(linux/amd64\)"):
        dockerviz.analyze(source, platform="linux/riscv64", cache=False)

    if shape == "layout":  # dive and the oracle once, on the arm64 image copied out of the index
        arm_archive = work / "multi-arm64.tar"
        producers.skopeo_copy(f"oci:{layout}:multi", f"docker-archive:{arm_archive}:dockerviz-test/multi:arm64",
                              arch="arm64")
        assert_same_numbers(_numbers(arm), summarize(run_dive(arm_archive)))
        tag = loaded(f"oci:{layout}:multi", "multi-arm64", arch="arm64")
        assert arm.reclaimable_bytes == oracle(tag) == 0
