"""Public entry points of the image views: `layers()` and `compare()`.

Both accept an analysed `dockerviz.Image` or anything `dockerviz.analyze`
accepts (an image name or id in the daemon, a `docker save` archive, an OCI
layout directory) and return plain Python objects that display as widgets.
"""

from __future__ import annotations

from .image_diff import ImageDiff, compare
from .layer_explorer import LayerExplorer, layers

__all__ = ["layers", "compare", "LayerExplorer", "ImageDiff"]
