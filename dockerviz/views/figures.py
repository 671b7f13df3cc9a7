"""matplotlib figures of an image and of a comparison.

Every function builds and returns a `matplotlib.figure.Figure` without pyplot:
nothing is registered with pyplot's global state, so a figure shows once (as
the value of a cell) and never leaks. Labels are text, never colour alone.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ..humanize import safe_text
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


MAX_BARS = 60  # past this many layers, consecutive layers share a bar (the figure stays readable)
MAX_SEGMENTS = 10  # bars stacked layer by layer up to this many layers (n² segments), else two parts per bar


def label(text) -> str:
    """Text from an image as a literal matplotlib label: control characters escaped, never mathtext."""
    return safe_text(text).replace("$", r"\$")


def _groups(n: int) -> list[range]:
    """Consecutive layers sharing one bar: one each up to MAX_BARS, else about MAX_BARS groups."""
    if n <= MAX_BARS:
        return [range(i, i + 1) for i in range(n)]
    step = -(-n // MAX_BARS)
    return [range(i, min(i + step, n)) for i in range(0, n, step)]


def _group_names(groups: list[range]) -> list[str]:
    return [str(g.start) if len(g) == 1 else f"{g.start}-{g.stop - 1}" for g in groups]


def layer_sizes(image, *, figsize=(8, 4)) -> Figure:
    """Cumulative image size after each layer (or group of layers), each bar stacked from the layers below.

    Up to MAX_SEGMENTS layers every bar shows each lower layer in its colour; past that a bar is the
    size below it and what its own layers added, so the cost stays linear in the layers."""
    sizes = [c.disk_bytes for c in image.contents]
    groups = _groups(len(sizes))
    added = [sum(sizes[i] for i in g) for g in groups]
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    n = len(groups)
    below, total = [], 0
    for a in added:
        below.append(total)
        total += a
    if n <= MAX_SEGMENTS:
        for k in range(n):  # segment k appears in every bar from k on
            ax.bar(range(k, n), [added[k]] * (n - k), bottom=below[k], color=_PALETTE[k % len(_PALETTE)],
                   edgecolor="white", linewidth=0.5, label=f"layer {k}")
    else:
        ax.bar(range(n), below, color="#bab0ac", edgecolor="white", linewidth=0.3, label="layers below")
        ax.bar(range(n), added, bottom=below, color=_PALETTE[0], edgecolor="white", linewidth=0.3,
               label="added by the layer" if len(groups[0]) == 1 else "added by the layers")
    if n <= 30:
        for j in range(n):
            ax.annotate(fmt_bytes(below[j] + added[j]), (j, below[j] + added[j]), ha="center", va="bottom",
                        fontsize=7)
    names = _group_names(groups)
    every = max(1, n // 20)
    ax.set_xticks(range(0, n, every), names[::every], fontsize=7 if n > 20 else 8,
                  rotation=60 if len(groups[0]) > 1 else 0)
    ax.set_xlabel("after layer" if len(groups[0]) == 1 else f"after layers (groups of {len(groups[0])})")
    ax.set_ylabel("image size")
    _bytes_axis(ax)
    ax.set_title(f"{label(image.name)}: layer sizes, stacked and cumulative", fontsize=10)
    if n:
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
    names = [label(E.display_path(k)) if k not in (".", "(others)") else ("/" if k == "." else k) for k, _ in shown]
    ax.barh(range(len(shown)), [v for _, v in shown], color=_PALETTE[0])
    ax.set_yticks(range(len(shown)), names, fontsize=8)
    ax.invert_yaxis()
    for i, (_, v) in enumerate(shown):
        ax.annotate(fmt_bytes(v), (v, i), va="center", ha="left", fontsize=7, xytext=(3, 0),
                    textcoords="offset points")
    _bytes_axis(ax, "x")
    ax.set_xlabel("bytes in the final filesystem")
    ax.set_title(f"{label(image.name)}: size by top directories", fontsize=10)
    return fig


def waste_by_layer(image, *, figsize=(8, 3.5)) -> Figure:
    """Bytes each layer wrote that a later layer hid (overwrote, deleted, replaced)."""
    per_layer = image.hidden_bytes_by_layer()
    groups = _groups(len(per_layer))
    hidden = [sum(per_layer[i] for i in g) for g in groups]
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.bar(range(len(hidden)), hidden, color=_PALETTE[3], hatch="//", edgecolor="white")
    if len(hidden) <= 30:
        for j, v in enumerate(hidden):
            if v:
                ax.annotate(fmt_bytes(v), (j, v), ha="center", va="bottom", fontsize=7)
    every = max(1, len(groups) // 20)
    ax.set_xticks(range(0, len(groups), every), _group_names(groups)[::every], fontsize=7,
                  rotation=60 if groups and len(groups[0]) > 1 else 0)
    ax.set_xlabel("layer that wrote the bytes" if not groups or len(groups[0]) == 1
                  else f"layers that wrote the bytes (groups of {len(groups[0])})")
    ax.set_ylabel("hidden later (waste)")
    _bytes_axis(ax)
    ax.set_title(f"{label(image.name)}: waste by layer, {fmt_bytes(sum(hidden))} in all", fontsize=10)
    return fig


def size_comparison(comparison, *, figsize=(7, 2.8)) -> Figure:
    """Total sizes of A and B side by side, split into shared layers and layers of their own."""
    s = comparison.summary()
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    labels = [label(f"A: {s['name_a']}"), label(f"B: {s['name_b']}")]
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


def scale_figure(curve, *, figsize=(9, 3.2)):
    """Replicas against what they cost, from Replicas.curve(): disk (the image once plus the writable
    layers, against a copy of the image per replica), memory and CPU, side by side: a matplotlib Figure."""
    fig = Figure(figsize=figsize, layout="constrained")
    disk, mem, cpu = fig.subplots(1, 3)
    n = [int(v) for v in curve["replicas"]]
    x = range(len(n))
    width = 0.4
    disk.bar([i - width / 2 for i in x], curve["disk_bytes"], width, label="shared image + writable layers")
    disk.bar([i + width / 2 for i in x], curve["disk_if_copied_bytes"], width, label="a copy of the image each",
             color="#bbbbbb")
    disk.set_title("disk")
    disk.legend(fontsize="x-small", loc="upper left")
    _bytes_axis(disk)
    mem.bar(list(x), curve["mem_bytes"], 0.6, color="#2e7d32")
    mem.set_title("memory (sum of peaks)")
    _bytes_axis(mem)
    cpu.bar(list(x), curve["cpu_percent"], 0.6, color="#b26a00")
    cpu.set_title("CPU (sum of means)")
    cpu.set_ylabel("% of one CPU")
    for ax in (disk, mem, cpu):
        ax.set_xticks(list(x), [str(v) for v in n])
        ax.set_xlabel("replicas")
    return fig
