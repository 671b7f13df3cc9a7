"""ImageDiff: two images side by side (layers, files, config, sizes).

A plain Python object over dockerviz.model.diff.ImageComparison, holding the
view state (which image is A, the file filters, the page shown) and its
DataFrames; the anywidget front end is created when it is first displayed.
Masked secrets never leave Python: the front end only ever receives the mask.
"""

from __future__ import annotations

from ..model.diff import ADDED, CHANGED, REMOVED, REWRITTEN, SAME, ImageComparison
from ._common import mode_string, resolve_image, widget_bundle

CHANGE_FILTERS = ("all", ADDED, REMOVED, CHANGED, REWRITTEN)
FILE_SORTS = ("path", "delta")
FILE_PAGE = 200


class ImageDiff:
    """Image A against image B.

    State: `change_filter` ("all", "added", "removed", "changed", "rewritten"),
    `path_filter`, `sort` ("path" or "delta": largest size change first),
    `page`, `show_unchanged` (config rows that are the same). `swap()`
    exchanges A and B. Data: `comparison`, `files`, `layers`, `config`,
    `packages` (DataFrames of the whole comparison), `filtered_files` (what
    the file table shows, all pages), `file_diff(path)`.
    """

    def __init__(self, a, b, *, show_secrets: bool = False, change_filter: str = "all", path_filter: str = "",
                 sort: str = "delta", show_unchanged: bool = False):
        self.comparison = ImageComparison(a, b, show_secrets=show_secrets)
        self._widget = None
        self.opened: dict = {}  # path -> the FileDiff the side pane showed
        self._filtered = None
        self._filtered_key = None
        self._state = {"change_filter": "all", "path_filter": "", "sort": "delta", "page": 0,
                       "show_unchanged": False}
        self.update(change_filter=change_filter, path_filter=path_filter, sort=sort, show_unchanged=show_unchanged)

    def __repr__(self) -> str:
        return f"<dockerviz.ImageDiff {self.a.name!r} -> {self.b.name!r} filter={self.change_filter} page={self.page}>"

    a = property(lambda self: self.comparison.a)
    b = property(lambda self: self.comparison.b)
    show_secrets = property(lambda self: self.comparison.show_secrets)

    # -- state ------------------------------------------------------------
    def update(self, **changes) -> None:
        new = dict(self._state)
        reset_page = False
        for key, value in changes.items():
            if key not in new:
                raise TypeError(f"unknown diff setting {key!r}")
            if value is None:
                continue
            if key == "change_filter" and value not in CHANGE_FILTERS:
                raise ValueError(f"change_filter must be one of {CHANGE_FILTERS}, not {value!r}")
            if key == "sort" and value not in FILE_SORTS:
                raise ValueError(f"sort must be one of {FILE_SORTS}, not {value!r}")
            if key == "page":
                value = max(0, int(value))
            if key == "path_filter":
                value = str(value)
            if key == "show_unchanged":
                value = bool(value)
            if key in ("change_filter", "path_filter", "sort") and value != new[key]:
                reset_page = True
            new[key] = value
        if reset_page and "page" not in changes:
            new["page"] = 0
        self._state = new
        pages = max(1, -(-len(self._filtered_rows()) // FILE_PAGE))
        if self._state["page"] >= pages:
            self._state["page"] = pages - 1
        self._push()

    change_filter = property(lambda self: self._state["change_filter"], lambda self, v: self.update(change_filter=v))
    path_filter = property(lambda self: self._state["path_filter"], lambda self, v: self.update(path_filter=v))
    sort = property(lambda self: self._state["sort"], lambda self, v: self.update(sort=v))
    page = property(lambda self: self._state["page"], lambda self, v: self.update(page=v))
    show_unchanged = property(lambda self: self._state["show_unchanged"],
                              lambda self, v: self.update(show_unchanged=v))

    def swap(self) -> "ImageDiff":
        """Exchange A and B (added becomes removed, deltas change sign); filters are kept."""
        self.comparison = self.comparison.swapped()
        self._filtered = None
        self._state["page"] = 0
        self._push(full=True)
        return self

    # -- data -------------------------------------------------------------
    @property
    def files(self):
        return self.comparison.files

    @property
    def layers(self):
        return self.comparison.layers

    @property
    def config(self):
        return self.comparison.config

    @property
    def packages(self):
        return self.comparison.packages

    def file_diff(self, path):
        """A FileDiff of `path` from A to B (dockerviz.FileDiff: a unified diff, or what else changed)."""
        return self.comparison.file_diff(path)

    def summary(self) -> dict:
        return self.comparison.summary()

    def file_request(self, msg: dict) -> dict:
        """Answer {"type": "file", "path", "req"}: the diff of one path from A to B, for the side pane."""
        from ..errors import DockervizError
        from ._common import pane_error, pane_payload

        reply = {"type": "file", "req": msg.get("req")}
        path = msg.get("path")
        try:
            if not isinstance(path, str) or not path:
                raise ValueError("no path")
            d = self.file_diff(path)
            self.opened[path] = d
            reply["pane"] = pane_payload("diff", d)
        except (ValueError, DockervizError) as exc:
            reply["pane"] = pane_error(exc)
        return reply

    def package_rows(self) -> list[dict]:
        """The package differences as the widget shows them."""
        return [{"m": m, "n": n, "loc": loc, "c": c, "va": va, "vb": vb}
                for m, n, loc, c, va, vb, _sa, _sb in self.comparison.package_rows()]

    def _filtered_rows(self) -> list[tuple]:
        key = (id(self.comparison), self.change_filter, self.path_filter, self.sort)
        if self._filtered is None or self._filtered_key != key:
            rows = self.comparison.file_rows()
            if self.change_filter != "all":
                rows = [r for r in rows if r[1] == self.change_filter]
            needle = self.path_filter.strip().lower()
            if needle:
                rows = [r for r in rows if needle in r[0].lower()]
            if self.sort == "delta":
                rows = sorted(rows, key=lambda r: (-abs(r[6] or 0), r[0]))
            self._filtered = rows
            self._filtered_key = key
        return self._filtered

    @property
    def filtered_files(self):
        import pandas as pd

        from ..model.diff import FILE_DIFF_COLUMNS

        df = pd.DataFrame(self._filtered_rows(), columns=FILE_DIFF_COLUMNS)
        for col in ("size_a", "size_b", "mode_a", "mode_b", "layer_a", "layer_b"):
            df[col] = df[col].astype("Int64")
        return df

    def files_page(self) -> dict:
        rows = self._filtered_rows()
        start = self.page * FILE_PAGE
        out = []
        for r in rows[start:start + FILE_PAGE]:
            (path, change, ta, tb, sa, sb, delta, ma, mb, oa, ob, _lka, _lkb, la, lb, what) = r[:16]
            out.append({"p": path, "c": change, "ta": ta or "", "tb": tb or "", "sa": sa, "sb": sb, "dl": delta,
                        "ma": mode_string(ta, ma), "mb": mode_string(tb, mb), "oa": oa or "", "ob": ob or "",
                        "la": la, "lb": lb, "w": what})
        return {"offset": start, "page": self.page, "page_size": FILE_PAGE, "total": len(rows), "rows": out}

    def layer_rows(self) -> list[dict]:
        from ._common import short_command

        return [{"status": r["status"], "a": r["index_a"], "b": r["index_b"], "chain": r["same_chain"],
                 "size": r["size_bytes"], "entries": r["entries"], "diff_id": r["diff_id"],
                 "cmd": short_command(r["created_by_b"] or r["created_by_a"])}
                for r in self.comparison.layer_rows()]

    def config_rows(self) -> list[dict]:
        rows = self.comparison.config_rows()
        if not self.show_unchanged:
            rows = [r for r in rows if r["change"] != SAME]
        return rows

    def figure(self):
        from . import figures

        return figures.size_comparison(self.comparison)

    # -- output -----------------------------------------------------------
    def to_html(self, path=None) -> str:
        from . import report

        return report.write(report.diff_html(self), path)

    @property
    def widget(self):
        if self._widget is None:
            from ._widgets import DiffWidget

            self._widget = DiffWidget(self)
        return self._widget

    def _push(self, full: bool = False) -> None:
        if self._widget is not None:
            self._widget.sync_from(self, full=full)

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, repr(self), **kwargs)


def compare(a, b, show_secrets: bool = False, **kw) -> ImageDiff:
    """An ImageDiff of two Images or anything dockerviz.analyze accepts (b is the newer one).

    Keywords change_filter, path_filter, sort, show_unchanged go to the view;
    the others (cache, path, progress, client) to analyze() for each source.
    """
    view_kw = {k: kw.pop(k) for k in ("change_filter", "path_filter", "sort", "show_unchanged") if k in kw}
    return ImageDiff(resolve_image(a, **kw), resolve_image(b, **kw), show_secrets=show_secrets, **view_kw)


__all__ = ["ImageDiff", "compare", "ADDED", "REMOVED", "CHANGED", "REWRITTEN"]
