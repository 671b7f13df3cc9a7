"""The side pane of the layer explorer and the image diff in a real browser: a file's contents and its diff,
asked for one message per file, and hostile contents (HTML, control characters, a 200 kB line, invalid UTF-8)
drawn as text. The expected text comes from `docker cp` and GNU `diff -u` of the same files."""

from __future__ import annotations

import subprocess

import pytest
from support import package_images as pi
from test_browser_widgets import DIFF, EXPLORER, assert_clean, page, run_notebook  # noqa: F401 - page: the fixture

pytestmark = pytest.mark.browser

PKG = "dockerviz-test/packages"


@pytest.fixture(scope="module")
def pkg(docker_client, test_images):
    pi.build_packages(docker_client)
    return {"tag": PKG, "layers": pi.layer_images(docker_client, PKG)}


def _diff_u(old: bytes, new: bytes, tmp_path) -> list:
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    out = subprocess.run(["diff", "-u", str(tmp_path / "old"), str(tmp_path / "new")], capture_output=True).stdout
    return out.decode().splitlines()[2:]


def _open(page, scope, path: str) -> None:
    """Open the directories down to `path` and press its view button; wait for the pane to fill."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        d = "/" + "/".join(parts[:i])
        btn = scope.locator(f'button.dvz-toggle[aria-label="Open {d}"]')
        btn.click()
        scope.locator(f'button.dvz-toggle[aria-label="Close {d}"]').wait_for()
    scope.locator(f'button.dvz-view[aria-label="View {path}"]').first.click()
    page.wait_for_function("el => el.querySelector('.dvz-pane').dataset.loading === '0'", arg=scope.element_handle())


def _pane_lines(scope) -> list:
    return scope.locator(".dvz-pane-body").evaluate("el => el.textContent").split("\n")[:-1]


def test_side_pane_shows_diffs_and_hostile_contents_as_text(lab, page, docker_client, pkg, tmp_path):
    old_id = pkg["layers"][9]
    old = pi.docker_cp_bytes(docker_client, old_id, "/etc/dvz/app.conf")
    new = pi.docker_cp_bytes(docker_client, PKG, "/etc/dvz/app.conf")
    hostile = pi.docker_cp_bytes(docker_client, PKG, "/srv/hostile.txt")
    want = _diff_u(old, new, tmp_path)
    nb = lab.write_notebook("contents.ipynb", [
        "from dockerviz.views.api import layers, compare\n"
        f"ex = layers({PKG!r}, layer=10, cache=False)\nex",
        f"top = layers({PKG!r}, cache=False)\ntop",
        f"d = compare({old_id!r}, {PKG!r}, cache=False, path_filter='dvz/app.conf')\nd",
    ])
    run_notebook(page, lab.lab_url(nb), cells=4, wait_for=DIFF)
    explorers = page.locator(EXPLORER)
    page.wait_for_function("n => document.querySelectorAll(n).length === 2", arg=EXPLORER)

    # explorer, the layer that edited the file: its diff against the layer below, as diff -u prints it
    ex = explorers.nth(0)
    _open(page, ex, "/etc/dvz/app.conf")
    lines = _pane_lines(ex)
    assert lines[2:] == want
    assert ex.locator(".dvz-pane-body .dvz-add").count() == sum(1 for l in want if l.startswith("+"))
    print(f"\nexplorer side pane: diff shown {ex.locator('.dvz-pane').get_attribute('data-ms')} ms after the click")

    # explorer, the top layer: hostile contents and a hostile name, as text
    top = explorers.nth(1)
    _open(page, top, "/srv/hostile.txt")
    text = top.locator(".dvz-pane-body").evaluate("el => el.textContent")
    shown = hostile.decode("utf-8", "replace").split("\n")
    assert text.split("\n")[0] == shown[0] == "<script>window.__pwned = 1</script><b>bold?</b>"
    assert text.split("\n")[1] == shown[1]  # control characters kept as characters
    assert len(text.split("\n")[2]) < 5000 and "200000 characters" in text.split("\n")[2]  # the long line cut
    assert "\ufffd" in text.split("\n")[3]  # invalid UTF-8 replaced, the rest shown
    assert top.locator(".dvz-pane-body script, .dvz-pane-body b").count() == 0
    evil = f"/srv/{pi.HOSTILE_NAME}"
    top.locator(f'button.dvz-view[aria-label="View {evil}"]').click()
    page.wait_for_function("([el, p]) => el.querySelector('.dvz-pane').dataset.path === p && "
                           "el.querySelector('.dvz-pane').dataset.loading === '0'", arg=[top.element_handle(), evil])
    assert top.locator(".dvz-pane-title").inner_text() == evil
    assert page.locator(".jp-OutputArea-output img[src='x']").count() == 0

    # image diff: the same file from A to B, and the packages that changed
    d = page.locator(DIFF)
    d.locator('button.dvz-view[aria-label="View /etc/dvz/app.conf"]').click()
    page.wait_for_function("el => el.querySelector('.dvz-pane').dataset.loading === '0'", arg=d.element_handle())
    assert _pane_lines(d)[2:] == want
    print(f"image diff side pane: {d.locator('.dvz-pane').get_attribute('data-ms')} ms")
    packages = d.locator(".dvz-packages").inner_text()
    rows = d.locator(".dvz-packages tbody tr").all_inner_texts()
    assert sorted(r.split("\t")[2] for r in rows) == ["dvz-beta", "dvz-tool"]  # removed by layer 12
    assert all(r.startswith("\u2212 removed") for r in rows)
    assert_clean(page)
