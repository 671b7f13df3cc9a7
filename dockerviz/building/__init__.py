"""Building images: the stream parsers, the BuildResult model and the build runner.

Nothing here imports ipywidgets or matplotlib at import time; the live view
lives in dockerviz.views.build_view.

`dockerviz.build` names both this package and the function `build()`. Which
one the attribute holds depends on import order, so the package module is
made callable too: `dockerviz.build(...)` builds either way.
"""

import sys as _sys
import types as _types

from .api import build, builds, builds_figure
from .result import BuildResult

__all__ = ["build", "builds", "builds_figure", "BuildResult"]


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        return build(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(build)


_sys.modules[__name__].__class__ = _CallableModule
