"""The layer cache: hits, shared layers read once, damaged files ignored, concurrent writers, size bound."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import dockerviz
from dockerviz import cache as C
from dockerviz.model import entries as E
from dockerviz.model.layer import LayerContent
from dockerviz.sources import base as source_base
from support import REPO_ROOT, images
from support.synth import layer_tar, legacy_archive, write

BASE = layer_tar([("dir", "etc"), ("file", "etc/a", 100), ("dir", "gone"), ("file", "gone/x", 50)])
APP_A = layer_tar([("whiteout", "gone"), ("file", "etc/a", 120), ("hardlink", "etc/b", "etc/a")])
APP_B = layer_tar([("file", "srv/b", 7), ("symlink", "srv/link", "../etc/a")])
HISTORY2 = [{"created_by": "base"}, {"created_by": "app"}]


def summary(img):
    return (img.layers.drop(columns=["layer_id"]).to_dict("records"), img.files.to_dict("records"),
            img.reclaimable_bytes, img.efficiency, img.inefficient_bytes,
            [img.change_counts(i) for i in range(len(img.contents))])


def _dive_json(img):
    data = img.to_dive_json()
    data["image"].pop("path")
    return data


@pytest.fixture
def reads(monkeypatch):
    """Count layer reads from blobs (the only way archives are read)."""
    counter = {"n": 0}
    real = source_base.read_layer

    def counting(*a, **k):
        counter["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(source_base, "read_layer", counting)
    return counter


def _content():
    c = LayerContent()
    bad = b"bad-\xff-name".decode("utf-8", "surrogateescape")
    c.entries = [E.Entry("etc", E.DIR, 0, 0o755, 0, 0, ""), E.Entry("etc/" + bad, E.FILE, 2**40, 0o4755, 70000, 2**31, ""),
                 E.Entry("etc/l", E.HARDLINK, 0, 0o644, 0, 0, "etc/" + bad),
                 E.Entry("etc/s", E.SYMLINK, 0, 0o777, 1, 2, "/does/not/exist"),
                 E.Entry("caf\u00e9", E.OTHER, 0, 0o600, 0, 0, "")]
    c.whiteouts = ["gone", "x/.y"]
    c.opaque_dirs = ["var/opq"]
    c.tar_bytes = 2**40 + 512
    return c


def _same(a, b):
    return ([e.key() for e in a.entries], a.whiteouts, a.opaque_dirs, a.tar_bytes) == \
           ([e.key() for e in b.entries], b.whiteouts, b.opaque_dirs, b.tar_bytes)


DIFF = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def test_round_trip_keeps_every_field(tmp_path):
    cache = C.LayerCache(tmp_path)
    cache.put(DIFF, _content())
    got = cache.get(DIFF)
    assert got is not None and _same(got, _content())
    assert cache.get(OTHER) is None
    assert (cache.hits, cache.misses) == (1, 1)
    empty = LayerContent()
    cache.put(OTHER, empty)
    assert _same(cache.get(OTHER), empty)


def test_entries_made_late_equal_the_plain_decode(tmp_path):
    cache = C.LayerCache(tmp_path)
    cache.put(DIFF, _content())
    got = cache.get(DIFF)
    assert "entries" not in got.__dict__
    assert (len(got), got.entry_count, got.disk_bytes) == (len(_content()), 5, _content().disk_bytes)
    assert _same(got, C.decode_layer(C.encode_layer(_content())))
    assert "entries" in got.__dict__ and got.entry_count == 5


def _resealed(payload: bytes) -> bytes:
    """A payload written with a header and checksum that fit it: damage only the column checks can see."""
    import zlib
    body = zlib.compress(payload)
    return C._HEADER.pack(C.LAYER_MAGIC, C.FORMAT_VERSION, DIFF.encode(), len(body), zlib.crc32(body)) + body


@pytest.mark.parametrize("damage", ["kind", "separator", "name-count", "offsets", "packages"])
def test_columns_that_do_not_add_up_are_refused_before_any_entry_is_made(tmp_path, damage):
    content = _content()
    content.packages = {"var/lib/dpkg/status": [("libc6", "2.36", 100)]}
    payload = bytearray(C.encode_layer(content))
    n = len(content.entries)
    kinds_at = C._PREFIX.size
    paths_at = kinds_at + 33 * n + C._BLOBS.size
    if damage == "kind":
        payload[kinds_at + 3] = len(C._KINDS)
    elif damage == "separator":  # a NUL inside a path: one name too many
        payload[paths_at + 1] = 0
    elif damage == "name-count":  # the prefix claims one whiteout more than stored
        payload[4] += 1
    elif damage == "offsets":  # an offsets column of the wrong length
        lens = list(C._BLOBS.unpack_from(payload, kinds_at + 33 * n))
        lens[5] = 8
        payload[kinds_at + 33 * n: paths_at] = C._BLOBS.pack(*lens)
        payload += b"\0" * 8
    elif damage == "packages":
        at = bytes(payload).index(b"libc6")
        payload[at - 2] = ord("{")
    cache = C.LayerCache(tmp_path)
    os.makedirs(os.path.join(cache.dir, "layers"))
    with open(_layer_file(cache, DIFF), "wb") as f:
        f.write(_resealed(bytes(payload)))
    assert cache.get(DIFF) is None
    assert cache.rejected == 1
    with pytest.raises((ValueError, IndexError, TypeError)):
        C.decode_layer(bytes(payload))


def test_reanalysing_hits_the_cache(tmp_path, reads):
    cache = C.LayerCache(tmp_path / "c")
    arch = write(tmp_path / "a.tar", legacy_archive([BASE, APP_A], HISTORY2))
    first = dockerviz.analyze(arch, cache=cache)
    assert reads["n"] == 2 and first.path == "archive"
    second = dockerviz.analyze(arch, cache=cache)
    assert reads["n"] == 2, "a warm analysis reads no layer"
    assert second.path == "cache"
    assert summary(second) == summary(first)
    assert summary(first) == summary(dockerviz.analyze(arch, cache=False))


def test_warm_json_comes_from_the_cache_without_the_merge(tmp_path):
    cache = C.LayerCache(tmp_path / "c")
    arch = write(tmp_path / "a.tar", legacy_archive([BASE, APP_A, APP_B], HISTORY2 + [{"created_by": "b"}]))
    cold = _dive_json(dockerviz.analyze(arch, cache=cache))
    warm_img = dockerviz.analyze(arch, cache=cache)
    warm = _dive_json(warm_img)
    assert "merged" not in warm_img.__dict__, "dive's numbers and the change counts came from the cache"
    assert not any("entries" in c.__dict__ for c in warm_img.contents), "the JSON needs no layer's entries"
    assert warm == cold == _dive_json(dockerviz.analyze(arch, cache=False))
    assert [l["added"] for l in warm["layer"]] == [4, 1, 2]  # what each layer adds (the whiteout removes gone/)


def test_shared_base_layers_are_read_once(tmp_path, reads):
    cache = C.LayerCache(tmp_path / "c")
    a = write(tmp_path / "a.tar", legacy_archive([BASE, APP_A], HISTORY2))
    b = write(tmp_path / "b.tar", legacy_archive([BASE, APP_B], HISTORY2))
    dockerviz.analyze(a, cache=cache)
    assert reads["n"] == 2
    img_b = dockerviz.analyze(b, cache=cache)
    assert reads["n"] == 3, "only the layer image b does not share is read"
    assert summary(img_b) == summary(dockerviz.analyze(b, cache=False))


def test_a_layer_repeated_in_one_image_is_read_once(tmp_path, reads):
    arch = write(tmp_path / "r.tar", legacy_archive([BASE, APP_B, APP_B], HISTORY2 + [{"created_by": "again"}]))
    dockerviz.analyze(arch, cache=C.LayerCache(tmp_path / "c"))
    assert reads["n"] == 2


def _layer_file(cache, diff_id):
    return os.path.join(cache.dir, "layers", diff_id.split(":")[1])


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "foreign", "version", "garbage", "bad-columns"])
def test_damaged_or_foreign_files_are_ignored_and_rewritten(tmp_path, damage):
    cache = C.LayerCache(tmp_path)
    cache.put(DIFF, _content())
    cache.put(OTHER, LayerContent())
    path = _layer_file(cache, DIFF)
    data = open(path, "rb").read()
    if damage == "flip":
        data = data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    elif damage == "foreign":  # another layer's (valid) file under this name
        data = open(_layer_file(cache, OTHER), "rb").read()
    elif damage == "version":
        data = data[:8] + (C.FORMAT_VERSION + 1).to_bytes(2, "little") + data[10:]
    elif damage == "garbage":
        data = os.urandom(4096)
    elif damage == "bad-columns":  # a well-formed file whose payload does not decode
        import zlib
        body = zlib.compress(b"\x05\x00\x00\x00" + b"\x00" * 40)
        data = C._HEADER.pack(C.LAYER_MAGIC, C.FORMAT_VERSION, DIFF.encode(), len(body), zlib.crc32(body)) + body
    with open(path, "wb") as f:
        f.write(data)
    assert cache.get(DIFF) is None
    assert cache.rejected == 1
    cache.put(DIFF, _content())  # what analyze does after reading the layer again
    assert _same(cache.get(DIFF), _content())


def test_analyze_rewrites_a_corrupt_file(tmp_path, reads):
    cache = C.LayerCache(tmp_path / "c")
    arch = write(tmp_path / "a.tar", legacy_archive([BASE, APP_A], HISTORY2))
    first = dockerviz.analyze(arch, cache=cache)
    victim = _layer_file(cache, first.diff_ids[1])
    with open(victim, "r+b") as f:
        f.seek(-3, 2)
        f.write(b"zzz")
    again = dockerviz.analyze(arch, cache=cache)
    assert reads["n"] == 3 and summary(again) == summary(first)
    assert cache.rejected == 1
    dockerviz.analyze(arch, cache=cache)
    assert reads["n"] == 3, "the rewritten file is good"


WRITER = r"""
import sys
sys.path.insert(0, sys.argv[3])
from dockerviz import cache as C
from dockerviz.model import entries as E
from dockerviz.model.layer import LayerContent
cache = C.LayerCache(sys.argv[1])
me = int(sys.argv[2])
c = LayerContent()
c.entries = [E.Entry(f"dir{me}/file{i}", E.FILE, i, 0o644, me, me, "") for i in range(3000)]
c.tar_bytes = sum(range(3000))
bad = 0
for round in range(60):
    cache.put("sha256:" + "ee" * 32, c)
    got = cache.get("sha256:" + "ee" * 32)
    if got is None or len(got.entries) != 3000 or got.entries[0].uid not in (0, 1):
        bad += 1
