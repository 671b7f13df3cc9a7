"""Saving and loading what the container views show, as JSON files.

Two kinds of file, each a JSON object with a "format" field:

- "dockerviz.usage" (version 1): a UsageMonitor's samples. `columns` names
  the row fields (model.stats.COLUMNS, time in epoch seconds, NaN as null);
  `containers` lists id, name, image, image id and, when they could be read
  at save time, sizes and the number of changed files.
- "dockerviz.container" (version 1): a ContainerView: the full inspect
  document, the writable layer's changes, sizes, the image's id, tags and
  layers.

Loaded files open in the same views, marked as recorded.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from ..errors import DockervizError
from ..model.stats import COLUMNS

__all__ = [
    "USAGE_FORMAT",
    "CONTAINER_FORMAT",
    "container_snapshot",
    "load_snapshot",
    "load_json",
    "load_usage",
    "save_json",
    "usage_document",
]

USAGE_FORMAT = "dockerviz.usage"
CONTAINER_FORMAT = "dockerviz.container"


def _clean(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def save_json(path, document: dict) -> Path:
    """Write atomically (temporary file then rename); returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(document, f, allow_nan=False, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError as exc:
        raise DockervizError(f"Cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_json(path, expected_format: str) -> dict:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise DockervizError(f"No file {str(path)!r}.") from None
    except (OSError, ValueError) as exc:
        raise DockervizError(f"{str(path)!r} is not a readable JSON file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != expected_format:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise DockervizError(
            f"{str(path)!r} is not a {expected_format} file (format {found!r}); "
            f"save one with {'UsageMonitor.save()' if expected_format == USAGE_FORMAT else 'ContainerView.save()'}."
        )
    if int(doc.get("version", 0)) > 1:
        raise DockervizError(f"{str(path)!r} was written by a newer dockerviz (version {doc.get('version')}).")
    return doc


# ---- usage -----------------------------------------------------------------------------


def usage_document(containers: list[dict], rows, *, interval: float, keep: int) -> dict:
    return {
        "format": USAGE_FORMAT,
        "version": 1,
        "saved_at": time.time(),
        "interval": interval,
        "keep": keep,
        "containers": containers,
        "columns": list(COLUMNS),
        "rows": [[_clean(v) for v in row] for row in rows],
    }


def load_usage(path) -> dict:
    """A usage document with rows as tuples in COLUMNS order (NaN restored)."""
    doc = load_json(path, USAGE_FORMAT)
    doc["rows"] = usage_rows(doc, str(path))
    return doc


def usage_rows(doc: dict, where: str = "the usage document") -> list[tuple]:
    """The rows of a usage document as tuples in COLUMNS order (NaN restored)."""
    columns = doc.get("columns") or list(COLUMNS)
    index = {c: i for i, c in enumerate(columns)}
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        raise DockervizError(f"{where!r} lacks the columns {missing}.")
    nan = float("nan")
    rows = []
    float_cols = {"time", "cpu_percent", "mem_percent"}
    for r in doc.get("rows") or ():
        row = []
        for c in COLUMNS:
            v = r[index[c]]
            if v is None:
                v = nan if c in float_cols else 0
            row.append(v)
        rows.append(tuple(row))
    return rows


# ---- containers -----------------------------------------------------------------------------


def container_snapshot(view, *, sizes: bool = True, diff: bool = True) -> dict:
    doc = {
        "format": CONTAINER_FORMAT,
        "version": 1,
        "saved_at": time.time(),
        "inspect": view.info,
        "state": view.state,
        "sizes": None,
        "diff": None,
        "image": {"id": view.image_id, "reference": view.image, "tags": [], "history": None},
    }
    if view.state != "removed":
        if sizes:
            doc["sizes"] = view.sizes()
        if diff:
            doc["diff"] = view.diff()
        try:
            doc["image"]["history"] = view.layers()
        except DockervizError:
            pass
        doc["image"]["tags"] = view.image_tags()
    return doc


def load_snapshot(path) -> dict:
    """The snapshot document a ContainerView saved."""
    return load_json(path, CONTAINER_FORMAT)
