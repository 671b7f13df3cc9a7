"""The live view of a build: steps, progress, per-step time, cache hits, the log, Cancel.

`BuildView(result)` is a plain Python object; its ipywidgets are created the
first time it is displayed. The build thread updates it only by assigning
widget traits (HTML.value, IntProgress.value...), throttled so a chatty RUN
cannot flood the front end. Every piece of text from the build is escaped.
"""

from __future__ import annotations

import threading
import time

from ._html import BG, BG_ALT, BORDER, ERR, FG, FG_MUTED, ICON_CSS, INFO, MONO, OK, WARN, esc, fmt_bytes, fmt_seconds, short_id, strip_ansi

LOG_LINES = 400  # lines kept on screen; the full log stays in BuildResult.log
THROTTLE = 0.15  # seconds between two renders while the build streams
TICK = 1.0  # seconds between refreshes of the running times when the build is quiet (a long RUN)

_STATUS_WORD = {
    "pending": ("waiting", FG_MUTED),
    "running": ("running", INFO),
    "done": ("built", OK),
    "cached": ("CACHED", WARN),
    "failed": ("FAILED", ERR),
    "cancelled": ("cancelled", FG_MUTED),
}

CSS = f"""
<style>
.dockerviz-build {{ color: {FG}; font-size: 13px; }}
.dockerviz-build .dvb-steps {{ border-collapse: collapse; width: 100%; }}
.dockerviz-build .dvb-steps td, .dockerviz-build .dvb-steps th {{
  border-bottom: 1px solid {BORDER}; padding: 2px 6px; text-align: left; vertical-align: top; }}
.dockerviz-build .dvb-steps td.num, .dockerviz-build .dvb-steps th.num {{ text-align: right; white-space: nowrap; }}
.dockerviz-build .dvb-ins {{ font-family: {MONO}; word-break: break-all; }}
.dockerviz-build .dvb-word {{ font-weight: 600; white-space: nowrap; }}
.dockerviz-build .dvb-row-failed {{ background: color-mix(in srgb, {ERR} 12%, transparent); }}
.dockerviz-build .dvb-log-outer {{ max-height: 260px; overflow-y: auto; display: flex; flex-direction: column-reverse;
  border: 1px solid {BORDER}; background: {BG_ALT}; }}
.dockerviz-build .dvb-log {{ font-family: {MONO}; font-size: 12px; white-space: pre-wrap; word-break: break-all;
  margin: 0; padding: 4px 6px; }}
.dockerviz-build .dvb-err {{ color: {ERR}; }}
.dockerviz-build .dvb-gutter {{ color: {FG_MUTED}; user-select: none; }}
.dockerviz-build .dvb-summary {{ border-left: 4px solid {OK}; padding: 4px 8px; background: {BG}; }}
.dockerviz-build .dvb-summary.dvb-failed {{ border-left-color: {ERR}; }}
.dockerviz-build .dvb-summary.dvb-cancelled {{ border-left-color: {FG_MUTED}; }}
</style>
"""


# ------------------------------------------------------------------ pure HTML renderers

def header_html(result, blocking=False) -> str:
    steps = result.step_list()
    total = result.total_steps or len(steps)
    cur = result.current_step
    title = ", ".join(result.tags) if result.tags else "untagged image"
    builder = result.builder or (result.requested_builder or "auto")
    parts = [f"<b>Build of {esc(title)}</b> · builder: <b>{esc(builder)}</b>"]
    if result.target:
        parts.append(f"· target: <code>{esc(result.target)}</code>")
    status = result.status
    if status == "building":
        parts.append(f"· running for {esc(fmt_seconds(result.seconds))}")
    else:
        parts.append(f"· <b>{esc(status)}</b> in {esc(fmt_seconds(result.seconds))}")
    line2 = ""
    if cur is not None:
        label = "Step" if status == "building" else ("Failed at step" if status == "failed" else "Last step")
        if status == "cancelled":
            label = "Cancelled at step"
        stage = f"[{esc(cur.stage)}] " if cur.stage else ""
        line2 = (f"<div>{label} <b>{cur.step}</b> of <b>{total}</b>: "
                 f"<span class='dvb-ins'>{stage}{esc(cur.instruction)}</span></div>")
    elif status == "building":
        line2 = "<div>Sending the build context…</div>"
    hint = ""
    if blocking and status == "building":
        hint = (f"<div style='color:{FG_MUTED}'>This cell waits for the build: interrupt the kernel (■) to "
                "cancel it, or build with wait=False to keep the notebook free and use Cancel.</div>")
    return f"<div>{' '.join(parts)}</div>{line2}{hint}"


