"""The package's shape: no import cycle, and the layers import only downwards (see README, Layout).

Read from the source with ast, so a lazy import inside a function counts too.
"""

from __future__ import annotations

from pathlib import Path

from support.imports import cycles, daemon_talk_outside, import_graph, violations

PACKAGE = Path(__file__).resolve().parent.parent / "dockerviz"

# Modules every layer may use: they import nothing of the package but each other.
FOUNDATION = {"errors", "humanize", "contexts", "engine", "engine_socket", "display"}
# layer -> the other layers (and foundation modules) its modules may import
RULES = {
    "errors": set(),
    "humanize": set(),
    "contexts": {"errors", "model"},
    "engine": {"errors", "contexts", "model"},
    "engine_socket": {"errors", "contexts", "engine", "model"},
    "display": set(),
    "model": {"errors", "humanize"},
    "sources": {"model"} | FOUNDATION,
    "building": {"model", "sources", "analysis", "cache"} | FOUNDATION,
    "containers": {"model", "sources", "analysis", "cache"} | FOUNDATION,
}
WIDGET_LIBS = {"ipywidgets", "anywidget", "matplotlib"}


def test_no_import_cycle():
    inner, _ = import_graph(PACKAGE)
    assert len(inner) > 40, "the walk found the package's modules"
    assert cycles(inner) == []


def test_layers_import_only_downwards():
    inner, outer = import_graph(PACKAGE)
    assert violations(inner, outer, RULES, WIDGET_LIBS, "dockerviz") == []


# The engine adapter: docker-py's client and its private streaming calls (engine.py), and the
# local daemon's unix socket (engine_socket.py). Nothing else talks to a daemon by itself.
ADAPTER = {"dockerviz.engine", "dockerviz.engine_socket"}


def test_only_the_engine_adapter_calls_docker_py_internals_or_opens_a_socket():
    found = daemon_talk_outside(PACKAGE, ADAPTER)
    assert found == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "dockerviz"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_walk_sees_lazy_cycles_and_upward_imports(tmp_path):
    """The checks above are only as good as the walk: on a small package with a cycle through a
    lazy import, a model module importing a view and a container module importing ipywidgets,
    each breach is reported."""
    root = _package(tmp_path, {
        "__init__.py": "",
        "model/__init__.py": "",
        "model/a.py": "from ..views import v\n",
        "views/__init__.py": "",
        "views/v.py": "import ipywidgets\nfrom ..model import a\n",
        "containers/__init__.py": "",
        "containers/c.py": "def f():\n    import ipywidgets.widgets\n    from .d import x\n",
        "containers/d.py": "from . import c\nx = 1\n",
    })
    inner, outer = import_graph(root)
    assert sorted(map(tuple, cycles(inner))) == [
        ("dockerviz.containers.c", "dockerviz.containers.d"),
        ("dockerviz.model.a", "dockerviz.views.v"),
    ]
    assert daemon_talk_outside(root, set()) == []
    (root / "containers" / "e.py").write_text(
        "import socket\n"
        "def f(api, r):\n"
        "    api._post(api._url('/build'))\n"
        "    return r.raw._fp, socket.socket(socket.AF_UNIX)\n"
    )
    assert daemon_talk_outside(root, set()) == [
        "dockerviz.containers.e:3 calls docker-py's private _post",
        "dockerviz.containers.e:3 calls docker-py's private _url",
        "dockerviz.containers.e:4 reads a response's raw socket (raw._fp)",
        "dockerviz.containers.e:4 opens a socket",
    ]
    found = violations(inner, outer, RULES, WIDGET_LIBS, "dockerviz")
    assert found == [
        "dockerviz.containers.c imports ipywidgets (only dockerviz.views may import widget code)",
        "dockerviz.model.a imports dockerviz.views.v (model/ may import only errors, humanize)",
    ]
