"""The public surface of dockerviz has one shape (see dockerviz/__init__.py's docstring)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import dockerviz

DATA = Path(__file__).parent / "data" / "stats"


def _public():
    return {name: getattr(dockerviz, name) for name in dockerviz.__all__}


def test_dir_shows_only_the_api():
    assert dir(dockerviz) == sorted([*dockerviz.__all__, "__version__"])
    assert len(set(dockerviz.__all__)) == len(dockerviz.__all__)
    for name, value in _public().items():
        assert value is not None, name


def test_every_type_an_api_call_returns_is_exported():
    exported = set(dockerviz.__all__)
    returned = set()
    for value in _public().values():
        if inspect.isfunction(value):
            annotation = inspect.signature(value).return_annotation
            if isinstance(annotation, str) and annotation[:1].isupper() and annotation.isidentifier():
                returned.add(annotation)
    assert {"ContainerView", "UsageMonitor", "BuildResult"} <= returned  # run, monitor, build are annotated
    assert returned <= exported, returned - exported


def test_widget_is_a_property_and_summary_a_dict_everywhere():
    classes = [v for v in _public().values() if inspect.isclass(v) and not issubclass(v, BaseException)]
    shown = [c for c in classes if hasattr(c, "_repr_mimebundle_")]
    assert {"BuildResult", "ContainerView", "UsageMonitor", "LayerExplorer", "ImageDiff"} <= {c.__name__ for c in shown}
    for cls in shown:
        assert isinstance(inspect.getattr_static(cls, "widget"), property), cls.__name__
    for cls in classes:
        summary = inspect.getattr_static(cls, "summary", None)
        if summary is not None:
            assert inspect.signature(summary).return_annotation == "dict", cls.__name__


def test_recorded_is_none_live_and_a_note_when_recorded(run_offline, tmp_path):
    assert dockerviz.BuildResult().recorded is None
    snapshot = tmp_path / "snapshot.json"
    doc = json.loads((DATA / "container_snapshot.json").read_text())
    doc["saved_at"] = 1764625200  # 2025-12-01 21:40 UTC
    snapshot.write_text(json.dumps(doc))
    view = run_offline(dockerviz.load_container, snapshot)
    assert view.recorded == "snapshot saved 2025-12-01 21:40 UTC"


def test_every_call_that_may_reach_a_daemon_takes_an_engine():
    """engine= (an Engine, a host URL or a docker client) on each call that may talk to a daemon;
    layers() and compare() hand it to analyze()."""
    offline = {"builds", "builds_figure", "scale_figure", "usage_summary", "load_container", "load_monitor"}  # session or file data
    for name, value in _public().items():
        if not inspect.isfunction(value) or name in offline:
            continue
        params = inspect.signature(value).parameters
        kinds = {p.kind for p in params.values()}
        assert "engine" in params or "engines" in params or inspect.Parameter.VAR_KEYWORD in kinds, name
