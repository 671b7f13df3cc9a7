"""The UsageMonitor widget: CPU and memory of several containers side by side.

A PNG drawn with a matplotlib `Figure` (no pyplot), refreshed from a
background thread by setting the Image widget's value, plus a table of the
latest sample of each container. Works the same on recorded samples.
"""

from __future__ import annotations

import io
import math
import threading

import ipywidgets as w

from ._html import BORDER, FG, FG_MUTED, ICON_CSS, WARN, esc, fmt_bytes

__all__ = ["UsageMonitorWidget", "latest_table_html", "render_png"]


def _series(rows):
    by: dict[str, list[tuple]] = {}
    for r in rows:
        by.setdefault(r[0], []).append(r)
    return by


def _label(name, engines) -> str:
    """The legend label: with the engine when the monitor spans several."""
    if engines and len(set(engines.values())) > 1 and engines.get(name) and not name.endswith("@" + engines[name]):
        return f"{name} @ {engines[name]}"
    return name


def render_png(rows, names=None, *, width=9.0, height=4.0, dpi=80, engines=None) -> bytes:
    """CPU % and memory (with each container's limit, dashed) against time; `engines`
    (container -> engine name) labels each line with its engine when there are several."""
    from matplotlib.figure import Figure

    by = _series(rows)
    names = [n for n in (names or sorted(by)) if n in by] or sorted(by)
    fig = Figure(figsize=(width, height), dpi=dpi)
    ax_cpu, ax_mem = fig.subplots(1, 2)
    t0 = min((r[1] for r in rows if r[1] == r[1]), default=0.0)
    limits_drawn = False
    for i, name in enumerate(names):
        pts = by[name]
        t = [r[1] - t0 for r in pts]
        colour = f"C{i % 10}"
        label = _label(name, engines)
        ax_cpu.plot(t, [r[2] for r in pts], color=colour, label=label, linewidth=1.4)
        ax_mem.plot(t, [r[3] / 2**20 for r in pts], color=colour, label=label, linewidth=1.4)
        limit = pts[-1][4]
        top = max(r[3] for r in pts)
        # a limit far above the usage (no limit set: the host's memory) would flatten the plot
        if limit and limit < max(4 * top, 64 * 2**20):
            ax_mem.axhline(limit / 2**20, color=colour, linestyle="--", linewidth=1)
            limits_drawn = True
    ax_cpu.set_title("CPU %")
    ax_cpu.set_xlabel("seconds")
    ax_cpu.set_ylim(bottom=0)
    ax_mem.set_title("memory MiB" + (" (dashed: limit)" if limits_drawn else ""))
    ax_mem.set_xlabel("seconds")
    ax_mem.set_ylim(bottom=0)
    for ax in (ax_cpu, ax_mem):
        ax.grid(True, alpha=0.3)
    if names:
        ax_cpu.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _pct(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "&ndash;"
    return f"{v:.1f} %"


def latest_table_html(rows, names=None, engines=None) -> str:
    by = _series(rows)
    names = [n for n in (names or sorted(by))]
    several = bool(engines) and len(set(engines.values())) > 1
    head = ("container", *(("engine",) if several else ()), "CPU", "memory", "limit", "mem %", "net rx / tx", "block read / write", "pids")
    out = [
        f'<table class="dockerviz-usage-table" style="border-collapse:collapse;color:{FG};font-size:0.9em">',
        "<tr>" + "".join(f'<th style="text-align:left;padding:2px 8px;border-bottom:1px solid {BORDER}">{h}</th>' for h in head) + "</tr>",
    ]
    for name in names:
        pts = by.get(name)
        if not pts:
            span = 8 if several else 7
            out.append(f'<tr><td style="padding:2px 8px">{esc(name)}</td><td colspan="{span}" '
                       f'style="color:{FG_MUTED}">no sample yet</td></tr>')
            continue
        r = pts[-1]
        cells = (
            esc(name), *((esc(engines.get(name, "")),) if several else ()), _pct(r[2]), esc(fmt_bytes(r[3])), esc(fmt_bytes(r[4])), _pct(r[5]),
            f"{esc(fmt_bytes(r[6]))} / {esc(fmt_bytes(r[7]))}",
            f"{esc(fmt_bytes(r[8]))} / {esc(fmt_bytes(r[9]))}", esc(r[10]),
        )
        out.append("<tr>" + "".join(f'<td style="padding:2px 8px">{c}</td>' for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


class UsageMonitorWidget(w.VBox):
    """The widget of a UsageMonitor (dockerviz.containers.monitor)."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.status = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.table = w.HTML()
        self.stop_button = w.Button(
            description="Stop", icon="stop", tooltip="Stop sampling (the containers keep running)",
            layout=w.Layout(width="auto"),
        )
        self.stop_button.on_click(lambda _b: self.monitor.stop())
        self._drawn_version = -1
        self._timer_stop = threading.Event()
        super().__init__(
            [w.HTML(ICON_CSS), w.HBox([self.stop_button, self.status]), self.plot, self.table],
            layout=w.Layout(border=f"1px solid {BORDER}", padding="6px"),
        )
        self.add_class("dockerviz-usage-monitor")
        self.add_class("dockerviz-icons")
        self.refresh()
        if monitor.running:
            threading.Thread(target=self._tick, name="dockerviz-usage-plot", daemon=True).start()

    def _names(self):
        return [c["name"] for c in self.monitor.containers]

    def _engines(self):
        return {c["name"]: c.get("engine", "") for c in self.monitor.containers}

    def refresh(self) -> None:
        mon = self.monitor
        rows = mon.rows()
        version = mon.version
        if mon.recorded:
            state = f'<i style="color:{WARN}">recorded samples, not live</i>'
        elif mon.running:
            state = "sampling"
        else:
            state = "stopped"
        errors = mon.errors()
        err = "".join(f"<br>{esc(k)}: {esc(v)}" for k, v in errors.items())
        engines = self._engines()
        on = len(set(engines.values()))
        where = f" on {on} engines" if on > 1 else ""
        self.status.value = (
            f'<span style="color:{FG}">{esc(len(self._names()))} containers{esc(where)} &middot; {len(rows)} samples &middot; {state}</span>'
            f'<span style="color:{FG_MUTED}">{err}</span>'
        )
        self.stop_button.disabled = not mon.running
        if version != self._drawn_version and rows:
            self.plot.value = render_png(rows, self._names(), engines=engines)
            self._drawn_version = version
        self.table.value = latest_table_html(rows, self._names(), engines)

    def _tick(self) -> None:
        period = max(1.0, self.monitor.interval)
        while not self._timer_stop.wait(period):
            try:
                self.refresh()
            except Exception:
                pass
            if not self.monitor.running:
                try:
                    self.refresh()
                except Exception:
                    pass
                break

    def close(self):
        self._timer_stop.set()
        super().close()