def steps_html(result) -> str:
    rows = []
    for s in result.step_list():
        word, color = _STATUS_WORD.get(s.status, (s.status, FG))
        secs = s.seconds
        stage = f"<span style='color:{FG_MUTED}'>[{esc(s.stage)}]</span> " if s.stage else ""
        cls = " class='dvb-row-failed'" if s.status == "failed" else ""
        size = fmt_bytes(s.layer_size) if s.layer_size else ""
        rows.append(
            f"<tr{cls}><td class='num'>{s.step}</td>"
            f"<td class='dvb-ins'>{stage}{esc(s.instruction)}</td>"
            f"<td><span class='dvb-word dvb-status-{esc(s.status)}' style='color:{color}'>{esc(word)}</span></td>"
            f"<td class='num'>{esc(fmt_seconds(secs)) if secs is not None else ''}</td>"
            f"<td class='num'>{esc(size)}</td></tr>"
        )
    if not rows:
        return f"<div style='color:{FG_MUTED}'>No steps yet.</div>"
    return ("<table class='dvb-steps'><thead><tr><th class='num'>#</th><th>instruction</th><th>status</th>"
            "<th class='num'>time</th><th class='num'>layer</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def log_html(result, last=LOG_LINES) -> str:
    lines = []
    for ln in result.log_lines(last):
        for piece in strip_ansi(ln.text).rstrip("\n").split("\n"):
            piece = piece.rstrip("\r")
            if ln.stderr:
                lines.append(f"<span class='dvb-err'><span class='dvb-gutter'>err│ </span>{esc(piece)}</span>")
            else:
                lines.append(f"<span><span class='dvb-gutter'>   │ </span>{esc(piece)}</span>")
    lines = lines[-last:]
    return ("<div class='dvb-log-outer' role='log' aria-label='build log'><pre class='dvb-log'>"
            + "\n".join(lines) + "</pre></div>")


def summary_html(result) -> str:
    if result.status == "building":
        return ""
    if result.status == "succeeded":
        tags = ", ".join(esc(t) for t in result.tags) or "(none)"
        return (f"<div class='dvb-summary'><b>Built</b> image <code title='{esc(result.image_id)}'>"
                f"{esc(short_id(result.image_id))}</code> · tags: {tags} · size: {esc(fmt_bytes(result.size))}"
                f" · {len(result.step_list())} steps, {result.cached_steps} cached"
                f" · total {esc(fmt_seconds(result.seconds))}</div>")
    if result.status == "cancelled":
        return (f"<div class='dvb-summary dvb-cancelled'><b>Cancelled</b> after "
                f"{esc(fmt_seconds(result.seconds))}; no image was tagged.</div>")
    err = result.error
    step = getattr(err, "step", None)
    ins = getattr(err, "instruction", None)
    code = getattr(err, "exit_code", None)
    tail = getattr(err, "log_tail", None) or []
    first = str(err).split("\nLast log lines:", 1)[0] if err is not None else "unknown error"
    where = f"at step {step}" if step is not None else ""
    bits = [f"<b>Build failed</b> {esc(where)}"]
    if ins:
        bits.append(f": <span class='dvb-ins'>{esc(ins)}</span>")
    if code is not None:
        bits.append(f" (exit code {esc(code)})")
    out = f"<div class='dvb-summary dvb-failed' role='alert'><div>{''.join(bits)}</div>"
    out += f"<pre class='dvb-log dvb-err'>{esc(strip_ansi(first))}</pre>"
    if tail:
        out += ("<div>Last log lines:</div><pre class='dvb-log'>"
                + esc(strip_ansi("\n".join(tail))) + "</pre>")
    return out + "</div>"


def static_html(result) -> str:
    """The whole view as one HTML fragment (no widgets, no JavaScript)."""
    return (CSS + "<div class='dockerviz-build'>" + header_html(result) + steps_html(result)
            + log_html(result) + summary_html(result) + "</div>")


# ------------------------------------------------------------------ the widget

class BuildView:
    """Live view of a BuildResult; the widget is created on first display."""

    def __init__(self, result, blocking=False):
        self.result = result
        self.blocking = blocking
        self._widget = None
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer = None
        self._closed = False
        self._stop_ticks = threading.Event()
        self._ticker = None

    # ---- display protocol
    def _repr_mimebundle_(self, include=None, exclude=None):
        w = self.widget
        bundle = w._repr_mimebundle_(include=include, exclude=exclude) if hasattr(w, "_repr_mimebundle_") else None
        if bundle is None:
            return {"text/plain": self.result.describe(), "text/html": static_html(self.result)}
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        bundle = dict(bundle)
        bundle["text/plain"] = self.result.describe()
        return bundle

    def _repr_html_(self):
        return static_html(self.result)

    def __repr__(self):
        return f"BuildView({self.result.describe()})"

    # ---- widget
    @property
    def widget(self):
        if self._widget is None:
            self._widget = self._make()
        return self._widget

    def _make(self):
        import ipywidgets as W

        r = self.result
        self.w_css = W.HTML(CSS + ICON_CSS)
        self.w_header = W.HTML()
        self.w_progress = W.IntProgress(min=0, max=1, value=0, description="Steps",
                                        layout=W.Layout(width="60%"))
        self.w_progress_label = W.HTML()
        if self.blocking:
            # The kernel takes no widget event while the cell waits: a live-looking button would do nothing.
            self.w_cancel = W.Button(description="Cancel build", icon="stop", disabled=True,
                                     tooltip="This cell waits for the build: interrupt the kernel (■) to cancel it")
        else:
            self.w_cancel = W.Button(description="Cancel build", icon="stop", button_style="warning",
                                     tooltip="Stop the build (closes the stream; the daemon stops building)")
        self.w_cancel.on_click(lambda _b: self.cancel())
        self.w_steps = W.HTML()
        self.w_log = W.HTML()
        self.w_log_box = W.Accordion(children=[self.w_log], titles=("Log",), selected_index=0)
        self.w_summary = W.HTML()
        box = W.VBox([
            self.w_css,
            self.w_header,
            W.HBox([self.w_progress, self.w_progress_label, self.w_cancel]),
            self.w_steps,
            self.w_log_box,
            self.w_summary,
        ])
        box.add_class("dockerviz-build")
        box.add_class("dockerviz-icons")
        self._render()
        if not r.done:
            r._subscribe(self._on_event)
            self._ticker = threading.Thread(target=self._tick, name="dockerviz-build-view", daemon=True)
            self._ticker.start()
            if r.done:  # finished between the check and the subscription
                self._on_event("finished", r)
        return box

    def _tick(self):
        # A step that prints nothing for minutes still shows its time going up.
        while not self._stop_ticks.wait(TICK):
            if self._closed or self.result.done:
                return
            r = self.result
            self.w_header.value = header_html(r, self.blocking)
            self.w_steps.value = steps_html(r)

    def cancel(self):
        if not self.result.done:
            self.w_cancel.description = "Cancelling…"
            self.w_cancel.disabled = True
            self.result.cancel()

    # ---- updates (called on the build thread)
    def _on_event(self, kind, payload):
        if kind == "finished":
            with self._lock:
                t, self._timer = self._timer, None
                self._closed = True
            self._stop_ticks.set()
            if t is not None:
                t.cancel()
                if t is not threading.current_thread():
                    t.join()
            ticker = self._ticker
            if ticker is not None and ticker is not threading.current_thread():
                ticker.join()
            self.result._unsubscribe(self._on_event)
            self._render()
            return
        now = time.monotonic()
        with self._lock:
            if self._closed:
                return
            due = now - self._last >= THROTTLE
            if due:
                self._last = now
            elif self._timer is None:
                self._timer = threading.Timer(THROTTLE, self._deferred)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self._render()

    def _deferred(self):
        with self._lock:
            self._timer = None
            if self._closed:
                return
            self._last = time.monotonic()
        self._render()

    def _render(self):
        r = self.result
        steps = r.step_list()
        total = max(r.total_steps or 0, len(steps), 1)
        finished = sum(1 for s in steps if s.status in ("done", "cached"))
        self.w_header.value = header_html(r, self.blocking)
        self.w_progress.max = total
        self.w_progress.value = min(finished, total)
        cached = sum(1 for s in steps if s.cached)
        self.w_progress_label.value = (f"{finished}/{total} steps"
                                       + (f", {cached} cached" if cached else ""))
        if r.status == "failed":
            self.w_progress.bar_style = "danger"
        elif r.status == "succeeded":
            self.w_progress.bar_style = "success"
        elif r.status == "cancelled":
            self.w_progress.bar_style = "warning"
        else:
            self.w_progress.bar_style = "info"
        self.w_steps.value = steps_html(r)
        self.w_log.value = log_html(r)
        self.w_summary.value = summary_html(r)
        if r.done:
            self.w_cancel.disabled = True
            self.w_cancel.description = {"cancelled": "Cancelled", "failed": "Failed"}.get(r.status, "Done")
            self.w_cancel.button_style = ""
