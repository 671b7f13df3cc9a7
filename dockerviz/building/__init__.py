"""Building images: the stream parsers, the BuildResult model and the build runner.

Nothing here imports ipywidgets or matplotlib at import time; the live view
lives in dockerviz.views.build_view. The public entry points are
`dockerviz.build()`, `dockerviz.builds()` and `dockerviz.builds_figure()`.
"""

from .api import build, builds, builds_figure
from .result import BuildResult

__all__ = ["build", "builds", "builds_figure", "BuildResult"]
