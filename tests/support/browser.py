"""Chromium through Python Playwright, for the browser tests.

Debian's /usr/bin/chromium is driven as it is (never `playwright install`).
Without it, or without the playwright package, browser tests skip, except
under CI=true where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from . import unavailable

CHROMIUM = os.environ.get("DOCKERVIZ_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    if shutil.which("jupyter") is None:
        try:
            import jupyterlab  # noqa: F401
        except ImportError:
            return "jupyterlab is not installed"
    return None


def require_browser() -> None:
    """Skip the test when no browser is available; under CI=true, fail it."""
    why = missing()
    if why:
        unavailable(f"no browser: {why}")


@contextlib.contextmanager
def chromium(headless: bool = True):
    """A launched Chromium Browser (Playwright sync API); closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=headless)
        try:
            yield browser
        finally:
            browser.close()


# -- helpers over a Page --------------------------------------------------

CONTRAST_JS = r"""
(selector) => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (m) {
      const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    }
    const s = c.match(/color\(srgb ([^)]+)\)/);  // what color-mix() computes to
    if (!s) return null;
    const p = s[1].split(/[ \/]+/).filter(Boolean).map(Number);
    return { r: 255 * p[0], g: 255 * p[1], b: 255 * p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const blend = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (let i = layers.length - 1; i >= 0; i--) bg = blend(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  let worst = null;
  let count = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (!el.textContent.trim() || !el.getClientRects().length) continue;
    const bg = background(el);
    const fg0 = parse(getComputedStyle(el).color);
    const fg = blend(fg0, bg);
    const r = ratio(fg, bg);
    count += 1;
    if (!worst || r < worst.ratio) worst = { ratio: r, text: el.textContent.slice(0, 60), color: getComputedStyle(el).color,
      background: `rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)})` };
  }
  return { count, worst };
}
"""


def contrast(page, selector: str) -> dict:
    """{"count": n, "worst": {"ratio", "text", "color", "background"}} over the elements matching selector."""
    return page.evaluate(CONTRAST_JS, selector)


# Installed before the page's own scripts: every websocket message the page receives is logged with
# its size in bytes and the page's performance.now(), so sizes and times come from the browser's
# own timeline, not from the test driving it.
FRAME_LOG_SCRIPT = """
(() => {
  const Native = window.WebSocket;
  const log = (window.__frames = []);
  const size = (d) => typeof d === "string" ? new TextEncoder().encode(d).length : (d.byteLength ?? d.size ?? 0);
  class Logged extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => log.push([performance.now(), size(e.data)]));
    }
  }
  window.WebSocket = Logged;
})();
"""


class FrameLog:
    """The bytes of websocket messages the page received since a mark in its own timeline."""

    def __init__(self, page):
        self.page = page
        page.add_init_script(FRAME_LOG_SCRIPT)
        self.since = 0.0

    def mark(self) -> None:
        self.since = self.page.evaluate("() => performance.now()")

    def frames(self) -> list[int]:
        return self.page.evaluate("t => window.__frames.filter(f => f[0] >= t).map(f => f[1])", self.since)


# Click a button inside the page and time, with performance.now(), how long until `rows` elements
# match `counted` in the widget (a MutationObserver sees them as they are inserted).
CLICK_TO_ROWS_SCRIPT = """
([root, clicked, counted, rows]) => new Promise((resolve, reject) => {
  const widget = document.querySelector(root);
  const button = widget.querySelector(clicked);
  const count = () => widget.querySelectorAll(counted).length;
  const timer = setTimeout(() => reject(new Error(`${counted}: ${count()} rows after 60 s`)), 60000);
  let t0 = 0;
  const seen = new MutationObserver(() => {
    if (count() >= rows) {
      const ms = performance.now() - t0;
      seen.disconnect();
      clearTimeout(timer);
      resolve(ms);
    }
  });
  seen.observe(widget, {childList: true, subtree: true});
  t0 = performance.now();
  button.click();
})
"""


def click_to_rows_ms(page, root: str, clicked: str, counted: str, rows: int) -> float:
    """Milliseconds, in the page's own clock, from clicking `clicked` to `rows` elements matching `counted`."""
    return float(page.evaluate(CLICK_TO_ROWS_SCRIPT, [root, clicked, counted, rows]))


def open_directory_ms(page, root: str, path: str, rows: int) -> float:
    """From a click on directory `path`'s toggle to its first `rows` rows in the DOM."""
    return click_to_rows_ms(page, root, f'tr[data-path="{path}"] button.dvz-toggle',
                            f'.dvz-tree tr.dvz-row[data-path^="{path}/"]', rows)


def run_first_cell(page, *, idle_timeout: float = 90_000) -> None:
    """Run the open notebook's first cell (its sys.path set-up, harmless to repeat) until the
    kernel has run it: a cell run while the kernel session is still being set up is dropped
    without a trace, so it is run again until it shows an execution count."""
    import time

    page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor")
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=idle_timeout)
    first = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
    for _attempt in range(10):
        page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not any(c in first.inner_text() for c in "0123456789"):
            page.wait_for_timeout(200)
        if any(c in first.inner_text() for c in "0123456789"):
            return
    raise AssertionError("the kernel never ran the notebook's first cell")


@contextlib.contextmanager
def notebook_page(browser, server, *, viewport=(1400, 1000), timeout_ms: int = 30_000):
    """A fresh page that records page errors in `page.errors`; kernels are shut down after."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
        server.shutdown_kernels()


DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")


def docker_env_cell() -> str:
    """A cell giving the kernel this process's daemon settings: the suite may have found or started its
    daemon (or the Engine 29 proxy) after the notebook server started."""
    lines = ["import os"]
    for key in DOCKER_ENV:
        value = os.environ.get(key)
        lines.append(f"os.environ[{key!r}] = {value!r}" if value is not None else f"os.environ.pop({key!r}, None)")
    return "\n".join(lines)
