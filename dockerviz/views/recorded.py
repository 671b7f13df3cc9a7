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


def recorded_bundle(obj, include=None, exclude=None) -> dict:
    """The banner (obj.recorded) above obj's usual widget; text/html a static copy."""
    import ipywidgets as w

    note = str(obj.recorded)
    box = w.VBox([w.HTML(banner_html(note)), obj.widget])
    box.add_class("dockerviz-recorded")
    data = box._repr_mimebundle_(include=include, exclude=exclude)
    if isinstance(data, tuple):
        data = data[0]
    data = dict(data or {})
    data["text/plain"] = f"[recorded data: {note}] {obj!r}"
    data["text/html"] = banner_html(note) + static_html(obj)
    return data


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
