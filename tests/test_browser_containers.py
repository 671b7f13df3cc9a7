"""The container view and the usage monitor in a real browser: JupyterLab 4 driven by Playwright over
Debian's Chromium.

A running busybox container (network_mode="none") is shown with its state, image and lifecycle
buttons; Pause and Unpause are clicked in the page, and a pause made behind the view's back reaches
the page through the daemon's events. A usage monitor of it draws its plot and table. Replayed
recordings say they are recorded. A file name written by a container that looks like HTML shows as
text in the writable-layer tree and never runs. Every container made here is removed by the kernel
(closing its view); nothing labelled dockerviz.managed=1 from this run is left.

Without Chromium or playwright the tests skip, except under CI=true where they fail; tests that run
containers use the `docker_client` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import traceback
import uuid
from pathlib import Path

import pytest

from support import REPO_ROOT, TEST_LABEL, images
from support import browser as B

pytestmark = pytest.mark.browser

MANAGED = "dockerviz.managed"
EVIL = '<img src=x onerror="window.__pwned=1">'

VIEW = ".jp-OutputArea-output .dockerviz-container-view"
MONITOR = ".jp-OutputArea-output .dockerviz-usage-monitor"
BUTTONS = ["Start", "Stop", "Pause", "Unpause", "Restart", "Remove"]

RECORDED_CONTAINER = REPO_ROOT / "tests" / "data" / "stats" / "container_snapshot.json"
RECORDED_USAGE = REPO_ROOT / "tests" / "data" / "stats" / "usage_two_containers.json"  # a saved UsageMonitor


# ------------------------------------------------------------------ fixtures

@pytest.fixture
def page(chromium, lab):
    with B.notebook_page(chromium, lab, viewport=(1400, 1000), timeout_ms=30_000) as pg:
        yield pg


@pytest.fixture(scope="module")
def busybox(docker_client):
    return images.build(docker_client, images.BUSYBOX)


def managed(run_label: str) -> list[str]:
    """Ids of the containers labelled dockerviz.managed=1 (this run's only, with run_label)."""
    args = ["docker", "ps", "-a", "-q", "--filter", f"label={MANAGED}=1"]
    if run_label:
        args += ["--filter", f"label={TEST_LABEL}={run_label}"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture
def run_label(lab, docker_client):
    """A label value for the containers one test's kernel creates; after the test none may be left.

    The kernels end first (this runs before the page fixture's own teardown): a test that failed
    half-way leaves its containers to the kernel's exit, which removes them.
    """
    label = f"browser-{uuid.uuid4().hex[:10]}"
    yield label
    lab.shutdown_kernels()
    left = []
    deadline = time.monotonic() + 15  # the kernel may still be removing them
    while time.monotonic() < deadline:
        left = managed(label)
        if not left:
            break
        time.sleep(0.5)
    for cid in left:  # clean up, then fail
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    assert not left, f"containers left behind: {left}"


# ------------------------------------------------------------------ helpers

def open_notebook(page, url: str) -> None:
    """Open a notebook and run its first cell (sys.path set-up) until the kernel has run it."""
    page.goto(url)
    B.run_first_cell(page)


def run_cell(page, index: int) -> None:
    """Run the notebook's cell `index` (0: the set-up cell); focus may be on a widget, so click the cell first."""
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").nth(index).click()
    page.keyboard.press("Shift+Enter")


def expect(locator):
    from playwright.sync_api import expect as playwright_expect  # imported once the browser is known to be there

    return playwright_expect(locator)


def wait_text(scope, text: str, timeout: float = 30_000) -> None:
    # through the locator, found again on every poll: an HTML widget replaces its content on each change
    expect(scope).to_contain_text(text, timeout=timeout)


def diagnose(page, lab, exc) -> None:
    shot = Path(os.environ.get("DOCKERVIZ_SCREENSHOTS") or lab.root) / "dockerviz-containers-failure.png"
    page.screenshot(path=str(shot), full_page=True)
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    states = subprocess.run(["docker", "ps", "-a", "--filter", f"label={MANAGED}=1", "--format",
                             "{{.Names}} {{.Status}}"], capture_output=True, text=True).stdout
    where = "".join(traceback.format_tb(exc.__traceback__)[:2])
    pytest.fail(f"{exc}\n{where}screenshot {shot}; outputs: {outputs!r}; page errors: {page.errors!r}; "
                f"managed containers: {states!r}", pytrace=False)


def assert_clean(page) -> None:
    html = page.content()
    assert "Error displaying widget" not in html
    assert "Model not found" not in html
    assert page.locator(".jp-OutputArea-output .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                        ).count() == 0, page.locator(".jp-OutputArea-output").all_inner_texts()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not page.errors, page.errors


def header(view) -> str:
    return view.locator(".dockerviz-container-header").inner_text()


def button(view, label: str):
    # by role and exact accessible name: the icon glyph must not be part of it
    return view.get_by_role("button", name=label, exact=True)


def open_image_panel(page, view) -> None:
    """Open the "Image against container" section and measure."""
    view.get_by_text("Image against container", exact=True).click()
    measure = button(view, "Measure sizes and changes")
    measure.wait_for(state="visible")
    measure.click()
    view.locator(".dockerviz-layer-stack").wait_for()


# ------------------------------------------------------------------ tests

def test_recorded_views_say_they_are_recorded(lab, page):
    nb = lab.write_notebook("recorded.ipynb", [
        f"import dockerviz\nc = dockerviz.load_container({str(RECORDED_CONTAINER)!r})\nc",
        f"m = dockerviz.load_monitor({str(RECORDED_USAGE)!r})\nm",
    ])
    try:
        open_notebook(page, lab.lab_url(nb))
        run_cell(page, 1)
        run_cell(page, 2)
        page.wait_for_selector(MONITOR)
        view = page.locator(VIEW)
        text = header(view)
        assert "recorded snapshot" in text
        assert "wrote-files" in text and "dockerviz-test/busybox" in text
        for label in BUTTONS:  # nothing to act on in a recording
            assert button(view, label).is_disabled(), label
        # the image panel opens by itself with what was saved
        tree = view.locator(".dockerviz-diff-tree")
        tree.wait_for()
        assert "note" in tree.inner_text() and "true" in tree.inner_text()
        assert "writable layer" in view.locator(".dockerviz-layer-stack").inner_text()

        mon = page.locator(MONITOR)
        wait_text(mon, "recorded samples, not live")
        img = mon.locator("img")
        page.wait_for_function("el => el.complete && el.naturalWidth > 100", arg=img.element_handle())
        table = mon.locator(".dockerviz-usage-table").inner_text()
        names = [c["name"] for c in json.loads(RECORDED_USAGE.read_text())["containers"]]
        assert names and all(name in table for name in names), (names, table)
        assert button(mon, "Stop").is_disabled()
        assert_clean(page)
    except Exception as exc:
        diagnose(page, lab, exc)


def test_running_container_pause_unpause_and_usage(lab, page, docker_client, busybox, run_label):
    labels = {TEST_LABEL: run_label}
    nb = lab.write_notebook("container.ipynb", [
        B.docker_env_cell() + "\nimport dockerviz\n"
        f'v = dockerviz.run("dockerviz-test/busybox", "sleep 300", network_mode="none", labels={labels!r})\nv',
        "m = dockerviz.monitor(v, interval=1.0)\nm",
        "m.stop()\nv.close()\nprint('CLOSED', v.state)",
    ])
    try:
        open_notebook(page, lab.lab_url(nb))
        run_cell(page, 1)
        page.wait_for_selector(VIEW)
        (cid,) = managed(run_label)
        info = docker_client.api.inspect_container(cid)
        name = info["Name"].lstrip("/")
        assert info["HostConfig"]["NetworkMode"] == "none"
        view = page.locator(VIEW)
        wait_text(view.locator(".dockerviz-container-header"), "running")
        text = header(view)
        assert name in text and cid[:12] in text
        assert "image dockerviz-test/busybox" in text and busybox.short_id.split(":")[1][:12] in text
        assert "state \u25b6 running" in text

        # every lifecycle button has a text label; what may be done follows the state
        labels_shown = view.locator("button.jupyter-button").all_inner_texts()
        assert [t.strip() for t in labels_shown[:6]] == BUTTONS
        assert button(view, "Start").is_disabled() and button(view, "Unpause").is_disabled()
        for label in ("Stop", "Pause", "Restart", "Remove"):
            assert button(view, label).is_enabled(), label

        # image against container
        open_image_panel(page, view)
        stack = view.locator(".dockerviz-layer-stack").inner_text()
        assert "writable layer" in stack and "read-only" in stack and "root filesystem" in stack
        assert view.locator(".dockerviz-layer-stack [role=img]").count() == 1 + len(busybox.history())
        assert view.get_by_text("No changes in the writable layer.").count() \
            + view.locator(".dockerviz-diff-tree").count() == 1

        # Pause and Unpause clicked in the page; the state shown is the daemon's
        button(view, "Pause").click()
        wait_text(view.locator(".dockerviz-container-header"), "paused")
        assert docker_client.api.inspect_container(cid)["State"]["Status"] == "paused"
        assert "state \u23f8 paused" in header(view)
        expect(button(view, "Unpause")).to_be_enabled()
        assert button(view, "Pause").is_disabled()
        button(view, "Unpause").click()
        wait_text(view.locator(".dockerviz-container-header"), "running")
        assert docker_client.api.inspect_container(cid)["State"]["Status"] == "running"
        expect(button(view, "Pause")).to_be_enabled()

        # a pause behind the view's back reaches the page through the daemon's events
        docker_client.api.pause(cid)
        try:
            wait_text(view.locator(".dockerviz-container-header"), "paused", timeout=15_000)
        finally:
            docker_client.api.unpause(cid)
        wait_text(view.locator(".dockerviz-container-header"), "running", timeout=15_000)

        # the usage monitor of the same container, until it has two samples and a CPU figure
        run_cell(page, 2)
        page.wait_for_selector(MONITOR)
        mon = page.locator(MONITOR)
        page.wait_for_function("el => /[2-9]\\d* samples|\\d{2,} samples/.test(el.innerText)",
                               arg=mon.element_handle(), timeout=30_000)
        # and one whose CPU % is known (a stream's first sample has none; on a busy daemon the next may not)
        page.wait_for_function("el => /%$/.test(el.querySelectorAll('.dockerviz-usage-table tr')[1]"
                               "?.querySelectorAll('td')[1]?.innerText.trim() ?? '')",
                               arg=mon.element_handle(), timeout=30_000)
        assert "sampling" in mon.inner_text()
        img = mon.locator("img")
        page.wait_for_function("el => el.complete && el.naturalWidth > 100 && el.naturalHeight > 100",
                               arg=img.element_handle())
        rows = mon.locator(".dockerviz-usage-table tr")
        assert rows.count() == 2
        cells = rows.nth(1).locator("td").all_inner_texts()
        assert cells[0] == name and cells[1].endswith("%") and cells[7] == "1"  # sleep is the one process
        assert "no sample yet" not in mon.inner_text()
        assert_clean(page)

        # closing the view removes the container; the page then says so
        run_cell(page, 3)
        page.wait_for_selector(".jp-OutputArea-output:has-text('CLOSED removed')")
        wait_text(view.locator(".dockerviz-container-header"), "removed")
        for label in BUTTONS:
            assert button(view, label).is_disabled(), label
        wait_text(mon, "stopped", timeout=10_000)  # the monitor's own refresh notices it stopped
        expect(button(mon, "Stop")).to_be_disabled()
        assert managed(run_label) == []
        assert_clean(page)
    except Exception as exc:
        diagnose(page, lab, exc)


def test_file_names_from_the_container_show_as_text(lab, page, docker_client, busybox, run_label):
    labels = {TEST_LABEL: run_label}
    command = ["sh", "-c", 'touch "/<img src=x onerror=\\"window.__pwned=1\\">"; sleep 300']
    nb = lab.write_notebook("container_xss.ipynb", [
        B.docker_env_cell() + "\nimport time\nimport dockerviz\n"
        f'x = dockerviz.run("dockerviz-test/busybox", {command!r}, network_mode="none", labels={labels!r})\n'
        "for _ in range(100):  # until the file is there\n"
        "    if any('onerror' in c['path'] for c in x.diff(refresh=True)):\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "x",
        "x.close()\nprint('CLOSED', x.state)",
    ])
    try:
        open_notebook(page, lab.lab_url(nb))
        run_cell(page, 1)
        page.wait_for_selector(VIEW)
        (cid,) = managed(run_label)
        assert any(c["Path"] == "/" + EVIL for c in docker_client.api.diff(cid))
        view = page.locator(VIEW)
        open_image_panel(page, view)
        tree = view.locator(".dockerviz-diff-tree")
        tree.wait_for()
        entry = tree.locator("li > span").filter(has_text="onerror")
        assert entry.count() == 1
        assert entry.inner_text() == EVIL
        assert "1 added (A)" in tree.inner_text()
        assert page.locator(".jp-OutputArea-output img[src='x']").count() == 0
        assert page.locator(".jp-OutputArea-output [onerror]").count() == 0
        page.wait_for_timeout(300)  # a broken image's onerror would have fired by now
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert_clean(page)

        run_cell(page, 2)
        page.wait_for_selector(".jp-OutputArea-output:has-text('CLOSED removed')")
        assert managed(run_label) == []
        assert page.evaluate("typeof window.__pwned") == "undefined"
    except Exception as exc:
        diagnose(page, lab, exc)


def test_no_managed_container_is_left(docker_client):
    """`docker ps -a --filter label=dockerviz.managed=1` lists none of this module's containers (other
    programs' containers, with other labels, may be there)."""
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label={MANAGED}=1", "--format",
                          f'{{{{.ID}}}} {{{{.Label "{TEST_LABEL}"}}}}'],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert [line for line in out if " browser-" in line] == []
