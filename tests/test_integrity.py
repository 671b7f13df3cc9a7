"""What dockerviz reports is what the image holds: forged, cut and lenient inputs are refused, not answered.

Every case here was seen to get a wrong answer quietly: a layer claiming
another image's diff id poisoned the cache, truncated layers read as whole,
negative and lenient numbers were accepted, terminal escapes were printed raw,
compressed archives were spooled whole before being refused, declared sizes
were trusted, figures grew with the square of the layers.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys

import pytest
from hostile import build as B
from hostile import corpus

import dockerviz
from dockerviz import cache as C
from dockerviz.errors import ArchiveError, DockervizError, IntegrityError, LimitError
from dockerviz.model import entries as E

HONEST = corpus.honest_layers()
EVIL = B.plain_layer({"app/EVIL-INJECTED": b"evil\n"})


def write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def paths(img) -> set:
    return {E.display_path(p) for p in img.merged.final}


def forged_sources(tmp_path) -> dict:
    """The same forgery (EVIL's bytes under the honest layer's diff id) in every source dockerviz reads."""
    forged_ids = [B.sha(HONEST[0]), B.sha(HONEST[1])]
    legacy = write(tmp_path / "forged.tar", B.legacy([HONEST[0], EVIL], diff_ids=forged_ids))
    blobs, index, manifest, cfg = B.oci_parts([HONEST[0], EVIL], compress="gzip")
    cfg["rootfs"]["diff_ids"] = forged_ids
    files = B.oci_pack(blobs, index, manifest, cfg)
    layout = B.write_layout(str(tmp_path / "forged-layout"), files)
    oci = write(tmp_path / "forged-oci.tar", B.oci_archive(files))
    return {"legacy archive": legacy, "OCI layout": layout, "OCI archive": oci,
            "gzip archive": write(tmp_path / "forged.tar.gz", gzip.compress(open(legacy, "rb").read()))}


@pytest.mark.parametrize("kind", ["legacy archive", "OCI layout", "OCI archive", "gzip archive"])
def test_a_forged_diff_id_is_refused_and_never_poisons_the_cache(tmp_path, kind):
    cache = C.LayerCache(tmp_path / "cache")
    forged = forged_sources(tmp_path)[kind]
    with pytest.raises(IntegrityError) as err:
        dockerviz.analyze(forged, cache=cache)
    assert "layer 1" in str(err.value) and B.sha(HONEST[1]) in str(err.value)
    assert not os.path.exists(os.path.join(cache.dir, "layers", B.sha(HONEST[1]).split(":")[1]))
    honest = dockerviz.analyze(write(tmp_path / "honest.tar", B.legacy(HONEST)), cache=cache)
    assert "/app/honest-file" in paths(honest)
    assert "/app/EVIL-INJECTED" not in paths(honest)


def test_the_save_stream_parser_verifies_each_layer_before_answering(tmp_path):
    from dockerviz.sources.streaming import ChunkReader, record_from_stream

    data = open(forged_sources(tmp_path)["legacy archive"], "rb").read()
    chunks = (data[i:i + 4096] for i in range(0, len(data), 4096))
    with pytest.raises(IntegrityError):
        record_from_stream(ChunkReader(chunks), reference="x", where="the save stream of x", source_kind="daemon",
                           path="save-stream")


def test_a_zstd_layer_with_frames_dropped_is_refused(tmp_path):
    import zstandard

    full = B.plain_layer({f"f{i:04d}": b"z" * 100 for i in range(1000)})
    step = len(full) // 10 + 1
    frames = [zstandard.ZstdCompressor().compress(full[i:i + step]) for i in range(0, len(full), step)]
    assert len(frames) == 10
    blobs, index, manifest, cfg = B.oci_parts([full], compress="zstd")
    cut = b"".join(frames[:6])
    blobs = {B.sha(cut): cut}
    manifest["layers"][0].update(digest=B.sha(cut), size=len(cut))
    layout = B.write_layout(str(tmp_path / "l"), B.oci_pack(blobs, index, manifest, cfg))
    with pytest.raises(ArchiveError, match="truncated|does not match"):
        dockerviz.analyze(layout, cache=False)
    whole = b"".join(frames)
    blobs = {B.sha(whole): whole}
    manifest["layers"][0].update(digest=B.sha(whole), size=len(whole))
    layout = B.write_layout(str(tmp_path / "ok"), B.oci_pack(blobs, index, manifest, cfg))
    assert len(dockerviz.analyze(layout, cache=False).contents[0].entries) == 1000


def test_a_layer_tar_cut_at_a_member_boundary_is_refused(tmp_path):
    members = [B.member(f"f{i:02d}", b"y" * 600) for i in range(20)]
    cut = B.tar(*members[:10], end=False)  # 10 of 20 files, its diff id its own: only the missing end tells
    with pytest.raises(ArchiveError, match="end-of-archive"):
        dockerviz.analyze(write(tmp_path / "cut.tar", B.legacy([cut])), cache=False)
    whole = dockerviz.analyze(write(tmp_path / "whole.tar", B.legacy([B.tar(*members)])), cache=False)
    assert len(whole.contents[0].entries) == 20


def test_a_descriptor_size_that_disagrees_with_the_blob_is_refused(tmp_path):
    blobs, index, manifest, cfg = B.oci_parts(HONEST)
    manifest["layers"][1]["size"] += 512
    layout = B.write_layout(str(tmp_path / "l"), B.oci_pack(blobs, index, manifest, cfg))
    with pytest.raises(IntegrityError, match="descriptor says"):
        dockerviz.analyze(layout, cache=False)


@pytest.mark.parametrize("typeflag,name", [(b"5", "dir"), (b"0", "file")])
def test_negative_pax_sizes_are_refused(tmp_path, typeflag, name):
    layer = B.tar(B.member(name, b"", typeflag=typeflag, pax={"size": "-4997"}))
    with pytest.raises(ArchiveError) as err:
        dockerviz.analyze(write(tmp_path / "n.tar", B.legacy([HONEST[0], layer])), cache=False)
    assert "decimal digits" in str(err.value) and "Internal" not in str(err.value)


@pytest.mark.parametrize("fields,pax", [({"size": b"0o000000012"}, None), (None, {"size": "1_0"}),
                                        ({"size": b"+0000000012"}, None), (None, {"uid": "0x10"})])
def test_lenient_numbers_are_refused(tmp_path, fields, pax):
    layer = B.tar(B.member("f", b"x" * 10, fields=fields, pax=pax))
    with pytest.raises(ArchiveError, match="number|decimal"):
        dockerviz.analyze(write(tmp_path / "n.tar", B.legacy([HONEST[0], layer])), cache=False)


def test_strict_numbers_still_read_every_writer_s_forms(tmp_path):
    layer = B.tar(B.member("a", b"x" * 10, fields={"size": b"00000000012 "}),
                  B.member("b", b"x" * 10, fields={"size": b"         12\0"}),
                  B.member("c", b"x" * 10, fields={"size": b"\x80" + (10).to_bytes(11, "big")}),
                  B.member("d", b"x" * 10, pax={"size": "10", "uid": "4294967295"}))
    img = dockerviz.analyze(write(tmp_path / "ok.tar", B.legacy([layer])), cache=False)
    assert [e.size for e in img.contents[0].entries] == [10, 10, 10, 10]


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x08"


def _cli(*args, cwd):
    env = dict(os.environ, DOCKERVIZ_CACHE_DIR=str(cwd / "cache"))
    return subprocess.run([sys.executable, "-m", "dockerviz", *args], capture_output=True, cwd=cwd, env=env,
                          timeout=120)


def test_terminal_output_escapes_control_characters_in_every_command_and_format(tmp_path):
    layer = B.tar(B.member(f"app/{ESCAPES}name", b"data", pax={"path": f"app/{ESCAPES}name"}))
    layers = [HONEST[0], layer]
    history = [{"created_by": f"RUN {ESCAPES}"}, {"created_by": f"COPY {ESCAPES} /app"}]
    crafted = write(tmp_path / "esc.tar", B.legacy(layers, config=B.config_for(layers, history=history),
                                                   tags=(f"esc:{ESCAPES}",)))
    honest = write(tmp_path / "honest.tar", B.legacy(HONEST))
    runs = [("analyze", crafted), ("analyze", crafted, "--json", "-"), ("diff", honest, crafted),
            ("diff", honest, crafted, "--json", "-"), ("analyze", write(tmp_path / f"bad{'x' * 3}.tar", b"\x1b[2J"))]
    for args in runs:
        proc = _cli(*args, "-q", cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode in (0, 2), proc.stderr[-2000:]
        assert not any(b < 0x20 and b != 0x0A for b in out), (args, out[:2000])
        assert b"\x7f" not in out
    text = _cli("analyze", crafted, "-q", cwd=tmp_path).stdout.decode()
    assert "\\x1b]0;pwned\\x07" in text  # shown, escaped, never dropped
    diff = _cli("diff", honest, crafted, "-q", cwd=tmp_path).stdout.decode()
    assert "app/\\x1b]0;pwned\\x07" in diff


def test_a_file_diff_on_the_terminal_escapes_what_the_file_holds(tmp_path):
    """`dockerviz diff A B --file PATH` prints the file's own bytes: escapes in them are shown, not run."""
    old = B.plain_layer({"app/conf": b"one\n"})
    new = B.plain_layer({"app/conf": f"two {ESCAPES}\n".encode()})
    a = write(tmp_path / "a.tar", B.legacy([HONEST[0], old]))
    b = write(tmp_path / "b.tar", B.legacy([HONEST[0], new]))
    proc = _cli("diff", a, b, "--file", "/app/conf", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not any(c < 0x20 and c != 0x0A for c in proc.stdout), proc.stdout[:2000]
    assert "+two \\x1b]0;pwned\\x07" in proc.stdout.decode()
    assert "-one" in proc.stdout.decode()


def test_a_diff_written_where_it_cannot_be_is_an_error_not_a_traceback(tmp_path):
    a = write(tmp_path / "a.tar", B.legacy(HONEST))
    proc = _cli("diff", a, a, "-q", "--json", str(tmp_path / "missing" / "d.json"), cwd=tmp_path)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert b"missing/d.json" in proc.stderr


def test_a_compressed_archive_is_parsed_as_a_stream_and_a_bomb_refused_before_any_spool(tmp_path, monkeypatch):
    import tempfile

    zeros = gzip.compress(bytes(16 << 20), compresslevel=9)  # 16 MiB of zeros, ~16 kB
    bomb = gzip.compress(B.header(b"filler", size=2 << 30), mtime=0) + zeros * 128  # 2 GiB from ~2 MB
    path = write(tmp_path / "bomb.tar.gz", bomb)

    def no_spool(*a, **kw):
        raise AssertionError("a temporary file was made")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_spool)
    with pytest.raises(LimitError) as err:
        dockerviz.analyze(path, cache=False)
    assert err.value.limit == "ratio"
    honest = write(tmp_path / "honest.tar.gz", gzip.compress(B.legacy(HONEST)))
    assert "/app/honest-file" in paths(dockerviz.analyze(honest, cache=False))


