"""The ContainerView widget: state, lifecycle buttons, image against container.

Composed ipywidgets only (no front-end code). Every text from the daemon is
escaped. Buttons call the view's actions; what they show afterwards is what
the daemon then reports (an inspect after each action, plus its events
stream), never a guess.
"""

from __future__ import annotations

import threading

import ipywidgets as w

from ..errors import DockervizError
from ._html import BORDER, ERR, FG, FG_MUTED, ICON_CSS, INFO, MONO, OK, WARN, esc, fmt_bytes, short_id

__all__ = ["ContainerWidget", "layer_stack_html", "diff_tree_html"]

_BUTTONS = {
    # action: (label, icon, tooltip)
    "start": ("Start", "play", "Start the container"),
    "stop": ("Stop", "stop", "Stop the container (SIGTERM, then SIGKILL after 10 s)"),
    "pause": ("Pause", "pause", "Freeze every process of the container"),
    "unpause": ("Unpause", "play-circle", "Resume the frozen processes"),
    "restart": ("Restart", "refresh", "Stop then start the container"),
    "remove": ("Remove", "trash", "Remove the container and its writable layer"),
}

_STATE_STYLE = {
    "running": (OK, "\u25b6"),
    "paused": (WARN, "\u23f8"),
    "restarting": (WARN, "\u21bb"),
    "created": (INFO, "\u25cb"),
    "exited": (FG_MUTED, "\u25a0"),
    "dead": (ERR, "\u2716"),
    "removing": (FG_MUTED, "\u2026"),
    "removed": (FG_MUTED, "\u2205"),
}

DIFF_MARK = {"added": ("A", OK), "changed": ("C", WARN), "deleted": ("D", ERR)}
MAX_TREE_ENTRIES = 400


def header_html(view) -> str:
    colour, mark = _STATE_STYLE.get(view.state, (FG, "?"))
    bits = [
        f'<b style="font-size:1.1em">{esc(view.name)}</b> '
        f'<span style="font-family:{MONO};color:{FG_MUTED}">{esc(view.short_id)}</span>',
        f'image <span style="font-family:{MONO}">{esc(view.image)}</span> '
        f'<span style="color:{FG_MUTED}">({esc(short_id(view.image_id))})</span>',
        f'state <b style="color:{colour}">{esc(mark)} {esc(view.state)}</b>',
    ]
    if view.exit_code is not None:
        bits.append(f"exit code <b>{esc(view.exit_code)}</b>")
    if view.uptime is not None:
        from ..humanize import format_duration

        bits.append(f"up {esc(format_duration(view.uptime))}")
    if view.recorded:
        bits.append(f'<i style="color:{WARN}">recorded snapshot: numbers are from when it was saved</i>')
    return (
        f'<div class="dockerviz-container-header" style="color:{FG};line-height:1.6">'
        + " &middot; ".join(bits)
        + "</div>"
    )


def layer_stack_html(layers: list[dict], sizes: dict) -> str:
    """The image's read-only layers with the writable layer on top, bars to one scale."""
    size_rw = int(sizes.get("size_rw") or 0)
    rows = [("writable layer (container)", size_rw, True, "")]
    for layer in reversed(layers):  # newest first, under the writable layer
        created = " ".join(str(layer.get("created_by") or "").split())
        rows.append((created or "(no command recorded)", int(layer.get("size") or 0), False, layer.get("id", "")))
    biggest = max([r[1] for r in rows] + [1])
    out = [
        f'<div class="dockerviz-layer-stack" style="font-size:0.9em;color:{FG}">',
        f'<div>image {esc(fmt_bytes(sizes.get("image_size")))} + writable layer '
        f'<b>{esc(fmt_bytes(size_rw))}</b> = root filesystem {esc(fmt_bytes(sizes.get("size_root_fs")))} '
        f'<span style="color:{FG_MUTED}">(bars to one scale; largest {esc(fmt_bytes(biggest))})</span></div>',
        '<table style="border-collapse:collapse;width:100%">',
    ]
    for label, size, writable, layer_id in rows:
        pct = 100.0 * size / biggest
        colour = WARN if writable else INFO
        kind = "read-write" if writable else "read-only"
        out.append(
            f'<tr style="border-top:1px solid {BORDER}">'
            f'<td style="width:7em;text-align:right;padding:2px 6px;font-family:{MONO}">{esc(fmt_bytes(size))}</td>'
            f'<td style="width:40%;padding:2px 6px"><div role="img" aria-label="{esc(kind)} layer, {esc(fmt_bytes(size))}" '
            f'style="height:0.9em;width:{pct:.2f}%;min-width:1px;background:{colour}"></div></td>'
            f'<td style="padding:2px 6px"><span style="color:{FG_MUTED}">{esc(kind)}</span> '
            f'<span style="font-family:{MONO}" title="{esc(layer_id)}">{esc(label[:160])}</span></td></tr>'
        )
    out.append("</table></div>")
    return "".join(out)


def _tree(changes: list[dict]) -> dict:
    root: dict = {}
    for ch in changes:
        node = root
        parts = [p for p in str(ch.get("path", "")).split("/") if p]
        for i, part in enumerate(parts):
            entry = node.setdefault(part, {"kind": None, "children": {}})
            if i == len(parts) - 1:
                entry["kind"] = ch.get("kind")
            node = entry["children"]
    return root


