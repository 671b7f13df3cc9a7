"""Every read path gives the same analysis of the same image.

For each test image (tests/support/images.py, the Debian ones included), the
image is analysed through every path available here: the save stream, the
`docker save` archive, and on a local classic overlay2 store the daemon's
tar-split records and the overlay2 diff directories. Layer tables, entry sets
(path, type, size, mode, uid, gid, link target), whiteouts, opaque
directories, change lists and the dive-compatible and exact numbers must be
equal.

One difference is inherent to walking a directory: for a layer that was not
written by this daemon's tar writer (an imported or pulled tar), the unpacked
directory cannot tell which path of a hard-link group the original tar stored
as the file. For such layers, the overlay2-diff path is compared with hard-link
groups taken as sets; layers the daemon built must match exactly.
"""

from __future__ import annotations

import os
import warnings

import pytest

import dockerviz
from dockerviz.model import entries as E
from support import images, in_ci

TAGS = images.ALL_IMAGES


def _id(tag):
    return tag.split("/", 1)[1]


def _why_no_local_store(client) -> str | None:
    """Why the in-place read paths cannot work on this machine, asked of the engine's /info and the file
    system (not of dockerviz's own store probe, whose failure must not hide the paths); None if they can."""
    if client.api.base_url != "http+docker://localhost":
        return f"the daemon is not on a local unix socket ({client.api.base_url})"
    info = client.info()
    if info.get("Driver") != "overlay2":
        return f"the storage driver is {info.get('Driver')!r}, not overlay2"
    store = os.path.join(info.get("DockerRootDir") or "/var/lib/docker", "overlay2")
    if not os.access(store, os.R_OK | os.X_OK):
        return f"{store} is not readable by this user"
    return None


@pytest.fixture(scope="module")
def local_paths(docker_client, test_images):
    """The in-place read paths this machine should offer. Where the engine says they cannot work, none:
    a failure under CI=true (the CI machine has a local overlay2 store), a warning otherwise."""
    why = _why_no_local_store(docker_client)
    if why is None:
        return ["tar-split", "overlay2-diff"]
    if in_ci():
        pytest.fail(f"the in-place read paths are expected under CI=true: {why}", pytrace=False)
    warnings.warn(f"comparing the save stream and the archive only: {why}", stacklevel=1)
    return []


def _imported_layers(img) -> set:
    """Layers whose tar came from outside the daemon (docker import)."""
    return {s.layer for s in img.steps if s.layer is not None and s.comment.startswith("Imported from")}


def _entry_keys(content, canonical_links: bool) -> set:
    if not canonical_links:
        return {e.key() for e in content.entries}
    # hard-link groups as sets of paths, whichever path carries the data
    by_path = {e.path: e for e in content.entries}
    groups: dict = {}
    for e in content.entries:
        if e.kind == E.HARDLINK:
            groups.setdefault(e.link, {e.link}).add(e.path)
    grouped = {p for members in groups.values() for p in members}
    out = {e.key() for e in content.entries if e.path not in grouped}
    for target, members in groups.items():
        f = by_path.get(target)
        out.add(("group", frozenset(members), f and (f.kind, f.size, f.mode, f.uid, f.gid)))
    return out


def _changes(img, layer: int, loose: bool) -> set:
    rows = img.merged.changes[layer]
    if loose:
        return {(c.path, c.change) for c in rows}
    return {(c.path, c.kind, c.change, c.size, c.mode, c.uid, c.gid, c.link, c.prev_size, c.prev_mode,
             c.removed_entries, c.via) for c in rows}


def _numbers(img) -> tuple:
    d = img.dive
    return (img.size_bytes, img.reclaimable_bytes, d.efficiency, d.inefficient_bytes, d.layer_sizes,
            [(p.path, p.count, p.size) for p in d.inefficient])


