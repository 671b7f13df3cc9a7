"""dockerviz: Jupyter widgets over the Docker SDK for Python.

Build images and watch the build, see what every layer adds, modifies,
removes and wastes, diff two images, and compare what running containers use
against the images they came from.

Imports are lazy: `import dockerviz` costs almost nothing, and each entry point
loads only what it needs.

Every object an API call returns is exported here and has the same shape: `.widget`
(a property) is its ipywidgets view, `summary()` (where there is one) a dict of plain
values, `recorded` None when live or a note saying what was recorded and when.
`recording(path)` at the top of a notebook runs it live, records it, or replays it
without a daemon (see dockerviz.recorder).
compare(a, b) returns an ImageDiff (the view); its `.comparison` is the ImageComparison
(the data, which `dockerviz diff A B` prints).
"""

from __future__ import annotations

from .errors import (
    ArchiveError,
    BuildError,
    ContainerNotFoundError,
    DaemonError,
    DaemonUnavailableError,
    DockervizError,
    EngineSSHError,
    EngineTLSError,
    FileContentsError,
    ImageChoiceError,
    ImageNotFoundError,
    RecordingError,
    RegistryAuthError,
    RegistryError,
    RegistryImageNotFoundError,
    RegistryTLSError,
    RegistryUnavailableError,
    SourceError,
    UnknownContextError,
    UnsafePathError,
    WhiteoutError,
)

__version__ = "0.1.0"

_LAZY = {
    "analyze": ("dockerviz.recorder.api", "analyze"),
    "images": ("dockerviz.recorder.sharing", "images"),
    "Image": ("dockerviz.model.image", "Image"),
    "build": ("dockerviz.recorder.api", "build"),
    "builds": ("dockerviz.building.api", "builds"),
    "builds_figure": ("dockerviz.views.build_history", "builds_figure"),
    "run": ("dockerviz.recorder.api", "run"),
    "container": ("dockerviz.recorder.api", "container"),
    "monitor": ("dockerviz.recorder.api", "monitor"),
    "usage_summary": ("dockerviz.containers.api", "usage_summary"),
    "load_container": ("dockerviz.containers.api", "load_container"),
    "load_monitor": ("dockerviz.containers.api", "load_monitor"),
    "cleanup": ("dockerviz.recorder.api", "cleanup"),
    "layers": ("dockerviz.views.api", "layers"),
    "compare": ("dockerviz.views.api", "compare"),
    "LayerExplorer": ("dockerviz.views.api", "LayerExplorer"),
    "ImageDiff": ("dockerviz.views.api", "ImageDiff"),
    "ImageComparison": ("dockerviz.model.diff", "ImageComparison"),
    "BuildResult": ("dockerviz.building.result", "BuildResult"),
    "ContainerView": ("dockerviz.containers.lifecycle", "ContainerView"),
    "UsageMonitor": ("dockerviz.containers.monitor", "UsageMonitor"),
    "FilePreview": ("dockerviz.model.contents", "FilePreview"),
    "FileDiff": ("dockerviz.model.contents", "FileDiff"),
    "Engine": ("dockerviz.engine", "Engine"),
    "images_overview": ("dockerviz.overview", "images_overview"),
    "ImagesOverview": ("dockerviz.overview", "ImagesOverview"),
    "compare_engines": ("dockerviz.recorder.sharing", "compare_engines"),
    "RegistryOptions": ("dockerviz.sources.registry_http", "RegistryOptions"),
    "recording": ("dockerviz.recorder", "recording"),
    "Recording": ("dockerviz.recorder", "Recording"),
    "sample_image": ("dockerviz.samples", "sample_image"),
    "replicas": ("dockerviz.recorder.sharing", "replicas"),
    "Replicas": ("dockerviz.containers.replicas", "Replicas"),
    "scale_figure": ("dockerviz.views.figures", "scale_figure"),
    "volume": ("dockerviz.recorder.sharing", "volume"),
    "Volume": ("dockerviz.containers.volumes", "Volume"),
    "push": ("dockerviz.recorder.sharing", "push"),
    "pull": ("dockerviz.recorder.sharing", "pull"),
    "push_index": ("dockerviz.recorder.sharing", "push_index"),
    "copy_image": ("dockerviz.recorder.sharing", "copy_image"),
    "Transfer": ("dockerviz.transfer", "Transfer"),
    "local_lab": ("dockerviz.recorder.sharing", "local_lab"),
    "LocalLab": ("dockerviz.lab", "LocalLab"),
    "RecordedReplicas": ("dockerviz.recorder.sharing", "RecordedReplicas"),
}


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'dockerviz' has no attribute {name!r}") from None
    from importlib import import_module

    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    # the API only: not this module's own helpers nor the submodules imported so far
    return sorted([*__all__, "__version__"])


__all__ = [
    "analyze", "images", "Image", "build", "builds", "builds_figure", "run", "container", "monitor", "usage_summary",
    "load_container", "load_monitor", "cleanup", "layers", "compare", "LayerExplorer", "ImageDiff",
    "ImageComparison", "BuildResult", "ContainerView", "UsageMonitor",
    "DockervizError", "DaemonUnavailableError", "DaemonError", "ImageNotFoundError",
    "ContainerNotFoundError", "ArchiveError", "UnsafePathError", "WhiteoutError", "SourceError", "ImageChoiceError", "BuildError",
    "FileContentsError", "FilePreview", "FileDiff",
    "Engine", "EngineTLSError", "EngineSSHError", "UnknownContextError", "images_overview", "ImagesOverview",
    "compare_engines",
    "RegistryOptions", "RegistryError", "RegistryAuthError", "RegistryTLSError", "RegistryUnavailableError",
    "RegistryImageNotFoundError",
    "recording", "Recording", "RecordingError", "sample_image",
    "replicas", "Replicas", "scale_figure", "volume", "Volume", "push", "pull", "push_index", "copy_image", "Transfer",
    "local_lab", "LocalLab", "RecordedReplicas",
]
