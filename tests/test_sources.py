"""Every source gives the same model; damaged archives give clear errors."""

import io
import json
import tarfile

import pytest

import dockerviz
from dockerviz.errors import ArchiveError, DaemonError, SourceError, UnsafePathError
from support.synth import layer_tar, legacy_archive, oci_archive, write, write_oci_layout

LAYERS = [
    layer_tar([("dir", "etc"), ("file", "etc/a", 100), ("dir", "gone"), ("file", "gone/x", 50)]),
    layer_tar([("whiteout", "gone"), ("file", "etc/a", 120), ("hardlink", "etc/b", "etc/a")]),
    layer_tar([("file", "same", 10)]),
    layer_tar([("file", "same", 10)]),  # identical to the layer before: saved as a link
]
HISTORY = [{"created_by": "one"}, {"created_by": "ENV A=1", "empty_layer": True}, {"created_by": "two"},
           {"created_by": "three"}, {"created_by": "four"}]


def summary(img):
    return (img.layers.drop(columns=["layer_id"]).to_dict("records"), img.files.to_dict("records"),
            img.reclaimable_bytes, img.efficiency, img.inefficient_bytes, img.size_bytes)


@pytest.fixture
def expected(tmp_path):
    return summary(dockerviz.analyze(write(tmp_path / "legacy.tar", legacy_archive(LAYERS, HISTORY)), cache=False))


def test_legacy_archive_reads_repeated_layers_through_links(tmp_path, expected):
    img = dockerviz.analyze(write(tmp_path / "l.tar", legacy_archive(LAYERS, HISTORY)), cache=False)
    assert img.repo_tags == ["synthetic:latest"]
    assert [s.created_by for s in img.steps] == ["one", "ENV A=1", "two", "three", "four"]
    assert img.layers["size_bytes"].tolist() == [150, 0, 120, 10, 10]
    assert img.reclaimable_bytes == 100 + 50 + 10
    # dive reads a linked layer as empty; the compatible numbers follow it
    assert img.dive.layer_sizes == [150, 120, 10, 0]


@pytest.mark.parametrize("compress", [None, "gzip", "zstd"])
def test_oci_archive_and_layout_match_legacy(tmp_path, expected, compress):
    arch = dockerviz.analyze(write(tmp_path / "o.tar", oci_archive(LAYERS, HISTORY, compress=compress)), cache=False)
    layout = dockerviz.analyze(write_oci_layout(tmp_path / "layout", LAYERS, HISTORY, compress=compress), cache=False)
    assert arch.source == "archive" and layout.source == "oci-layout"
    assert summary(arch)[1:] == expected[1:]
    assert summary(layout)[1:] == expected[1:]
    assert summary(arch)[0] == expected[0]


def _tamper(data: bytes, member: str, new: bytes | None) -> bytes:
    src = tarfile.open(fileobj=io.BytesIO(data))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for m in src:
            payload = src.extractfile(m).read() if m.isreg() else None
            if m.name == member:
                if new is None:
                    continue
                payload = new
                m.size = len(new)
            tar.addfile(m, io.BytesIO(payload) if payload is not None else None)
    return out.getvalue()


def test_truncated_archive(tmp_path):
    data = legacy_archive(LAYERS, HISTORY)
    path = write(tmp_path / "cut.tar", data[: len(data) // 2 + 100])
    with pytest.raises(ArchiveError) as info:
        dockerviz.analyze(path, cache=False)
    assert "truncated" in str(info.value) or "manifest.json" in str(info.value)
    assert "docker save" in str(info.value)


def test_manifest_naming_missing_blob(tmp_path):
    data = legacy_archive(LAYERS, HISTORY)
    manifest = json.loads(tarfile.open(fileobj=io.BytesIO(data)).extractfile("manifest.json").read())
    manifest[0]["Layers"][1] = "0" * 64 + "/layer.tar"
    path = write(tmp_path / "m.tar", _tamper(data, "manifest.json", json.dumps(manifest).encode()))
    with pytest.raises(ArchiveError, match="not in the archive"):
        dockerviz.analyze(path, cache=False)
    oci = oci_archive(LAYERS, HISTORY)
    blob = next(m.name for m in tarfile.open(fileobj=io.BytesIO(oci)) if m.size == len(LAYERS[0]))
    with pytest.raises(ArchiveError, match="not there"):
        dockerviz.analyze(write(tmp_path / "o.tar", _tamper(oci, blob, None)), cache=False)


def test_daemon_error_appended_to_save_stream(tmp_path):
    data = legacy_archive(LAYERS, HISTORY)
    # what a daemon leaves when export fails part-way: tar data, then a JSON error
    cut = data[:2048] + b'{"message":"write /var/lib/docker/tmp: no space left on device"}'.ljust(1024, b"\0")
    with pytest.raises(DaemonError, match="no space left on device"):
        dockerviz.analyze(write(tmp_path / "e.tar", cut), cache=False)


def test_archive_members_with_dotdot_or_absolute_names(tmp_path):
    for bad in ("../escape/layer.tar", "/abs/layer.tar"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(bad)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
        with pytest.raises(UnsafePathError, match="outside the image root|absolute"):
            dockerviz.analyze(write(tmp_path / "bad.tar", buf.getvalue()), cache=False)


def test_link_escaping_the_archive_is_refused(tmp_path):
    data = legacy_archive(LAYERS, HISTORY)
    src = tarfile.open(fileobj=io.BytesIO(data))
    manifest = json.loads(src.extractfile("manifest.json").read())
    target = manifest[0]["Layers"][3]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for m in src:
            if m.name == target:
                m.linkname = "../../../etc/passwd"
            tar.addfile(m, src.extractfile(m) if m.isreg() else None)
    with pytest.raises(UnsafePathError, match="outside the archive"):
        dockerviz.analyze(write(tmp_path / "esc.tar", out.getvalue()), cache=False)


def test_not_an_archive_and_missing_paths(tmp_path):
    with pytest.raises(ArchiveError, match="checksum"):
        dockerviz.analyze(write(tmp_path / "x.tar", b"hello world\n" * 200), cache=False)
    with pytest.raises(SourceError, match="No such file"):
        dockerviz.analyze(str(tmp_path / "missing.tar"), cache=False)
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(SourceError, match="not an OCI image layout"):
        dockerviz.analyze(str(tmp_path / "emptydir"), cache=False)
    with pytest.raises(SourceError, match="image name"):
        dockerviz.analyze("", cache=False)


def test_export_archive_is_explained(tmp_path):
    # `docker export` gives a filesystem tar, which people mistake for an image
    path = write(tmp_path / "export.tar", layer_tar([("dir", "etc"), ("file", "etc/hosts", 10)]))
    with pytest.raises(ArchiveError, match="docker export"):
        dockerviz.analyze(path, cache=False)
