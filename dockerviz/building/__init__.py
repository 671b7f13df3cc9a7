"""Building images: the stream parsers, the BuildResult model and the build runner.

Nothing here imports ipywidgets or matplotlib at import time; the live view
lives in dockerviz.views.build_view and the figure of a session's builds in
dockerviz.views.build_history. The public entry points are `dockerviz.build()`
and `dockerviz.builds()`.
"""

from .api import build, builds
from .result import BuildResult

__all__ = ["build", "builds", "BuildResult"]