@pytest.mark.parametrize("tag", TAGS, ids=_id)
def test_all_paths_agree(tag, test_images, saved_archive, local_paths):
    reference = dockerviz.analyze(tag, path="save-stream", cache=False)
    assert reference.path == "save-stream"
    others = {"archive": dockerviz.analyze(str(saved_archive(tag)), cache=False)}
    for p in local_paths:
        img = dockerviz.analyze(tag, path=p, cache=False)
        assert img.path == p
        others[p] = img
    imported = _imported_layers(reference)
    ref_layers = reference.layers.to_dict("records")
    for name, img in others.items():
        where = f"{tag} via {name}"
        assert img.id == reference.id, where
        assert img.diff_ids == reference.diff_ids, where
        assert img.layer_ids == reference.layer_ids, where
        assert len(img.contents) == len(reference.contents), where
        loose = name == "overlay2-diff"
        for i, (a, b) in enumerate(zip(reference.contents, img.contents)):
            canonical = loose and i in imported
            assert _entry_keys(b, canonical) == _entry_keys(a, canonical), f"{where}: entries of layer {i}"
            assert set(b.whiteouts) == set(a.whiteouts), f"{where}: whiteouts of layer {i}"
            assert set(b.opaque_dirs) == set(a.opaque_dirs), f"{where}: opaque dirs of layer {i}"
            assert b.tar_bytes == a.tar_bytes, f"{where}: tar bytes of layer {i}"
            assert b.disk_bytes == a.disk_bytes, f"{where}: disk bytes of layer {i}"
            if not canonical:
                assert [e.key() for e in b.entries] == [e.key() for e in a.entries], f"{where}: order of layer {i}"
            assert _changes(img, i, canonical) == _changes(reference, i, canonical), f"{where}: changes of {i}"
        if not (loose and imported):
            assert img.layers.to_dict("records") == ref_layers, where
            assert _numbers(img) == _numbers(reference), where
        else:
            cols = ["step", "layer", "diff_id", "layer_id", "size_bytes", "tar_bytes", "entries", "added",
                    "modified", "removed"]
            assert img.layers[cols].to_dict("records") == reference.layers[cols].to_dict("records"), where
            assert img.size_bytes == reference.size_bytes and img.dive.layer_sizes == reference.dive.layer_sizes


def test_auto_prefers_the_local_store(test_images, local_paths):
    img = dockerviz.analyze(images.PARITY_DELETE.tag, cache=False)
    assert img.path == (local_paths[0] if local_paths else "save-stream")


def test_forcing_an_unavailable_path_says_why(test_images, saved_archive, monkeypatch):
    from dockerviz.errors import SourceError
    from dockerviz.sources import local_store

    def unavailable(*a, **k):
        raise local_store.LocalUnavailable("the store is not readable (test)")

    monkeypatch.setattr(local_store.LocalStore, "for_inspect", classmethod(lambda cls, i: unavailable()))
    with pytest.raises(SourceError, match="tar-split.*not readable.*save-stream"):
        dockerviz.analyze(images.BUSYBOX.tag, path="tar-split", cache=False)
    # auto falls back to the save stream
    assert dockerviz.analyze(images.BUSYBOX.tag, cache=False).path == "save-stream"
    with pytest.raises(SourceError, match="daemon"):
        dockerviz.analyze(str(saved_archive(images.BUSYBOX.tag)), path="tar-split", cache=False)


def test_remote_daemon_is_not_read_locally(test_images, monkeypatch):
    """DOCKER_HOST naming another host means the local store is someone else's: never used."""
    from dockerviz.sources import local_store

    monkeypatch.setenv("DOCKER_HOST", "tcp://203.0.113.1:2375")
    assert local_store.local_socket() is None
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert local_store.local_socket() is None


def test_unknown_path_is_refused():
    from dockerviz.errors import SourceError

    with pytest.raises(SourceError, match="Unknown read path"):
        dockerviz.analyze("whatever", path="fast", cache=False)
