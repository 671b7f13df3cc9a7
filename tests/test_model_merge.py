"""Whiteouts, opaque directories, links and both accountings, on synthetic layers."""

import io
import tarfile

import pytest

from dockerviz.errors import UnsafePathError, WhiteoutError
from dockerviz.model import entries as E
from dockerviz.model.dive_accounting import dive_accounting
from dockerviz.model.image import Image, map_history
from dockerviz.model.layer import read_layer
from dockerviz.model.merge import merge
from support.synth import layer_tar


def parse(spec):
    return read_layer(io.BytesIO(layer_tar(spec)))


def image_of(*specs, history=None):
    contents = [parse(s) for s in specs]
    config = {"history": history} if history else {}
    return Image(name="t", image_id="sha256:0", repo_tags=[], config=config,
                 diff_ids=[f"sha256:{i}" for i in range(len(contents))], layer_ids=[str(i) for i in range(len(contents))],
                 contents=contents, source="synthetic", path="synthetic")


def final_paths(img):
    return set(img.merged.final)


def test_whiteout_removes_file_and_subtree_from_lower_layers_only():
    img = image_of(
        [("dir", "a"), ("file", "a/x", 10), ("dir", "a/sub"), ("file", "a/sub/y", 20), ("file", "keep", 5)],
        [("whiteout", "a")],
    )
    assert final_paths(img) == {"keep"}
    removed = img.changes(1)
    assert list(removed["change"]) == ["removed"]
    assert removed.loc[0, "path"] == "/a" and removed.loc[0, "size"] == 30 and removed.loc[0, "removed_entries"] == 4
    assert img.reclaimable_bytes == 30
    waste = img.waste.set_index("path")
    assert waste.loc["/a/sub/y", "written_by"] == 0 and waste.loc["/a/sub/y", "hidden_by"] == 1


def test_opaque_applies_before_the_layers_own_entries_wherever_it_sits():
    # The marker comes last in the tar, after the new child: the new child must survive.
    img = image_of(
        [("dir", "d"), ("file", "d/old", 7)],
        [("dir", "d"), ("file", "d/new", 3), ("opaque", "d")],
    )
    assert final_paths(img) == {"d", "d/new"}
    assert img.reclaimable_bytes == 7
    ch = img.changes(1).set_index("path")
    assert ch.loc["/d/old", "change"] == "removed" and ch.loc["/d/old", "via"] == "opaque"
    assert ch.loc["/d/new", "change"] == "added"
    # dive ignores opaque markers: d/old is not counted as waste there.
    assert img.inefficient_bytes == 0


def test_aufs_metadata_is_skipped_and_bad_whiteouts_rejected():
    img = image_of([("file", "x", 1), ("file", ".wh..wh.plnk/123", 0)])
    assert final_paths(img) == {"x"}
    for bad in (".wh.", "dir/.wh..", "dir/.wh..."):
        info = tarfile.TarInfo(bad)
        with pytest.raises(WhiteoutError, match="must be followed by the name"):
            parse([("raw", info, b"")])


def test_hard_links_count_once_and_survive_deletion_of_their_target():
    img = image_of(
        [("file", "a", 100), ("hardlink", "b", "a")],
        [("whiteout", "a")],
    )
    assert final_paths(img) == {"b"}
    assert img.merged.stored_file_bytes == 100
    assert img.reclaimable_bytes == 0  # the bytes are still reachable through b
    assert img.size_bytes == 100


def test_file_replaced_by_directory_and_directory_by_file():
    img = image_of(
        [("file", "f", 10), ("dir", "d"), ("file", "d/inner", 40)],
        [("dir", "f"), ("file", "f/child", 1), ("file", "d", 5)],
    )
    assert final_paths(img) == {"f", "f/child", "d"}
    assert img.reclaimable_bytes == 50
    ch = img.changes(1).set_index("path")
    assert ch.loc["/f", "change"] == "modified" and ch.loc["/f", "type"] == "dir"
    assert ch.loc["/d", "change"] == "modified" and ch.loc["/d", "type"] == "file"
    hows = dict(zip(img.waste["path"], img.waste["how"]))
    assert hows == {"/f": "overwritten", "/d/inner": "replaced"}


def test_chmod_only_change_is_modified_with_previous_mode():
    img = image_of([("file", "s", 9, 0o644)], [("file", "s", 9, 0o755)])
    row = img.changes(1).iloc[0]
    assert (row["change"], row["mode"], row["prev_mode"]) == ("modified", 0o755, 0o644)
    assert img.reclaimable_bytes == 9
    assert img.efficiency == pytest.approx(9 / 18)
    assert list(img.inefficient_files.itertuples(index=False, name=None)) == [("/s", 2, 18)]


def test_paths_are_normalised_and_unsafe_names_refused():
    img = image_of([("file", "./a//b/./c", 1)])
    assert final_paths(img) == {"a/b/c"}
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        parse([("file", "a/../../etc/passwd", 1)])
    info = tarfile.TarInfo("/etc/shadow")
    with pytest.raises(UnsafePathError, match="absolute"):
        parse([("raw", info, b"")])
    with pytest.raises(UnsafePathError):
        parse([("hardlink", "x", "../../outside")])


def test_dive_counts_deleted_directory_by_its_lower_subtree():
    layers = [parse([("dir", "d"), ("file", "d/a", 10), ("file", "d/b", 30)]), parse([("whiteout", "d")])]
    dive = dive_accounting(layers)
    # the whiteout leaf weighs 40 and is seen once: no inefficiency, but it enters the score
    assert dive.inefficient == []
    assert dive.efficiency == 1.0
    assert merge(layers).reclaimable_bytes == 40


def test_history_maps_through_empty_layer():
    steps = map_history({"history": [
        {"created_by": "ADD"}, {"created_by": "ENV", "empty_layer": True}, {"created_by": "RUN"},
        {"created_by": "CMD", "empty_layer": True}]}, 2)
    assert [(s.created_by, s.layer) for s in steps] == [("ADD", 0), ("ENV", None), ("RUN", 1), ("CMD", None)]
    # history shorter than the layer list: the extra layer is still shown
    assert [s.layer for s in map_history({}, 2)] == [0, 1]


def test_layers_table_has_one_row_per_step():
    img = image_of([("file", "a", 3)], [("file", "b", 4)],
                   history=[{"created_by": "A"}, {"created_by": "ENV X=1", "empty_layer": True}, {"created_by": "B"}])
    df = img.layers
    assert list(df["created_by"]) == ["A", "ENV X=1", "B"]
    assert list(df["empty"]) == [False, True, False]
    assert df.loc[2, "layer"] == 1 and df.loc[2, "size_bytes"] == 4 and df.loc[2, "added"] == 1
    assert img.files["path"].tolist() == ["/a", "/b"]


def test_non_utf8_names_survive_and_display_with_escapes():
    info = tarfile.TarInfo("x")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        info = tarfile.TarInfo("na\xefve")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    content = read_layer(io.BytesIO(buf.getvalue()))
    (entry,) = content.entries
    assert entry.path.encode("utf-8", "surrogateescape") == b"na\xefve"
    assert E.display_path(entry.path) == "/na\\xefve"  # the byte shown, never dropped
