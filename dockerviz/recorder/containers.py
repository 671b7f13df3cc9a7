"""Container views under a recording: one backend that records, one that replays.

Both speak containers.backend's protocol. Recording runs each operation live
and writes the view's state afterwards (inspect, state, sizes, changes; secret
looking environment values masked); replaying puts the recorded state back into
the view and returns what the operation returned then.
"""

from __future__ import annotations

import copy

from ..containers.backend import ContainerBackend
from ..errors import DockervizError
from ..model.diff import MASK, is_secret_name, mask_command

__all__ = ["RecordingContainer", "ReplayedContainer", "recorded_state"]


def _mask_env(env):
    out = []
    for item in env or []:
        name, eq, value = str(item).partition("=")
        out.append(f"{name}={MASK}" if eq and value and is_secret_name(name) else item)
    return out


def masked(state: dict) -> dict:
    """The state with secret-looking environment values and history assignments masked:
    a recording is published, and holds only what the live views would show."""
    state = copy.deepcopy(state)
    config = (state.get("inspect") or {}).get("Config") or {}
    if "Env" in config:
        config["Env"] = _mask_env(config.get("Env"))
    for layer in ((state.get("image") or {}).get("history") or []):
        layer["created_by"] = mask_command(layer.get("created_by") or "")
    return state


def recorded_state(view, *, image: bool = False) -> dict:
    """The view's state as it is now on the daemon: sizes and changes measured again (so a
    replayed view shows them as they were at this point), the image's layers when asked."""
    if view.state != "removed":
        for read in (view._read_sizes, view._read_diff):
            try:
                read()
            except DockervizError:
                pass
    if image:
        view._read_layers()
        view._read_tags()
    return masked(view._state(image=image))


def _match(view, op: str, args: dict) -> dict:
    return {"container": view.name, **args}


class RecordingContainer(ContainerBackend):
    """Live, and every operation's outcome written to the recording."""

    def __init__(self, inner, session):
        self.inner = inner
        self.session = session
        self.engine = inner.engine
        self.client = inner.client
        self.streams_events = inner.streams_events
        self.acts = inner.acts

    def open(self, view, container_id: str) -> None:
        self.inner.open(view, container_id)

    def perform(self, view, op, args, live):
        match = _match(view, op, args)
        try:
            result = self.inner.perform(view, op, args, live)
        except DockervizError as exc:
            self.session.add(f"container.{op}", match, {"error": str(exc), "state": recorded_state(view)})
            raise
        self.session.add(f"container.{op}", match, {"result": result, "state": recorded_state(view)})
        return result


class ReplayedContainer(ContainerBackend):
    """Each operation answered from the recording, no daemon involved."""

    def __init__(self, session, entry: dict):
        self.session = session
        self.first = entry
        self.saved_at = entry.get("at")

    @property
    def recorded(self) -> str | None:
        return self.session.note

    def open(self, view, container_id: str) -> None:
        view._load_state(self.first.get("answer") or {})

    def perform(self, view, op, args, live):
        entry = self.session.answer(f"container.{op}", _match(view, op, args))
        answer = entry.get("answer") or {}
        view._load_state(answer.get("state") or {})
        self.saved_at = entry.get("at")
        if "error" in answer:
            raise DockervizError(answer["error"])
        return answer.get("result")
