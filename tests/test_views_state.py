"""LayerExplorer and ImageDiff without a browser: state, filters, the data behind them, payload bounds."""

import hashlib
import io
import json
import subprocess
import sys

import pytest

from dockerviz.model.image import Image
from dockerviz.model.layer import read_layer
from dockerviz.views import layer_explorer as LE
from dockerviz.views.api import ImageDiff, LayerExplorer, compare, layers
from support import synth
from support.synth import layer_tar

EVIL = '<img src=x onerror="window.__pwned=1">'

L0 = [("dir", "bin"), ("file", "bin/sh", 1000, 0o755), ("dir", "etc"), ("file", "etc/passwd", 50),
      ("dir", "usr"), ("dir", "usr/share"), ("file", "usr/share/big.dat", 5000), ("file", "usr/share/small", 10)]
L1 = [("dir", "etc"), ("file", "etc/passwd", 80), ("dir", "app"), ("file", "app/main.py", 300),
      ("whiteout", "usr/share/big.dat"), ("symlink", "app/link", "main.py"), ("file", EVIL, 3)]
L2 = [("dir", "app"), ("file", "app/main.py", 320)]


def image(specs, history=None, config=None, name="synthetic"):
    tars = [layer_tar(s) for s in specs]
    contents = [read_layer(io.BytesIO(t)) for t in tars]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    if history is None:
        history = [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(specs))]
    cfg = {"config": config or {}, "history": history}
    return Image(name=name, image_id="sha256:" + "0" * 64, repo_tags=[name], config=cfg, diff_ids=diff_ids,
                 layer_ids=[d[7:19] for d in diff_ids], contents=contents, source="synthetic", path="synthetic")


HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
           {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
           {"created_by": "/bin/sh -c apt-get update && apt-get install -y " + "pkg " * 60},
           {"created_by": "COPY app /app"}]


@pytest.fixture
def img():
    return image([L0, L1, L2], history=HISTORY)


def names(df):
    return list(df["name"])


def test_default_selection_is_the_top_layer_and_select_moves_it(img):
    ex = LayerExplorer(img)
    assert ex.step == 3 and ex.layer == 2
    ex.select(0)
    assert ex.step == 0 and ex.layer == 0
    ex.select(step=1)
    assert ex.layer is None and ex.entries.empty
    assert "ENV A=1" in ex.command
    ex.select(-2)  # negative layer counts from the top
    assert ex.layer == 1 and ex.step == 2
    with pytest.raises(IndexError):
        ex.select(7)
    with pytest.raises(ValueError):
        ex.scope = "everything"


def test_layer_scope_marks_added_modified_removed(img):
    ex = LayerExplorer(img, layer=1)
    root = ex.children("/").set_index("name")
    assert root.loc["app", "change"] == "added" and root.loc["app", "size"] == 303 - 3 + 0  # main.py + link
    assert root.loc["etc", "change"] == "modified"
    assert root.loc[EVIL, "change"] == "added" and root.loc[EVIL, "path"] == "/" + EVIL
    share = ex.children("/usr/share").set_index("name")
    assert share.loc["big.dat", "change"] == "removed" and share.loc["big.dat", "size"] == 5000
    assert "deleted" in share.loc["big.dat", "detail"]
    assert root.loc["usr", "change"] is None  # an implied container, not a change of its own
    etc = ex.children("/etc").set_index("name")
    assert etc.loc["passwd", "change"] == "modified" and etc.loc["passwd", "prev_size"] == 50
    app = ex.children("/app").set_index("name")
    assert app.loc["link", "type"] == "symlink" and app.loc["link", "link"] == "main.py"
    assert app.loc["main.py", "mode"] == 0o644


