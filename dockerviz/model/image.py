"""An analysed image: history steps, layers, the final filesystem and both waste accountings.

Nothing here touches a daemon or a widget. Tables are built on first use and
pandas is imported only then, so the command line's JSON path stays light.
"""

from __future__ import annotations

from functools import cached_property

from . import contents as C
from . import entries as E
from . import packages as P
from .dive_accounting import DiveAccounting, dive_accounting, dive_command
from .gc_pause import gc_paused
from .layer import LayerContent
from .merge import MergeResult, merge
from .record import Record

LAYER_COLUMNS = [
    "step", "layer", "empty", "created_by", "created", "comment", "diff_id", "layer_id",
    "size_bytes", "tar_bytes", "entries", "added", "modified", "removed", "hidden_bytes",
]
FILE_COLUMNS = ["path", "type", "size", "mode", "uid", "gid", "link", "layer"]
CHANGE_COLUMNS = ["path", "type", "change", "size", "prev_size", "mode", "prev_mode", "uid", "gid", "link",
                  "removed_entries", "via"]
WASTE_COLUMNS = ["path", "size", "written_by", "hidden_by", "how"]


class MergeSummary(Record):
    """counts[layer] -> {added, modified, removed}; reclaimable_bytes: file bytes stored but hidden."""

    __slots__ = _fields = ("counts", "reclaimable_bytes")

    def __init__(self, counts: list, reclaimable_bytes: int):
        self.counts = counts
        self.reclaimable_bytes = reclaimable_bytes


