"""A progress bar for analyses run in a notebook.

analyze() asks for one when no progress callback was given. Outside an
IPython kernel (the command line, scripts) there is none, and ipywidgets is
never imported; inside one, the bar (an IntProgress and a label) is created
only once the work has taken over a second, so quick and cached analyses
print nothing.
"""

from __future__ import annotations

import time
from .humanize import fmt_bytes as _human
from .humanize import in_kernel as _in_kernel

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


class NotebookProgress:
    """Callback for analysis.Progress: an ipywidgets bar, displayed lazily."""

    def __init__(self, show_after: float = SHOW_AFTER):
        self.show_after = show_after
        self.bar = None
        self.label = None
        self.box = None

    def _show(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.bar = widgets.IntProgress(value=0, min=0, max=1, description="Analysing")
        self.label = widgets.Label("")
        self.box = widgets.HBox([self.bar, self.label])
        display(self.box)

    def __call__(self, p) -> None:
        if self.bar is None:
            if p.phase == "done" or time.monotonic() - p.started < self.show_after:
                return
            try:
                self._show()
            except Exception:  # no ipywidgets or no frontend: stay silent
                self.show_after = float("inf")
                return
        if p.phase == "exporting" and p.export_bytes:
            self.bar.max = max(p.export_bytes, 1)
            self.bar.value = min(p.bytes, p.export_bytes)
        elif p.phase in ("exporting", "waiting") or not p.total_bytes:
            self.bar.max = max(p.total_layers, 1)
            self.bar.value = p.layers
        else:
            self.bar.max = max(p.total_bytes, 1)
            self.bar.value = min(p.bytes, p.total_bytes)
        if p.phase == "done":
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"
            self.label.value = f"done in {time.monotonic() - p.started:.1f} s"
        else:
            self.label.value = describe(p)


def notebook_progress():
    """A NotebookProgress inside an IPython kernel, else None."""
    return NotebookProgress() if _in_kernel() else None