def test_declared_sizes_are_not_trusted(tmp_path):
    fan = B.plain_layer({f"d{i // 1000}/f{i}": b"" for i in range(20_000)})
    # one member under 500 diff ids: the second one already fails its hash
    ids = [B.sha(fan)] + ["sha256:" + hashlib.sha256(str(i).encode()).hexdigest() for i in range(499)]
    many = write(tmp_path / "many.tar", B.legacy([fan], names=["l/layer.tar"], diff_ids=ids,
                                                 manifest=[{"Config": "X", "Layers": ["l/layer.tar"] * 500}]))
    with pytest.raises(IntegrityError):
        dockerviz.analyze(many, cache=False)
    # one diff id 500 times: read and hashed once, then refused by the entry limit before any merge
    same = write(tmp_path / "same.tar", B.legacy([fan], names=["l/layer.tar"], diff_ids=[B.sha(fan)] * 500,
                                                 manifest=[{"Config": "X", "Layers": ["l/layer.tar"] * 500}]))
    reads = []
    from dockerviz.model import layer as L

    real = L.read_layer_stream
    L.read_layer_stream = lambda *a, **kw: reads.append(1) or real(*a, **kw)
    try:
        with pytest.raises(LimitError) as err:
            dockerviz.analyze(same, cache=False)
    finally:
        L.read_layer_stream = real
    assert err.value.limit == "image_entries" and len(reads) == 1
    img = dockerviz.analyze(same, cache=False, limits={"image_entries": 20_000_000})  # raisable
    assert len(img.contents) == 500