class Step(Record):
    """One entry of config.history, with the layer it made (None for empty steps)."""

    __slots__ = _fields = ("index", "created_by", "created", "comment", "empty", "layer")

    def __init__(self, index: int, created_by: str, created: str, comment: str, empty: bool, layer: int | None):
        self.index = index
        self.created_by = created_by
        self.created = created
        self.comment = comment
        self.empty = empty
        self.layer = layer


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
        # reads file bytes: reader.read(layer_index, path, n) -> bytes; set by whoever read the layers
        self.reader = None
        self.chosen = ""  # which image of a multi-image source was taken, when there was a choice
        # dive reads a repeated layer as empty when `docker save` stored it as a link to the first copy
        # (Engine < 25); an archive listing the same blob twice (Engine 25+) it reads in full.
        self.dive_full_repeats = False
        self._layer_maps: dict[int, dict] = {}

    def __repr__(self) -> str:
        return (f"<dockerviz.Image {self.name!r} {self.id[:19]} layers={len(self.contents)} "
                f"size={self.size_bytes} efficiency={self.efficiency:.4f} reclaimable={self.reclaimable_bytes}>")

    # -- accounting -----------------------------------------------------
    @cached_property
    def merged(self) -> MergeResult:
        with gc_paused():
            return merge(self.contents)

    @cached_property
    def merge_summary(self) -> MergeSummary:
        """The merge's per-layer change counts and reclaimable bytes: all a report or dive's JSON needs of it
        (a cache can give these without the merge)."""
        m = self.merged
        return MergeSummary(counts=[dict(c) for c in m.changes.counts], reclaimable_bytes=m.reclaimable_bytes)

    @cached_property
    def dive(self) -> DiveAccounting:
        with gc_paused():
            return dive_accounting(self.contents, None if self.dive_full_repeats else self.diff_ids)

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
        return self.merge_summary.reclaimable_bytes

    def change_counts(self, layer: int) -> dict:
        return dict(self.merge_summary.counts[layer])

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

    # -- file contents -------------------------------------------------
    def _layer_map(self, i: int) -> dict:
        m = self._layer_maps.get(i)
        if m is None:
            from operator import attrgetter

            c = self.contents[i]
            index = dict(zip(map(attrgetter("path"), c.entries), range(len(c.entries))))  # C loops only
            m = {"index": index, "whiteouts": set(c.whiteouts), "opaque": set(c.opaque_dirs)}
            self._layer_maps[i] = m
        return m

    def _entry_in(self, k: int, path: str):
        """The entry layer k holds at `path`, else None."""
        i = self._layer_map(k)["index"].get(path)
        return None if i is None else self.contents[k].entries[i]

    @staticmethod
    def _path_key(path) -> str:
        if isinstance(path, bytes):
            path = E.decode_name(path)
        if not isinstance(path, str):
            raise TypeError("path must be a str: a path inside the image, such as '/etc/os-release'")
        return E.normalise(path.lstrip("/").encode("utf-8", "surrogateescape"), what="path")

    def locate(self, path, layer: int | None = None):
        """(layer index, Entry) of `path` as visible after `layer` (None: the final filesystem), else None."""
        key = self._path_key(path)
        top = len(self.contents) - 1 if layer is None else self._layer_index(layer)
        parents = []
        p = key
        while "/" in p:
            p = p.rpartition("/")[0]
            parents.append(p)
        for k in range(top, -1, -1):
            m = self._layer_map(k)
            i = m["index"].get(key)
            if i is not None:
                return k, self.contents[k].entries[i]
            if key in m["whiteouts"] or any(a in m["whiteouts"] or a in m["opaque"] for a in parents):
                return None
            ents, index = self.contents[k].entries, m["index"]
            if any((j := index.get(a)) is not None and ents[j].kind != E.DIR for a in parents):
                return None
        return None

    def _read_entry(self, k: int, key: str, entry, n: int) -> bytes:
        if self.reader is None:
            from ..errors import FileContentsError

            raise FileContentsError(f"{self.name} was not read from a source that can give file contents "
                                    "(analyse it with dockerviz.analyze to read its files).")
        target = entry.link if entry.kind == E.HARDLINK else key
        found = self._entry_in(k, target)
        if found is not None and found.kind == E.FILE:
            n = min(n, found.size)  # a read by offset must stop at the member's end
        return self.reader.read(k, target, n, self._offset(k, target))

    def _offset(self, k: int, path: str) -> int | None:
        """Where the header walk found the data of `path` in layer k (None: not recorded)."""
        offsets = getattr(self.contents[k], "offsets", None)
        i = self._layer_map(k)["index"].get(path) if offsets is not None else None
        return None if i is None else offsets[i]

    def _regular(self, path, layer):
        from ..errors import FileContentsError

        key = self._path_key(path)
        found = self.locate(key, layer)
        where = "the final filesystem" if layer is None else f"the filesystem after layer {self._layer_index(layer)}"
        if found is None:
            raise FileContentsError(f"{E.display_path(key)} is not in {where} of {self.name}; "
                                    "img.files lists the paths there.")
        k, entry = found
        if entry.kind == E.SYMLINK:
            raise FileContentsError(f"{E.display_path(key)} is a symbolic link to {entry.link!r}; "
                                    "dockerviz does not follow links: read the path it points at.")
        if entry.kind not in (E.FILE, E.HARDLINK):
            raise FileContentsError(f"{E.display_path(key)} is a {entry.kind}, not a regular file.")
        size = entry.size
        if entry.kind == E.HARDLINK:
            target = self._entry_in(k, entry.link)
            size = target.size if target is not None else 0
        return key, k, entry, size

    def read(self, path, layer: int | None = None, *, max_bytes: int = C.READ_CAP) -> bytes:
        """The bytes of a regular file as visible after `layer` (None: the final filesystem).

        Read in place from the source (nothing is extracted); a file larger
        than `max_bytes` raises FileContentsError without being read (use
        preview() to see its start).
        """
        from ..errors import FileContentsError

        key, k, entry, size = self._regular(path, layer)
        if size > max_bytes:
            raise FileContentsError(f"{E.display_path(key)} is {size} bytes, over the cap of {max_bytes}; "
                                    "pass max_bytes=N to read it whole, or use preview() for its start.")
        data = self._read_entry(k, key, entry, size)
        if len(data) != size:
            raise FileContentsError(f"{E.display_path(key)} should hold {size} bytes but {len(data)} were read; "
                                    "the source is truncated or changed since it was analysed.")
        return data

    def text(self, path, layer: int | None = None, *, max_bytes: int = C.READ_CAP, errors: str = "replace") -> str:
        """read() decoded as UTF-8 (invalid bytes replaced unless errors= says otherwise)."""
        return self.read(path, layer, max_bytes=max_bytes).decode("utf-8", errors)

    def preview(self, path, layer: int | None = None, *, max_bytes: int = C.PREVIEW_BYTES) -> C.FilePreview:
        """What `path` is after `layer`: text (its start), binary (type, hex), a link (not followed), a directory..."""
        key = self._path_key(path)
        found = self.locate(key, layer)
        if found is None:
            return C.preview_of(key, None, None, None)
        k, entry = found
        data = None
        if entry.kind in (E.FILE, E.HARDLINK):
            data = self._read_entry(k, key, entry, max_bytes)
            if entry.kind == E.HARDLINK:
                target = self._entry_in(k, entry.link)
                if target is not None:
                    entry = E.Entry(entry.path, E.FILE, target.size, entry.mode, entry.uid, entry.gid, "")
        return C.preview_of(key, k, entry, data)

    def diff_side(self, key: str, layer: int | None):
        found = self.locate(key, layer) if layer is None or layer >= 0 else None
        if found is None:
            return None, None
        k, entry = found
        if entry.kind == E.HARDLINK:
            target = self._entry_in(k, entry.link)
            entry = E.Entry(entry.path, E.FILE, target.size if target else 0, entry.mode, entry.uid, entry.gid, "")
            entry_for_read = self._entry_in(k, key)
        else:
            entry_for_read = entry
        data = None
        if entry.kind == E.FILE and entry.size <= C.DIFF_BYTES:
            data = self._read_entry(k, key, entry_for_read, entry.size)
        return entry, data

    def file_diff(self, path, layer: int) -> C.FileDiff:
        """How `layer` changed `path` against the layers below it: a unified diff, or what else changed."""
        idx = self._layer_index(layer)
        key = self._path_key(path)
        old, old_data = self.diff_side(key, idx - 1)
        new, new_data = self.diff_side(key, idx)
        d = C.diff_of(key, old, old_data, new, new_data, old_label=f"a{E.display_path(key)} (layer {idx - 1})",
                      new_label=f"b{E.display_path(key)} (layer {idx})")
        found = self.locate(key, idx)
        if d.change == C.SAME and found is not None and found[0] == idx:
            d.change = C.ATTRIBUTES  # rewritten by this layer with the same bytes, mode and owner
            d.attributes = [("metadata", "", "rewritten with the same content, mode and owner "
                                             "(modification time or extended attributes)")]
        return d

    # -- packages -------------------------------------------------------
    @cached_property
    def package_states(self) -> list[dict]:
        """The packages visible after each layer: [{(manager, location, name): (version, size, db path)}]."""
        return P.inventory(self.contents)

    @property
    def packages_known(self) -> bool:
        """False when some layer was read without its package databases (an old cache or recording)."""
        return all(getattr(c, "packages", None) is not None for c in self.contents)

    def package_rows(self) -> list[tuple]:
        states = self.package_states
        if not states:
            return []
        hist = P.history(states)
        rows = []
        for key, (version, size, _path) in states[-1].items():
            manager, loc, name = key
            installed, changed = hist[key]
            rows.append((manager, name, version, loc, installed, changed, size if size >= 0 else None))
        rows.sort(key=lambda r: (r[0], r[1].lower(), r[3]))
        return rows

    @cached_property
    def packages(self):
        """Every package in the final filesystem: manager, name, version, location, the layer that
        installed it, the layer that last changed it, installed size (where the database says)."""
        import pandas as pd

        df = pd.DataFrame(self.package_rows(), columns=P.PACKAGE_COLUMNS)
        df["size_bytes"] = df["size_bytes"].astype("Int64")
        return df

    def package_change_rows(self, layer: int) -> list[tuple]:
        idx = self._layer_index(layer)
        states = self.package_states
        before = states[idx - 1] if idx else {}
        rows = []
        for (manager, loc, name), change, old, new in P.changes_between(before, states[idx]):
            size = (new or old)[1]
            rows.append((manager, name, loc, change, new[0] if new else None, old[0] if old else None,
                         size if size >= 0 else None))
        return rows

    def package_changes(self, layer: int):
        """What one layer did to packages: added, removed, upgraded, downgraded (by each manager's version order)."""
        import pandas as pd

        df = pd.DataFrame(self.package_change_rows(layer), columns=P.CHANGE_COLUMNS)
        df["size_bytes"] = df["size_bytes"].astype("Int64")
        return df

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
