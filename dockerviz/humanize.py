"""Numbers for people, and where we are running: shared by the CLI, progress and views."""

from __future__ import annotations

import sys


def fmt_bytes(n) -> str:
    """Decimal units, as `docker images` prints sizes ('' for None or non-numbers)."""
    if n is None:
        return ""
    try:
        n = float(n)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


def format_duration(seconds: float) -> str:
    """An uptime as `docker ps` would say it: 3d 4h 5m, 1h 2m 3s, 4m 5s, 6s."""
    seconds = int(seconds)
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d {h}h {m}m"
    if h:
        return f"{h}h {m}m {s}s"
    if m:
        return f"{m}m {s}s"
    return f"{s}s"


def saved_when(doc: dict | None) -> str:
    """'saved 2026-12-01 21:40 UTC' for a saved document with a saved_at time, else 'saved'."""
    import time

    when = (doc or {}).get("saved_at")
    try:
        return "saved " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(when)))
    except (TypeError, ValueError, OverflowError):
        return "saved"


def in_kernel() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel), without importing IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def show_now(obj):
    """Display obj in the notebook now (before a call blocks), if there is a kernel; the
    display handle (for shown_again), else None."""
    if not in_kernel():
        return None
    from IPython.display import display

    return display(obj, display_id=True)


def shown_again(handle, obj) -> None:
    """Redraw what show_now showed with obj as it is now (a saved notebook keeps the last)."""
    if handle is None:
        return
    try:
        handle.update(obj)
    except Exception:
        pass


# Text from an image (names, commands, labels) reaches terminals, figures and pages: control characters,
# bidirectional overrides and bytes that are not UTF-8 are shown as escapes, never sent raw, never dropped.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_ESCAPES.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F,
                                             0x061C, 0x2028, 0x2029, 0xFEFF)})
_TABLES: dict = {"": _ESCAPES}


def _table(keep: str) -> dict:
    table = _TABLES.get(keep)
    if table is None:
        table = _TABLES[keep] = {c: e for c, e in _ESCAPES.items() if chr(c) not in keep}
    return table


def _surrogate_escapes(exc):
    if not isinstance(exc, UnicodeEncodeError):  # pragma: no cover - registered for encoding only
        raise exc
    out = []
    for ch in exc.object[exc.start:exc.end]:
        c = ord(ch)
        out.append(f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}")
    return "".join(out), exc.end


import codecs  # noqa: E402

codecs.register_error("dockerviz-escape", _surrogate_escapes)


def safe_text(value, *, keep: str = "") -> str:
    """`value` as text safe for a terminal or a label: every control character escaped, nothing dropped.

    `keep` names whitespace to leave as it is ("\n\t" for multi-line text)."""
    s = value if isinstance(value, str) else str(value)
    if s.isascii() and s.isprintable():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "dockerviz-escape").decode("utf-8")
    return s.translate(_table(keep))


class SafeWriter:
    """A text stream that escapes control characters (newlines kept) in everything written to it:
    a terminal never receives a raw escape sequence, whatever an image's names hold."""

    def __init__(self, out):
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(safe_text(text, keep="\n"))

    def flush(self) -> None:
        self._out.flush()
