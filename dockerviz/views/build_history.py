"""The figure of a session's builds: image size and build time per build of one tag."""

from __future__ import annotations

from matplotlib.figure import Figure

from ..building import history
from ..building.history import norm_tag


def builds_figure(tag=None):
    """A matplotlib Figure comparing the builds of one tag (default: the last tag built):
    image size and build time per build."""
    builds = [b for b in history.all_builds() if b.tags]
    if tag is None and builds:
        tag = builds[-1].tags[0]
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax_size, ax_time = fig.subplots(2, 1, sharex=True)
    if tag is None:
        ax_size.set_title("No tagged builds in this session yet")
        return fig
    same = [b for b in builds if norm_tag(tag) in {norm_tag(t) for t in b.tags}]
    xs = list(range(1, len(same) + 1))
    ok = [b.status == "succeeded" for b in same]
    sizes = [(b.size or 0) / 1e6 if b.size is not None else float("nan") for b in same]
    secs = [b.seconds for b in same]
    colors = ["#4878d0" if o else "#d65f5f" for o in ok]
    ax_size.bar(xs, sizes, color=colors)
    ax_size.set_ylabel("image size (MB)")
    ax_size.set_title(f"Builds of {tag}")
    bars = ax_time.bar(xs, secs, color=colors)
    for b, bar in zip(same, bars):
        cached = b.cached_steps
        label = f"{cached}/{len(b.step_list())} cached"
        if b.status != "succeeded":
            label = b.status
        ax_time.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                         ha="center", va="bottom", fontsize=8)
    ax_time.set_ylabel("build time (s)")
    ax_time.set_xlabel("build (in order; red = failed or cancelled)")
    ax_time.set_xticks(xs)
    return fig
