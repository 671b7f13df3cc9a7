"""Progress of an analysis, told to people: one line on the CLI's stderr, or the notebook's bar.

analyze() asks for a bar when no progress callback was given. Outside an IPython
kernel (the command line, scripts) there is none, and ipywidgets is never imported.
"""

from __future__ import annotations

import sys
import time

from .humanize import fmt_bytes as _human
from .humanize import safe_text

SHOW_AFTER = 1.0  # seconds


def describe(p) -> str:
    """One line about an analysis under way (the CLI's stderr line, the notebook bar's label)."""
    if p.phase == "waiting":
        return f"waiting for the daemon to export the image ({time.monotonic() - p.started:.0f} s)"
    if p.phase == "exporting":
        about = f" of about {_human(p.export_bytes)}" if p.export_bytes else ""
        return f"exporting: {_human(p.bytes)}{about}"
    total = f"/{p.total_layers}" if p.total_layers else ""
    of = f" of {_human(p.total_bytes)}" if p.total_bytes and p.phase == "reading" else ""
    return f"{p.phase}: layers {p.layers}{total}, {_human(p.bytes)}{of}"


class StderrProgress:
    """One self-updating stderr line, shown only once work has taken over a second."""

    def __init__(self):
        self.shown = False
        self._width = 0

    def __call__(self, p) -> None:
        if time.monotonic() - p.started < 1.0 and not self.shown:
            return
        if p.phase == "done":
            if self.shown:
                sys.stderr.write("\n")
            return
        self.shown = True
        line = safe_text(describe(p))
        sys.stderr.write(f"\r{line}{' ' * max(0, self._width - len(line))}")  # blank what a longer line left
        self._width = len(line)
        sys.stderr.flush()
