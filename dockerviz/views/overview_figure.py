"""The images overview drawn: one bar per image, its layers to scale, shared layers in colour.

Layers held by several images of an engine get a colour each (the same layer the
same colour on every bar and every engine), the biggest shared ones first; the
rest of the shared layers one muted colour, layers only one image holds light
grey. With many images the smallest are drawn as one bar per engine.
"""

from __future__ import annotations

import base64
import io

from ..humanize import fmt_bytes
from ._html import esc
from .figures import label

__all__ = ["overview_figure", "overview_html"]

UNIQUE = "#d9d9d9"
OTHER_SHARED = "#8c9fb3"
NAMED_COLOURS = 9


def _short(chain_id: str) -> str:
    return chain_id.split(":", 1)[-1][:12]


def overview_figure(ov, max_images: int = 20):
    from matplotlib.figure import Figure

    bars = sorted(ov.bars, key=lambda b: -sum(s for _, s, _ in b[2]))
    shown, rest = bars[:max_images], bars[max_images:]
    # colour the shared layers that hold the most bytes across the images drawn
    weight: dict[str, int] = {}
    count: dict[str, int] = {}
    for _, _, segs in shown:
        for c, s, shared in segs:
            if shared:
                weight[c] = weight.get(c, 0) + s
                count[c] = count.get(c, 0) + 1
    named = [c for c, _ in sorted(weight.items(), key=lambda kv: -kv[1]) if weight[c] > 0][:NAMED_COLOURS]
    colour = {c: f"C{i}" for i, c in enumerate(named)}
    several = len({b[0] for b in ov.bars}) > 1
    labels = [label(f"{e} · {n}" if several else n) for e, n, _ in shown]
    if rest:
        per_engine: dict[str, list] = {}
        for e, _, segs in rest:
            per_engine.setdefault(e, []).append(sum(s for _, s, _ in segs))
        extra = [(e, sizes) for e, sizes in per_engine.items()]
    else:
        extra = []
    n_rows = len(shown) + len(extra)
    fig = Figure(figsize=(10, 1.2 + 0.34 * max(n_rows, 1)))
    ax = fig.add_subplot(1, 1, 1)
    scale, unit = _unit(max((sum(s for _, s, _ in segs) for _, _, segs in bars), default=0))
    y = 0
    for (_, _, segs) in shown:
        left = 0.0
        for c, s, shared in segs:
            if s <= 0:
                continue
            face = colour.get(c, OTHER_SHARED if shared else UNIQUE)
            ax.barh(y, s / scale, left=left, color=face, edgecolor="white", linewidth=0.6, height=0.7)
            left += s / scale
        unique = sum(s for _, s, sh in segs if not sh)
        ax.text(left, y, f"  {fmt_bytes(left * scale)} (unique {fmt_bytes(unique)})", va="center", fontsize=8)
        y += 1
    for e, sizes in extra:
        total = sum(sizes)
        ax.barh(y, total / scale, color="white", edgecolor="#777777", hatch="///", height=0.7)
        ax.text(total / scale, y, f"  {fmt_bytes(total)}", va="center", fontsize=8)
        labels.append(label(f"{e + ' · ' if several else ''}{len(sizes)} more images"))
        y += 1
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"layer bytes ({unit}), base layers on the left")
    ax.set_title(label(ov.describe()), fontsize=9)
    ax.margins(x=0.25)
    ax.grid(True, axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(color=colour[c], label=f"{_short(c)} {fmt_bytes(weight[c] // max(count[c], 1))} "
                                            f"in {count[c]} images") for c in named]
    if any(sh and c not in colour for _, _, segs in shown for c, _, sh in segs):
        handles.append(Patch(color=OTHER_SHARED, label="other shared layers"))
    handles.append(Patch(color=UNIQUE, label="in one image only"))
    ax.legend(handles=handles, fontsize=7, loc="lower right", title="shared layers", title_fontsize=7)
    fig.tight_layout()
    return fig


def _unit(top: float) -> tuple[float, str]:
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):  # the units fmt_bytes prints
        if top >= scale:
            return float(scale), unit
    return 1.0, "bytes"


def overview_html(ov, max_rows: int = 50) -> str:
    buf = io.BytesIO()
    ov.figure().savefig(buf, format="png", dpi=80)
    png = base64.b64encode(buf.getvalue()).decode()
    head = ("engine", "image", "size", "shared", "unique", "containers", "removing it frees")
    rows = []
    # every engine gets its share of the rows, biggest images first
    per_engine = max(1, max_rows // max(1, ov.images.engine.nunique()))
    shown = ov.images.groupby("engine", sort=False, group_keys=False).head(per_engine)
    for r in shown.itertuples():
        frees = fmt_bytes(r.frees_bytes) + (f" ({r.note})" if r.note else "")
        cells = (r.engine, r.image, fmt_bytes(r.size_bytes), fmt_bytes(r.shared_bytes), fmt_bytes(r.unique_bytes),
                 r.containers, frees)
        rows.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in cells) + "</tr>")
    more = len(ov.images) - len(shown)
    tail = f"<p>and {more} more images: see .images</p>" if more > 0 else ""
    return (f'<div class="dockerviz-images-overview"><p>{esc(ov.describe())}</p>'
            f'<img alt="images and their layers" src="data:image/png;base64,{png}">'
            f'<table class="dockerviz-images-table"><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>'
            f'{"".join(rows)}</table>{tail}</div>')
