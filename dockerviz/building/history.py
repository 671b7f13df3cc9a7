"""Every build of this Python session, as a table and as a comparison figure."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_builds: list = []

COLUMNS = ["build", "tag", "builder", "status", "seconds", "steps", "cached_steps", "image_id", "image_size",
           "started"]


def record(result) -> None:
    with _lock:
        if not any(b is result for b in _builds):
            _builds.append(result)


def all_builds() -> list:
    with _lock:
        return list(_builds)


def clear() -> None:
    with _lock:
        _builds.clear()


def table(tag=None):
    """A DataFrame with one row per finished build of the session, oldest first."""
    import pandas as pd

    rows = []
    for i, b in enumerate(all_builds(), start=1):
        tags = list(b.tags) or [None]
        if tag is not None and _norm(tag) not in {_norm(t) for t in tags if t}:
            continue
        rows.append({
            "build": i,
            "tag": tags[0],
            "builder": b.builder,
            "status": b.status,
            "seconds": float(b.seconds),
            "steps": len(b.step_list()),
            "cached_steps": b.cached_steps,
            "image_id": b.image_id,
            "image_size": b.size,
            "started": pd.Timestamp(b.started, unit="s", tz="UTC"),
        })
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["image_size"] = df["image_size"].astype("Int64")
    df["seconds"] = df["seconds"].astype("float64")
    return df


def _norm(tag: str) -> str:
    """'name' and 'name:latest' are the same tag."""
    last = tag.rsplit("/", 1)[-1]
    return tag if ":" in last or "@" in last else tag + ":latest"


def figure(tag=None):
    """A matplotlib Figure: image size and build time across the builds of one tag.

    Without `tag`, the most recently built tag is used.
    """
    from matplotlib.figure import Figure

    builds = [b for b in all_builds() if b.tags]
    if tag is None and builds:
        tag = builds[-1].tags[0]
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax_size, ax_time = fig.subplots(2, 1, sharex=True)
    if tag is None:
        ax_size.set_title("No tagged builds in this session yet")
        return fig
    same = [b for b in builds if _norm(tag) in {_norm(t) for t in b.tags}]
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
