"""Helpers shared by the layer explorer, the image diff and the report."""

from __future__ import annotations

import stat
from pathlib import Path

from ..model import entries as E

STATIC = Path(__file__).resolve().parent / "static"

_KIND_BITS = {
    E.FILE: stat.S_IFREG,
    E.DIR: stat.S_IFDIR,
    E.SYMLINK: stat.S_IFLNK,
    E.HARDLINK: stat.S_IFREG,
    E.OTHER: 0,
}

CHANGE_MARK = {
    # change: (symbol, word) -- shown together, colour only adds to them
    "added": ("+", "added"),
    "modified": ("~", "modified"),
    "removed": ("\u2212", "removed"),
    "changed": ("~", "changed"),
    "rewritten": ("\u21bb", "rewritten"),
    "same": ("=", "same"),
}


def mode_string(kind: str | None, mode) -> str:
    """'drwxr-xr-x' from an entry kind and its permission bits ('' when unknown)."""
    if mode is None or kind is None:
        return ""
    try:
        mode = int(mode)
    except (TypeError, ValueError):
        return ""
    text = stat.filemode(_KIND_BITS.get(kind, 0) | (mode & 0o7777))
    if kind == E.HARDLINK:
        text = "h" + text[1:]
    elif kind == E.OTHER:
        text = "?" + text[1:]
    return text


def short_command(text: str, limit: int = 90) -> str:
    """A history command cut for a list: shell prefixes dropped, one line, at most `limit` chars."""
    s = " ".join(str(text or "").split())
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c ", "|"):
        if s.startswith(prefix):
            s = s[len(prefix):]
            if prefix == "|":  # RUN with build args: "|2 A=1 B=2 /bin/sh -c ..."
                _, _, rest = s.partition(" /bin/sh -c ")
                s = rest or s
    s = s.strip()
    if len(s) > limit:
        s = s[: limit - 1] + "\u2026"
    return s


def display_name(name: str) -> str:
    """A path component as people read it (bytes that are not UTF-8 shown as \\xNN escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def resolve_image(source, **analyze_kw):
    """An Image as it is, or whatever dockerviz.analyze accepts, analysed."""
    from ..model.image import Image

    if isinstance(source, Image):
        return source
    from ..analysis import analyze

    return analyze(source, **analyze_kw)


def widget_bundle(widget, text: str, **kwargs):
    """The mime bundle of an ipywidget with our own text/plain."""
    data = widget._repr_mimebundle_(**kwargs)
    if isinstance(data, tuple):
        data, meta = data
    else:
        meta = None
    data = dict(data or {})
    data["text/plain"] = text
    return (data, meta) if meta else data


PANE_TEXT_CHARS = 200_000  # what a side pane shows of a file or a diff (the rest is said to be cut)


def pane_payload(kind: str, obj) -> dict:
    """A FilePreview or FileDiff as the side pane takes it, size-capped; every string is drawn as textContent."""
    data = obj.to_dict()
    cut = False
    for key in ("text", "diff", "hex"):
        value = data.get(key)
        if isinstance(value, str) and len(value) > PANE_TEXT_CHARS:
            data[key] = value[:PANE_TEXT_CHARS]
            cut = True
    data["shown_cut"] = cut
    data["view"] = kind
    return data


def pane_error(exc: BaseException) -> dict:
    return {"view": "error", "message": str(exc)}
