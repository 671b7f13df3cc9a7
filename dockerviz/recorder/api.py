"""The public calls that a recording answers: build, run, container, monitor, analyze, cleanup.

Each is the plain call when no recording is active (or it is live), the plain
call plus what it returned written down when recording, and the recorded
answer when replaying. The signatures are the plain calls' own.
"""

from __future__ import annotations

import functools
import inspect
import os

from ..analysis import analyze as _analyze
from ..building import history
from ..building.api import _tags
from ..building.api import build as _build
from ..containers.api import container as _container
from ..containers.api import monitor as _monitor
from ..containers.api import run as _run
from ..containers.backend import LiveContainer
from ..containers.lifecycle import ContainerView, run_container
from ..containers.lifecycle import cleanup as _cleanup
from ..containers.monitor import RecordedSamples, UsageMonitor, container_facts
from ..errors import BuildError, DockervizError
from ..humanize import show_now
from .containers import RecordingContainer, ReplayedContainer, recorded_state
from .session import active

__all__ = ["analyze", "build", "cleanup", "container", "monitor", "run"]


def _arguments(plain, args, kwargs) -> dict:
    bound = inspect.signature(plain).bind(*args, **kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    values.update(values.pop("options", None) or {})
    return values


def _answered(plain):
    """plain itself without a recording; else the function below it, given the recording
    and the call's arguments by name."""

    def decorate(fn):
        @functools.wraps(plain)
        def call(*args, **kwargs):
            session = active()
            if session is None:
                return plain(*args, **kwargs)
            return fn(session, args, kwargs, _arguments(plain, args, kwargs))

        return call

    return decorate


# ---- builds ----------------------------------------------------------------------------------


@_answered(_build)
def build(session, args, kwargs, a):
    from ..building.result import _execution_count
    from .builds import build_document, build_from_document
    from .tidy import BuildTidy

    match = {"tags": _tags(a.get("tag"))}
    if session.replaying:
        result = build_from_document(session.answer("build", match)["answer"], recorded=session.note)
        history.record(result)
        show_now(result)
        result._display_count = _execution_count()
        if result.error is not None:
            raise result.error
        return result
    tidy = BuildTidy(match["tags"])
    failure = None
    try:
        try:
            result = _build(*args, **kwargs)
        except BuildError as exc:
            if exc.result is None:
                raise
            result, failure = exc.result, exc
        if session.recording:
            text = a.get("dockerfile")
            text = text if isinstance(text, str) and "\n" in text else None
            session.add("build", match, build_document(result, dockerfile_text=text))
    finally:
        tidy.finish()
    if failure is not None:
        raise failure
    return result


# ---- containers ------------------------------------------------------------------------------


def _replayed(session, call: str, match: dict) -> ContainerView:
    return ContainerView(backend=ReplayedContainer(session, session.answer(call, match)))


@_answered(_run)
def run(session, args, kwargs, a):
    match = {"image": str(a.get("image")), "name": a.get("name"), "start": bool(a.get("start", True))}
    if session.replaying:
        return _replayed(session, "run", match)
    if not session.recording:
        return _run(*args, **kwargs)
    options = {k: v for k, v in a.items() if k not in ("image", "command", "engine", "start")}
    view = run_container(a["image"], a.get("command"), engine=a.get("engine"), start=a.get("start", True),
                         wrap=lambda live: RecordingContainer(live, session), **options)
    session.add("run", match, recorded_state(view, image=True))
    return view


@_answered(_container)
def container(session, args, kwargs, a):
    ref = a.get("id_or_name")
    match = {"container": str(getattr(ref, "name", None) or getattr(ref, "id", None) or ref)}
    if session.replaying:
        return _replayed(session, "container", match)
    view = _container(*args, **kwargs)
    if session.recording:
        view = ContainerView(view.id, backend=RecordingContainer(LiveContainer(view.engine, view._client), session))
        session.add("container", match, recorded_state(view, image=True))
    return view


@_answered(_cleanup)
def cleanup(session, args, kwargs, a):
    if session.replaying:
        return list(session.answer("cleanup", {"all_sessions": bool(a.get("all_sessions"))})["answer"] or [])
    removed = _cleanup(*args, **kwargs)
    if session.recording:
        session.add("cleanup", {"all_sessions": bool(a.get("all_sessions"))}, list(removed))
    return removed


# ---- monitors -----------------------------------------------------------------------------------


def _names(containers) -> list[str]:
    if isinstance(containers, (str, bytes)) or hasattr(containers, "id"):
        containers = [containers]
    names = []
    for c in containers:
        if isinstance(c, tuple):
            c = c[-1]
        names.append(str(getattr(c, "name", None) or getattr(c, "id", None) or c))
    return names


def _usage_document(mon: UsageMonitor, facts: dict) -> dict:
    from ..containers.snapshot import usage_document

    if not mon.running and not facts:  # sizes once, when the samples are complete
        for c in mon.containers:
            facts[c["name"]] = container_facts(c["id"], mon.engine_of(c["name"]))
    containers = [{**c, **facts.get(c["name"], {})} for c in mon.containers]
    return usage_document(containers, mon.rows(), interval=mon.interval, keep=mon.keep)


@_answered(_monitor)
def monitor(session, args, kwargs, a):
    match = {"containers": _names(a.get("containers"))}
    if session.replaying:
        doc = dict(session.answer("monitor", match)["answer"] or {})
        doc["note"] = session.note
        mon = UsageMonitor(backend=RecordedSamples(_rows_as_tuples(doc)))
        if a.get("seconds") is not None:
            show_now(mon)
        return mon
    mon = _monitor(*args, **kwargs)
    if session.recording:
        facts: dict = {}
        session.add("monitor", match, watch=lambda: _usage_document(mon, facts))
    return mon


def _rows_as_tuples(doc: dict) -> dict:
    from ..containers.snapshot import usage_rows

    doc["rows"] = usage_rows(doc)
    return doc


# ---- images ----------------------------------------------------------------------------------------


def _recordable(source) -> bool:
    """A daemon image (not a file, a folder or a registry: those need no daemon)."""
    return isinstance(source, str) and not os.path.exists(source) and not source.startswith("registry://")


@_answered(_analyze)
def analyze(session, args, kwargs, a):
    source = a.get("source")
    if not _recordable(source):
        return _analyze(*args, **kwargs)
    match = {"source": source}
    if a.get("engine") is not None:  # the same image analysed on a second engine
        match["engine"] = str(getattr(a["engine"], "name", a["engine"]))
    if session.replaying:
        archive = session.folder / session.answer("analyze", match)["answer"]["archive"]
        img = _analyze(str(archive), cache=False)
        img.recorded = f"{session.note} (file contents blanked; headers, config and history as recorded)"
        return img
    img = _analyze(*args, **kwargs)
    if session.recording:
        out = session.new_file("image", ".tar.gz")
        _save_blanked(source, out, a.get("engine") or a.get("client"))
        copy = _analyze(str(out), cache=False)
        if (copy.id, copy.size_bytes, copy.reclaimable_bytes, copy.efficiency) != \
                (img.id, img.size_bytes, img.reclaimable_bytes, img.efficiency):
            raise DockervizError(f"The recorded archive of {source!r} does not analyse like the image itself.")
        session.add("analyze", match, {"archive": out.name, "id": img.id})
    return img


def _save_blanked(ref: str, out, engine) -> None:
    from .. import engine as _engine
    from .blank import write_blank_archive

    eng = _engine.as_engine(engine)
    client = eng.client(timeout=None)
    try:
        with _engine.translated(ref, engine=eng):
            write_blank_archive(client.api.get_image(ref), out)
    finally:
        client.close()
