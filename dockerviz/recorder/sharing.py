"""The public calls about registries, engines, volumes and replicas that a recording answers:
push, pull, push_index, copy_image, images of a registry, compare_engines, volume, replicas
(their curve and last table) and local_lab.

Each answer is small JSON: a Transfer's own dict, a DataFrame's columns and rows, a volume's
name and labels, the lab's facts. Matching is by the arguments that name the call (refs,
image names, engine names), so a replay needs none of the engines it was recorded on.
"""

from __future__ import annotations

from .. import across, analysis, lab, transfer
from ..containers import api as containers
from .api import _answered
from .session import active

__all__ = ["compare_engines", "copy_image", "images", "local_lab", "pull", "push", "push_index", "replicas",
           "volume"]


def _answer(session, call: str, match: dict, live, to_doc, from_doc):
    """from_doc(the recorded answer) when replaying; live(), written down when recording."""
    if session.replaying:
        return from_doc(session.answer(call, match)["answer"])
    result = live()
    if session.recording:
        session.add(call, match, to_doc(result))
    return result


def _engine_name(engine) -> str | None:
    return None if engine is None else str(getattr(engine, "name", engine))


def _frame_doc(df) -> dict:
    return {"columns": [str(c) for c in df.columns], "rows": df.astype(object).where(df.notna(), None).values.tolist()}


def _frame(doc: dict):
    import pandas as pd

    return pd.DataFrame(doc["rows"], columns=doc["columns"])


# ---- transfers -----------------------------------------------------------------------------------


def _transfer(session, call: str, match: dict, live):
    return _answer(session, call, match, live, lambda t: t.to_dict(),
                   lambda doc: transfer.Transfer.from_dict(doc, recorded=session.note))


@_answered(transfer.push)
def push(session, args, kwargs, a):
    match = {"image": str(a["image"]), "ref": a["ref"], "engine": _engine_name(a.get("engine"))}
    return _transfer(session, "push", match, lambda: transfer.push(*args, **kwargs))


@_answered(transfer.pull)
def pull(session, args, kwargs, a):
    match = {"ref": a["ref"], "engine": _engine_name(a.get("engine")), "platform": a.get("platform")}
    return _transfer(session, "pull", match, lambda: transfer.pull(*args, **kwargs))


@_answered(transfer.copy_image)
def copy_image(session, args, kwargs, a):
    match = {"image": str(a["image"]), "to": _engine_name(a["to"]), "engine": _engine_name(a.get("engine")),
             "registry": a.get("registry")}
    return _transfer(session, "copy_image", match, lambda: transfer.copy_image(*args, **kwargs))


@_answered(transfer.push_index)
def push_index(session, args, kwargs, a):
    match = {"ref": a["ref"], "images": {str(k): str(v) for k, v in dict(a["images"]).items()}}
    return _transfer(session, "push_index", match, lambda: transfer.push_index(*args, **kwargs))


# ---- tables --------------------------------------------------------------------------------------


@_answered(analysis.images)
def images(session, args, kwargs, a):
    source = a.get("source")
    if not (isinstance(source, str) and source.startswith("registry://")):
        return analysis.images(*args, **kwargs)
    return _answer(session, "images", {"source": source}, lambda: analysis.images(*args, **kwargs),
                   _frame_doc, _frame)


@_answered(across.compare_engines)
def compare_engines(session, args, kwargs, a):
    engines = a["engines"] if isinstance(a["engines"], (list, tuple)) else [a["engines"]]
    match = {"image": str(a["image"]), "engines": [_engine_name(e) for e in engines]}
    return _answer(session, "compare_engines", match, lambda: across.compare_engines(*args, **kwargs),
                   _frame_doc, _frame)


# ---- volumes and replicas ---------------------------------------------------------------------------


@_answered(containers.volume)
def volume(session, args, kwargs, a):
    from ..containers.volumes import Volume

    def replayed(doc):
        vol = Volume(doc["name"], None, doc.get("info") or {})
        vol.removed = True  # nothing to remove: it was, when it was recorded
        return vol

    return _answer(session, "volume", {"name": a.get("name"), "engine": _engine_name(a.get("engine"))},
                   lambda: containers.volume(*args, **kwargs),
                   lambda v: {"name": v.name, "info": {"Name": v.name, "Driver": v.info.get("Driver"),
                                                       "Labels": v.labels}},
                   replayed)


class RecordedReplicas:
    """Replicas under a recording: curve() and table() answered by it (with last_table); the
    rest is the live Replicas' own, when there is one."""

    def __init__(self, session, match: dict, fleet=None):
        self._session = session
        self._match = match
        self._fleet = fleet
        self.last_table = None

    def curve(self, counts=(1, 5, 20), seconds: float = 2.0):
        match = {**self._match, "counts": [int(n) for n in counts]}
        fleet = self._fleet
        both = _answer(self._session, "replicas.curve", match,
                       lambda: (fleet.curve(counts, seconds=seconds), fleet.last_table),
                       lambda pair: {"curve": _frame_doc(pair[0]), "last_table": _frame_doc(pair[1])},
                       lambda doc: (_frame(doc["curve"]), _frame(doc["last_table"])))
        self.last_table = both[1]
        return both[0]

    def table(self, seconds: float = 2.0):
        fleet = self._fleet
        self.last_table = _answer(self._session, "replicas.table", self._match, lambda: fleet.table(seconds),
                                  _frame_doc, _frame)
        return self.last_table

    def close(self) -> None:
        if self._fleet is not None:
            self._fleet.close()

    def __enter__(self) -> "RecordedReplicas":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getattr__(self, name):
        if self._fleet is None:
            raise AttributeError(f"{name!r}: a replayed set of replicas answers curve() and table() only")
        return getattr(self._fleet, name)


@_answered(containers.replicas)
def replicas(session, args, kwargs, a):
    match = {"image": str(a["image"]), "name": a.get("name"), "n": int(a["n"])}
    fleet = None if session.replaying else containers.replicas(*args, **kwargs)
    return RecordedReplicas(session, match, fleet)


# ---- the lab -------------------------------------------------------------------------------------------


def local_lab(*, engine=None):
    """lab.local_lab(), its facts recorded; replayed, the recorded facts and nothing started."""
    session = active()
    if session is None:
        return lab.local_lab(engine=engine)
    return _answer(session, "local_lab", {}, lambda: lab.local_lab(engine=engine), lambda found: found.facts,
                   lab.LocalLab)


local_lab.__doc__ = lab.local_lab.__doc__
