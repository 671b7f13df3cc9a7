"""Which view draws a core object.

BuildResult, ContainerView and UsageMonitor hold state and logic; their `.widget`
and display hooks ask here for the view, so building/ and containers/ never import
views/ (nor widget code) and work, and are tested, without a front end.
"""

from __future__ import annotations

from importlib import import_module

# class name (any class in the object's MRO) -> the view class drawing it
VIEWS = {
    "BuildResult": ("dockerviz.views.build_view", "BuildView"),
    "ContainerView": ("dockerviz.views.container_view", "ContainerWidget"),
    "UsageMonitor": ("dockerviz.views.usage_monitor", "UsageMonitorWidget"),
}


def view_class(obj):
    """The view class for `obj` (imports widget code on first use)."""
    for cls in type(obj).__mro__:
        target = VIEWS.get(cls.__name__)
        if target is not None:
            module, name = target
            return getattr(import_module(module), name)
    raise TypeError(f"No dockerviz view draws a {type(obj).__name__}.")


def view_for(obj, **options):
    """A new view of `obj`."""
    return view_class(obj)(obj, **options)


RECORDED = ("dockerviz.views.recorded", "recorded_bundle")
STATIC = ("dockerviz.views.recorded", "static_html")


def static_html(obj) -> str:
    """obj's view as plain HTML, for readers without widgets (GitHub, nbviewer)."""
    module, name = STATIC
    return getattr(import_module(module), name)(obj)


def mimebundle(obj, include=None, exclude=None) -> dict:
    """What a notebook shows for obj: its view's widget and repr(obj) as text. An object that
    says it is recorded (`obj.recorded`, the note its recorded kind gives) is shown under a
    banner with that note, with a static HTML copy for readers without widgets."""
    if getattr(obj, "recorded", None):
        module, name = RECORDED
        return getattr(import_module(module), name)(obj, include, exclude)
    data = obj.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
    if isinstance(data, tuple):
        data = data[0]
    data = dict(data)
    data["text/plain"] = repr(obj)
    return data
