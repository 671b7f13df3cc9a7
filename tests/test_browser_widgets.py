"""The layer explorer and the image diff in a real browser: JupyterLab 4 and Notebook 7, driven by
Playwright over Debian's Chromium.

One JupyterLab server and one browser serve the whole module. Without Chromium
or playwright the tests skip, except under CI=true where they fail; tests that
need images from the daemon use the `docker_client` fixture.

Numbers printed with -s, and checked against the README's: the bytes the browser
receives for the first render of an explorer over a 40k-entry layer (every
websocket message from pressing Shift+Enter until the kernel is idle again), and
how long opening a directory takes (from the click to the rows in the DOM); both
measured inside the page (a logging WebSocket, performance.now(), a MutationObserver).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from support import TEST_LABEL, images, synth
from support import browser as B

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__pwned=1">'
EVIL_LABEL = "<script>window.__pwned=2</script>"
SECRET = "do-not-show-this-token-value"
XSS_TAG = "dockerviz-test/xss:latest"
README_FIRST_RENDER = 45_400  # bytes, as the README says
LOADED_OPEN_MS = 1500  # the README says about 20 ms on an idle machine; see the test for the slack

# Errors Notebook 7's own page raises while it starts (nothing to do with the widgets).
APP_NOISE = ("Command 'filebrowser:open-path' not registered", "Cannot read properties of undefined (reading 'schema')")

EXPLORER = ".jp-OutputArea-output .dvz-explorer[data-ready]"
DIFF = ".jp-OutputArea-output .dvz-diff[data-ready]"


# ------------------------------------------------------------------ fixtures

@pytest.fixture
def page(chromium, lab):
    with B.notebook_page(chromium, lab, viewport=(1500, 1100), timeout_ms=60_000) as pg:
        yield pg


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("DOCKERVIZ_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def oci_layout(tmp_path_factory):
    """A small OCI layout (no daemon needed) with adds, a modification, a deletion and waste."""
    base = synth.layer_tar([("dir", "bin"), ("file", "bin/sh", 120_000, 0o755), ("dir", "etc"),
                            ("file", "etc/passwd", 500), ("dir", "usr"), ("dir", "usr/share"),
                            ("dir", "usr/share/doc"), ("file", "usr/share/doc/README", 40_000)])
    app = synth.layer_tar([("dir", "etc"), ("file", "etc/passwd", 800), ("dir", "app"),
                           ("file", "app/main.py", 3_000), ("dir", "app/lib"), ("file", "app/lib/util.py", 900),
                           ("whiteout", "usr/share/doc")])
    history = [{"created_by": "/bin/sh -c #(nop) ADD file:rootfs in / "},
               {"created_by": "/bin/sh -c #(nop)  ENV LANG=C.UTF-8", "empty_layer": True},
               {"created_by": "/bin/sh -c rm -rf /usr/share/doc && cp -r /src /app && echo app >> /etc/passwd"}]
    return synth.write_oci_layout(tmp_path_factory.mktemp("oci") / "layout", [base, app], history, compress="gzip")


@pytest.fixture(scope="module")
def daemon_images(docker_client):
    return {tag: images.build(docker_client, tag) for tag in (images.BUSYBOX.tag, images.PARITY_DELETE.tag)}


@pytest.fixture(scope="module")
def xss_image(docker_client):
    """FROM scratch holding a file named like an HTML element, an HTML label and a secret-looking ENV."""
    dockerfile = (f"FROM scratch\nCOPY . /\nLABEL evil=\"{EVIL_LABEL}\"\nENV API_TOKEN={SECRET}\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("Dockerfile", dockerfile), (EVIL, b"not html\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    error = None
    for msg in docker_client.api.build(fileobj=buf, custom_context=True, tag=XSS_TAG, network_mode="none", rm=True,
                                       forcerm=True, pull=False, decode=True, labels={TEST_LABEL: "1"}):
        if "error" in msg or "errorDetail" in msg:
            error = msg.get("error") or msg["errorDetail"].get("message")
    assert error is None, f"building {XSS_TAG} failed: {error}"
    return XSS_TAG


# ------------------------------------------------------------------ helpers

def run_notebook(page, url: str, *, cells: int, wait_for: str):
    """Open a notebook, run its first `cells` cells with Shift+Enter, wait for a selector."""
    try:
        _run_notebook(page, url, cells=cells, wait_for=wait_for)
    except Exception as exc:
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        dialogs = page.locator(".jp-Dialog").all_inner_texts()
        shot = Path(os.environ.get("DOCKERVIZ_SCREENSHOTS") or "/tmp") / "dockerviz-browser-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        pytest.fail(f"running {url} failed: {exc}\nscreenshot {shot}; outputs: {outputs!r}; dialogs: {dialogs!r}; "
                    f"page errors: {page.errors!r}", pytrace=False)


def _run_notebook(page, url: str, *, cells: int, wait_for: str):
    page.goto(url)
    B.run_first_cell(page)
    for _ in range(cells - 1):
        page.keyboard.press("Shift+Enter")
    page.wait_for_selector(wait_for, timeout=90_000)


def run_next(page, count: int = 1) -> None:
    for _ in range(count):
        page.keyboard.press("Shift+Enter")


def assert_clean(page) -> None:
    html = page.content()
    assert "Error displaying widget" not in html
    assert "Model not found" not in html
    for banner in page.locator(".dvz-error").all():
        assert not banner.is_visible() or not banner.inner_text().strip(), banner.inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    errors = [e for e in page.errors if not any(noise in e for noise in APP_NOISE)]
    assert not errors, errors


def tree_paths(scope, depth: int | None = None) -> list[str]:
    sel = ".dvz-tree tbody tr.dvz-row" + (f'[data-depth="{depth}"]' if depth is not None else "")
    return scope.locator(sel).evaluate_all("rows => rows.map(r => r.dataset.path)")


def wait_tree_change(page, scope, old_version: str) -> None:
    handle = scope.element_handle()
    page.wait_for_function("([el, v]) => el.dataset.treeVersion !== v", arg=[handle, old_version])


def src(path) -> str:
    return repr(str(path))


# ------------------------------------------------------------------ tests

def test_explorer_on_a_daemon_image_select_open_filter_scope_sort(lab, page, daemon_images):
    from dockerviz.views.api import layers

    tag = images.PARITY_DELETE.tag
    expected = layers(tag, cache=False)
    nb = lab.write_notebook("explorer_daemon.ipynb", [
        f"from dockerviz.views.api import layers\nex = layers({tag!r}, cache=False)\nex",
    ])
    run_notebook(page, lab.lab_url(nb), cells=2, wait_for=EXPLORER)
    w = page.locator(EXPLORER)
    assert_clean(page)
    assert w.locator(".dvz-steps tbody tr").count() == len(expected.image.steps)
    assert w.locator(".dvz-steps tr.dvz-empty").count() == sum(s.empty for s in expected.image.steps)
    assert "Reclaimable" in w.locator(".dvz-badges").inner_text()

    # select the step that ran `rm -rf /data/gone`
    step = next(s.index for s in expected.image.steps if "rm -rf /data/gone" in s.created_by)
    version = w.get_attribute("data-tree-version")
    w.locator(f'.dvz-steps tr[data-step="{step}"]').click()
    wait_tree_change(page, w, version)
    assert w.locator(f'.dvz-steps tr[data-step="{step}"]').get_attribute("aria-selected") == "true"
    assert w.locator(".dvz-step-title").inner_text().startswith(f"Step {step}: layer")
    w.locator(".dvz-command summary").click()
    assert "rm -rf /data/gone" in w.locator(".dvz-command-text").inner_text()

    # the charts, drawn by the kernel when their section first opens
    assert w.locator(".dvz-chart img").count() == 0
    w.locator(".dvz-charts-details summary").click()
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('.dvz-explorer .dvz-chart img')];"
        " return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth > 100); }", timeout=60_000)
    assert [w.locator(".dvz-chart").nth(i).get_attribute("data-key") for i in range(3)] == [
        "layer_sizes", "top_directories", "waste_by_layer"]
    assert w.get_by_role("img", name="Layer sizes").count() == 1

    # open /data: its removed child shows with a word, not colour alone
    w.locator('tr[data-path="/data"] button.dvz-toggle').click()
    gone = w.locator('tr[data-path="/data/gone"]')
    gone.wait_for()
    assert gone.locator(".dvz-mark").inner_text() == "\u2212 removed"
    assert w.locator('tr[data-path="/data"]').get_attribute("data-open-ms") is not None
    assert w.locator('tr[data-path="/data"] button.dvz-toggle').get_attribute("aria-expanded") == "true"
    # and close it again
    w.locator('tr[data-path="/data"] button.dvz-toggle').click()
    assert w.locator('tr[data-path="/data/gone"]').count() == 0

    # everything up to this layer
    version = w.get_attribute("data-tree-version")
    w.get_by_label("Everything up to this layer").check()
    wait_tree_change(page, w, version)
    expected.update(step=step, scope="cumulative")
    assert tree_paths(w, 0) == list(expected.children("/")["path"])
    assert "/bin" in tree_paths(w, 0)

    # path filter
    version = w.get_attribute("data-tree-version")
    w.get_by_label("Path contains").fill("keep")
    wait_tree_change(page, w, version)
    assert "entries match the filters" in w.locator(".dvz-status").first.inner_text()
    assert tree_paths(w, 0) == ["/data"]
    w.locator('tr[data-path="/data"] button.dvz-toggle').click()
    w.locator('tr[data-path="/data/keep"]').wait_for()
    assert tree_paths(w, 1) == ["/data/keep"]

    # sort by size and a minimum size, compared with the same state in Python
    version = w.get_attribute("data-tree-version")
    w.get_by_label("Path contains").fill("")
    wait_tree_change(page, w, version)
    version = w.get_attribute("data-tree-version")
    w.get_by_label("Sort by").select_option("size")
    wait_tree_change(page, w, version)
    expected.update(sort="size", path_filter="")
    assert tree_paths(w, 0) == list(expected.children("/")["path"])
    version = w.get_attribute("data-tree-version")
    w.get_by_label("Minimum size").select_option("10000")
    wait_tree_change(page, w, version)
    expected.update(min_size=10000)
    assert tree_paths(w, 0) == list(expected.children("/")["path"])

    # the waste table
    w.locator(".dvz-waste summary").click()
    waste = w.locator(".dvz-waste-table tbody tr")
    assert waste.count() == min(len(expected.waste), 100)
    assert waste.first.locator("td").first.inner_text() == expected.waste.iloc[0]["path"]
    assert_clean(page)


def test_explorer_on_a_save_archive_and_an_oci_layout(lab, page, docker_client, daemon_images, oci_layout,
                                                      tmp_path):
    archive = images.save_archive(docker_client, images.PARITY_DELETE.tag, tmp_path / "parity-delete.tar")
    nb = lab.write_notebook("explorer_sources.ipynb", [
        f"from dockerviz.views.api import layers\na = layers({src(archive)}, cache=False)\na",
        f"b = layers({src(oci_layout)}, cache=False)\nb",
    ])
    run_notebook(page, lab.lab_url(nb), cells=3, wait_for=f"{EXPLORER} >> nth=1")
    assert_clean(page)
    first, second = page.locator(EXPLORER).nth(0), page.locator(EXPLORER).nth(1)
    assert "from archive" in first.locator(".dvz-title").inner_text()
    assert "from oci-layout" in second.locator(".dvz-title").inner_text()
    # the OCI image's top layer: /app added, /etc modified, /usr/share/doc removed
    marks = dict(zip(tree_paths(second, 0), second.locator('.dvz-tree tr.dvz-row[data-depth="0"] .dvz-mark')
                     .all_inner_texts()))
    assert marks["/app"] == "+ added" and marks["/etc"] == "~ modified"
    second.locator('tr[data-path="/usr"] button.dvz-toggle').click()
    second.locator('tr[data-path="/usr/share"] button.dvz-toggle').click()
    doc = second.locator('tr[data-path="/usr/share/doc"]')
    doc.wait_for()
    assert doc.locator(".dvz-mark").inner_text() == "\u2212 removed"
    # the archive's explorer answers on its own
    first.locator('.dvz-steps tr[data-step="0"]').click()
    first.locator('.dvz-tree tr[data-path="/bin"]').wait_for()
    assert_clean(page)


def test_image_diff_shared_layers_filters_and_swap(lab, page, daemon_images, shots):
    a, b = images.BUSYBOX.tag, images.PARITY_DELETE.tag
    nb = lab.write_notebook("diff.ipynb", [
        f"from dockerviz.views.api import compare\nd = compare({a!r}, {b!r}, cache=False)\nd",
    ])
    run_notebook(page, lab.lab_url(nb), cells=2, wait_for=DIFF)
    assert_clean(page)
    d = page.locator(DIFF)
    assert a in d.locator(".dvz-name-a").inner_text() and b in d.locator(".dvz-name-b").inner_text()
    status = d.locator(".dvz-layers tbody tr td:first-child .dvz-mark").all_inner_texts()
    assert status.count("= shared") == 2 and status.count("B only") == 6
    assert d.locator(".dvz-figure").get_attribute("src").startswith("data:image/png;base64,")
    marks = set(d.locator(".dvz-files tbody .dvz-mark").all_inner_texts())
    assert marks == {"+ added"}
    assert "/data/keep/kept.bin" in d.locator(".dvz-files").inner_text()
    d.screenshot(path=str(shots / "diff-light.png"))

    # filter on path, then switch which image is A
    d.get_by_label("Path contains").fill("phoenix")
    page.wait_for_function("el => el.querySelectorAll('.dvz-files tbody tr').length === 1",
                           arg=d.element_handle())
    assert d.locator(".dvz-files tbody tr").get_attribute("data-path") == "/data/phoenix.bin"
    d.get_by_role("button", name="Swap A and B").click()
    page.wait_for_function("([el, b]) => el.querySelector('.dvz-name-a').textContent.includes(b)",
                           arg=[d.element_handle(), b])
    assert a in d.locator(".dvz-name-b").inner_text()
    assert d.locator(".dvz-files tbody .dvz-mark").all_inner_texts() == ["\u2212 removed"]
    status = d.locator(".dvz-layers tbody tr td:first-child .dvz-mark").all_inner_texts()
    assert status.count("A only") == 6
    # change filter: nothing was added in this direction
    d.get_by_label("Kind of change").select_option("added")
    page.wait_for_function("el => el.querySelector('.dvz-pager .dvz-status').textContent.startsWith('No files')",
                           arg=d.element_handle())
    assert_clean(page)


def test_names_from_the_image_show_as_text_and_never_run(lab, page, daemon_images, xss_image, tmp_path):
    from dockerviz.views.api import compare, layers

    nb = lab.write_notebook("xss.ipynb", [
        "from dockerviz.views.api import layers, compare\n"
        f"ex = layers({xss_image!r}, cache=False)\nex",
        f"d = compare({images.BUSYBOX.tag!r}, {xss_image!r}, cache=False)\nd",
    ])
    run_notebook(page, lab.lab_url(nb), cells=3, wait_for=DIFF)
    assert_clean(page)
    ex = page.locator(EXPLORER)
    row = ex.locator(".dvz-tree tr.dvz-row").filter(has_text="onerror")
    assert row.count() == 1
    assert row.get_attribute("data-path") == "/" + EVIL
    assert row.locator(".dvz-fname").inner_text() == EVIL
    d = page.locator(DIFF)
    files = d.locator(".dvz-files tbody tr").filter(has_text="onerror")
    assert files.count() == 1 and files.get_attribute("data-path") == "/" + EVIL
    assert files.locator(".dvz-path").inner_text() == "/" + EVIL
    config = d.locator(".dvz-config").inner_text()
    assert EVIL_LABEL in config  # shown as text
    assert SECRET not in page.content() and "(hidden)" in config
    assert page.locator(".jp-OutputArea-output img[src='x']").count() == 0
    assert page.locator(".jp-OutputArea-output script").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"

    # the same image in the static reports, opened from file://
    report = tmp_path / "xss-report.html"
    layers(xss_image, cache=False).to_html(report)
    diff_report = tmp_path / "xss-diff.html"
    compare(images.BUSYBOX.tag, xss_image, cache=False).to_html(diff_report)
    for path in (report, diff_report):
        page.goto(path.as_uri())
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("script").count() == 0 and page.locator("img[src='x']").count() == 0
        assert page.get_by_text("/" + EVIL, exact=True).count() >= 1
    assert SECRET not in diff_report.read_text(encoding="utf-8")


def test_static_report_opens_from_file_url(page, oci_layout, tmp_path):
    from dockerviz.views.api import compare, layers

    ex = layers(oci_layout, cache=False)
    path = tmp_path / "report.html"
    ex.to_html(path)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    assert page.title() == f"dockerviz: {ex.image.name}"
    assert page.locator("h1").inner_text() == f"Image {ex.image.name}"
    assert page.locator("figure svg").count() == 3
    for fig in page.locator("figure svg").all():
        box = fig.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100
    assert page.locator("table").count() == 3
    assert page.get_by_text("\u2212 removed").count() >= 1 and page.get_by_text("+ added").count() >= 1
    assert page.locator("script").count() == 0
    assert all(u.startswith(("file:", "data:")) for u in requests), requests

    other = synth.write_oci_layout(tmp_path / "other", [synth.layer_tar([("dir", "bin"), ("file", "bin/sh", 9)])])
    diff_path = tmp_path / "diff.html"
    compare(other, oci_layout, cache=False).to_html(diff_path)
    page.goto(diff_path.as_uri())
    assert page.locator("h1").inner_text().startswith("Image diff: A ")
    assert page.locator("figure svg").count() == 1
    headings = page.locator("h2").all_inner_texts()
    assert headings[0] == "Layers" and headings[1].startswith("Files (") and headings[2] == "Config differences"
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_light_and_dark_themes_are_readable(lab, page, oci_layout, shots):
    nb = lab.write_notebook("themes.ipynb", [
        f"from dockerviz.views.api import layers\nex = layers({src(oci_layout)}, cache=False, scope='cumulative')\nex",
    ])
    run_notebook(page, lab.lab_url(nb), cells=2, wait_for=EXPLORER)
    w = page.locator(EXPLORER)
    w.locator('tr[data-path="/app"] button.dvz-toggle').click()
    w.locator('tr[data-path="/app/lib"]').wait_for()
    w.locator(".dvz-waste summary").click()
    selector = (f"{EXPLORER} .dvz-tree td, {EXPLORER} .dvz-tree td span, {EXPLORER} .dvz-steps td, "
                f"{EXPLORER} .dvz-tree th")
    results = {}
    for theme, light in (("JupyterLab Light", "true"), ("JupyterLab Dark", "false")):
        page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
        page.wait_for_selector(f'body[data-jp-theme-light="{light}"]', state="attached")
        page.wait_for_timeout(500)  # the theme's stylesheet settles
        name = "dark" if light == "false" else "light"
        w.screenshot(path=str(shots / f"explorer-{name}.png"))
        results[name] = B.contrast(page, selector)
    print(f"\nscreenshots in {shots}; text contrast of the main tables: "
          + ", ".join(f"{k} {v['worst']['ratio']:.2f} over {v['count']} cells ({v['worst']})" for k, v in results.items()))
    bg = {k: v["worst"]["background"] for k, v in results.items()}
    assert bg["light"] != bg["dark"], bg  # the widget follows the theme
    for name, r in results.items():
        assert r["count"] > 20
        assert r["worst"]["ratio"] >= 4.5, (name, r["worst"])
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert_clean(page)


def test_notebook7_shows_the_explorer_and_the_diff(lab, page, oci_layout, tmp_path):
    other = synth.write_oci_layout(tmp_path / "other", [synth.layer_tar([("dir", "bin"), ("file", "bin/sh", 9)])])
    nb = lab.write_notebook("nb7.ipynb", [
        f"from dockerviz.views.api import layers, compare\nex = layers({src(oci_layout)}, cache=False)\nex",
        f"compare({src(other)}, {src(oci_layout)}, cache=False)",
    ])
    run_notebook(page, lab.notebook_url(nb), cells=3, wait_for=DIFF)
    assert page.locator("#notebook-container, .jp-NotebookPanel").count() >= 1
    assert "/lab" not in page.url
    w = page.locator(EXPLORER)
    w.locator('tr[data-path="/app"] button.dvz-toggle').click()
    w.locator('tr[data-path="/app/main.py"]').wait_for()
    assert page.locator(DIFF).locator(".dvz-files tbody tr").count() > 0
    assert_clean(page)


def big_layer_archive(path: Path) -> int:
    spec = [("dir", "data")]
    for d in range(150):
        spec.append(("dir", f"data/d{d:03d}"))
        spec.extend(("file", f"data/d{d:03d}/f{f:03d}.bin", (f % 5) * 100) for f in range(200))
    spec.append(("dir", "flat"))
    spec.extend(("file", f"flat/file{f:05d}.txt", (f % 3) * 50) for f in range(10_000))
    base = synth.layer_tar([("dir", "bin"), ("file", "bin/sh", 1000)])
    synth.write(path, synth.legacy_archive([base, synth.layer_tar(spec)]))
    return len(spec)


def wait_kernel_idle(page) -> None:
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=90_000)


def test_a_40k_entry_layer_renders_small_and_opens_directories_lazily(lab, page, tmp_path):
    """The README's figures for a 40k-entry layer, measured in the browser's own timeline: the bytes of
    every websocket message from running the cell until the kernel is idle again, and the time from a
    click on a directory to its rows in the DOM (performance.now() and a MutationObserver in the page)."""
    archive = tmp_path / "big.tar"
    entries = big_layer_archive(archive)
    assert entries > 40_000
    nb = lab.write_notebook("big.ipynb", [
        "from dockerviz.views.api import LayerExplorer\nimport dockerviz\n"
        f"img = dockerviz.analyze({src(archive)}, cache=False)\nex = LayerExplorer(img)\nprint('READY')",
        "ex",
    ])
    frames = B.FrameLog(page)
    run_notebook(page, lab.lab_url(nb), cells=2, wait_for=".jp-OutputArea-output:has-text('READY')")
    wait_kernel_idle(page)
    frames.mark()
    run_next(page)
    page.wait_for_selector(f'{EXPLORER} tr[data-path="/flat"]')
    wait_kernel_idle(page)  # the execution's last message has arrived
    received = frames.frames()
    first_render = sum(received)
    assert_clean(page)
    w = page.locator(EXPLORER)

    # each figure is the quickest of several fresh fetches of the same kind (the explorer keeps no
    # directory it has not shown), which a passing burst of load on the machine does not move
    pages_of_500, dirs_of_200 = [], []
    pages_of_500.append(B.open_directory_ms(page, EXPLORER, "/flat", 500))
    page.wait_for_selector(f'{EXPLORER} tr[data-path="/flat"][data-open-ms]')
    own = float(w.locator('tr[data-path="/flat"]').get_attribute("data-open-ms"))
    assert 0 < own <= pages_of_500[0] + 1, (own, pages_of_500)  # the explorer's own figure lies inside the page's
    for shown in (500, 1000, 1500):  # the next pages of the 10k-entry directory
        assert w.get_by_role("button", name=f"Show more ({shown} of 10000 shown)").count() == 1
        pages_of_500.append(B.click_to_rows_ms(page, EXPLORER, "button.dvz-more-btn",
                                               'tr.dvz-row[data-path^="/flat/"]', shown + 500))
    opened_data = B.open_directory_ms(page, EXPLORER, "/data", 150)
    for d in range(40, 44):  # subdirectories of /data, 200 files each
        dirs_of_200.append(B.open_directory_ms(page, EXPLORER, f"/data/d{d:03d}", 200))
    assert w.locator('.dvz-tree tr.dvz-row[data-path^="/data/d042/"]').count() == 200
    assert w.locator('tr.dvz-row[data-path^="/flat/"]').count() == 2000
    print(f"\n40k-entry layer ({entries} entries): first render received by the browser: {first_render} bytes "
          f"in {len(received)} websocket messages (largest {max(received)} bytes)")
    print("  in the page, click to rows in the DOM: "
          f"500 rows of /flat {', '.join(f'{ms:.0f}' for ms in pages_of_500)} ms; "
          f"/data (150 rows) {opened_data:.0f} ms; "
          f"200-row subdirectories {', '.join(f'{ms:.0f}' for ms in dirs_of_200)} ms")
    # README: "the first render sends 45 kB"; the size hardly depends on load (a few status messages)
    assert abs(first_render - README_FIRST_RENDER) <= 0.15 * README_FIRST_RENDER, first_render
    # README: "about 20 ms" to open a directory on an idle machine. The bound is deliberately loose:
    # with both cores busy (the load average of this 2-core machine reached 15 while others' tests ran)
    # the page and the kernel each get a sliver of a core and the same opens took 100-980 ms; a
    # regression to per-row widget models or a whole-tree render costs seconds for these directories.
    for name, best in (("500 rows of /flat", min(pages_of_500)), ("/data", opened_data),
                       ("a 200-row subdirectory", min(dirs_of_200))):
        assert best <= LOADED_OPEN_MS, (name, best, pages_of_500, opened_data, dirs_of_200)
    assert_clean(page)
