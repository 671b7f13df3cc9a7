"""matplotlib figures of an image and of a comparison.

Every function builds and returns a `matplotlib.figure.Figure` without pyplot:
nothing is registered with pyplot's global state, so a figure shows once (as
the value of a cell) and never leaks. Labels are text, never colour alone.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ..model import entries as E
from ._html import fmt_bytes

_PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
            "#bab0ac"]


def png_base64(fig: Figure, dpi: int = 80) -> str:
    """A figure as base64 PNG text, for widget state and messages."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bytes_axis(ax, axis="y") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_bytes(v)))
    target.set_major_locator(MaxNLocator(nbins=5 if axis == "y" else 4))


def layer_sizes(image, *, figsize=(8, 4)) -> Figure:
    """Cumulative image size after each layer, each bar stacked from the layers below it."""
    sizes = [c.disk_bytes for c in image.contents]
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    n = len(sizes)
    for k in range(n):  # segment k appears in every bar from k on
        heights = [sizes[k] if j >= k else 0 for j in range(n)]
        bottoms = [sum(sizes[:k]) if j >= k else 0 for j in range(n)]
        ax.bar(range(n), heights, bottom=bottoms, color=_PALETTE[k % len(_PALETTE)], edgecolor="white",
               linewidth=0.5, label=f"layer {k}" if n <= 10 else None)
    total = 0
    for j, s in enumerate(sizes):
        total += s
        ax.annotate(fmt_bytes(total), (j, total), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(n))
    ax.set_xlabel("after layer")
    ax.set_ylabel("image size")
    _bytes_axis(ax)
    ax.set_title(f"{image.name}: layer sizes, stacked and cumulative", fontsize=10)
    if 0 < n <= 10:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def directory_sizes(image, depth: int = 1) -> dict[str, int]:
    """Regular-file bytes of the final filesystem by directory prefix of `depth` components."""
    out: dict[str, int] = {}
    for path, (_layer, e) in image.merged.final.items():
        if e.kind != E.FILE:
            continue
        parts = path.split("/")
        key = "/".join(parts[:depth]) if len(parts) > depth else ("/".join(parts[:-1]) or ".")
        out[key] = out.get(key, 0) + e.size
    return out


def top_directories(image, *, depth: int = 1, top: int = 12, figsize=(8, 4)) -> Figure:
    """Size of the final filesystem by top directories (regular files, hard links once)."""
    sizes = sorted(directory_sizes(image, depth).items(), key=lambda kv: (-kv[1], kv[0]))
    rest = sum(v for _, v in sizes[top:])
    shown = sizes[:top] + ([("(others)", rest)] if rest else [])
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    names = [E.display_path(k) if k not in (".", "(others)") else ("/" if k == "." else k) for k, _ in shown]
    ax.barh(range(len(shown)), [v for _, v in shown], color=_PALETTE[0])
    ax.set_yticks(range(len(shown)), names, fontsize=8)
    ax.invert_yaxis()
    for i, (_, v) in enumerate(shown):
        ax.annotate(fmt_bytes(v), (v, i), va="center", ha="left", fontsize=7, xytext=(3, 0),
                    textcoords="offset points")
    _bytes_axis(ax, "x")
    ax.set_xlabel("bytes in the final filesystem")
    ax.set_title(f"{image.name}: size by top directories", fontsize=10)
    return fig


def waste_by_layer(image, *, figsize=(8, 3.5)) -> Figure:
    """Bytes each layer wrote that a later layer hid (overwrote, deleted, replaced)."""
    hidden = image.hidden_bytes_by_layer()
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.bar(range(len(hidden)), hidden, color=_PALETTE[3], hatch="//", edgecolor="white")
    for j, v in enumerate(hidden):
        if v:
            ax.annotate(fmt_bytes(v), (j, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(hidden)))
    ax.set_xlabel("layer that wrote the bytes")
    ax.set_ylabel("hidden later (waste)")
    _bytes_axis(ax)
    ax.set_title(f"{image.name}: waste by layer, {fmt_bytes(sum(hidden))} in all", fontsize=10)
    return fig


def size_comparison(comparison, *, figsize=(7, 2.8)) -> Figure:
    """Total sizes of A and B side by side, split into shared layers and layers of their own."""
    s = comparison.summary()
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    labels = [f"A: {s['name_a']}", f"B: {s['name_b']}"]
    shared = [s["shared_bytes"], s["shared_bytes"]]
    own = [s["only_a_bytes"], s["only_b_bytes"]]
    ax.barh([0, 1], shared, color=_PALETTE[0], label="shared layers")
    ax.barh([0, 1], own, left=shared, color=_PALETTE[1], hatch="//", edgecolor="white", label="own layers")
    for i, total in enumerate((s["size_a"], s["size_b"])):
        ax.annotate(fmt_bytes(total), (shared[i] + own[i], i), va="center", ha="left", fontsize=8,
                    xytext=(3, 0), textcoords="offset points")
    ax.set_yticks([0, 1], [lbl if len(lbl) < 40 else lbl[:39] + "\u2026" for lbl in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(s["size_a"], s["size_b"], 1) * 1.18)  # room for the totals
    _bytes_axis(ax, "x")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("total size", fontsize=10)
    return fig
