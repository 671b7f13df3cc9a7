"""File contents, text diffs and package inventories, against the tools that own the answers.

Oracles, measured in the same run: dpkg-query inside containers of each layer's image; importlib.metadata
over site-packages copied out with `docker cp`; `npm ls` over a node_modules tree copied out the same way;
`docker cp` for file bytes; GNU `diff -u` for diffs; the host's `dpkg --compare-versions` and npm's own
semver module for version order.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tracemalloc

import pytest
from support import images
from support import package_images as pi

import dockerviz
from dockerviz.model import packages as P

PKG = "dockerviz-test/packages"
SITE = "/" + pi.SITE


@pytest.fixture(scope="module")
def pkg_image(docker_client, test_images):
    pi.build_packages(docker_client)
    return PKG


@pytest.fixture(scope="module")
def layer_ids(docker_client, pkg_image):
    return pi.layer_images(docker_client, pkg_image)


@pytest.fixture(scope="module")
def analysed(pkg_image):
    return dockerviz.analyze(pkg_image, cache=False)


def _run(client, image: str, cmd: list) -> str:
    out = client.containers.run(image, cmd, remove=True, network_mode="none", labels={images.TEST_LABEL: "1"})
    return out.decode()


def _dpkg_query(client, image: str) -> set:
    text = _run(client, image, ["dpkg-query", "-W", "-f", "${db:Status-Status}\\t${Package}\\t${Version}\\n"])
    present = P._DPKG_PRESENT
    return {(name, version) for status, name, version in (line.split("\t") for line in text.splitlines())
            if status in present}


def _ours(img, layer: int, manager: str) -> set:
    return {(name, v[0]) for (m, _loc, name), v in img.package_states[layer].items() if m == manager}


# -- packages ----------------------------------------------------------------------------

DPKG_LAYERS = (0, 2, 7, 12, 13)  # base, install, upgrade, removal, top


def test_dpkg_inventory_per_layer_equals_dpkg_query(docker_client, analysed, layer_ids):
    assert analysed.packages_known
    for k in DPKG_LAYERS:
        oracle = _dpkg_query(docker_client, layer_ids[k])
        assert _ours(analysed, k, P.DPKG) == oracle, f"layer {k}"
    final = analysed.packages
    dvz = final[final.name.str.startswith("dvz-") & (final.manager == "dpkg")].set_index("name")
    assert set(dvz.index) == {"dvz-alpha", "dvz-gamma"}
    assert dvz.loc["dvz-alpha", "installed_by"] == 2 and dvz.loc["dvz-alpha", "changed_by"] == 7
    assert dvz.loc["dvz-alpha", "size_bytes"] == 13 * 1024  # Installed-Size is in KiB
    changes = analysed.package_changes(12)
    assert list(changes[changes.manager == "dpkg"].itertuples(index=False, name=None))[0][:5] == \
        ("dpkg", "dvz-beta", "", "removed", None)


def _importlib_set(site_dir) -> set:
    return {(d.metadata["Name"], d.version) for d in importlib.metadata.distributions(path=[str(site_dir)])}


def test_python_inventory_per_layer_equals_importlib_metadata(docker_client, analysed, layer_ids, tmp_path):
    for k in (4, 7, 8, 12, 13):
        site = pi.docker_cp_tree(docker_client, layer_ids[k], SITE, tmp_path / f"l{k}")
        assert _ours(analysed, k, P.PYTHON) == _importlib_set(site), f"layer {k}"
        locations = {loc for (m, loc, _), _v in analysed.package_states[k].items() if m == P.PYTHON}
        assert locations == {SITE}
    up = analysed.package_changes(8)
    assert ("python", "dvz-widget", SITE, "added", "1.10", None) in \
        {r[:6] for r in up.itertuples(index=False, name=None)}


def _npm_ls(folder) -> set:
    npm = shutil.which("npm")
    assert npm, "npm is needed for the npm oracle (tests/run.sh installs it)"
    r = subprocess.run([npm, "ls", "--all", "--parseable", "--long", "--offline"], cwd=folder, capture_output=True,
                       text=True, timeout=120)
    out = set()
    for line in r.stdout.splitlines():
        path, _, rest = line.partition(":")
        if os.path.samefile(path, folder):
            continue
        spec = rest.split(":")[0]
        name, _, version = spec.rpartition("@")
        rel = os.path.relpath(path, folder)
        parent = os.path.dirname(rel)
        if os.path.basename(parent).startswith("@"):
            parent = os.path.dirname(parent)
        out.add(("/app/" + parent, name, version))
    return out


def test_npm_inventory_equals_npm_ls(docker_client, analysed, layer_ids, tmp_path):
    for k in (5, 13):
        app = pi.docker_cp_tree(docker_client, layer_ids[k], "/app", tmp_path / f"l{k}")
        ours = {(loc, name, v[0]) for (m, loc, name), v in analysed.package_states[k].items() if m == P.NPM}
        assert ours == _npm_ls(app), f"layer {k}"
    assert len(ours) == 3  # left-pad twice, in two trees at two versions


def test_apk_inventory_per_layer(docker_client, test_images):
    # No apk binary runs here: the oracle is the database text the image was built from.
    pi.build_apk(docker_client)
    img = dockerviz.analyze("dockerviz-test/apk", cache=False)
    states = img.package_states
    assert _ours(img, 2, P.APK) == {(n, v) for n, v, _ in pi.APK_1}
    assert _ours(img, 4, P.APK) == {(n, v) for n, v, _ in pi.APK_2}
    changes = {(r[1], r[3]) for r in img.package_change_rows(4)}
    assert changes == {("musl", "upgraded"), ("zlib", "removed")}
    assert states[2][(P.APK, "", "musl")][1] == 622592


def _raw_layer(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _stanza(name: str, version: str, kib: int | None = None) -> bytes:
    size = f"Installed-Size: {kib}\n" if kib is not None else ""
    return f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n{size}\n".encode()


def test_dpkg_status_d_as_distroless_images_keep_it(tmp_path):
    # No dpkg runs in a distroless image: the oracle is the database text each layer is built from.
    from support import synth

    lower = {"base-files": ("12.4+deb12u5", 341), "tzdata": ("2024a-0+deb12u1", 3000)}
    upper = {"tzdata": ("2025b-0+deb12u1", 3001), "netbase": ("6.4", None)}
    layers = [_raw_layer({**{f"var/lib/dpkg/status.d/{n}": _stanza(n, v, k) for n, (v, k) in lower.items()},
                          "var/lib/dpkg/status.d/base-files.md5sums": b"0123  etc/debian_version\n"}),
              _raw_layer({f"var/lib/dpkg/status.d/{n}": _stanza(n, v, k) for n, (v, k) in upper.items()})]
    img = dockerviz.analyze(synth.write(tmp_path / "distroless.tar", synth.legacy_archive(layers)), cache=False)
    assert _ours(img, 0, P.DPKG) == {(n, v) for n, (v, _) in lower.items()}
    assert _ours(img, 1, P.DPKG) == {(n, v) for n, (v, _) in {**lower, **upper}.items()}
    rows = img.packages.set_index("name")
    assert (rows.loc["tzdata", "installed_by"], rows.loc["tzdata", "changed_by"]) == (0, 1)
    assert rows.loc["tzdata", "size_bytes"] == 3001 * 1024
    assert {(r[1], r[3]) for r in img.package_change_rows(1)} == {("tzdata", "upgraded"), ("netbase", "added")}


def test_package_diff_between_images_follows_each_managers_order(docker_client, pkg_image, layer_ids, tmp_path):
    before = layer_ids[6]
    a = dockerviz.analyze(before, cache=False)
    b = dockerviz.analyze(pkg_image, cache=False)
    diff = dockerviz.compare(a, b)
    rows = {(r.manager, r.name): r for r in diff.packages.itertuples()}
    # dpkg: the oracle's sets, and the host's dpkg orders the versions
    qa, qb = dict(_dpkg_query(docker_client, before)), dict(_dpkg_query(docker_client, pkg_image))
    for name in set(qa) | set(qb):
        if qa.get(name) == qb.get(name):
            assert (P.DPKG, name) not in rows
            continue
        row = rows[(P.DPKG, name)]
        if name not in qa or name not in qb:
            assert row.change == ("added" if name not in qa else "removed")
            continue
        lt = subprocess.run(["dpkg", "--compare-versions", qa[name], "lt", qb[name]]).returncode == 0
        assert row.change == ("upgraded" if lt else "downgraded")
    assert rows[(P.DPKG, "dvz-alpha")].change == "upgraded"
    # Python: importlib.metadata's sets, PEP 440 order by packaging (1.0 -> 1.10 is an upgrade)
    from packaging.version import Version

    sa = dict(_importlib_set(pi.docker_cp_tree(docker_client, before, SITE, tmp_path / "a")))
    sb = dict(_importlib_set(pi.docker_cp_tree(docker_client, pkg_image, SITE, tmp_path / "b")))
    for name in set(sa) | set(sb):
        if sa.get(name) == sb.get(name):
            assert (P.PYTHON, name) not in rows
        elif name in sa and name in sb:
            assert rows[(P.PYTHON, name)].change == ("upgraded" if Version(sa[name]) < Version(sb[name]) else "downgraded")
        else:
            assert rows[(P.PYTHON, name)].change == ("added" if name in sb else "removed")
    assert rows[(P.PYTHON, "dvz-widget")].change == "upgraded"
    assert rows[(P.NPM, "left-pad")].change == "upgraded"  # 1.3.0 -> 1.10.0: semver, not text order
    # the CLI gives the same rows, narrowed by --type
    env = dict(os.environ, DOCKERVIZ_CACHE_DIR="off")
    out = subprocess.run([sys.executable, "-m", "dockerviz", "diff", before, pkg_image, "--type", "apt,pip",
                          "--json", "-", "-q"], capture_output=True, text=True, env=env, timeout=300, check=True)
    got = {(r["manager"], r["name"], r["change"]) for r in json.loads(out.stdout)["packages"]}
    assert got == {(m, n, r.change) for (m, n), r in rows.items() if m in (P.DPKG, P.PYTHON)}


DPKG_PAIRS = [("1.0", "1.0-1"), ("1.0~rc1", "1.0"), ("1:0.9", "2.0"), ("2.0-1", "2.0-1+b1"), ("1.2.3", "1.2.10"),
              ("1.0a", "1.0+"), ("1.0", "1.0.0"), ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"), ("1.0-1~bpo1", "1.0-1"),
              ("0:1", "1"), ("1.0~~", "1.0~"), ("1.0.", "1.0"), ("2.30-1", "2.3-1"), ("1.0+dfsg", "1.0~dfsg"),
              ("3.0-0ubuntu1", "3.0-0ubuntu1.1"), ("1:1.2-1", "1:1.2-1")]


def test_dpkg_order_equals_dpkg_compare_versions():
    for a, b in DPKG_PAIRS:
        for op, want in (("lt", -1), ("eq", 0), ("gt", 1)):
            if subprocess.run(["dpkg", "--compare-versions", a, op, b], stderr=subprocess.DEVNULL).returncode == 0:
                assert P.dpkg_compare(a, b) == want, (a, b)
                break


SEMVER_PAIRS = [("1.3.0", "1.10.0"), ("1.0.0-alpha", "1.0.0"), ("1.0.0-alpha", "1.0.0-alpha.1"),
                ("1.0.0-alpha.1", "1.0.0-alpha.beta"), ("1.0.0-beta.2", "1.0.0-beta.11"), ("1.0.0-rc.1", "1.0.0"),
                ("2.0.0", "2.0.0+build.5"), ("1.1.0-beta.2", "1.1.0")]


def test_semver_order_equals_npms_semver():
    places = ("/usr/lib/node_modules/npm/node_modules/semver",  # a nodejs bundling npm
              "/usr/share/nodejs/semver", "/usr/share/nodejs/npm/node_modules/semver")  # Debian's npm, node-semver
    semver = next((p for p in places if os.path.isdir(p)), None)
    node = shutil.which("node")
    assert node and semver, "node and npm's semver module are needed (tests/run.sh installs npm)"
    script = f"const s=require({semver!r});const p={json.dumps(SEMVER_PAIRS)};" \
             "console.log(JSON.stringify(p.map(([a,b])=>s.compare(a,b))))"
    want = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    assert [P.semver_compare(a, b) for a, b in SEMVER_PAIRS] == want


def test_version_numbers_of_any_length_order_as_numbers():
    """An image's package database can hold any version text: longer numbers than int() reads still
    order (numerically for dpkg, apk and npm), and nothing raises."""
    huge = "1" * 5000
    assert P.compare_versions(P.NPM, f"{huge}.0.0", "2.0.0") == 1
    assert P.compare_versions(P.NPM, "1.0.0-rc." + huge, "1.0.0-rc.2") == 1
    assert P.compare_versions(P.APK, huge, "2") == 1
    assert P.compare_versions(P.APK, "1.0_rc" + huge, "1.0_rc2") == 1
    assert P.compare_versions(P.APK, "1.0-r" + huge, "1.0-r2") == 1
    assert P.compare_versions(P.DPKG, f"{huge}:1", "1:1") == 1
    assert P.compare_versions(P.DPKG, "\u00b2:1", "1:1") in (-1, 1)  # a superscript two is no epoch
    assert P.compare_versions(P.PYTHON, huge, "2") in (-1, 0, 1)
    assert P.classify(P.NPM, "2.0.0", f"{huge}.0.0") == P.UPGRADED


def test_one_odd_field_does_not_empty_a_package_database():
    status = (b"Package: good\nStatus: install ok installed\nVersion: 1.0\nInstalled-Size: 10\n\n"
              b"Package: odd\nStatus: install ok installed\nVersion: 2.0\nInstalled-Size: \xc2\xb2\n\n"
              b"Package: long\nStatus: install ok installed\nVersion: 3.0\nInstalled-Size: " + b"9" * 5000 + b"\n")
    assert P.parse(P.DPKG, "var/lib/dpkg/status", status) == [("good", "1.0", 10240), ("odd", "2.0", -1),
                                                               ("long", "3.0", -1)]
    installed = b"P:good\nV:1.0\nI:10\n\nP:odd\nV:2.0\nI:\xc2\xb2\n\nP:long\nV:3.0\nI:" + b"9" * 5000 + b"\n"
    assert P.parse(P.APK, "lib/apk/db/installed", installed) == [("good", "1.0", 10), ("odd", "2.0", -1),
                                                                ("long", "3.0", -1)]


# -- contents ------------------------------------------------------------------------------

FILES = ["/etc/dvz/app.conf", "/srv/hostile.txt", f"/srv/{pi.HOSTILE_NAME}", "/usr/share/dvz/dvz-alpha.txt",
         "/usr/bin/dpkg"]


def _sources(pkg_image, saved_archive):
    return [(pkg_image, "tar-split"), (pkg_image, "overlay2-diff"), (pkg_image, "save-stream"),
            (str(saved_archive(pkg_image)), "auto")]


def test_contents_from_a_compressed_oci_layout_equal_docker_cp(docker_client, test_images, saved_archive, tmp_path):
    tag = images.PARITY_DELETE.tag
    skopeo = shutil.which("skopeo")
    assert skopeo, "skopeo makes the OCI layout (tests/run.sh installs it)"
    oci = tmp_path / "layout"
    subprocess.run([skopeo, "copy", "--quiet", f"docker-archive:{saved_archive(tag)}", f"oci:{oci}:latest"],
                   check=True, timeout=300)  # gzip layers: read by decompressing up to the member
    img = dockerviz.analyze(str(oci), cache=False)
    for path in ("/data/overwritten.txt", "/data/phoenix.bin", "/bin/busybox"):
        assert img.read(path) == pi.docker_cp_bytes(docker_client, tag, path), path
    assert img.read("/data/overwritten.txt", layer=5) != img.read("/data/overwritten.txt")


def test_contents_from_every_source_equal_docker_cp(docker_client, pkg_image, layer_ids, saved_archive):
    want = {p: pi.docker_cp_bytes(docker_client, pkg_image, p) for p in FILES}
    old_conf = pi.docker_cp_bytes(docker_client, layer_ids[9], "/etc/dvz/app.conf")
    assert old_conf == pi.APP_CONF_1 and old_conf != want["/etc/dvz/app.conf"]
    for source, path in _sources(pkg_image, saved_archive):
        img = dockerviz.analyze(source, path=path, cache=False)
        # each read through the save stream is a pass over the whole export: two of them there
        for p in FILES if path != "save-stream" else FILES[1:2]:
            assert img.read(p) == want[p], (source, path, p)
        assert img.read("/etc/dvz/app.conf", layer=9) == old_conf, (source, path)
        if path == "save-stream":
            continue
        link = img.preview("/bin")  # merged /usr: a link, shown, never followed
        assert link.kind == "symlink" and link.link == "usr/bin"
        with pytest.raises(dockerviz.FileContentsError, match="symbolic link"):
            img.read("/bin")
        elf = img.preview("/usr/bin/dpkg")
        assert elf.kind == "binary" and elf.type.startswith("ELF") and elf.hex.startswith("00000000  7f 45 4c 46")
        assert img.preview("/srv/hostile.txt").kind == "text"


def test_local_store_records_the_data_offsets_of_the_layer_tar(docker_client, test_images, pkg_image, saved_archive,
                                                                tmp_path):
    # the oracle: the offsets the header walk of the save stream records, in the same run
    for tag in [*images.PARITY_IMAGES, pkg_image]:
        local = dockerviz.analyze(tag, path="tar-split", cache=False)
        streamed = dockerviz.analyze(tag, path="save-stream", cache=False)
        assert local.path == "tar-split"
        for k, (a, b) in enumerate(zip(local.contents, streamed.contents)):
            assert a.offsets is not None and list(a.offsets) == list(b.offsets), (tag, k)
    # so an archive whose layers a local-store read cached is read by one seek per file, its bytes docker cp's
    from dockerviz.cache import LayerCache

    cache = LayerCache(tmp_path / "cache")
    dockerviz.analyze(pkg_image, path="tar-split", cache=cache)
    img = dockerviz.analyze(str(saved_archive(pkg_image)), cache=cache)
    assert img.path == "cache" and all(c.offsets is not None for c in img.contents)
    for p in FILES:
        assert img.read(p) == pi.docker_cp_bytes(docker_client, pkg_image, p), p


def test_contents_through_podman_equal_docker_cp(docker_client, podman, monkeypatch):
    tag = images.PARITY_DELETE.tag
    want = pi.docker_cp_bytes(docker_client, tag, "/data/overwritten.txt")
    kept = pi.docker_cp_bytes(docker_client, tag, "/data/keep/kept.bin")
    monkeypatch.setenv("DOCKER_HOST", podman.host)
    img = dockerviz.analyze(tag, cache=False)
    assert img.path == "save-stream"  # a second pass over Podman's save stream gives the bytes
    assert img.read("/data/overwritten.txt") == want
    assert img.read("/data/keep/kept.bin", layer=2) == kept


def test_text_diffs_equal_diff_u_and_attribute_changes_are_named(docker_client, analysed, pkg_image, layer_ids,
                                                                 tmp_path):
    old = pi.docker_cp_bytes(docker_client, layer_ids[9], "/etc/dvz/app.conf")
    new = pi.docker_cp_bytes(docker_client, layer_ids[10], "/etc/dvz/app.conf")
    d = analysed.file_diff("/etc/dvz/app.conf", 10)
    assert d.change == "content" and d.attributes == []
    assert d.diff.splitlines()[2:] == pi.diff_u_hunks(old, new, tmp_path)
    between = dockerviz.compare(layer_ids[9], pkg_image).file_diff("/etc/dvz/app.conf")
    assert between.change == "content" and between.diff.splitlines()[2:] == pi.diff_u_hunks(old, new, tmp_path)
    # chmod alone: same bytes, the mode named (the oracle: the modes docker cp's tar records)
    mode = analysed.file_diff("/etc/dvz/mode.conf", 11)
    modes = []
    for k in (10, 11):
        container = docker_client.api.create_container(layer_ids[k], command=["true"], labels={images.TEST_LABEL: "1"})
        try:
            stream, _ = docker_client.api.get_archive(container["Id"], "/etc/dvz/mode.conf")
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                modes.append(f"{tar.next().mode & 0o7777:04o}")
        finally:
            docker_client.api.remove_container(container["Id"], force=True)
    assert mode.change == "attributes" and mode.diff == ""
    assert mode.attributes == [("mode", modes[0], modes[1])]
    # the CLI prints the same diff
    out = subprocess.run([sys.executable, "-m", "dockerviz", "diff", layer_ids[9], pkg_image, "--file",
                          "/etc/dvz/app.conf", "-q"], capture_output=True, text=True, timeout=300, check=True,
                         env=dict(os.environ, DOCKERVIZ_CACHE_DIR="off"))
    assert out.stdout.splitlines()[3:] == pi.diff_u_hunks(old, new, tmp_path)


def test_cli_cat_and_packages(docker_client, analysed, pkg_image, layer_ids):
    env = dict(os.environ, DOCKERVIZ_CACHE_DIR="off")
    out = subprocess.run([sys.executable, "-m", "dockerviz", "cat", pkg_image, "/etc/dvz/app.conf", "--layer", "9",
                          "-q"], capture_output=True, timeout=300, check=True, env=env)
    assert out.stdout == pi.docker_cp_bytes(docker_client, layer_ids[9], "/etc/dvz/app.conf")
    out = subprocess.run([sys.executable, "-m", "dockerviz", "analyze", pkg_image, "--packages", "--json", "-", "-q"],
                         capture_output=True, text=True, timeout=300, check=True, env=env)
    got = json.loads(out.stdout)["packages"]
    assert {(p["manager"], p["name"], p["version"]) for p in got["packages"]} == \
        {(m, n, v[0]) for (m, _l, n), v in analysed.package_states[-1].items()}
    assert got["complete"] is True


def test_a_100_mb_file_is_capped_not_loaded(docker_client, test_images):
    pi.build_bigfile(docker_client)
    img = dockerviz.analyze("dockerviz-test/bigfile", cache=False)
    tracemalloc.start()
    try:
        with pytest.raises(dockerviz.FileContentsError, match="over the cap"):
            img.read("/big.bin")
        p = img.preview("/big.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.kind == "binary" and p.truncated and p.size == pi.BIGFILE_SIZE
    assert peak < 8 << 20, f"{peak} bytes held to preview a 100 MB file"
    assert img.read("/small.txt") == b"small\n"


def test_package_databases_survive_the_cache(analysed, tmp_path):
    from dockerviz.cache import LayerCache

    cache = LayerCache(tmp_path)
    for diff_id, content in zip(analysed.diff_ids, analysed.contents):
        cache.put(diff_id, content)
    for diff_id, content in zip(analysed.diff_ids, analysed.contents):
        assert cache.get(diff_id).packages == content.packages


def test_side_pane_requests_and_reports_without_a_browser(analysed, pkg_image, layer_ids):
    from dockerviz.views.api import LayerExplorer, compare

    ex = LayerExplorer(analysed, layer=10)
    nid = ex.index.by_path["etc/dvz/app.conf"]
    reply = ex.handle_request({"type": "file", "id": nid, "version": ex._version, "req": 7})
    assert reply["req"] == 7 and reply["pane"]["view"] == "diff"
    assert reply["pane"]["diff"] == analysed.file_diff("/etc/dvz/app.conf", 10).diff
    assert ex.handle_request({"type": "file", "id": nid, "version": ex._version + 1})["stale"]
    top = LayerExplorer(analysed, layer=13)
    pane = top.handle_request({"type": "file", "id": top.index.by_path["srv/hostile.txt"],
                               "version": top._version})["pane"]
    assert pane["view"] == "preview" and pane["kind"] == "text" and pane["text"].startswith("<script>")
    html = top.to_html()
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html and "<script>window" not in html
    assert "+level=debug" in ex.to_html()
    d = compare(layer_ids[9], pkg_image, cache=False)
    assert d.file_request({"type": "file", "path": "/etc/dvz/app.conf"})["pane"]["change"] == "content"
    report = d.to_html()
    assert "Files opened" in report and "dvz-beta" in report
