"""An analysed image: history steps, layers, the final filesystem and both waste accountings.

Nothing here touches a daemon or a widget. Tables are built on first use and
pandas is imported only then, so the command line's JSON path stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from . import entries as E
from .dive_accounting import DiveAccounting, dive_accounting, dive_command
from .gc_pause import gc_paused
from .layer import LayerContent
from .merge import MergeResult, merge

LAYER_COLUMNS = [
    "step", "layer", "empty", "created_by", "created", "comment", "diff_id", "layer_id",
    "size_bytes", "tar_bytes", "entries", "added", "modified", "removed", "hidden_bytes",
]
FILE_COLUMNS = ["path", "type", "size", "mode", "uid", "gid", "link", "layer"]
CHANGE_COLUMNS = ["path", "type", "change", "size", "prev_size", "mode", "prev_mode", "uid", "gid", "link",
                  "removed_entries", "via"]
WASTE_COLUMNS = ["path", "size", "written_by", "hidden_by", "how"]


@dataclass
class Step:
    """One entry of config.history, with the layer it made (None for empty steps)."""

    index: int
    created_by: str
    created: str
    comment: str
    empty: bool
    layer: int | None


def map_history(config: dict, n_layers: int) -> list[Step]:
    """config.history -> steps; the k-th non-empty step made rootfs.diff_ids[k]."""
    history = config.get("history") if isinstance(config, dict) else None
    steps: list[Step] = []
    k = 0
    for h in history if isinstance(history, list) else []:
        if not isinstance(h, dict):
            continue
        empty = bool(h.get("empty_layer", False)) or k >= n_layers
        steps.append(Step(len(steps), str(h.get("created_by", "")), str(h.get("created", "")),
                          str(h.get("comment", "")), empty, None if empty else k))
        if not empty:
            k += 1
    while k < n_layers:  # history is optional metadata; never lose a layer for want of it
        steps.append(Step(len(steps), "(missing)", "", "", False, k))
        k += 1
    return steps


class Image:
    """An image analysed from any source.

    Attributes: `name`, `id`, `repo_tags`, `config`, `source` (daemon / archive /
    oci-layout), `path` (how the layers were read), `steps` (history).
    Tables (pandas DataFrames): `layers`, `files`, `waste`, `inefficient_files`,
    and `changes(layer)`. Numbers: `size_bytes` (as `docker images` shows it),
    `efficiency`, `inefficient_bytes`, `wasted_user_percent` (as dive computes
    them), `reclaimable_bytes` (exact).
    """

    def __init__(self, *, name: str, image_id: str, repo_tags: list, config: dict, diff_ids: list,
                 layer_ids: list, contents: list[LayerContent], source: str, path: str, recorded: str | None = None):
        self.name = name
        self.id = image_id
        self.repo_tags = list(repo_tags)
        self.config = config
        self.diff_ids = list(diff_ids)
        self.layer_ids = list(layer_ids)
        self.contents = contents
        self.source = source
        self.path = path
        self.recorded = recorded  # set when the data is a recording, not a live read
        self.steps = map_history(config, len(contents))

    def __repr__(self) -> str:
        return (f"<dockerviz.Image {self.name!r} {self.id[:19]} layers={len(self.contents)} "
                f"size={self.size_bytes} efficiency={self.efficiency:.4f} reclaimable={self.reclaimable_bytes}>")

    # -- accounting -----------------------------------------------------
    @cached_property
    def merged(self) -> MergeResult:
        with gc_paused():
            return merge(self.contents)

    @cached_property
    def dive(self) -> DiveAccounting:
        with gc_paused():
            return dive_accounting(self.contents, self.diff_ids)

    @property
    def size_bytes(self) -> int:
        return sum(c.disk_bytes for c in self.contents)

    @property
    def efficiency(self) -> float:
        return self.dive.efficiency

    @property
    def inefficient_bytes(self) -> int:
        return self.dive.inefficient_bytes

    @property
    def wasted_user_percent(self) -> float:
        return self.dive.wasted_user_percent

    @property
    def reclaimable_bytes(self) -> int:
        return self.merged.reclaimable_bytes

    def change_counts(self, layer: int) -> dict:
        return dict(self.merged.changes.counts[layer])

    def hidden_bytes_by_layer(self) -> list[int]:
        """Bytes each layer wrote that a later layer hid."""
        out = [0] * len(self.contents)
        for h in self.merged.hidden:
            out[h.written_by] += h.size
        return out

    # -- tables ---------------------------------------------------------
    def _layer_index(self, layer) -> int:
        n = len(self.contents)
        if not isinstance(layer, int) or isinstance(layer, bool):
            raise TypeError("layer must be an int: the layer's index (0 = base; negative counts from the top)")
        if layer < 0:
            layer += n
        if not 0 <= layer < n:
            raise IndexError(f"This image has {n} layers (0..{n - 1}); there is no layer {layer}.")
        return layer

    def layer_rows(self) -> list[dict]:
        hidden = self.hidden_bytes_by_layer()
        rows = []
        for s in self.steps:
            row = {"step": s.index, "layer": s.layer, "empty": s.empty, "created_by": s.created_by,
                   "created": s.created, "comment": s.comment, "diff_id": None, "layer_id": None,
                   "size_bytes": 0, "tar_bytes": 0, "entries": 0, "added": 0, "modified": 0, "removed": 0,
                   "hidden_bytes": 0}
            if s.layer is not None:
                c = self.contents[s.layer]
                counts = self.change_counts(s.layer)
                row.update(diff_id=self.diff_ids[s.layer], layer_id=self.layer_ids[s.layer],
                           size_bytes=c.disk_bytes, tar_bytes=c.tar_bytes, entries=len(c.entries),
                           added=counts[E.ADDED], modified=counts[E.MODIFIED], removed=counts[E.REMOVED],
                           hidden_bytes=hidden[s.layer])
            rows.append(row)
        return rows

    @cached_property
    def layers(self):
        """One row per history step, empty steps included (layer is <NA> for them)."""
        import pandas as pd

        df = pd.DataFrame(self.layer_rows(), columns=LAYER_COLUMNS)
        df["layer"] = df["layer"].astype("Int64")
        return df

    @cached_property
    def files(self):
        """The final filesystem: one row per path, with the layer that wrote it."""
        import pandas as pd

        rows = [(E.display_path(p), e.kind, e.size, e.mode, e.uid, e.gid, e.link, layer)
                for p, (layer, e) in self.merged.final.items()]
        rows.sort(key=lambda r: r[0])
        return pd.DataFrame(rows, columns=FILE_COLUMNS)

    def changes(self, layer: int):
        """What one layer added, modified and removed against the layers below it."""
        import pandas as pd

        idx = self._layer_index(layer)
        rows = [(E.display_path(c.path), c.kind, c.change, c.size, c.prev_size, c.mode, c.prev_mode, c.uid, c.gid,
                 c.link, c.removed_entries, c.via) for c in self.merged.changes[idx]]
        df = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
        df["prev_size"] = df["prev_size"].astype("Int64")
        df["prev_mode"] = df["prev_mode"].astype("Int64")
        return df

    @cached_property
    def waste(self):
        """Regular-file bytes stored but invisible at the end: who wrote them, who hid them."""
        import pandas as pd

        rows = [(E.display_path(h.path), h.size, h.written_by, h.hidden_by, h.how) for h in self.merged.hidden]
        df = pd.DataFrame(rows, columns=WASTE_COLUMNS)
        return df.sort_values(["size", "path"], ascending=[False, True], ignore_index=True)

    @cached_property
    def inefficient_files(self):
        """dive's list: paths seen in two or more layers, with every copy's bytes."""
        import pandas as pd

        return pd.DataFrame([(p.path, p.count, p.size) for p in self.dive.inefficient],
                            columns=["path", "count", "size_bytes"])

    # -- export ---------------------------------------------------------
    def to_dive_json(self, *, file_lists: bool = False) -> dict:
        """dive's export shape, plus dockerviz's own fields."""
        dive = self.dive
        layers = []
        layer_steps = {s.layer: s for s in self.steps if s.layer is not None}
        for i, c in enumerate(self.contents):
            counts = self.change_counts(i)
            row = {"index": i, "id": self.layer_ids[i], "digestId": self.diff_ids[i], "sizeBytes": dive.layer_sizes[i],
                   "command": dive_command(layer_steps[i].created_by if i in layer_steps else ""),
                   "createdBy": layer_steps[i].created_by if i in layer_steps else "",
                   "diskSizeBytes": c.disk_bytes, "added": counts[E.ADDED], "modified": counts[E.MODIFIED],
                   "removed": counts[E.REMOVED]}
            if file_lists:
                row["fileList"] = [{"path": E.display_path(e.path)[1:], "type": e.kind, "size": e.size,
                                    "fileMode": e.mode, "uid": e.uid, "gid": e.gid, "linkName": e.link}
                                   for e in c.entries]
            layers.append(row)
        return {
            "layer": layers,
            "image": {
                "sizeBytes": dive.size_bytes,
                "inefficientBytes": dive.inefficient_bytes,
                "efficiencyScore": dive.efficiency,
                "fileReference": [{"count": p.count, "sizeBytes": p.size, "file": p.path} for p in dive.inefficient],
                "userSizeBytes": dive.user_size_bytes,
                "wastedUserPercent": dive.wasted_user_percent if dive.user_size_bytes else 0.0,
                "diskSizeBytes": self.size_bytes,
                "reclaimableBytes": self.reclaimable_bytes,
                "name": self.name,
                "id": self.id,
                "source": self.source,
                "path": self.path,
                "recorded": self.recorded,
            },
        }
