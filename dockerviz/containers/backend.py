"""Where a ContainerView's answers come from: a daemon, a saved snapshot, or a recording.

A ContainerView runs each of its public operations (refresh, the lifecycle
actions, exec, sizes, diff, layers, image tags, wait) through its backend:
`perform(view, op, args, live)`. `live` is the view's own code that asks the
daemon and updates the view. The live backend runs it; a snapshot backend
keeps the saved state and refuses actions; the recording kinds (in
dockerviz.recording) run it and write down what came back, or put the
recorded state back into the view instead. The view's logic is the same for
all of them: it never asks which kind it has.
"""

from __future__ import annotations

from ..errors import DockervizError
from ..humanize import saved_when

__all__ = ["ContainerBackend", "LiveContainer", "SnapshotContainer", "READS"]

# operations that only read: a snapshot answers them from what it holds
READS = ("refresh", "sizes", "diff", "layers", "image_tags", "wait")


class ContainerBackend:
    """The protocol (and the live behaviour's defaults)."""

    engine = None  # the dockerviz Engine the container runs on, None when nothing runs
    client = None  # a docker client of that engine
    streams_events = False  # whether daemon events keep the view current
    acts = False  # whether lifecycle buttons may act
    saved_at: float | None = None  # when the state shown was read, if not now

    @property
    def recorded(self) -> str | None:
        """None when live; else what the state shown is (shown in a banner)."""
        return None

    def open(self, view, container_id: str) -> None:
        raise NotImplementedError

    def perform(self, view, op: str, args: dict, live):
        raise NotImplementedError


class LiveContainer(ContainerBackend):
    """A container on a daemon: every operation asks it."""

    streams_events = True
    acts = True

    def __init__(self, engine, client):
        self.engine = engine
        self.client = client

    def open(self, view, container_id: str) -> None:
        view._inspect(container_id)

    def perform(self, view, op, args, live):
        return live()


class SnapshotContainer(ContainerBackend):
    """A container saved with ContainerView.save(): what it was then; no actions."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.saved_at = doc.get("saved_at")

    @property
    def recorded(self) -> str | None:
        return self.doc.get("note") or f"snapshot {saved_when(self.doc)}"

    def open(self, view, container_id: str) -> None:
        view._load_state(self.doc)

    def perform(self, view, op, args, live):
        if op not in READS:
            raise DockervizError(f"{view.name!r} is a recorded snapshot: it cannot be {op}ed.")
        if op == "wait":
            return view.exit_code
        return None  # the saved state stands
