"""The anywidget front ends of LayerExplorer and ImageDiff.

Each widget mirrors its plain-Python owner: the owner holds the state and the
data; the widget carries what the browser shows and hands user actions back
to the owner. Both share one ES module and one stylesheet in views/static.
"""

from __future__ import annotations

import logging
import traceback

import anywidget
import traitlets as t

from ._common import STATIC

log = logging.getLogger(__name__)

ESM = STATIC / "dockerviz.js"
CSS = STATIC / "dockerviz.css"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Base(anywidget.AnyWidget):
    _esm = ESM
    _css = CSS
    kind = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception as exc:  # shown in the widget, never swallowed
            log.debug("dockerviz widget error\n%s", traceback.format_exc())
            self.error = _error_text(exc)

    def _apply(self, state: dict) -> None:
        """Set the traits that changed, in one message, without echoing them back to the owner."""
        self._applying = True
        try:
            with self.hold_sync():
                for key, value in state.items():
                    if getattr(self, key) != value:
                        setattr(self, key, value)
        finally:
            self._applying = False

    def _on_ui(self, change) -> None:
        if self._applying:
            return
        self._guard(lambda: self._owner.update(**{change["name"]: change["new"]}))


class ExplorerWidget(_Base):
    kind = t.Unicode("explorer").tag(sync=True)
    header = t.Dict().tag(sync=True)
    steps = t.List().tag(sync=True)
    step = t.Int(0).tag(sync=True)
    command = t.Unicode("").tag(sync=True)
    scope = t.Unicode("layer").tag(sync=True)
    path_filter = t.Unicode("").tag(sync=True)
    min_size = t.Int(0).tag(sync=True)
    sort = t.Unicode("name").tag(sync=True)
    tree = t.Dict().tag(sync=True)
    waste = t.List().tag(sync=True)
    waste_info = t.Dict().tag(sync=True)

    _UI = ("step", "scope", "path_filter", "min_size", "sort")

    def __init__(self, explorer):
        self._owner = explorer
        self._applying = False
        hidden = explorer.image.merged.hidden
        super().__init__(
            header=explorer.summary(), steps=explorer.step_rows(), waste=explorer.waste_rows(),
            waste_info={"count": len(hidden), "bytes": sum(h.size for h in hidden)},
            **self._state_of(explorer),
        )
        self.observe(self._on_ui, names=list(self._UI))
        self.on_msg(self._on_msg)

    @staticmethod
    def _state_of(explorer) -> dict:
        return {"step": explorer.step, "scope": explorer.scope, "path_filter": explorer.path_filter,
                "min_size": explorer.min_size, "sort": explorer.sort, "command": explorer.command,
                "tree": explorer.tree_state(), "error": ""}

    def sync_from(self, explorer) -> None:
        self._apply(self._state_of(explorer))

    def _on_msg(self, _widget, content, _buffers) -> None:
        def answer():
            if isinstance(content, dict) and content.get("type") == "figures":
                # drawn on request only: the first render stays small
                self.send({"type": "figures", "images": self._owner.figure_images()})
                return
            reply = self._owner.handle_request(content)
            if reply is not None:
                self.send(reply)

        self._guard(answer)


class DiffWidget(_Base):
    kind = t.Unicode("diff").tag(sync=True)
    header = t.Dict().tag(sync=True)
    layers = t.List().tag(sync=True)
    config = t.List().tag(sync=True)
    files = t.Dict().tag(sync=True)
    figure = t.Unicode("").tag(sync=True)
    change_filter = t.Unicode("all").tag(sync=True)
    path_filter = t.Unicode("").tag(sync=True)
    sort = t.Unicode("delta").tag(sync=True)
    page = t.Int(0).tag(sync=True)
    show_unchanged = t.Bool(False).tag(sync=True)

    packages = t.List().tag(sync=True)

    _UI = ("change_filter", "path_filter", "sort", "page", "show_unchanged")

    def __init__(self, diff):
        self._owner = diff
        self._applying = False
        super().__init__(**self._state_of(diff, full=True))
        self.observe(self._on_ui, names=list(self._UI))
        self.on_msg(self._on_msg)

    def _state_of(self, diff, full: bool) -> dict:
        state = {key: getattr(diff, key) for key in self._UI}
        state.update(files=diff.files_page(), config=diff.config_rows(), error="")
        if full:
            s = diff.summary()
            s["show_secrets"] = diff.show_secrets
            from .figures import png_base64  # matplotlib only when a diff is shown

            state.update(header=s, layers=diff.layer_rows(), figure=png_base64(diff.figure()),
                         packages=diff.package_rows())
        return state

    def sync_from(self, diff, full: bool = False) -> None:
        self._apply(self._state_of(diff, full))

    def _on_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "swap":
            self._guard(self._owner.swap)
        elif isinstance(content, dict) and content.get("type") == "file":
            self._guard(lambda: self.send(self._owner.file_request(content)))