def _tree_html(root: dict, limit: int) -> tuple[str, int]:
    """Nested lists of the first `limit` nodes, depth first; a stack, not recursion (paths may nest thousands deep)."""
    ul = '<ul style="margin:0;padding-left:1.2em;list-style:none">'
    out = [ul]
    shown = 0
    stack = [(root, iter(sorted(root)))]
    while stack:
        node, names = stack[-1]
        name = next(names, None) if shown < limit else None
        if name is None:
            out.append("</ul>")
            stack.pop()
            if stack:
                out.append("</li>")
            continue
        shown += 1
        entry = node[name]
        mark, colour = DIFF_MARK.get(entry["kind"], ("", FG_MUTED))
        label = f'<b style="color:{colour}" title="{esc(entry["kind"])}">{esc(mark)}</b> ' if mark else ""
        out.append(f'<li>{label}<span style="font-family:{MONO}">{esc(name)}</span>')
        if entry["children"]:
            out.append(ul)
            stack.append((entry["children"], iter(sorted(entry["children"]))))
        else:
            out.append("</li>")
    return "".join(out), shown


def diff_tree_html(changes: list[dict], limit: int = MAX_TREE_ENTRIES) -> str:
    """The writable layer's changes as a nested list: A added, C changed, D deleted."""
    if not changes:
        return f'<div style="color:{FG_MUTED}">No changes in the writable layer.</div>'
    counts = {k: sum(1 for c in changes if c.get("kind") == k) for k in DIFF_MARK}
    body, shown = _tree_html(_tree(changes), limit)
    more = len(changes) - shown
    tail = f'<div style="color:{FG_MUTED}">&hellip; and about {more} more</div>' if more > 0 else ""
    legend = (
        f'<div>{counts["added"]} added (A), {counts["changed"]} changed (C), {counts["deleted"]} deleted (D); '
        f'<span style="color:{FG_MUTED}">a changed directory is one whose contents changed</span></div>'
    )
    return f'<div class="dockerviz-diff-tree" style="font-size:0.9em;color:{FG}">{legend}{body}{tail}</div>'


class ContainerWidget(w.VBox):
    """The widget of a ContainerView (dockerviz.containers.lifecycle)."""

    def __init__(self, view):
        self.view = view
        self._sync_lock = threading.RLock()
        self.header = w.HTML()
        self.message = w.HTML()
        self.buttons = {}
        for action, (label, icon, tip) in _BUTTONS.items():
            b = w.Button(description=label, icon=icon, tooltip=tip, layout=w.Layout(width="auto"))
            b.on_click(self._handler(action))
            self.buttons[action] = b
        self.measure = w.Button(
            description="Measure sizes and changes",
            icon="balance-scale",
            tooltip="Ask the daemon for SizeRw, SizeRootFs and the writable layer's changes (slow)",
            layout=w.Layout(width="auto"),
        )
        self.measure.on_click(lambda _b: self.show_image_panel())
        self.stack = w.HTML()
        self.tree = w.HTML()
        self.panel = w.Accordion(children=[w.VBox([self.measure, self.stack, self.tree])])
        self.panel.set_title(0, "Image against container")
        self.panel.selected_index = None
        super().__init__(
            [w.HTML(ICON_CSS), self.header, w.HBox(list(self.buttons.values())), self.message, self.panel],
            layout=w.Layout(border=f"1px solid {BORDER}", padding="6px"),
        )
        self.add_class("dockerviz-container-view")
        self.add_class("dockerviz-icons")
        self.sync()
        if view.recorded:
            self.show_image_panel()
        else:
            view.on_change(lambda _v: self.sync())

    def _handler(self, action):
        def on_click(_button):
            self.act(action)

        return on_click

    def act(self, action: str) -> None:
        """Run one lifecycle action as its button does, reporting errors in the widget."""
        for b in self.buttons.values():
            b.disabled = True
        self.message.value = f'<span style="color:{FG_MUTED}">{esc(action)}&hellip;</span>'
        try:
            getattr(self.view, action)()
            self.message.value = ""
        except DockervizError as exc:
            self.message.value = f'<span style="color:{ERR}">{esc(exc)}</span>'
        finally:
            self.sync()

    def sync(self) -> None:
        """Redraw from the view's last daemon reading.

        Called from the kernel thread (button clicks) and the events thread;
        the lock keeps one redraw whole, and each widget's changes go out in
        one message so the page never shows a header and buttons that disagree.
        """
        with self._sync_lock:
            view = self.view
            allowed = view.allowed_actions()
            with self.header.hold_sync():
                self.header.value = header_html(view)
            for action, b in self.buttons.items():
                with b.hold_sync():
                    b.disabled = action not in allowed
            self.measure.disabled = view.state == "removed" or bool(view.recorded)
            if view.last_error and not self.message.value:
                self.message.value = f'<span style="color:{ERR}">{esc(view.last_error)}</span>'

    def show_image_panel(self) -> None:
        view = self.view
        try:
            sizes = view.sizes(refresh=not view.recorded)
            layers = view.layers()
            changes = view.diff(refresh=not view.recorded)
        except DockervizError as exc:
            self.stack.value = f'<span style="color:{ERR}">{esc(exc)}</span>'
            return
        except Exception as exc:  # recorded file without these parts
            self.stack.value = f'<span style="color:{ERR}">{esc(type(exc).__name__)}: {esc(exc)}</span>'
            return
        self.stack.value = layer_stack_html(layers or [], sizes or {})
        self.tree.value = diff_tree_html(changes or [])
        self.panel.selected_index = 0
