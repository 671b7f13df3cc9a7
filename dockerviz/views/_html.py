"""Small shared helpers for the HTML that views put on screen.

Everything that comes from the daemon or from images (build logs, file
names, labels) is written by strangers: it goes through `esc` before it
touches markup.
"""

from __future__ import annotations

import html
import re

from ..humanize import (
    fmt_bytes,  # noqa: F401  (re-exported for the views)
    safe_text,
)

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Theme-aware colours with fallbacks for renderers without JupyterLab's CSS variables.
FG = "var(--jp-ui-font-color1, #222)"
FG_MUTED = "var(--jp-ui-font-color2, #666)"
BG = "var(--jp-layout-color0, #fff)"
BG_ALT = "var(--jp-layout-color2, #f2f2f2)"
BORDER = "var(--jp-border-color1, #ccc)"
OK = "var(--jp-success-color1, #2e7d32)"
WARN = "var(--jp-warn-color1, #b26a00)"
ERR = "var(--jp-error-color1, #c62828)"
INFO = "var(--jp-brand-color1, #1565c0)"
MONO = "var(--jp-code-font-family, monospace)"


# Font Awesome 4.7 (as JupyterLab ships it for ipywidgets) draws a button's icon as ::before text,
# which browsers count in the button's accessible name ("\uf04b Start"). The same glyphs with empty
# alternative text look the same and leave the name to the label. Roots carry class "dockerviz-icons".
_ICON_CODES = {"play": "f04b", "play-circle": "f144", "stop": "f04d", "pause": "f04c", "refresh": "f021",
               "trash": "f1f8", "balance-scale": "f24e"}
ICON_CSS = "<style>" + "".join(
    f'.dockerviz-icons .fa-{name}::before {{ content: "\\{code}" / ""; }}\n' for name, code in _ICON_CODES.items()
) + "</style>"


def esc(value) -> str:
    """HTML-escape anything (None -> ''), quotes included."""
    if value is None:
        return ""
    # control characters and bytes that are not UTF-8 shown as escapes (whitespace kept), then markup escaped
    return html.escape(safe_text(value, keep="\n\t\r"), quote=True)


def strip_ansi(text: str) -> str:
    """Drop ANSI escape sequences and control characters other than tab/newline/CR."""
    return _CTRL_RE.sub("", _ANSI_RE.sub("", text))


def fmt_seconds(s) -> str:
    if s is None:
        return ""
    try:
        s = float(s)
    except (TypeError, ValueError):
        return ""
    if s != s:  # NaN
        return ""
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def short_id(image_id) -> str:
    if not image_id:
        return ""
    s = str(image_id)
    return s[7:19] if s.startswith("sha256:") else s[:12]