def test_figures_are_linear_in_layers_and_aggregate_past_sixty(tmp_path):
    from matplotlib.patches import Rectangle

    from dockerviz.model.image import Image
    from dockerviz.model.layer import LayerContent
    from dockerviz.views import figures

    def image(n):
        contents = []
        for i in range(n):
            c = LayerContent()
            c.entries = [E.Entry(f"f{i}", E.FILE, 100 + i, 0o644, 0, 0, "")]
            contents.append(c)
        return Image(name="$\\badcmd$", image_id="sha256:" + "0" * 64, repo_tags=[], config={},
                     diff_ids=[f"sha256:{i:064x}" for i in range(n)], layer_ids=[str(i) for i in range(n)],
                     contents=contents, source="archive", path="archive")

    for n, most in ((8, 8 * 9 // 2), (100, 2 * 100), (1000, 2 * figures.MAX_BARS)):
        fig = figures.layer_sizes(image(n))
        bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
        assert len(bars) <= most, (n, len(bars))
        figures.png_base64(fig, dpi=30)  # draws: the mathtext-looking name is literal text
    assert figures.label("$\\badcmd$") == "\\$\\badcmd\\$"


def test_misleading_messages_name_the_real_problem(tmp_path):
    loop = B.legacy(HONEST[:1], names=["a/layer.tar"],
                    manifest=[{"Config": "X", "Layers": ["a/layer.tar", "b/layer.tar"]}],
                    extra_members=[("b/layer.tar", ("symlink", "../c/layer.tar")),
                                   ("c/layer.tar", ("symlink", "../b/layer.tar"))])
    with pytest.raises(ArchiveError, match="loop of links"):
        dockerviz.analyze(write(tmp_path / "loop.tar", loop), cache=False)
    outer = B.outer_tar([("/manifest.json", b"[]")])
    with pytest.raises(ArchiveError, match="member of the outer archive"):
        dockerviz.analyze(write(tmp_path / "abs.tar", outer), cache=False)
    layer = B.tar(B.member("f", b"x" * 10, pax={"size": "-4997"}))
    with pytest.raises(ArchiveError) as err:
        dockerviz.analyze(write(tmp_path / "neg.tar", B.legacy([layer])), cache=False)
    assert "Internal" not in str(err.value) and "size" in str(err.value)


def test_pax_sparse_files_are_read_under_their_real_name_and_old_gnu_sparse_refused(tmp_path):
    sparse = B.tar(B.member("GNUSparseFile.0/real", B.pad(b"1\n0\n5\n") + B.pad(b"hello"),
                            pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "app/real",
                                 "GNU.sparse.realsize": "5"}))
    img = dockerviz.analyze(write(tmp_path / "s.tar", B.legacy([sparse])), cache=False)
    assert "/app/real" in paths(img) and "/GNUSparseFile.0/real" not in paths(img)
    assert img.merged.final.entries["app/real"].size == 5
    with pytest.raises(ArchiveError, match="sparse"):
        dockerviz.analyze(write(tmp_path / "old.tar", B.legacy([B.tar(B.member("old", b"x", typeflag=b"S"))])),
                          cache=False)


def test_limits_name_themselves_and_can_be_raised(tmp_path):
    long_history = [{"created_by": "x" * 1000}] * 2
    cfg = B.config_for(HONEST, history=long_history)
    path = write(tmp_path / "h.tar", B.legacy(HONEST, config=cfg))
    with pytest.raises(LimitError) as err:
        dockerviz.analyze(path, cache=False, limits={"json_bytes": 1000})
    assert "json_bytes" in str(err.value) and err.value.limit == "json_bytes"
    assert dockerviz.analyze(path, cache=False).config["history"] == long_history
    proc = _cli("analyze", path, "-q", "--no-cache", "--limit", "json_bytes=1kB", cwd=tmp_path)
    assert proc.returncode == 2 and b"json_bytes" in proc.stderr
    with pytest.raises(DockervizError, match="Unknown limit"):
        dockerviz.analyze(path, cache=False, limits={"no_such": 1})
    with pytest.raises(LimitError):  # written as the CLI and DOCKERVIZ_LIMITS write them
        dockerviz.analyze(path, cache=False, limits="json_bytes=1kB")
    with pytest.raises(DockervizError, match="limits="):
        dockerviz.analyze(path, cache=False, limits=5)
