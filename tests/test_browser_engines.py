"""Several engines in a real browser (JupyterLab 4, Playwright over Debian's Chromium): a usage
monitor over containers on the shared daemon and on the TLS daemon draws one plot and one table
naming both engines, and images_overview of the two engines shows its figure and table.
Every container the kernel makes is removed by closing its view; none is left on either engine.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from support import TEST_LABEL
from support import browser as B

pytestmark = pytest.mark.browser

MONITOR = ".jp-OutputArea-output .dockerviz-usage-monitor"
OVERVIEW = ".jp-OutputArea-output .dockerviz-images-overview"


def _run_cell(page, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").nth(index).click()
    page.keyboard.press("Shift+Enter")


def _left(tls_daemon, label: str) -> list[str]:
    args = ["ps", "-a", "-q", "--filter", f"label={TEST_LABEL}={label}"]
    local = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30).stdout.split()
    return local + tls_daemon.cli(*args).split()


def test_monitor_and_overview_across_two_engines(lab, chromium, docker_client, test_images, tls_daemon):
    from playwright.sync_api import expect

    label = f"browser-engines-{uuid.uuid4().hex[:8]}"
    opts = f'network_mode="none", labels={{"{TEST_LABEL}": "{label}"}}'
    nb = lab.write_notebook("engines.ipynb", [
        B.docker_env_cell() + "\nimport dockerviz\n"
        "local = dockerviz.Engine(name='local')\n"
        f"tls = dockerviz.Engine({tls_daemon.host!r}, cert_path={str(tls_daemon.cert_path)!r}, name='tls')\n"
        f'a = dockerviz.run("dockerviz-test/busybox", "sleep 300", engine=local, {opts})\n'
        f'b = dockerviz.run("dockerviz-test/busybox", "sleep 300", engine=tls, {opts})\n'
        "m = dockerviz.monitor([a, b])\nm",
        "dockerviz.images_overview([local, tls])",
        "m.stop(); a.close(); b.close()\nprint('CLOSED', a.state, b.state)",
    ])
    try:
        with B.notebook_page(chromium, lab, viewport=(1400, 1000), timeout_ms=30_000) as page:
            page.goto(lab.lab_url(nb))
            B.run_first_cell(page)
            _run_cell(page, 1)
            page.wait_for_selector(MONITOR)
            mon = page.locator(MONITOR)
            expect(mon).to_contain_text("on 2 engines", timeout=30_000)
            page.wait_for_function("el => /[4-9] samples|\\d{2,} samples/.test(el.innerText)",
                                   arg=mon.element_handle(), timeout=30_000)
            page.wait_for_function("el => el.complete && el.naturalWidth > 100", arg=mon.locator("img").element_handle())
            # the table is replaced on every refresh: read it whole, in the page, until both rows have samples
            table = page.wait_for_function(
                """sel => { const t = document.querySelector(sel); if (!t) return null;
                            const rows = [...t.querySelectorAll('tr')].map(r => [...r.children].map(c => c.innerText));
                            return rows.length === 3 && rows.slice(1).every(r => r.length === 9) ? rows : null; }""",
                arg=f"{MONITOR} .dockerviz-usage-table", timeout=30_000).json_value()
            assert table[0][:2] == ["container", "engine"]
            assert {r[1] for r in table[1:]} == {"local", "tls"}

            _run_cell(page, 2)
            page.wait_for_selector(OVERVIEW, timeout=60_000)
            ov = page.locator(OVERVIEW)
            assert "on 2 engines" in ov.locator("p").first.inner_text()
            page.wait_for_function("el => el.complete && el.naturalWidth > 400 && el.naturalHeight > 100",
                                   arg=ov.locator("img").element_handle())
            engines = set(ov.locator(".dockerviz-images-table tr td:first-child").all_inner_texts())
            assert engines == {"local", "tls"}
            assert "dockerviz-test/busybox:latest" in ov.locator(".dockerviz-images-table").inner_text()

            _run_cell(page, 3)
            page.wait_for_selector(".jp-OutputArea-output:has-text('CLOSED removed removed')")
            assert not page.errors, page.errors
    finally:
        lab.shutdown_kernels()
        left = _left(tls_daemon, label)
        for cid in left:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True, timeout=30)
        assert not left, f"containers left behind: {left}"
