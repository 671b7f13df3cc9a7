"""One API for the notebooks, live on a Docker daemon or on recorded data.

Every notebook in `notebooks/` starts with ``demo = Demo("chapter")``. With a
daemon that answers, each step (a build, a container, a lifecycle action, a
few seconds of stats) really happens and the real objects come back. Without
one, the same call returns what that step produced when it was recorded on a
real engine, loaded from ``dockerviz/data/recordings/<chapter>/``: the same
classes (BuildResult, ContainerView, UsageMonitor, Image), marked as recorded,
and shown under a banner that says so and when.

The mode is chosen from the environment variable DOCKERVIZ_DEMO:

* unset or ``auto``: live when a daemon answers, offline otherwise;
* ``live``: live, and an error when no daemon answers;
* ``offline``: recorded data even when a daemon answers;
* ``record``: live, and every step is saved as the new recording.

``python -m dockerviz.demo record`` re-records everything: it runs each
notebook live with DOCKERVIZ_DEMO=record on the daemon at hand. Images are
recorded as `docker save` archives whose file contents are blanked (zeros,
which compress to almost nothing): the tar headers, the image config and the
history are kept as the engine wrote them, and that is all an analysis reads.
The sample image itself is the complete archive `dockerviz/data/sample-image.tar.gz`.

Everything the notebooks create on the daemon is named ``dockerviz-demo-...``
and labelled ``dockerviz.managed=1``; ``Demo.cleanup()`` removes the
containers, and so does interpreter exit.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .errors import BuildError, DaemonUnavailableError, DockervizError
from .humanize import in_kernel as _in_kernel
from .recorder.blank import write_blank_archive
from .recorder.builds import build_document, build_from_document
from .recorder.tidy import BuildTidy as _BuildTidy
from .views.recorded import BANNER_STYLE

__all__ = [
    "Demo",
    "MODE_ENV",
    "RECORDINGS",
    "choose_mode",
    "load_build",
    "save_build",
    "write_blank_archive",
]

MODE_ENV = "DOCKERVIZ_DEMO"
RECORDINGS = Path(__file__).resolve().parent / "data" / "recordings"
MANIFEST = RECORDINGS / "manifest.json"
PREFIX = "dockerviz-demo"
BUILD_FORMAT = "dockerviz.demo.build"
VALUE_FORMAT = "dockerviz.demo.value"
MODES = ("auto", "live", "offline", "record")

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


# ---- mode ------------------------------------------------------------------------------------


def requested_mode() -> str:
    value = (os.environ.get(MODE_ENV) or "auto").strip().lower()
    aliases = {"": "auto", "recorded": "offline", "replay": "offline"}
    value = aliases.get(value, value)
    if value not in MODES:
        raise DockervizError(f"{MODE_ENV}={value!r} is not one of {', '.join(MODES)}.")
    return value


def choose_mode(requested: str | None = None) -> str:
    """'live', 'offline' or 'record' for what is asked (default: DOCKERVIZ_DEMO) and what answers."""
    from . import engine

    requested = requested or requested_mode()
    if requested == "offline":
        return "offline"
    available = engine.daemon_available()
    if requested in ("live", "record") and not available:
        raise DaemonUnavailableError(
            f"{MODE_ENV}={requested} needs a Docker daemon, and none answered at {engine.describe_host()}. "
            f"Start one, or unset {MODE_ENV} to fall back to the recorded data."
        )
    if requested == "auto":
        return "live" if available else "offline"
    return requested


def read_manifest() -> dict:
    try:
        with open(MANIFEST, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DockervizError(f"{MANIFEST} is unreadable ({exc}); re-record with `python -m dockerviz.demo record`.") from None


def recorded_at(manifest: dict | None = None) -> str:
    """When the recordings were made ("2026-11-26 15:57 UTC")."""
    ts = (read_manifest() if manifest is None else manifest).get("recorded_at")
    return _utc(ts) if ts else "at an unknown date"


def recorded_on(manifest: dict | None = None) -> str:
    """On what engine the recordings were made."""
    e = (read_manifest() if manifest is None else manifest).get("engine") or {}
    return (f"Docker Engine {e.get('version', '?')} "
            f"(API {e.get('api_version', '?')}, {e.get('os', '?')}/{e.get('arch', '?')})")


def _utc(ts: float) -> str:
    return _dt.datetime.fromtimestamp(float(ts), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _display(obj) -> None:
    if _in_kernel():
        from IPython.display import display

        display(obj)


# ---- build results as JSON ------------------------------------------------------------------


def save_build(result, path, *, dockerfile_text: str | None = None) -> Path:
    """Write a finished BuildResult to a JSON file that load_build() reads back."""
    from .containers.snapshot import save_json

    if not result.done:
        raise DockervizError("The build is still running: wait for it before saving it.")
    doc = {"format": BUILD_FORMAT, "version": 1, "saved_at": time.time(),
           **build_document(result, dockerfile_text=dockerfile_text)}
    return save_json(path, doc)


def load_build(path):
    """A BuildResult saved with save_build(): finished, with its steps, log and error."""
    from .containers.snapshot import load_json

    return build_from_document(load_json(path, BUILD_FORMAT), recorded="a build loaded from a recording")


# ---- images as blanked `docker save` archives -----------------------------------------------


# ---- banners and recorded display -------------------------------------------------------------


def mark_recorded(obj, note: str):
    """Give obj (a ContainerView, UsageMonitor or BuildResult) the note its banner shows."""
    from .building.result import BuildResult
    from .containers.monitor import UsageMonitor

    if isinstance(obj, BuildResult):
        obj.recorded = note
    elif isinstance(obj, UsageMonitor):
        obj._recorded["note"] = note
    else:
        obj._backend.doc["note"] = note
    return obj


# ---- the demo -----------------------------------------------------------------------------------


class Demo:
    """The steps of one notebook chapter, live or replayed.

    Each step has a key (lower-case letters, digits, dashes) naming its
    recording. Live, a step really happens (and is saved when recording);
    offline, the recorded result of the same step comes back.
    """

    def __init__(self, chapter: str, mode: str | None = None):
        if not _KEY_RE.match(chapter):
            raise DockervizError(f"Chapter names are lower-case words with dashes, not {chapter!r}.")
        self.chapter = chapter
        self.mode = choose_mode(mode)
        self.live = self.mode in ("live", "record")
        self.recording = self.mode == "record"
        self.folder = RECORDINGS / chapter
        self.manifest = read_manifest()
        self.views: list = []  # live containers this demo created
        self.engine_info: dict = {}
        if self.live:
            from . import engine
            from .samples import sample_source

            client = engine.client()
            try:
                v = client.version()
                self.engine_info = {"version": v.get("Version"), "api_version": v.get("ApiVersion"),
                                    "os": v.get("Os"), "arch": v.get("Arch")}
            finally:
                client.close()
            sample_source(live=True)  # the base image of every chapter, loaded from the bundled archive
            if self.recording:
                if self.folder.exists():
                    shutil.rmtree(self.folder)
                self.folder.mkdir(parents=True)
        elif not self.manifest or not self.folder.is_dir():
            raise DockervizError(
                f"No recorded data for {chapter!r} in {self.folder}, and no Docker daemon to run it live. "
                "Record it on a machine with Docker: `python -m dockerviz.demo record`."
            )

    # ---- what is shown ---------------------------------------------------------------------

    @property
    def recorded_at(self) -> str:
        return recorded_at(self.manifest)

    @property
    def recorded_on(self) -> str:
        return recorded_on(self.manifest)

    @property
    def note(self) -> str:
        """What the banner of every recorded view says."""
        return f"recorded {self.recorded_at} on {self.recorded_on}, not live"

    def describe(self) -> str:
        if self.live:
            from . import engine

            e = self.engine_info
            what = "LIVE" + (" (recording)" if self.recording else "")
            return (f"{what}: every step runs on the Docker daemon at {engine.describe_host()} "
                    f"(Docker Engine {e.get('version', '?')}, API {e.get('api_version', '?')}). "
                    f"Offline, this notebook shows data recorded {self.recorded_at}.")
        return (f"OFFLINE: no Docker daemon answered, so every step shows data recorded {self.recorded_at} "
                f"on {self.recorded_on}. Start Docker and re-run the notebook to see it live.")

    def __repr__(self) -> str:
        return f"<dockerviz demo {self.chapter!r}: {self.describe()}>"

    def _repr_html_(self) -> str:
        colour = "var(--jp-success-color1, #2e7d32)" if self.live else "var(--jp-warn-color1, #b26a00)"
        style = BANNER_STYLE.replace("var(--jp-warn-color1, #b26a00)", colour)
        head, _, rest = self.describe().partition(": ")
        return (f'<div class="dockerviz-demo-mode" role="status" style="{style}">'
                f"<b>{html.escape(head)}</b>: {html.escape(rest)}</div>")

    # ---- recordings --------------------------------------------------------------------------

    def _path(self, key: str, suffix: str = ".json") -> Path:
        if not _KEY_RE.match(key):
            raise DockervizError(f"Step keys are lower-case words with dashes, not {key!r}.")
        return self.folder / f"{key}{suffix}"

    def _recorded_file(self, key: str, suffix: str = ".json") -> Path:
        path = self._path(key, suffix)
        if not path.exists():
            raise DockervizError(
                f"No recording of step {key!r} of {self.chapter!r} ({path.name}); "
                "re-record with `python -m dockerviz.demo record`."
            )
        return path

    def value(self, key: str, fn=None):
        """fn() live (saved when recording, so it must be JSON-able); the recorded value offline."""
        from .containers.snapshot import load_json, save_json

        if self.live:
            value = fn()
            if self.recording:
                save_json(self._path(key), {"format": VALUE_FORMAT, "version": 1, "value": value})
            return value
        return load_json(self._recorded_file(key), VALUE_FORMAT)["value"]

    # ---- images ---------------------------------------------------------------------------------

    def sample(self):
        """The bundled sample image (an Image): from the daemon live, from its archive offline."""
        from .analysis import analyze
        from .samples import SAMPLE_ARCHIVE, sample_source

        if self.live:
            return analyze(sample_source(live=True))
        img = analyze(str(SAMPLE_ARCHIVE))
        img.recorded = f"the bundled `docker save` archive, built {self._created(img)}"
        return img

    @staticmethod
    def _created(img) -> str:
        history = (img.config or {}).get("history") or []
        stamp = history[-1].get("created") if history else None
        if not stamp:
            return "on a real engine"
        try:
            return _utc(_dt.datetime.fromisoformat(stamp[:19]).replace(tzinfo=_dt.timezone.utc).timestamp())
        except ValueError:
            return stamp

    def image(self, key: str, ref: str):
        """An analysed Image: `ref` in the daemon live; offline, its recorded (blanked) archive."""
        from . import engine
        from .analysis import analyze

        if self.live:
            img = analyze(ref)
            if self.recording:
                client = engine.client(timeout=None)
                try:
                    with engine.translated(ref):
                        write_blank_archive(client.api.get_image(ref), self._path(key, ".tar.gz"))
                finally:
                    client.close()
                copy = analyze(str(self._path(key, ".tar.gz")))
                if (copy.id, copy.size_bytes, copy.reclaimable_bytes, copy.efficiency) != \
                        (img.id, img.size_bytes, img.reclaimable_bytes, img.efficiency):
                    raise DockervizError(f"The recorded archive of {ref!r} does not analyse like the image itself.")
            return img
        img = analyze(str(self._recorded_file(key, ".tar.gz")))
        img.recorded = f"{self.note} (file contents blanked; headers, config and history as recorded)"
        return img

    def inspect_image(self, key: str, ref: str) -> dict:
        """{"id", "tags", "layers" (diff ids), "size"} of an image in the daemon (recorded offline)."""

        def read():
            from . import engine

            client = engine.client()
            try:
                with engine.translated(ref):
                    info = client.api.inspect_image(ref)
            finally:
                client.close()
            return {"id": info.get("Id"), "tags": sorted(info.get("RepoTags") or []),
                    "layers": list((info.get("RootFS") or {}).get("Layers") or []), "size": int(info.get("Size") or 0)}

        return self.value(key, read)

    # ---- builds --------------------------------------------------------------------------------

    def build(self, key: str, dockerfile: str, tag=None, **options):
        """dockerviz.build() of a Dockerfile text (an empty context, no network): the
        BuildResult, shown live as it builds, or the recorded one. A failed build raises
        its BuildError in both modes."""
        from .building import history

        path = self._path(key)
        if self.live:
            import dockerviz

            options.setdefault("network_mode", "none")
            tidy = _BuildTidy([tag] if isinstance(tag, str) else list(tag or ()))
            try:
                with tempfile.TemporaryDirectory(prefix="dockerviz-demo-") as context:
                    try:
                        result = dockerviz.build(context, dockerfile=dockerfile, tag=tag, **options)
                    except BuildError as exc:
                        if exc.result is None:
                            raise
                        result = exc.result  # saved first, raised below
                if self.recording:
                    save_build(result, path, dockerfile_text=dockerfile)
            finally:
                tidy.finish()
            if result.error is not None:
                raise result.error
            return result
        result = load_build(self._recorded_file(key))
        history.record(result)
        mark_recorded(result, self.note)
        if _in_kernel():
            from .building.result import _execution_count

            _display(result)
            result._display_count = _execution_count()
        if result.error is not None:
            raise result.error
        return result

    # ---- containers ----------------------------------------------------------------------------

    def container_name(self, name: str) -> str:
        return f"{PREFIX}-{self.chapter}-{name}"

    def _clear_name(self, full: str) -> None:
        """Remove a leftover container of that name, if dockerviz created it (a crashed run)."""
        from . import engine
        from .containers.lifecycle import MANAGED_LABEL

        client = engine.client()
        try:
            for c in client.api.containers(all=True, filters={"name": f"^/{full}$", "label": f"{MANAGED_LABEL}=1"}):
                client.api.remove_container(c["Id"], force=True, v=True)
        finally:
            client.close()

    def _keep(self, key: str, view):
        if self.recording:
            if view.state != "removed":  # sizes and changes as they are now, not as first measured
                view.sizes(refresh=True)
                view.diff(refresh=True)
            view.save(self._path(key))
        return view

    def _replay(self, key: str):
        from .containers.api import load_container

        return mark_recorded(load_container(self._recorded_file(key)), self.note)

    def run(self, key: str, image: str, command=None, *, name: str, **options):
        """dockerviz.run(): a started container named dockerviz-demo-<chapter>-<name>
        (no network unless asked), or its recorded snapshot."""
        if not self.live:
            return self._replay(key)
        import dockerviz

        full = self.container_name(name)
        self._clear_name(full)
        options.setdefault("network_mode", "none")
        view = dockerviz.run(image, command, name=full, **options)
        self.views.append(view)
        return self._keep(key, view)

    def create(self, key: str, image: str, command=None, *, name: str, **options):
        """A created, not started, container (state "created"), or its recorded snapshot."""
        if not self.live:
            return self._replay(key)
        from . import engine
        from .containers.lifecycle import ContainerView, _ensure_labels, _register

        full = self.container_name(name)
        self._clear_name(full)
        options = _ensure_labels(dict(options))
        options.setdefault("network_mode", "none")
        client = engine.client()
        with engine.translated(image):
            c = client.containers.create(image, command, name=full, **options)
        _register(c.id, engine.as_engine(None))
        view = ContainerView(c.id, owned=True, client=client)
        self.views.append(view)
        return self._keep(key, view)

    def act(self, key: str, view, action: str, **kwargs):
        """A lifecycle action (start, stop, pause, unpause, restart, remove) on a live view;
        offline, the recorded snapshot taken right after it."""
        if not self.live:
            return self._replay(key)
        getattr(view, action)(**kwargs)
        return self._keep(key, view)

    def look(self, key: str, view):
        """The view as it is now (live) or as it was at this point of the recording."""
        if not self.live:
            return self._replay(key)
        view.refresh()
        return self._keep(key, view)

    def exec(self, key: str, view, command: str, *, detach: bool = False):
        """Run `sh -c command` inside a running container and print what it wrote;
        returns the view afterwards (offline: the recorded snapshot and output)."""
        if not self.live:
            out = self.value(f"{key}-output")
            if out:
                print(out, end="" if out.endswith("\n") else "\n")
            return self._replay(key)
        from . import engine

        client = engine.client(timeout=None)
        try:
            with engine.translated(view.name, kind="container"):
                ex = client.api.exec_create(view.id, ["sh", "-c", command])
                raw = client.api.exec_start(ex["Id"], detach=detach)
                code = None if detach else client.api.exec_inspect(ex["Id"]).get("ExitCode")
        finally:
            client.close()
        out = "" if detach else (raw or b"").decode("utf-8", "replace")
        if code:
            raise DockervizError(f"`{command}` failed in {view.name} (exit code {code}): {out.strip()}")
        self.value(f"{key}-output", lambda: out)
        if out:
            print(out, end="" if out.endswith("\n") else "\n")
        view.refresh()
        return self._keep(key, view)

    def monitor(self, key: str, views, seconds: float = 4.0, interval: float = 1.0):
        """dockerviz.monitor() of the views for `seconds`, shown while it samples; offline,
        the recorded samples. Returns the stopped UsageMonitor."""
        if not self.live:
            from .containers.api import load_monitor

            mon = mark_recorded(load_monitor(self._recorded_file(key)), self.note)
            _display(mon)
            return mon
        import dockerviz

        mon = dockerviz.monitor(list(views), interval=interval)
        _display(mon)
        try:
            time.sleep(seconds)
        finally:
            mon.stop()
        if self.recording:
            mon.save(self._path(key))
        return mon

    def cleanup(self) -> None:
        """Remove every container this demo created (live) and say which."""
        if not self.live:
            print("Offline: the recorded containers were removed when they were recorded; nothing to do.")
            return
        removed = []
        for view in self.views:
            if view.state != "removed":
                with contextlib.suppress(DockervizError):
                    view.remove()
                removed.append(view.name)
            view.close()
        self.views.clear()
        print(f"Removed {len(removed)} container(s): {', '.join(removed) or 'none left'}.")


# ---- recording ----------------------------------------------------------------------------------


def _repo_notebooks() -> Path:
    return Path(__file__).resolve().parent.parent / "notebooks"


def record(notebooks: Path | None = None, timeout: int = 600) -> None:
    """Run every notebook live with DOCKERVIZ_DEMO=record, after writing the manifest."""
    import nbformat
    from nbclient import NotebookClient

    from . import __version__, engine

    notebooks = Path(notebooks or _repo_notebooks())
    paths = sorted(notebooks.glob("[0-9][0-9]-*.ipynb"))
    if not paths:
        raise SystemExit(f"No notebooks in {notebooks}.")
    client = engine.client()
    try:
        v = client.version()
    finally:
        client.close()
    RECORDINGS.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": "dockerviz.demo.recordings",
        "version": 1,
        "recorded_at": time.time(),
        "dockerviz": __version__,
        "engine": {"version": v.get("Version"), "api_version": v.get("ApiVersion"), "os": v.get("Os"),
                   "arch": v.get("Arch"), "kernel": v.get("KernelVersion")},
        "notebooks": [p.name for p in paths],
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.environ[MODE_ENV] = "record"
    try:
        for p in paths:
            started = time.monotonic()
            nb = nbformat.read(p, as_version=4)
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(p.parent)}}).execute()
            print(f"recorded {p.name} in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        os.environ.pop(MODE_ENV, None)
    total = sum(f.stat().st_size for f in RECORDINGS.rglob("*") if f.is_file())
    print(f"{RECORDINGS}: {total / 1e6:.2f} MB")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["record"]:
        record(Path(argv[1]) if len(argv) > 1 else None)
        return 0
    if argv[:1] == ["mode"]:
        print(choose_mode())
        return 0
    print("usage: python -m dockerviz.demo record [NOTEBOOK_DIR] | mode", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
