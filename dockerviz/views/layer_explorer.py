"""LayerExplorer: an image's history steps, and the tree of what a layer changed.

`LayerExplorer(image)` is a plain Python object. It holds the state (selected
step, scope, filters, sort) and answers every question about it in Python
(`children()`, `entries`, `waste`...), so it is testable without a browser.
Its front end, an anywidget whose ES module ships in views/static, is created
the first time the object is displayed. The tree is sent lazily: the first
render carries the steps and the top level of the tree; each directory's
children travel only when it is opened, a page at a time.
"""

from __future__ import annotations

from ..model import entries as E
from ..model.diff import mask_command
from ..model.merge import merge
from ._common import display_name, mode_string, resolve_image, short_command, widget_bundle

SCOPES = ("layer", "cumulative")
SORTS = ("name", "size")
PAGE = 500  # children sent per request
WASTE_ROWS = 100  # waste rows sent to the front end
TREE_COLUMNS = ["path", "name", "type", "change", "size", "mode", "uid", "gid", "link", "layer", "children",
                "prev_size", "detail"]


class _Node:
    __slots__ = ("path", "name", "kind", "change", "size", "own", "mode", "uid", "gid", "link", "layer",
                 "prev_size", "detail", "kids", "sorted")

    def __init__(self, path, name, kind="dir", change="", size=0, mode=None, uid=None, gid=None, link="",
                 layer=None, prev_size=None, detail=""):
        self.path = path
        self.name = name
        self.kind = kind
        self.change = change
        self.own = size  # the entry's own size
        self.size = 0  # aggregate shown in the tree (own size, or subtree total for directories)
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.link = link
        self.layer = layer
        self.prev_size = prev_size
        self.detail = detail
        self.kids = None  # list of node ids
        self.sorted = None  # sort key the kids are in


class TreeIndex:
    """The filtered tree for one (layer, scope, filter, min size); nodes by integer id (root is 0)."""

    def __init__(self, records, *, path_filter: str = "", min_size: int = 0):
        """records: iterable of (path, kind, change, size, mode, uid, gid, link, layer, prev_size, detail)."""
        self.nodes: list[_Node] = [_Node("", "/")]
        self.by_path: dict[str, int] = {"": 0}
        self.matched = 0
        self.total = 0
        needle = path_filter.strip().lower()
        needle = needle.lstrip("/") if needle.startswith("/") else needle
        for rec in records:
            self.total += 1
            path, kind = rec[0], rec[1]
            if needle and needle not in E.display_path(path)[1:].lower():
                continue
            if min_size and kind == E.DIR and rec[2] != E.REMOVED:
                continue  # directories come back as containers of what passes
            if min_size and rec[3] < min_size:
                continue
            self.matched += 1
            self._place(rec)
        self._aggregate()

    def _ensure(self, path: str) -> int:
        """The id of the node at path, creating it (and its parents) as plain directories."""
        nid = self.by_path.get(path)
        if nid is not None:
            return nid
        missing = []  # iteration, not recursion: paths may be thousands deep
        while nid is None:
            missing.append(path)
            path = E.parent_of(path)
            nid = self.by_path.get(path)
        for path in reversed(missing):
            parent, nid = nid, len(self.nodes)
            self.nodes.append(_Node(path, display_name(path.rpartition("/")[2])))
            self.by_path[path] = nid
            pnode = self.nodes[parent]
            if pnode.kids is None:
                pnode.kids = []
            pnode.kids.append(nid)
        return nid

    def _place(self, rec) -> None:
        path, kind, change, size, mode, uid, gid, link, layer, prev_size, detail = rec
        nid = self._ensure(path)
        n = self.nodes[nid]
        n.kind, n.change, n.own, n.mode, n.uid, n.gid, n.link, n.layer = kind, change, size, mode, uid, gid, link, layer
        n.prev_size, n.detail = prev_size, detail

    def _aggregate(self) -> None:
        # Children always have larger ids than their parents: one reverse pass sums subtrees.
        nodes = self.nodes
        parent_of = [0] * len(nodes)
        for nid, n in enumerate(nodes):
            if n.kids:
                for k in n.kids:
                    parent_of[k] = nid
        for nid in range(len(nodes) - 1, -1, -1):
            n = nodes[nid]
            if n.kids is None or n.change == E.REMOVED:
                n.size = n.own if n.kind != E.DIR or n.change == E.REMOVED else 0
            if nid and n.change != E.REMOVED:  # removed bytes show on the removal's row, not in live totals
                nodes[parent_of[nid]].size += n.size

    def children(self, nid: int, sort: str = "name") -> list[int]:
        n = self.nodes[nid]
        if not n.kids:
            return []
        if n.sorted != sort:
            nodes = self.nodes
            if sort == "size":
                n.kids.sort(key=lambda k: (-nodes[k].size, nodes[k].name))
            else:
                n.kids.sort(key=lambda k: nodes[k].name)
            n.sorted = sort
        return n.kids

    def row(self, nid: int) -> dict:
        """One tree row as the front end takes it (short keys keep the payload small)."""
        n = self.nodes[nid]
        row = {"i": nid, "n": n.name, "k": n.kind, "s": n.size}
        if n.change:
            row["c"] = n.change
        if n.mode is not None:
            row["m"] = mode_string(n.kind, n.mode)
            row["o"] = f"{n.uid}:{n.gid}"
        if n.link:
            row["l"] = display_name(n.link)
        if n.layer is not None:
            row["w"] = n.layer
        if n.kids:
            row["d"] = len(n.kids)
        if n.prev_size is not None and n.change == E.MODIFIED and n.kind == E.FILE:
            row["p"] = n.prev_size
        if n.detail:
            row["x"] = n.detail
        return row

    def page(self, nid: int, sort: str, offset: int = 0, limit: int = PAGE) -> dict:
        kids = self.children(nid, sort)
        offset = max(0, int(offset))
        return {"id": nid, "offset": offset, "total": len(kids),
                "rows": [self.row(k) for k in kids[offset:offset + limit]]}


