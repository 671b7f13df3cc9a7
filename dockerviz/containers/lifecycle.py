"""Container views and the clean-up of containers dockerviz creates.

`ContainerView` is the plain-Python object behind `dockerviz.run()` and
`dockerviz.container()`: state, exit code and uptime as the daemon reports
them (every action is followed by an inspect, and a daemon events stream keeps
the view current while a widget shows it), the lifecycle actions, and the
image-against-container data (sizes, layers, writable-layer changes). It
creates its widget only when displayed.

Every container dockerviz creates carries the labels `dockerviz.managed=1`
and `dockerviz.session=<pid>`, and is registered here: closing its view, the
end of a `with` block and interpreter exit remove it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time

from .. import engine as _engine
from ..errors import ContainerNotFoundError, DaemonError, DockervizError
from ..humanize import format_duration
from ..model.stats import parse_time
from .backend import LiveContainer, SnapshotContainer

__all__ = [
    "MANAGED_LABEL",
    "SESSION_LABEL",
    "ContainerView",
    "cleanup",
    "managed_labels",
    "owned_ids",
]

MANAGED_LABEL = "dockerviz.managed"
SESSION_LABEL = "dockerviz.session"
RUN_LABEL = "dockerviz.run"  # one value per run() call

ACTIONS = ("start", "stop", "pause", "unpause", "restart", "remove")
STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead", "removed")

# Which actions make sense in which state (as the daemon reports it).
_ALLOWED = {
    "created": {"start", "remove"},
    "running": {"stop", "pause", "restart", "remove"},
    "paused": {"unpause", "stop", "remove"},
    "restarting": {"stop", "remove"},
    "removing": set(),
    "exited": {"start", "restart", "remove"},
    "dead": {"remove"},
    "removed": set(),
}

DIFF_KINDS = {0: "changed", 1: "added", 2: "deleted"}
SLOW_TIMEOUT = 300  # seconds for size and diff requests


def managed_labels() -> dict[str, str]:
    return {MANAGED_LABEL: "1", SESSION_LABEL: str(os.getpid())}


# ---- the registry of containers this process created ----------------------------------

_owned: dict = {}  # container id -> the Engine it runs on
_owned_lock = threading.Lock()
_atexit_registered = False


def _register(container_id: str, engine) -> None:
    global _atexit_registered
    with _owned_lock:
        _owned[container_id] = engine
        if not _atexit_registered:
            atexit.register(_cleanup_at_exit)
            _atexit_registered = True


def _unregister(container_id: str) -> None:
    with _owned_lock:
        _owned.pop(container_id, None)


def owned_ids() -> list[str]:
    with _owned_lock:
        return sorted(_owned)


def cleanup(all_sessions: bool = False, engine=None) -> list[str]:
    """Remove (force) the containers this process created on `engine` (default: as the
    docker CLI picks); with all_sessions, every container labelled dockerviz.managed=1
    there. Returns the removed ids."""
    from docker.errors import NotFound

    eng = _engine.as_engine(engine)
    with _owned_lock:
        ids = {cid for cid, e in _owned.items() if e == eng}
    client = eng.client()
    removed = []
    try:
        if all_sessions:
            with _engine.translated("managed containers", kind="container", engine=eng):
                for c in client.api.containers(all=True, filters={"label": f"{MANAGED_LABEL}=1"}):
                    ids.add(c["Id"])
        for cid in ids:
            try:
                client.api.remove_container(cid, force=True, v=True)
                removed.append(cid)
            except NotFound:
                pass
            except Exception:
                continue
            _unregister(cid)
    finally:
        client.close()
    return removed


def _cleanup_at_exit() -> None:
    with _owned_lock:
        engines = set(_owned.values())
    for eng in engines:
        try:
            cleanup(engine=eng)
        except Exception:
            pass


# ---- the view ----------------------------------------------------------------------------


class ContainerView:
    """A container as its daemon describes it, with lifecycle actions.

    Build it with dockerviz.run() or dockerviz.container(), or load a saved
    snapshot with ContainerView.load(path) (no daemon needed, actions
    disabled). `owned` views (run()) remove their container on close().
    Where the answers come from is the backend's business (see backend.py):
    live, a snapshot, or a recording.
    """

    def __init__(self, container_id: str = "", *, owned: bool = False, client=None, engine=None, backend=None):
        self._lock = threading.RLock()
        self.owned = owned
        self._listeners: list = []
        self._events = None
        self._events_thread: threading.Thread | None = None
        self._closed = False
        self.last_error: str | None = None
        self._info: dict = {}
        self._sizes = None
        self._diff = None
        self._layers = None
        self._tags = None
        self._removed = False
        if backend is None:
            eng = _engine.as_engine(engine if engine is not None else client)
            backend = LiveContainer(eng, client if client is not None else eng.client())
        self._backend = backend
        self.engine = backend.engine
        self._client = backend.client
        self.id = container_id
        backend.open(self, container_id)
        self.id = self._info.get("Id", container_id)
        if owned and backend.acts:
            _register(self.id, self.engine)

    # ---- state, as the live code reads it and recordings save it --------------------------

    def _inspect(self, container_id: str | None = None) -> None:
        with _engine.translated(container_id or self.id, kind="container", engine=self.engine):
            self._info = self._client.api.inspect_container(container_id or self.id)

    def _state(self, *, image: bool = False) -> dict:
        """What the view shows, as plain data (`image`: with the image's layers and tags)."""
        state = {"inspect": self._info, "state": self.state, "sizes": self._sizes, "diff": self._diff}
        if image:
            state["image"] = {"id": self.image_id, "reference": self.image, "tags": self._tags,
                              "history": self._layers}
        return state

    def _load_state(self, doc: dict) -> None:
        if "inspect" in doc:
            self._info = doc.get("inspect") or {}
        for key in ("sizes", "diff"):
            if key in doc:
                setattr(self, f"_{key}", doc[key])
        image = doc.get("image")
        if image:
            self._layers = image.get("history")
            self._tags = image.get("tags")
        if "state" in doc:
            self._removed = doc["state"] == "removed"

    # ---- what the daemon says -------------------------------------------------------------

    @property
    def recorded(self) -> str | None:
        """None for a live view; else what it shows ("snapshot saved <when>", or the recording's
        note): its numbers are from then, not now."""
        return self._backend.recorded

    @property
    def info(self) -> dict:
        return self._info

    @property
    def name(self) -> str:
        return str(self._info.get("Name") or self.id[:12]).lstrip("/")

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def image(self) -> str:
        """The image reference the container was created from."""
        return str(self._info.get("Config", {}).get("Image") or self.image_id)

    @property
    def image_id(self) -> str:
        return str(self._info.get("Image") or "")

    @property
    def state(self) -> str:
        if self._removed:
            return "removed"
        return str(self._info.get("State", {}).get("Status") or "unknown")

    @property
    def exit_code(self) -> int | None:
        st = self._info.get("State", {})
        if self._removed and not st:
            return None
        if st.get("Status") in ("exited", "dead") or (self._removed and "ExitCode" in st):
            return int(st.get("ExitCode") or 0)
        return None

    @property
    def started_at(self) -> float | None:
        return parse_time(self._info.get("State", {}).get("StartedAt"))

    @property
    def finished_at(self) -> float | None:
        return parse_time(self._info.get("State", {}).get("FinishedAt"))

    @property
    def uptime(self) -> float | None:
        """Seconds since start while running or paused, else None."""
        if self.state not in ("running", "paused", "restarting") or self.started_at is None:
            return None
        now = self._backend.saved_at or time.time()
        return max(0.0, now - self.started_at)

    @property
    def labels(self) -> dict:
        return dict(self._info.get("Config", {}).get("Labels") or {})

    @property
    def hostname(self) -> str:
        return str(self._info.get("Config", {}).get("Hostname") or "")

    def mounts(self) -> list[dict]:
        """What is mounted into the container, from its inspect document (so recorded views have it
        too): [{"type" (volume / bind / tmpfs), "name" (the volume's, else ""), "source", "destination",
        "rw"}]. What is written there lives outside the writable layer and outlives the container."""
        return [{"type": str(m.get("Type") or ""), "name": str(m.get("Name") or ""),
                 "source": str(m.get("Source") or ""), "destination": str(m.get("Destination") or ""),
                 "rw": bool(m.get("RW", True))}
                for m in self._info.get("Mounts") or []]

    def allowed_actions(self) -> set[str]:
        if not self._backend.acts or self._closed:
            return set()
        return set(_ALLOWED.get(self.state, {"remove"}))

    def refresh(self) -> "ContainerView":
        """Re-read the container from the daemon."""
        self._backend.perform(self, "refresh", {}, self._reread)
        return self

    def _reread(self) -> None:
        if self._removed:
            return
        with self._lock:
            try:
                self._inspect()
            except ContainerNotFoundError:
                self._mark_removed()

    def _settle(self, *, removed: bool) -> None:
        """After an action or an event: mark the container gone, or re-read it from the daemon."""
        if removed:
            self._mark_removed()
            return
        try:
            self._reread()
        except DockervizError:
            pass  # the daemon did not answer: keep the last reading

    def _mark_removed(self):
        self._removed = True
        _unregister(self.id)

    # ---- actions -----------------------------------------------------------------------

    def _act(self, action: str, fn, **args) -> "ContainerView":
        def live():
            with self._lock:
                try:
                    with _engine.translated(self.name, kind="container", engine=self.engine):
                        fn()
                    self.last_error = None
                except DockervizError as exc:
                    self.last_error = str(exc)
                    raise
                finally:
                    self._settle(removed=action == "remove" and self.last_error is None)

        self._backend.perform(self, action, args, live)
        self._notify()
        return self

    def start(self):
        return self._act("start", lambda: self._client.api.start(self.id))

    def stop(self, timeout: int = 10):
        return self._act("stop", lambda: self._client.api.stop(self.id, timeout=timeout), timeout=timeout)

    def pause(self):
        return self._act("pause", lambda: self._client.api.pause(self.id))

    def unpause(self):
        return self._act("unpause", lambda: self._client.api.unpause(self.id))

    def restart(self, timeout: int = 10):
        return self._act("restart", lambda: self._client.api.restart(self.id, timeout=timeout), timeout=timeout)

    def remove(self, force: bool = True):
        """Remove the container (and its anonymous volumes)."""
        result = self._act("remove", lambda: self._client.api.remove_container(self.id, force=force, v=True))
        self._stop_events()
        return result

    def exec(self, command, *, detach: bool = False) -> str:
        """Run a command in the running container (a string runs under `sh -c`); what it printed
        (stdout and stderr). A non-zero exit raises a DockervizError with its code and output;
        detach=True returns "" at once."""
        argv = ["sh", "-c", command] if isinstance(command, str) else [str(a) for a in command]

        def live() -> str:
            client = self.engine.client(timeout=None)
            try:
                with _engine.translated(self.name, kind="container", engine=self.engine):
                    ex = client.api.exec_create(self.id, argv)
                    raw = client.api.exec_start(ex["Id"], detach=detach)
                    code = None if detach else client.api.exec_inspect(ex["Id"]).get("ExitCode")
            finally:
                client.close()
            out = "" if detach else (raw or b"").decode("utf-8", "replace")
            if code:
                raise DockervizError(f"`{command}` failed in {self.name} (exit code {code}): {out.strip()}")
            self._settle(removed=False)
            return out

        output = self._backend.perform(self, "exec", {"command": command, "detach": detach}, live)
        self._notify()
        return output

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the container stops; its exit code."""

        def live():
            if self._removed:
                return self.exit_code
            client = self.engine.client(timeout=timeout)
            try:
                with _engine.translated(self.name, kind="container", engine=self.engine):
                    result = client.api.wait(self.id)
            finally:
                client.close()
            self._settle(removed=False)
            return int(result.get("StatusCode", 0))

        return self._backend.perform(self, "wait", {}, live)

    # ---- image against container -------------------------------------------------------------

    @contextlib.contextmanager
    def _slow_client(self):
        """A client without the short read timeout: sizes and diffs of a big writable
        layer can take the daemon longer than a connect timeout."""
        client = self.engine.client(timeout=SLOW_TIMEOUT)
        try:
            yield client
        finally:
            client.close()

    def sizes(self, refresh: bool = False) -> dict:
        """{"size_rw", "size_root_fs", "image_size"} in bytes. Slow: the daemon walks the
        writable layer, so it is computed on demand only."""
        if self._sizes is None or refresh:
            self._backend.perform(self, "sizes", {}, self._read_sizes)
        if self._sizes is None:
            raise DockervizError(f"No sizes of {self.name!r} were recorded.")
        return dict(self._sizes)

    def _read_sizes(self) -> None:
        if self._removed:
            raise DockervizError(f"Container {self.name!r} was removed: its sizes are gone with it.")
        with self._slow_client() as client, _engine.translated(self.name, kind="container", engine=self.engine):
            rows = client.api.containers(all=True, size=True, filters={"id": [self.id]})
            image = client.api.inspect_image(self.image_id)
        row = next((r for r in rows if r.get("Id") == self.id), None)
        if row is None:
            self._mark_removed()
            raise DockervizError(f"Container {self.name!r} is gone from the daemon.")
        self._sizes = {
            "size_rw": int(row.get("SizeRw") or 0),
            "size_root_fs": int(row.get("SizeRootFs") or 0),
            "image_size": int(image.get("Size") or 0),
        }

    def diff(self, refresh: bool = False) -> list[dict]:
        """The writable layer's changes: [{"path", "kind"}] with kind added/changed/deleted."""
        if self._diff is None or refresh:
            self._backend.perform(self, "diff", {}, self._read_diff)
        if self._diff is None:
            raise DockervizError(f"No changes of {self.name!r} were recorded.")
        return list(self._diff)

    def _read_diff(self) -> None:
        if self._removed:
            raise DockervizError(f"Container {self.name!r} was removed: its changes are gone with it.")
        with self._slow_client() as client, _engine.translated(self.name, kind="container", engine=self.engine):
            raw = client.api.diff(self.id) or []
        self._diff = sorted(
            ({"path": d.get("Path", ""), "kind": DIFF_KINDS.get(d.get("Kind"), str(d.get("Kind")))} for d in raw),
            key=lambda d: d["path"],
        )

    def layers(self) -> list[dict]:
        """The image's layers, oldest first: [{"id", "created_by", "size", "tags"}]."""
        if self._layers is None:
            self._backend.perform(self, "layers", {}, self._read_layers)
        return list(self._layers or [])

    def _read_layers(self) -> None:
        with _engine.translated(self.image, kind="image", engine=self.engine):
            history = self._client.api.history(self.image_id)
        self._layers = [
            {
                "id": h.get("Id", ""),
                "created_by": h.get("CreatedBy", ""),
                "size": int(h.get("Size") or 0),
                "tags": list(h.get("Tags") or []),
            }
            for h in reversed(history)
        ]

    def image_tags(self) -> list[str]:
        if self._tags is None:
            self._backend.perform(self, "image_tags", {}, self._read_tags)
        return list(self._tags or [])

    def _read_tags(self) -> None:
        try:
            with _engine.translated(self.image, kind="image", engine=self.engine):
                self._tags = list(self._client.api.inspect_image(self.image_id).get("RepoTags") or [])
        except DockervizError:
            self._tags = []

    # ---- snapshots ---------------------------------------------------------------------------

    def snapshot(self, *, sizes: bool = True, diff: bool = True) -> dict:
        """Everything the view shows, as plain JSON-able data."""
        from .snapshot import container_snapshot

        return container_snapshot(self, sizes=sizes, diff=diff)

    def save(self, path, *, sizes: bool = True, diff: bool = True):
        from .snapshot import save_json

        return save_json(path, self.snapshot(sizes=sizes, diff=diff))

    @classmethod
    def load(cls, path) -> "ContainerView":
        from .snapshot import load_snapshot

        doc = load_snapshot(path)
        return cls((doc.get("inspect") or {}).get("Id", ""), backend=SnapshotContainer(doc))

    # ---- events --------------------------------------------------------------------------------

    def on_change(self, callback) -> None:
        """Call callback(view) whenever the daemon reports a change (starts the events listener)."""
        self._listeners.append(callback)
        self._start_events()

    def _notify(self) -> None:
        for cb in list(self._listeners):
            try:
                cb(self)
            except Exception:
                pass

    def _start_events(self) -> None:
        if not self._backend.streams_events or self._removed or self._events_thread is not None:
            return
        # events from this second on, so a change made while the stream connects is not missed
        since = int(time.time()) - 1
        self._events_thread = threading.Thread(
            target=self._listen, args=(since,), name=f"dockerviz-events-{self.name}", daemon=True
        )
        self._events_thread.start()

    def _listen(self, since: int) -> None:
        try:
            client = self.engine.client(timeout=None)
        except DockervizError:
            return
        try:
            stream = client.api.events(
                since=since, decode=True, filters={"type": "container", "container": self.id}
            )
            self._events = stream
            if self._closed or self._removed:
                return
            for event in stream:
                if self._closed:
                    break
                action = str(event.get("Action") or event.get("status") or "")
                if action.startswith(("exec_", "top", "attach", "resize", "export", "commit")):
                    continue
                self._settle(removed=action == "destroy")
                self._notify()
                if self._removed:
                    break
        except Exception:
            pass
        finally:
            self._events = None
            try:
                client.close()
            except Exception:
                pass

    def _stop_events(self) -> None:
        stream = self._events
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass

    # ---- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening; remove the container if dockerviz created it."""
        if self._closed:
            return
        try:
            if self.owned and not self._removed and self._backend.acts:
                try:
                    self.remove(force=True)
                except DockervizError:
                    pass
        finally:
            self._closed = True
            self._stop_events()
            widget = getattr(self, "_widget", None)
            if widget is not None:
                try:
                    widget.sync()
                except Exception:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- display ------------------------------------------------------------------------------

    def describe(self) -> str:
        parts = [f"{self.name} ({self.short_id})", f"image {self.image}", self.state]
        if self.exit_code is not None:
            parts.append(f"exit code {self.exit_code}")
        if self.uptime is not None:
            parts.append(f"up {format_duration(self.uptime)}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"<ContainerView {self.describe()}>"

    @property
    def widget(self):
        """The ipywidgets view (created once, on first use)."""
        w = getattr(self, "_widget", None)
        if w is None:
            from ..display import view_for

            w = self._widget = view_for(self)
        return w

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ..display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self):
        from ..display import static_html

        return static_html(self)


def _ensure_labels(options: dict) -> dict:
    labels = options.get("labels")
    merged = managed_labels()
    if isinstance(labels, dict):
        merged = {**labels, **merged}
    elif isinstance(labels, (list, tuple)):
        merged = {**{str(k): "" for k in labels}, **merged}
    elif labels is not None:
        raise DockervizError("labels must be a dict or a list of names.")
    options["labels"] = merged
    return options


def run_container(image, command=None, engine=None, *, start: bool = True, wrap=None, **options) -> ContainerView:
    """docker-py containers.run(image, command, detach=True, **options) as a ContainerView
    (start=False: created, not started). `wrap(backend)` may wrap the live backend (a recording)."""
    import uuid

    options = _ensure_labels(dict(options))
    # a container created but refused at start (a bad command, a wrong platform) is found by this and removed
    attempt = options["labels"][RUN_LABEL] = uuid.uuid4().hex
    eng = _engine.as_engine(engine)
    client = eng.client()
    try:
        with _engine.translated(str(image), kind="image", engine=eng):
            if start:
                container = client.containers.run(image, command, detach=True, **options)
            else:
                container = client.containers.create(image, command, **options)
    except BaseException:
        with contextlib.suppress(Exception):
            for c in client.api.containers(all=True, filters={"label": f"{RUN_LABEL}={attempt}"}):
                client.api.remove_container(c["Id"], force=True, v=True)
        raise
    _register(container.id, eng)
    backend = LiveContainer(eng, client)
    try:
        return ContainerView(container.id, owned=True, backend=wrap(backend) if wrap else backend)
    except Exception:
        try:
            client.api.remove_container(container.id, force=True)
            _unregister(container.id)
        except Exception:
            pass
        raise DaemonError(f"Container {container.id[:12]} was created but could not be inspected.") from None