def test_cumulative_scope_shows_everything_up_to_the_layer(img):
    ex = LayerExplorer(img, layer=1, scope="cumulative")
    paths = set(ex.entries["path"])
    assert {"/bin/sh", "/etc/passwd", "/app/main.py", "/usr/share/small"} <= paths
    e = ex.entries.set_index("path")
    assert e.loc["/bin/sh", "layer"] == 0 and e.loc["/bin/sh", "change"] is None
    assert e.loc["/etc/passwd", "change"] == "modified" and e.loc["/etc/passwd", "layer"] == 1
    assert e.loc["/usr/share/big.dat", "change"] == "removed"  # shown where it went away
    ex.select(2)
    e = ex.entries.set_index("path")
    assert e.loc["/app/main.py", "size"] == 320 and e.loc["/app/main.py", "change"] == "modified"
    assert e.loc["/etc/passwd", "layer"] == 1 and e.loc["/etc/passwd", "change"] is None


def test_path_filter_min_size_and_sort(img):
    ex = LayerExplorer(img, layer=0)
    ex.filter(path="share")
    assert set(ex.entries["path"]) == {"/usr", "/usr/share", "/usr/share/big.dat", "/usr/share/small"}
    assert ex.index.matched == 3  # usr/share itself and its two files; /usr is only a container
    ex.filter(path="", min_size=100)
    assert set(ex.entries.query("type == 'file'")["path"]) == {"/bin/sh", "/usr/share/big.dat"}
    ex.update(min_size=0, sort="size")
    assert names(ex.children("/")) == ["usr", "bin", "etc"]
    ex.sort = "name"
    assert names(ex.children("/")) == ["bin", "etc", "usr"]
    root = ex.children("/").set_index("name")
    assert root.loc["usr", "size"] == 5010 and root.loc["usr", "children"] == 1
    ex.filter(path="/USR/SHARE/S")  # leading slash and case do not matter
    assert set(ex.entries["path"]) == {"/usr", "/usr/share", "/usr/share/small"}
    with pytest.raises(ValueError):
        ex.min_size = -1


def test_requests_are_paged_and_versioned(img):
    spec = [("dir", "many")] + [("file", f"many/f{i:04d}", i) for i in range(LE.PAGE + 20)]
    ex = LayerExplorer(image([spec]))
    state = ex.tree_state()
    many = state["root"]["rows"][0]
    assert many["n"] == "many" and many["d"] == LE.PAGE + 20
    first = ex.handle_request({"type": "children", "id": many["i"], "offset": 0, "version": state["version"]})
    assert first["total"] == LE.PAGE + 20 and len(first["rows"]) == LE.PAGE
    second = ex.handle_request({"type": "children", "id": many["i"], "offset": LE.PAGE, "version": state["version"]})
    assert [r["n"] for r in second["rows"]][:2] == [f"f{LE.PAGE:04d}", f"f{LE.PAGE + 1:04d}"]
    ex.sort = "size"
    stale = ex.handle_request({"type": "children", "id": many["i"], "offset": 0, "version": state["version"]})
    assert stale.get("stale")  # pages of the old order are not served in the new one
    ex.path_filter = "f00"
    new = ex.tree_state()["version"]
    assert new != state["version"]
    assert ex.handle_request({"type": "children", "id": 99999, "version": new})["error"]
    assert ex.handle_request({"type": "other"}) is None


def test_widget_is_created_lazily_and_mirrors_state(img):
    ex = LayerExplorer(img)
    assert ex._widget is None
    bundle = ex._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("<dockerviz.LayerExplorer")
    w = ex.widget
    assert w.step == ex.step and w.tree["version"] == ex.tree_state()["version"]
    assert w.header["size"] == img.size_bytes
    assert [s["empty"] for s in w.steps] == [False, True, False, False]
    assert w.steps[2]["cmd"].startswith("apt-get update") and len(w.steps[2]["cmd"]) <= 90
    # a change made in the browser reaches the explorer, and the tree follows
    w.step = 0
    assert ex.step == 0 and w.command.startswith("/bin/sh -c #(nop) ADD")
    assert {r["n"] for r in w.tree["root"]["rows"]} == {"bin", "etc", "usr"}
    w.path_filter = "passwd"
    assert ex.path_filter == "passwd" and [r["n"] for r in w.tree["root"]["rows"]] == ["etc"]
    # and a change made in Python reaches the widget
    ex.update(scope="cumulative", path_filter="")
    assert w.scope == "cumulative" and w.path_filter == ""
    sent = []
    w.send = sent.append
    etc = next(r for r in w.tree["root"]["rows"] if r["n"] == "etc")
    w._on_msg(w, {"type": "children", "id": etc["i"], "offset": 0, "version": w.tree["version"], "req": 7}, [])
    assert sent[0]["req"] == 7 and [r["n"] for r in sent[0]["rows"]] == ["passwd"]
    # bad input from the front end is reported in the widget, not raised into the kernel
    w.sort = "random"
    assert "sort must be one of" in w.error