print(bad, cache.rejected)
"""


def test_two_processes_writing_the_same_layer(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(i), str(REPO_ROOT)],
                              stdout=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == [["0", "0"], ["0", "0"]], "every read saw one whole file, from one writer or the other"
    leftovers = [n for n in os.listdir(tmp_path / "layers") if n.startswith(".tmp-")]
    assert leftovers == []


def test_size_bound_evicts_least_recently_used(tmp_path):
    ids = ["sha256:" + f"{i:02x}" * 32 for i in range(6)]
    big = LayerContent()
    big.entries = [E.Entry(f"f{i}-" + os.urandom(8).hex(), E.FILE, i, 0o644, 0, 0, "") for i in range(2000)]
    probe = C.LayerCache(tmp_path / "probe")
    probe.put(ids[0], big)
    one = probe.size_bytes()
    cache = C.LayerCache(tmp_path / "c", max_bytes=int(one * 3.5))
    for i in range(3):
        cache.put(ids[i], big)
        os.utime(_layer_file(cache, ids[i]), (1000 + i, 1000 + i))  # distinct, old recency
    assert cache.get(ids[0]) is not None  # refreshes layer 0: now the most recently used
    cache.put(ids[3], big)  # over the bound: the least recently used (layer 1) goes
    assert cache.size_bytes() <= cache.max_bytes
    present = [i for i in range(4) if os.path.exists(_layer_file(cache, ids[i]))]
    assert present == [0, 2, 3]


def test_default_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKERVIZ_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.cache_dir() == str(tmp_path / "xdg" / "dockerviz")
    monkeypatch.setenv("DOCKERVIZ_CACHE_DIR", str(tmp_path / "mine"))
    assert C.default_cache().dir == str(tmp_path / "mine")
    monkeypatch.setenv("DOCKERVIZ_CACHE_DIR", "off")
    assert not C.default_cache()


def test_warm_daemon_analysis_does_not_export(test_images, tmp_path, monkeypatch):
    """With the layers and the image description cached, `docker save` is not called."""
    from dockerviz.sources import daemon

    cache = C.LayerCache(tmp_path / "c")
    tag = images.PARITY_LINKS.tag
    cold = dockerviz.analyze(tag, path="save-stream", cache=cache)
    assert cold.path == "save-stream"

    def no_save(self):
        raise AssertionError("docker save was called on a warm cache")

    monkeypatch.setattr(daemon.DaemonSource, "_save", no_save)
    warm = dockerviz.analyze(tag, path="save-stream", cache=cache)
    assert warm.path == "cache"
    assert summary(warm) == summary(cold) and warm.layer_ids == cold.layer_ids
    assert warm.config == cold.config


def test_cli_json_path_stays_light(test_images, tmp_path):
    """`dockerviz analyze --json` imports neither pandas, ipywidgets, matplotlib nor (on a local store) docker-py."""
    code = ("import sys\nfrom dockerviz.cli import main\n"
            f"main(['analyze', {images.PARITY_DELETE.tag!r}, '--json', {str(tmp_path / 'o.json')!r}, '-q'])\n"
            "sys.stderr.write(' '.join(sorted(m for m in ('pandas', 'ipywidgets', 'matplotlib', 'IPython', 'docker')"
            " if m in sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                       env=dict(os.environ, DOCKERVIZ_CACHE_DIR=str(tmp_path / "c")))
    assert r.returncode == 0, r.stderr
    loaded = set(r.stderr.split())
    assert not loaded & {"pandas", "ipywidgets", "matplotlib", "IPython"}


def test_parallel_read_matches_sequential(tmp_path, monkeypatch):
    """Cold reads of several layers may run half in a forked worker: same results, and a failing worker
    only means the parent reads those layers itself."""
    from dockerviz import parallel

    layers = [BASE, APP_A, APP_B, layer_tar([("file", f"many/{i}", i) for i in range(300)])]
    arch = write(tmp_path / "p.tar", legacy_archive(layers, [{"created_by": str(i)} for i in range(4)]))
    sequential = summary(dockerviz.analyze(arch, cache=False))
    monkeypatch.setattr(parallel, "PARALLEL_MIN_COST", 0)
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    assert parallel.can_fork(dockerviz.sources.open_source(arch).open().layers)
    assert summary(dockerviz.analyze(arch, cache=False)) == sequential
    monkeypatch.setattr("dockerviz.cache.encode_layer", lambda c: 1 / 0)  # the worker fails
    assert summary(dockerviz.analyze(arch, cache=False)) == sequential
