"""Static HTML reports: one self-contained file, no script, no network.

Inline CSS, figures as inline SVG (matplotlib draws text as paths, so no
image data reaches the markup through them), every other text escaped with
html.escape. Light and dark follow the reader's `prefers-color-scheme`.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone

from ..model import entries as E
from ._common import CHANGE_MARK, mode_string, short_command
from ._html import esc, fmt_bytes

MAX_CHANGE_ROWS = 2000
MAX_WASTE_ROWS = 500
MAX_FILE_ROWS = 2000

CSS = """
:root { color-scheme: light dark; --fg: #1f1f1f; --muted: #555; --bg: #fff; --alt: #eee; --border: #bbb;
  --add: #2e7d32; --mod: #a35b00; --del: #c62828; --accent: #1565c0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --muted: #b0b0b0; --bg: #111; --alt: #222; --border: #555;
    --add: #66bb6a; --mod: #ffa726; --del: #ef5350; --accent: #64b5f6; } }
body { font-family: system-ui, sans-serif; font-size: 14px; color: var(--fg); background: var(--bg); margin: 16px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.muted { color: var(--muted); } .mono, td.mono { font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: 6px 0; }
th { text-align: left; border-bottom: 2px solid var(--border); padding: 2px 8px; }
td { border-bottom: 1px solid var(--border); padding: 1px 8px; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.mono { overflow-wrap: anywhere; max-width: 60em; }
.badge { display: inline-block; border: 1px solid var(--border); background: var(--alt); border-radius: 4px;
  padding: 2px 8px; margin: 2px 4px 2px 0; }
.bar { display: inline-block; height: 8px; background: var(--accent); vertical-align: middle; margin-right: 6px; }
.mark { font-family: ui-monospace, monospace; font-weight: 600; padding-left: 4px; white-space: nowrap; }
.added, .shared, .only-in-B { border-left: 4px solid var(--add); }
.modified, .changed, .rewritten { border-left: 4px solid var(--mod); }
.removed, .only-in-A { border-left: 4px solid var(--del); }
.same { border-left: 4px solid var(--border); }
tr.empty td { color: var(--muted); font-style: italic; }
figure { margin: 8px 0; background: #fff; display: inline-block; }
figure svg { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; word-break: break-all; margin: 0; }
details > summary { cursor: pointer; }
"""


def _doc(title: str, body: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
            f"<p class=\"muted\">Written by dockerviz on {esc(stamp)}.</p></body></html>\n")


def svg(fig) -> str:
    """A Figure as an inline <svg> element (text drawn as paths)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def _figure(fig, caption: str) -> str:
    return f'<figure role="img" aria-label="{esc(caption)}">{svg(fig)}</figure>'


def _mark(change) -> str:
    if not change:
        return ""
    sym, word = CHANGE_MARK.get(change, ("?", str(change)))
    if change in ("shared", "only in A", "only in B"):
        sym, word = {"shared": ("=", "shared"), "only in A": ("A", "only"), "only in B": ("B", "only")}[change]
    return f'<span class="mark {esc(str(change).replace(" ", "-"))}">{esc(sym)} {esc(word)}</span>'


def _table(headings, rows_html: list[str]) -> str:
    head = "".join(f'<th scope="col" class="{"num" if n else ""}">{esc(h)}</th>' for h, n in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows_html)}</tbody></table>"


def _badges(items) -> str:
    return "<div>" + "".join(f'<span class="badge"><span class="muted">{esc(k)}</span> <b>{esc(v)}</b></span>'
                             for k, v in items) + "</div>"


def explorer_html(explorer) -> str:
    """The report of a LayerExplorer: summary, figures, steps, the selected layer's changes, waste."""
    from . import figures

    img = explorer.image
    parts = [f"<h1>Image {esc(img.name)}</h1>",
             f'<p class="muted mono">{esc(img.id)} (from {esc(img.source)})</p>']
    if img.recorded:
        parts.append(f"<p><b>Recorded data:</b> {esc(img.recorded)}</p>")
    parts.append(_badges([("Total size", fmt_bytes(img.size_bytes)), ("Efficiency", f"{100 * img.efficiency:.1f} %"),
                          ("Reclaimable", fmt_bytes(img.reclaimable_bytes)),
                          ("Layers", f"{len(img.contents)} ({len(img.steps)} steps)")]))
    parts.append("<h2>Figures</h2>")
    parts.append(_figure(figures.layer_sizes(img), "Layer sizes, stacked and cumulative"))
    parts.append(_figure(figures.top_directories(img), "Size by top directories"))
    parts.append(_figure(figures.waste_by_layer(img), "Waste by layer"))

    steps = explorer.step_rows()
    biggest = max([s["size"] for s in steps] + [1])
    rows = []
    for s in steps:
        full = explorer._shown(img.steps[s["step"]].created_by)
        width = int(120 * s["size"] / biggest)
        cmd = esc(s["cmd"])
        if full and short_command(full) != full:
            cmd = f"<details><summary>{cmd}</summary><pre>{esc(full)}</pre></details>"
        counts = "" if s["empty"] else f"+{s['added']} ~{s['modified']} \u2212{s['removed']}"
        rows.append(f'<tr class="{"empty" if s["empty"] else ""}"><td class="num">{s["step"]}</td>'
                    f'<td class="num">{"" if s["layer"] is None else s["layer"]}</td>'
                    f'<td class="num"><span class="bar" style="width:{width}px"></span>'
                    f'{esc("no layer" if s["empty"] else fmt_bytes(s["size"]))}</td>'
                    f'<td class="num">{counts}</td>'
                    f'<td class="mono">{cmd}</td></tr>')
    parts.append("<h2>History steps</h2>")
    parts.append(_table([("Step", 1), ("Layer", 1), ("Size", 1), ("Changes", 1), ("Command", 0)], rows))

    layer = explorer.layer
    parts.append(f"<h2>Changes of step {explorer.step}" + (f" (layer {layer})" if layer is not None else "") + "</h2>")
    if layer is None:
        parts.append("<p>This step made no layer: it changed only the image config.</p>")
    else:
        changes = sorted(img.merged.changes[layer], key=lambda c: (-c.size, c.path))
        rows = [f"<tr><td>{_mark(c.change)}</td><td class=\"mono\">{esc(E.display_path(c.path))}"
                f"{(' → ' + esc(c.link)) if c.link else ''}</td><td class=\"num\">{esc(fmt_bytes(c.size))}</td>"
                f"<td class=\"mono\">{esc(mode_string(c.kind, c.mode))}</td><td class=\"mono\">{c.uid}:{c.gid}</td></tr>"
                for c in changes[:MAX_CHANGE_ROWS]]
        parts.append(f"<p class=\"muted\">{len(changes)} changes, largest first"
                     + (f"; the first {MAX_CHANGE_ROWS} are listed" if len(changes) > MAX_CHANGE_ROWS else "") + ".</p>")
        parts.append(_table([("Change", 0), ("Path", 0), ("Size", 1), ("Mode", 0), ("Owner", 0)], rows))

    hidden = explorer.waste_rows(MAX_WASTE_ROWS)
    total = img.merged.hidden
    parts.append(f"<h2>Waste: {len(total)} hidden files, {esc(fmt_bytes(sum(h.size for h in total)))}</h2>")
    rows = [f"<tr><td class=\"mono\">{esc(w['path'])}</td><td class=\"num\">{esc(fmt_bytes(w['size']))}</td>"
            f"<td class=\"num\">{w['written_by']}</td><td class=\"num\">{w['hidden_by']}</td><td>{esc(w['how'])}</td></tr>"
            for w in hidden]
    parts.append(_table([("Path", 0), ("Size", 1), ("Written by layer", 1), ("Hidden by layer", 1), ("How", 0)], rows))
    parts.extend(_opened((f"{path} (layer {layer})", obj) for path, (layer, _kind, obj) in explorer.opened.items()))
    return _doc(f"dockerviz: {img.name}", "\n".join(parts))


PANE_REPORT_CHARS = 100_000  # of each opened file's text or diff in a report


def _opened(items) -> list[str]:
    """The files the user opened in the side pane: their diffs or contents, escaped, cut to a size."""
    items = list(items)
    if not items:
        return []
    out = ["<h2>Files opened</h2>"]
    for title, obj in items:
        text = getattr(obj, "diff", None) or getattr(obj, "text", None) or getattr(obj, "hex", None) or str(obj)
        what = getattr(obj, "change", None) or getattr(obj, "kind", "")
        attrs = "".join(f"<li>{esc(n)}: {esc(a)} → {esc(b)}</li>" for n, a, b in getattr(obj, "attributes", []) or [])
        out.append(f"<h3 class=\"mono\">{esc(title)}</h3><p class=\"muted\">{esc(what)}</p>"
                   + (f"<ul>{attrs}</ul>" if attrs else "")
                   + f"<pre class=\"mono\">{esc(text[:PANE_REPORT_CHARS])}</pre>")
    return out


def diff_html(diff) -> str:
    """The report of an ImageDiff: sizes, layers, files (current filters), config."""
    s = diff.summary()
    parts = [f"<h1>Image diff: A {esc(s['name_a'])} → B {esc(s['name_b'])}</h1>",
             f'<p class="muted mono">A {esc(s["id_a"])}<br>B {esc(s["id_b"])}</p>',
             _badges([("Size of A", fmt_bytes(s["size_a"])), ("Size of B", fmt_bytes(s["size_b"])),
                      ("Size change", ("+" if s["size_delta"] > 0 else "") + fmt_bytes(s["size_delta"])),
                      ("Shared layers", f"{s['shared_layers']} ({fmt_bytes(s['shared_bytes'])})"),
                      ("Files", f"+{s['added']} −{s['removed']} ~{s['changed']} ↻{s['rewritten']}")]),
             _figure(diff.figure(), "Total sizes of A and B, shared and own layers")]
    rows = [f"<tr><td>{_mark(r['status'])}{' <span class=muted>(common base)</span>' if r['chain'] else ''}</td>"
            f"<td class=\"num\">{'' if r['a'] is None else r['a']}</td><td class=\"num\">{'' if r['b'] is None else r['b']}</td>"
            f"<td class=\"num\">{esc(fmt_bytes(r['size']))}</td><td class=\"mono\">{esc(r['cmd'])}</td>"
            f"<td class=\"mono muted\">{esc((r['diff_id'] or '')[7:19])}</td></tr>" for r in diff.layer_rows()]
    parts.append("<h2>Layers</h2>")
    parts.append(_table([("Status", 0), ("Layer in A", 1), ("Layer in B", 1), ("Size", 1), ("Command", 0),
                         ("Diff id", 0)], rows))
    files = diff._filtered_rows()
    parts.append(f"<h2>Files ({len(files)} differences"
                 + (f" with change {esc(diff.change_filter)}" if diff.change_filter != "all" else "")
                 + (f", path contains {esc(diff.path_filter)}" if diff.path_filter else "") + ")</h2>")
    if len(files) > MAX_FILE_ROWS:
        parts.append(f"<p class=\"muted\">The first {MAX_FILE_ROWS} are listed.</p>")
    rows = [f"<tr><td>{_mark(r[1])}</td><td class=\"mono\">{esc(r[0])}</td><td class=\"num\">{esc(fmt_bytes(r[4]))}</td>"
            f"<td class=\"num\">{esc(fmt_bytes(r[5]))}</td><td class=\"num\">{esc(('+' if (r[6] or 0) > 0 else '') + fmt_bytes(r[6]))}</td>"
            f"<td>{esc(r[15])}</td></tr>" for r in files[:MAX_FILE_ROWS]]
    parts.append(_table([("Change", 0), ("Path", 0), ("Size in A", 1), ("Size in B", 1), ("Size change", 1),
                         ("What differs", 0)], rows))
    rows = [f"<tr><td>{_mark(r['change'])}</td><td>{esc(r['field'])}</td><td class=\"mono\">{esc(r['key'])}</td>"
            f"<td class=\"mono\">{esc('(not set)' if r['a'] is None else r['a'])}</td>"
            f"<td class=\"mono\">{esc('(not set)' if r['b'] is None else r['b'])}</td></tr>"
            for r in diff.comparison.config_rows() if r["change"] != "same"]
    parts.append("<h2>Config differences</h2>")
    parts.append(_table([("Change", 0), ("Field", 0), ("Key", 0), ("A", 0), ("B", 0)], rows))
    pkgs = diff.package_rows()
    if pkgs:
        parts.append(f"<h2>Packages ({len(pkgs)} differences)</h2>")
        rows = [f"<tr><td>{esc(r['c'])}</td><td>{esc(r['m'])}</td><td class=\"mono\">{esc(r['n'])}</td>"
                f"<td class=\"mono\">{esc(r['va'] or '')}</td><td class=\"mono\">{esc(r['vb'] or '')}</td>"
                f"<td class=\"mono muted\">{esc(r['loc'])}</td></tr>" for r in pkgs]
        parts.append(_table([("Change", 0), ("Manager", 0), ("Name", 0), ("Version in A", 0), ("Version in B", 0),
                             ("Location", 0)], rows))
    parts.extend(_opened(diff.opened.items()))
    return _doc(f"dockerviz: {s['name_a']} vs {s['name_b']}", "\n".join(parts))


def write(html_text: str, path=None) -> str:
    """Write the report to path (when given) and return its text."""
    if path is not None:
        path = os.fspath(path)
        tmp = path + ".part"
        try:
            with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.write(html_text)
            os.replace(tmp, path)
        except BaseException:
            try:  # a failed write leaves nothing behind
                os.unlink(tmp)
            except OSError:
                pass
            raise
    return html_text
