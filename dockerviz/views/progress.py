"""The notebook's progress bar for analyses: an IntProgress and a label, created only once
the work has taken over a second, so quick and cached analyses print nothing."""

from __future__ import annotations

import time
from typing import Any

from ..progress import SHOW_AFTER, describe


class NotebookProgress:
    """Callback for analysis.Progress: an ipywidgets bar, displayed lazily."""

    def __init__(self, show_after: float = SHOW_AFTER):
        self.show_after = show_after
        self.bar: Any = None
        self.label: Any = None
        self.box: Any = None

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
