"""How an object loaded from a recording shows: a dated banner above its usual view, and a
static rendering for readers without widgets (GitHub, nbviewer)."""

from __future__ import annotations

import html

BANNER_STYLE = (
    "border-left:4px solid var(--jp-warn-color1, #b26a00);"
    "background:var(--jp-layout-color2, #f6f0e4);color:var(--jp-ui-font-color1, #222);"
    "padding:4px 10px;margin:2px 0 6px 0;font-size:0.95em"
)


def banner_html(text: str) -> str:
    return (f'<div class="dockerviz-recorded-banner" role="note" style="{BANNER_STYLE}">'
            f"<b>Recorded data</b> &middot; {html.escape(text, quote=True)}</div>")


class RecordedView:
    """Mixed into the class of an object loaded from a recording: its display gets a banner."""

    _demo_note = ""

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        text = f"[recorded data: {self._demo_note}] {super().__repr__()}"
        shown = getattr(self, "_display_count", None)
        if shown is not None:  # a build already shown in this cell: no second copy
            from ..building.result import _execution_count

            if shown == _execution_count():
                return {"text/plain": text}
        import ipywidgets as w

        box = w.VBox([w.HTML(banner_html(self._demo_note)), self.widget])
        box.add_class("dockerviz-recorded")
        data = box._repr_mimebundle_(include=include, exclude=exclude)
        if isinstance(data, tuple):
            data = data[0]
        data = dict(data or {})
        data["text/plain"] = text
        data["text/html"] = self._repr_html_()
        return data

    def _repr_html_(self):
        """Banner plus a static rendering, for readers without widgets (GitHub, nbviewer)."""
        return banner_html(self._demo_note) + static_html(self)


def static_html(obj) -> str:
    """The plain-HTML version of a recorded view (no widgets, no JavaScript)."""
    from ..building.result import BuildResult
    from ..containers.lifecycle import ContainerView
    from ..containers.monitor import UsageMonitor

    try:
        if isinstance(obj, BuildResult):
            from .build_view import static_html as build_html

            return build_html(obj)
        if isinstance(obj, ContainerView):
            from .container_view import diff_tree_html, header_html, layer_stack_html

            return (header_html(obj) + layer_stack_html(obj.layers() or [], obj.sizes() or {})
                    + diff_tree_html(obj.diff() or []))
        if isinstance(obj, UsageMonitor):
            from .usage_monitor import latest_table_html

            return latest_table_html(obj.rows(), [c["name"] for c in obj.containers])
    except Exception:  # a recording without some part: the text is still there
        pass
    return f"<pre>{html.escape(repr(obj))}</pre>"


class RecordedBuild(RecordedView):
    @property
    def widget(self):
        view = getattr(self, "_demo_view", None)
        if view is None:
            from .build_view import BuildView

            view = self._demo_view = BuildView(self)
        return view.widget
