"""The test machinery itself: a daemon that answers, the test images and what they contain."""

from __future__ import annotations

import time

import docker
import pytest

from support import TEST_LABEL, images
from support.engine import ensure_engine, ping


def test_daemon_answers(docker_engine, docker_client):
    assert docker_client.ping() is True
    version = docker_client.version()
    assert version.get("ApiVersion"), version
    assert ensure_engine() is docker_engine  # one engine per session


def test_offline_fixture_points_nowhere(offline):
    assert offline.startswith("unix://")
    t0 = time.monotonic()
    assert ping(None, timeout=2.0) is False
    with pytest.raises(docker.errors.DockerException):
        docker.from_env(timeout=2)  # version negotiation needs a daemon
    assert time.monotonic() - t0 < 10


def test_offline_env_for_subprocesses(offline_env, docker_engine):
    import os

    assert offline_env["DOCKER_HOST"] != os.environ.get("DOCKER_HOST")
    assert offline_env["DOCKER_HOST"].endswith("nothing-listens-here.sock")


def test_busybox_image_builds_and_runs(docker_client):
    img = images.build(docker_client, images.BUSYBOX)
    assert img.labels[images.INPUTS_LABEL] == images.inputs_hash(docker_client, images.BUSYBOX)
    out = docker_client.containers.run(
        images.BUSYBOX.tag,
        ["/bin/sh", "-c", "echo hello from busybox"],
        network_mode="none",
        remove=True,
        labels={TEST_LABEL: "1"},
    )
    assert out == b"hello from busybox\n"


def test_builds_are_reused(docker_client):
    first = images.build(docker_client, images.PARITY_DELETE)
    t0 = time.monotonic()
    again = images.build(docker_client, images.PARITY_DELETE)
    assert again.id == first.id
    assert time.monotonic() - t0 < 15


@pytest.mark.parametrize("tag", images.ALL_IMAGES, ids=lambda tag: tag.split("/", 1)[1])
def test_layer_count(test_images, tag):
    img = test_images[tag]
    assert len(img.attrs["RootFS"]["Layers"]) == images.SPECS[tag].layers
    assert img.labels.get(TEST_LABEL) == "1"


def _members(archive):
    """{layer index: [(type, name bytes, size, linkname)]} of a saved archive."""
    out = {}
    for i, _diff_id, tar in images.saved_layers(archive):
        out[i] = [
            (m.type, m.name.encode("utf-8", "surrogateescape"), m.size, m.linkname.encode("utf-8", "surrogateescape"))
            for m in tar
        ]
    return out


def test_parity_delete_covers_whiteouts(saved_archive):
    layers = _members(saved_archive(images.PARITY_DELETE.tag))
    names = {name for entries in layers.values() for _t, name, _s, _l in entries}
    assert b"data/.wh.file-to-delete" in names
    assert b"data/.wh.gone" in names  # a deleted directory whose files came from an earlier layer
    assert b"data/opq/.wh..wh..opq" in names  # rm -rf d && mkdir d in one step
    assert b"data/.wh.phoenix.bin" in names
    overwritten = [s for entries in layers.values() for _t, n, s, _l in entries if n == b"data/overwritten.txt"]
    assert len(overwritten) == 3


def test_parity_links_covers_links_and_chmod(saved_archive):
    layers = _members(saved_archive(images.PARITY_LINKS.tag))
    entries = [e for es in layers.values() for e in es]
    hard = [e for e in entries if e[0] == b"1"]
    sym = {e[1]: e[3] for e in entries if e[0] == b"2"}
    assert len(hard) >= 2  # same layer, and the copy-up of a lower file
    assert sym[b"links/sym-abs"] == b"/links/target.bin"
    assert sym[b"links/dangling"] == b"/does/not/exist"
    modes = [e for e in entries if e[1] == b"links/mode.bin"]
    assert len(modes) == 2 and modes[0][2] == modes[1][2]  # chmod only: same size, copied up


def test_parity_replace_covers_type_changes(saved_archive):
    layers = _members(saved_archive(images.PARITY_REPLACE.tag))
    kinds = {}
    for i in sorted(layers):
        for t, name, _s, _l in layers[i]:
            kinds.setdefault(name, []).append(t)
    assert kinds[b"swap/dir-becomes-file"] == [b"5", b"0"]
    assert kinds[b"swap/file-becomes-dir"] == [b"0", b"5"]
    assert kinds[b"swap/flip"] == [b"5", b"0", b"5"]


def test_parity_names_covers_long_and_non_utf8_names(saved_archive):
    archive = saved_archive(images.PARITY_NAMES.tag)
    layers = _members(archive)
    names = {name for entries in layers.values() for _t, name, _s, _l in entries}
    links = {link for entries in layers.values() for _t, _n, _s, link in entries}
    assert b"names/" + images.NON_UTF8_NAME in names
    assert b"names/" + images.UTF8_NAME in names
    assert images.LONG_PATH.lstrip("/").encode() in names
    assert len(images.LONG_PATH) > 255
    assert images.LONG_PATH.encode() in links  # symlink target longer than 100 bytes
    diff_ids = [d for _i, d, _t in images.saved_layers(archive)]
    assert len(set(diff_ids)) < len(diff_ids)  # one layer repeated


def test_debian_app_removes_apt_lists(saved_archive):
    layers = _members(saved_archive(images.DEBIAN_APP.tag))
    names = {name for i, entries in layers.items() if i > 0 for _t, name, _s, _l in entries}
    assert any(n.startswith(b"var/lib/apt/lists/.wh.") for n in names)
    assert b"etc/bash.bashrc" in names
