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
        if tag is not None and norm_tag(tag) not in {norm_tag(t) for t in tags if t}:
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


def norm_tag(tag: str) -> str:
    """'name' and 'name:latest' are the same tag."""
    last = tag.rsplit("/", 1)[-1]
    return tag if ":" in last or "@" in last else tag + ":latest"