def test_waste_table_and_layers_frame(img):
    ex = LayerExplorer(img)
    assert list(ex.waste["path"]) == ["/usr/share/big.dat", "/app/main.py", "/etc/passwd"]
    rows = ex.widget.waste
    assert rows[0] == {"path": "/usr/share/big.dat", "size": 5000, "written_by": 0, "hidden_by": 1, "how": "deleted"}
    assert ex.widget.waste_info == {"count": 3, "bytes": 5000 + 300 + 50}
    assert list(ex.layers["empty"]) == [False, True, False, False]


def test_figures_are_figure_objects_without_pyplot(img):
    from matplotlib.figure import Figure

    figs = LayerExplorer(img).figures()
    assert set(figs) == {"layer_sizes", "top_directories", "waste_by_layer"}
    assert all(isinstance(f, Figure) for f in figs.values())
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()
    from dockerviz.views import figures

    assert figures.directory_sizes(img) == {"bin": 1000, "etc": 80, "app": 320, "usr": 10, ".": 3}


def test_explorer_charts_are_sent_as_pngs_on_request(img):
    import base64

    ex = LayerExplorer(img)
    w = ex.widget
    assert not any("png" in str(v) for v in (w.header, w.steps, w.tree))  # not part of the first render
    sent = []
    w.send = sent.append
    w._on_msg(w, {"type": "figures"}, [])
    assert w.error == ""
    (reply,) = sent
    assert reply["type"] == "figures"
    assert [f["key"] for f in reply["images"]] == ["layer_sizes", "top_directories", "waste_by_layer"]
    for f in reply["images"]:
        png = base64.b64decode(f["png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000 and f["title"]


def test_report_is_self_contained_and_escaped(img, tmp_path):
    ex = LayerExplorer(img, layer=1)
    path = tmp_path / "r.html"
    text = ex.to_html(path)
    assert path.read_text(encoding="utf-8") == text
    low = text.lower()
    assert "<script" not in low and "<link" not in low and "@import" not in low and "url(http" not in low
    assert 'src="http' not in low and 'href="http' not in low  # xmlns names are not fetched
    assert EVIL not in text and "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in text
    assert text.count("<svg") == 3 and "+ added" in text and "\u2212 removed" in text


def diff_pair():
    a = image([L0, L1], config={"Env": ["PATH=/bin", "GITHUB_TOKEN=ghp_secretvalue"], "Labels": {"x": EVIL}},
              name="app:1")
    b = image([L0, L2, [("file", "new.bin", 2000)]],
              config={"Env": ["PATH=/bin", "GITHUB_TOKEN=ghp_othersecret"], "Cmd": ["run"]}, name="app:2")
    return a, b


def test_image_diff_state_filters_pages_and_swap():
    a, b = diff_pair()
    d = ImageDiff(a, b)
    assert d.change_filter == "all" and d.sort == "delta"
    assert d.filtered_files.iloc[0]["path"] == "/usr/share/big.dat"  # largest size change first
    d.change_filter = "added"
    assert set(d.filtered_files["change"]) == {"added"}
    assert set(d.filtered_files["path"]) == {"/new.bin", "/usr/share/big.dat"}  # A deleted it, B did not
    d.update(change_filter="all", path_filter="APP/")
    assert set(d.filtered_files["path"]) == {"/app/main.py", "/app/link"}
    d.update(path_filter="", sort="path")
    assert list(d.filtered_files["path"]) == sorted(d.filtered_files["path"])
    d.page = 5  # beyond the last page: clamped
    assert d.page == 0
    with pytest.raises(ValueError):
        d.change_filter = "weird"
    before = d.summary()
    d.swap()
    after = d.summary()
    assert (after["name_a"], after["name_b"]) == (before["name_b"], before["name_a"])
    assert (after["added"], after["removed"]) == (before["removed"], before["added"])
    assert d.files.set_index("path").loc["/new.bin", "change"] == "removed"


def test_diff_widget_never_receives_masked_secrets():
    a, b = diff_pair()
    d = compare(a, b)
    assert d._widget is None
    w = d.widget
    state = json.dumps({k: getattr(w, k) for k in ("header", "layers", "config", "files")}, ensure_ascii=False)
    assert "secretvalue" not in state and "othersecret" not in state and "\u2022" in state
    assert w.figure and len(w.figure) < 200_000  # a PNG, base64
    w.change_filter = "removed"
    assert d.change_filter == "removed" and {r["c"] for r in w.files["rows"]} == {"removed"}
    w._on_msg(w, {"type": "swap"}, [])
    assert w.header["name_a"] == "app:2" and {r["c"] for r in w.files["rows"]} == {"removed"}
    w.show_unchanged = True
    assert any(r["change"] == "same" for r in w.config)
    shown = compare(a, b, show_secrets=True).widget
    assert "ghp_othersecret" in json.dumps(shown.config) and shown.header["show_secrets"]
    text = d.to_html()
    assert "secretvalue" not in text and "othersecret" not in text and EVIL not in text


def test_sources_accepted_by_layers_and_compare(tmp_path):
    t0, t1 = layer_tar(L0), layer_tar(L1)
    archive = synth.write(tmp_path / "img.tar", synth.legacy_archive([t0, t1]))
    oci = synth.write_oci_layout(tmp_path / "oci", [t0, layer_tar(L2)])
    ex = layers(archive, cache=False, layer=0, path_filter="etc")
    assert ex.layer == 0 and ex.image.source == "archive" and set(ex.entries["path"]) == {"/etc", "/etc/passwd"}
    d = compare(archive, oci, cache=False, change_filter="added")
    assert d.b.source == "oci-layout" and d.change_filter == "added"
    assert list(d.layers["status"]) == ["shared", "only in A", "only in B"]


def test_importing_the_views_api_loads_no_widget_or_plotting_library():
    code = ("import sys, dockerviz, dockerviz.views.api\n"
            "heavy = sorted(m for m in ('ipywidgets', 'anywidget', 'matplotlib') if m in sys.modules)\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def big_image(n_dirs=150, per_dir=200, flat=10000):
    spec = [("dir", "data")]
    for d in range(n_dirs):
        spec.append(("dir", f"data/d{d:03d}"))
        spec.extend(("file", f"data/d{d:03d}/f{f:03d}.bin", (f % 5) * 100) for f in range(per_dir))
    spec.append(("dir", "flat"))
    spec.extend(("file", f"flat/file{f:05d}.txt", (f % 3) * 50) for f in range(flat))
    return image([[("dir", "bin"), ("file", "bin/sh", 1000)], spec])


def test_first_render_state_of_a_40k_entry_layer_is_small():
    img = big_image()
    assert len(img.contents[1].entries) > 40_000
    w = LayerExplorer(img).widget
    state = w.get_state()
    size = len(json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")}))
    print(f"\n40k-entry layer: widget state without the ES module: {size} bytes")
    assert size < 20_000
    ex = w._owner
    flat = next(r for r in w.tree["root"]["rows"] if r["n"] == "flat")
    reply = ex.handle_request({"type": "children", "id": flat["i"], "offset": 0, "version": w.tree["version"]})
    assert len(json.dumps(reply)) < 200_000 and reply["total"] == 10000


def test_explorer_masks_secret_assignments_in_commands(tmp_path):
    history = [{"created_by": "/bin/sh -c #(nop)  ENV API_TOKEN=tok-123 LANG=C"}]
    ex = LayerExplorer(image([L0], history=history))
    assert "tok-123" not in ex.command and "LANG=C" in ex.command
    assert "tok-123" not in json.dumps(ex.widget.steps) and "tok-123" not in ex.to_html()
    assert "tok-123" in LayerExplorer(image([L0], history=history), show_secrets=True).command