class LayerExplorer:
    """The layers of one image, and the tree of what each changed.

    State (plain attributes, the same the widget shows): `step` (selected
    history step), `layer` (its layer index, None for an empty step), `scope`
    ("layer": this layer's changes only; "cumulative": everything up to this
    layer), `path_filter`, `min_size`, `sort` ("name" or "size").
    Data: `image`, `layers`, `entries` (the tree as a flat DataFrame),
    `children(path)`, `waste`.
    """

    def __init__(self, image, *, step: int | None = None, layer: int | None = None, scope: str = "layer",
                 path_filter: str = "", min_size: int = 0, sort: str = "name", show_secrets: bool = False):
        self.image = image
        self.show_secrets = bool(show_secrets)
        self._widget = None
        self._index = None
        self._index_key = None
        self._cumulative: dict[int, object] = {}
        self._version = 0
        self.open_dirs: list[str] = []
        self.opened: dict = {}  # path -> (layer, "diff" / "preview", FileDiff / FilePreview): what the pane showed
        if step is None:
            if layer is not None:
                step = self._step_of_layer(self.image._layer_index(layer))
            else:
                with_layers = [s.index for s in image.steps if s.layer is not None]
                step = with_layers[-1] if with_layers else 0
        self._state = {"step": 0, "scope": "layer", "path_filter": "", "min_size": 0, "sort": "name"}
        self.update(step=step, scope=scope, path_filter=path_filter, min_size=min_size, sort=sort)

    # -- state ------------------------------------------------------------
    def __repr__(self) -> str:
        return (f"<dockerviz.LayerExplorer {self.image.name!r} step={self.step} layer={self.layer} "
                f"scope={self.scope} filter={self.path_filter!r} min_size={self.min_size} sort={self.sort}>")

    def _step_of_layer(self, layer: int) -> int:
        for s in self.image.steps:
            if s.layer == layer:
                return s.index
        raise IndexError(f"no history step made layer {layer}")

    def update(self, **changes) -> None:
        """Set several of step, scope, path_filter, min_size, sort at once (validated)."""
        new = dict(self._state)
        for key, value in changes.items():
            if key not in new:
                raise TypeError(f"unknown explorer setting {key!r}")
            if value is None:
                continue
            if key == "step":
                n = len(self.image.steps)
                value = int(value)
                if value < 0:
                    value += n
                if n and not 0 <= value < n:
                    raise IndexError(f"This image has {n} history steps (0..{n - 1}); there is no step {value}.")
            elif key == "scope":
                if value not in SCOPES:
                    raise ValueError(f"scope must be one of {SCOPES}, not {value!r}")
            elif key == "sort":
                if value not in SORTS:
                    raise ValueError(f"sort must be one of {SORTS}, not {value!r}")
            elif key == "min_size":
                value = int(value)
                if value < 0:
                    raise ValueError("min_size must be >= 0")
            elif key == "path_filter":
                value = str(value)
            new[key] = value
        if new["sort"] != self._state["sort"]:
            self._version += 1  # rows already on screen are in the old order: their pages are stale
        self._state = new
        self._push()

    step = property(lambda self: self._state["step"], lambda self, v: self.update(step=v))
    scope = property(lambda self: self._state["scope"], lambda self, v: self.update(scope=v))
    path_filter = property(lambda self: self._state["path_filter"], lambda self, v: self.update(path_filter=v))
    min_size = property(lambda self: self._state["min_size"], lambda self, v: self.update(min_size=v))
    sort = property(lambda self: self._state["sort"], lambda self, v: self.update(sort=v))

    @property
    def layer(self) -> int | None:
        steps = self.image.steps
        return steps[self.step].layer if steps else None

    def select(self, layer: int | None = None, *, step: int | None = None) -> "LayerExplorer":
        """Select a layer (by layer index) or a history step; returns self."""
        if layer is not None:
            step = self._step_of_layer(self.image._layer_index(layer))
        self.update(step=step)
        return self

    def filter(self, path: str | None = None, min_size: int | None = None) -> "LayerExplorer":
        self.update(path_filter=path, min_size=min_size)
        return self

    # -- data -------------------------------------------------------------
    @property
    def layers(self):
        return self.image.layers

    @property
    def waste(self):
        return self.image.waste

    def _shown(self, command: str) -> str:
        return command if self.show_secrets else mask_command(command)

    @property
    def command(self) -> str:
        """The selected step's command (secret-looking NAME=value assignments masked)."""
        steps = self.image.steps
        return self._shown(steps[self.step].created_by) if steps else ""

    def _records(self):
        layer = self.layer
        if layer is None:
            return []
        changes = self.image.merged.changes[layer]
        if self.scope == "layer":
            return [(c.path, c.kind, c.change, c.size, c.mode, c.uid, c.gid, c.link, layer, c.prev_size,
                     (f"{c.via}, {c.removed_entries} entries" if c.change == E.REMOVED else ""))
                    for c in changes]
        if layer == len(self.image.contents) - 1:
            final = self.image.merged.final
        else:
            final = self._cumulative.get(layer)
            if final is None:
                final = merge(self.image.contents[: layer + 1]).final
                self._cumulative = {layer: final}  # keep one: a 40k-entry dict is not small
        mine = {c.path: c for c in changes}
        recs = []
        for path, (w, e) in final.items():
            c = mine.get(path) if w == layer else None
            recs.append((path, e.kind, c.change if c else "", e.size, e.mode, e.uid, e.gid, e.link, w,
                         c.prev_size if c else None, ""))
        for c in changes:
            if c.change == E.REMOVED:
                recs.append((c.path, c.kind, c.change, c.size, c.mode, c.uid, c.gid, c.link, layer, c.prev_size,
                             f"{c.via}, {c.removed_entries} entries"))
        return recs

    @property
    def index(self) -> TreeIndex:
        key = (self.step, self.scope, self.path_filter, self.min_size)
        if self._index is None or self._index_key != key:
            self._index = TreeIndex(self._records(), path_filter=self.path_filter, min_size=self.min_size)
            self._index_key = key
            self._version += 1
        return self._index

    def _node_id(self, path: str) -> int:
        p = "/".join(part for part in str(path).split("/") if part not in ("", "."))
        nid = self.index.by_path.get(p)
        if nid is None:
            raise KeyError(f"{path!r} is not in the tree of step {self.step} with the current filters")
        return nid

    def children(self, path: str = "/"):
        """The rows of one directory of the tree, in the current sort, as a DataFrame."""
        index = self.index
        nid = self._node_id(path)
        return self._frame([self._flat_row(index, k) for k in index.children(nid, self.sort)])

    @staticmethod
    def _frame(rows):
        import pandas as pd

        df = pd.DataFrame(rows, columns=TREE_COLUMNS)
        df["change"] = df["change"].astype(object).where(df["change"].notna(), None)
        for col in ("mode", "uid", "gid", "layer", "prev_size"):
            df[col] = df[col].astype("Int64")
        return df

    @staticmethod
    def _flat_row(index: TreeIndex, nid: int) -> tuple:
        n = index.nodes[nid]
        return (E.display_path(n.path), n.name, n.kind, n.change or None, n.size, n.mode, n.uid, n.gid, n.link,
                n.layer, len(n.kids) if n.kids else 0, n.prev_size, n.detail)

    @property
    def entries(self):
        """Every entry the tree holds under the current filters (implied directories included), by path."""
        index = self.index
        rows = [self._flat_row(index, nid) for nid in range(1, len(index.nodes))]
        rows.sort(key=lambda r: r[0])
        return self._frame(rows)

    def summary(self) -> dict:
        img = self.image
        return {"name": img.name, "id": img.id, "source": img.source, "recorded": img.recorded or "",
                "size": img.size_bytes, "efficiency": img.efficiency, "reclaimable": img.reclaimable_bytes,
                "inefficient": img.inefficient_bytes, "layers": len(img.contents), "steps": len(img.steps)}

    def step_rows(self) -> list[dict]:
        img = self.image
        hidden = img.hidden_bytes_by_layer()
        rows = []
        for s in img.steps:
            row = {"step": s.index, "layer": s.layer, "empty": s.empty, "cmd": short_command(self._shown(s.created_by)),
                   "size": 0, "added": 0, "modified": 0, "removed": 0, "hidden": 0}
            if s.layer is not None:
                counts = img.change_counts(s.layer)
                row.update(size=img.contents[s.layer].disk_bytes, added=counts[E.ADDED],
                           modified=counts[E.MODIFIED], removed=counts[E.REMOVED], hidden=hidden[s.layer])
            rows.append(row)
        return rows

    def waste_rows(self, limit: int = WASTE_ROWS) -> list[dict]:
        hidden = sorted(self.image.merged.hidden, key=lambda h: (-h.size, h.path))
        return [{"path": E.display_path(h.path), "size": h.size, "written_by": h.written_by,
                 "hidden_by": h.hidden_by, "how": h.how} for h in hidden[:limit]]

    def tree_state(self) -> dict:
        """What the front end needs to draw the tree: its version, counts and the root's first page."""
        index = self.index
        return {"version": self._version, "matched": index.matched, "total": index.total,
                "nodes": len(index.nodes) - 1, "size": index.nodes[0].size,
                "root": index.page(0, self.sort)}

    def open_file(self, path: str):
        """What the side pane shows for `path` in the selected step: the layer's diff of a file it modified,
        else the file as it is after the selected layer (a removed file: as it was below)."""
        layer = self.layer
        if layer is None:
            raise ValueError("this step made no layer")
        key = path.lstrip("/")
        found = self.image.locate(key, layer)
        if self.scope == "layer" and found is not None and found[0] == layer and layer > 0 \
                and self.image.locate(key, layer - 1) is not None:
            return "diff", self.image.file_diff(key, layer)
        if found is None and layer > 0:
            return "preview", self.image.preview(key, layer - 1)
        return "preview", self.image.preview(key, layer)

    def file_request(self, msg: dict) -> dict:
        """Answer {"type": "file", "id", "version", "req"}: one file's contents or diff for the side pane."""
        from ..errors import DockervizError
        from ._common import pane_error, pane_payload

        reply = {"type": "file", "req": msg.get("req"), "version": self._version}
        if msg.get("version") != self._version:
            reply["stale"] = True
            return reply
        index = self.index
        try:
            nid = int(msg.get("id"))
            if not 0 < nid < len(index.nodes):
                raise ValueError(nid)
            node = index.nodes[nid]
            kind, obj = self.open_file(node.path)
            self.opened[node.path] = (self.layer, kind, obj)
            reply["pane"] = pane_payload(kind, obj)
        except (TypeError, ValueError, DockervizError) as exc:  # said in the pane (e.g. a source gone since)
            reply["pane"] = pane_error(exc)
        return reply

    def handle_request(self, msg: dict) -> dict | None:
        """Answer a front-end message ({"type": "children", "id", "offset", "version"}, or "file")."""
        if isinstance(msg, dict) and msg.get("type") == "file":
            return self.file_request(msg)
        if not isinstance(msg, dict) or msg.get("type") != "children":
            return None
        index = self.index
        reply = {"type": "children", "version": self._version, "req": msg.get("req")}
        if msg.get("version") != self._version:
            reply["stale"] = True
            return reply
        try:
            nid = int(msg.get("id"))
            if not 0 <= nid < len(index.nodes):
                raise ValueError(nid)
        except (TypeError, ValueError):
            reply["error"] = "unknown directory"
            return reply
        reply.update(index.page(nid, self.sort, msg.get("offset") or 0))
        return reply

    # -- output -----------------------------------------------------------
    def figures(self) -> dict:
        """{"layer_sizes", "top_directories", "waste_by_layer"}: matplotlib Figures."""
        from . import figures

        return {"layer_sizes": figures.layer_sizes(self.image),
                "top_directories": figures.top_directories(self.image),
                "waste_by_layer": figures.waste_by_layer(self.image)}

    def figure_images(self, dpi: int = 80) -> list[dict]:
        """The figures as PNG images ({"key", "title", "png": base64}), for the explorer's Charts section."""
        from .figures import png_base64

        titles = {"layer_sizes": "Layer sizes", "top_directories": "Biggest directories in the final filesystem",
                  "waste_by_layer": "Waste by layer: bytes written, then hidden by a later layer"}
        return [{"key": key, "title": titles[key], "png": png_base64(fig, dpi)} for key, fig in self.figures().items()]

    def to_html(self, path=None) -> str:
        """A self-contained HTML report (inline CSS and SVG); written to `path` when given."""
        from . import report

        return report.write(report.explorer_html(self), path)

    @property
    def widget(self):
        if self._widget is None:
            from ._widgets import ExplorerWidget

            self._widget = ExplorerWidget(self)
        return self._widget

    def _push(self) -> None:
        if self._widget is not None:
            self._widget.sync_from(self)

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, repr(self), **kwargs)


def layers(source, **kw) -> LayerExplorer:
    """A LayerExplorer over an Image or anything dockerviz.analyze accepts.

    Keywords step, layer, scope, path_filter, min_size, sort, show_secrets go
    to the explorer; the others (cache, path, progress, client) to analyze().
    """
    view_kw = {k: kw.pop(k) for k in ("step", "layer", "scope", "path_filter", "min_size", "sort", "show_secrets")
               if k in kw}
    return LayerExplorer(resolve_image(source, **kw), **view_kw)
