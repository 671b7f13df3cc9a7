"""The recording a notebook runs under: its mode, its file, and the answers in it.

See the package docstring for the format. One Recording is active per process
(the last `dockerviz.recording(...)`, or the one of the innermost `with`).
"""

from __future__ import annotations

import atexit
import datetime as _dt
import html
import json
import os
import time
from pathlib import Path

from ..errors import DaemonUnavailableError, DockervizError, RecordingError

__all__ = ["FILE", "FORMAT", "MODE_ENV", "MODES", "VERSION", "Recording", "active", "choose_mode"]

FORMAT = "dockerviz.recording"
VERSION = 1
FILE = "recording.json"
MODE_ENV = "DOCKERVIZ_RECORDING"
MODES = ("auto", "live", "record", "replay")
_ALIASES = {"": "auto", "offline": "replay", "recorded": "replay", "1": "record", "on": "record"}

_active: list = []  # the active recordings, innermost last


def active() -> "Recording | None":
    return _active[-1] if _active else None


def requested_mode(mode: str | None = None) -> str:
    value = (mode if mode is not None else os.environ.get(MODE_ENV) or "auto").strip().lower()
    value = _ALIASES.get(value, value)
    if value not in MODES:
        raise DockervizError(f"The recording mode is one of {', '.join(MODES)}, not {value!r} (from {MODE_ENV} or mode=).")
    return value


def choose_mode(mode: str | None = None, engine=None) -> str:
    """'live', 'record' or 'replay' for what is asked (mode=, else DOCKERVIZ_RECORDING, else auto)
    and whether a daemon answers."""
    from .. import engine as _engine

    requested = requested_mode(mode)
    if requested == "replay":
        return "replay"
    available = _engine.daemon_available(engine)
    if requested in ("live", "record") and not available:
        raise DaemonUnavailableError(
            f"Recording mode {requested!r} needs a Docker daemon, and none answered at {_engine.describe_host()}. "
            f"Start one, or leave {MODE_ENV} unset to replay the recording."
        )
    if requested == "auto":
        return "live" if available else "replay"
    return requested


def _utc(ts) -> str:
    try:
        return _dt.datetime.fromtimestamp(float(ts), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError):
        return "at an unknown date"


def _key(match: dict) -> str:
    return json.dumps(match, sort_keys=True, default=str)


class Recording:
    """A notebook's recording: live, record or replay, and the answers recorded in `folder`.

    live: every dockerviz call runs on the daemon, nothing is written.
    record: every call runs on the daemon and what it returned is written to
    `folder`/recording.json (images as blanked archives beside it).
    replay: every call returns its recorded answer; no daemon is needed.
    """

    def __init__(self, folder, mode: str | None = None, *, engine=None):
        self.folder = Path(folder).expanduser()
        self.mode = choose_mode(mode, engine)
        self.file = self.folder / FILE
        self.engine_info: dict = {}
        self.recorded_at: float | None = None
        self.calls: list[dict] = []
        self._used: dict[tuple, int] = {}
        self._watched: list = []  # (entry, fn) whose answer is read again at each write
        self._files = 0
        if self.mode == "replay":
            self._load()
        elif self.mode == "record":
            self._start(engine)
        elif self.file.is_file():
            self._load(quiet=True)

    # ---- modes --------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self.mode in ("live", "record")

    @property
    def recording(self) -> bool:
        return self.mode == "record"

    @property
    def replaying(self) -> bool:
        return self.mode == "replay"

    @property
    def recorded_on(self) -> str:
        e = self.engine_info or {}
        return (f"Docker Engine {e.get('version', '?')} "
                f"(API {e.get('api_version', '?')}, {e.get('os', '?')}/{e.get('arch', '?')})")

    @property
    def note(self) -> str:
        """What the banner of every replayed object says."""
        return f"recorded {_utc(self.recorded_at)} on {self.recorded_on}, not live"

    def describe(self) -> str:
        from .. import engine

        if self.mode == "replay":
            return (f"OFFLINE: no Docker daemon answered, so every dockerviz call replays what was recorded "
                    f"{_utc(self.recorded_at)} on {self.recorded_on}. Start Docker and re-run the notebook to see it live.")
        where = f"the Docker daemon at {engine.describe_host()}"
        if self.mode == "record":
            return f"RECORDING: every dockerviz call runs on {where}, and what it returns is written to {self.file}."
        then = f" Without a daemon, it replays what was recorded {_utc(self.recorded_at)}." if self.calls else ""
        return f"LIVE: every dockerviz call runs on {where}.{then}"

    def __repr__(self) -> str:
        return f"<dockerviz recording {str(self.folder)!r}: {self.describe()}>"

    def _repr_html_(self) -> str:
        from ..views.recorded import BANNER_STYLE

        if self.live:
            style = BANNER_STYLE.replace("var(--jp-warn-color1, #b26a00)", "var(--jp-success-color1, #2e7d32)")
        else:
            style = BANNER_STYLE
        head, _, rest = self.describe().partition(": ")
        return (f'<div class="dockerviz-recording-mode" role="status" style="{style}">'
                f"<b>{html.escape(head)}</b>: {html.escape(rest)}</div>")

    # ---- activation -------------------------------------------------------------------------

    def activate(self) -> "Recording":
        if self in _active:
            _active.remove(self)
        _active.append(self)
        return self

    def close(self) -> None:
        """Write what is pending (record mode) and stop answering dockerviz calls."""
        if self.recording:
            self.write()
        if self in _active:
            _active.remove(self)

    def __enter__(self) -> "Recording":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the file --------------------------------------------------------------------------

    def _load(self, quiet: bool = False) -> None:
        from .. import engine

        try:
            with open(self.file, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            if quiet:
                return
            raise RecordingError(
                f"No recording in {self.folder} ({FILE}), and no Docker daemon answered at {engine.describe_host()}. "
                f"Record the notebook once on a machine with Docker: run it with {MODE_ENV}=record."
            ) from None
        except (OSError, ValueError) as exc:
            raise RecordingError(f"{self.file} is not a readable recording ({exc}); record it again.") from None
        check_format(doc, self.file)
        self.engine_info = doc.get("engine") or {}
        self.recorded_at = doc.get("recorded_at")
        self.calls = list(doc.get("calls") or [])

    def _start(self, engine) -> None:
        from .. import __version__
        from .. import engine as _engine

        client = _engine.as_engine(engine).client()
        try:
            v = client.version()
        finally:
            client.close()
        self.engine_info = {"version": v.get("Version"), "api_version": v.get("ApiVersion"),
                            "os": v.get("Os"), "arch": v.get("Arch")}
        self.recorded_at = round(time.time(), 3)
        self.dockerviz = __version__
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.tar.gz"):  # archives of an earlier recording
            old.unlink()
        self.write()
        atexit.register(self.write)

    def write(self) -> Path:
        """Write recording.json (sorted keys, one value a line: reviewable in a diff)."""
        for entry, fn in self._watched:
            entry["answer"] = fn()
        doc = {"format": FORMAT, "version": VERSION, "recorded_at": self.recorded_at,
               "dockerviz": getattr(self, "dockerviz", None), "engine": self.engine_info, "calls": self.calls}
        tmp = self.file.with_name(f".{FILE}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1, sort_keys=True, allow_nan=False, ensure_ascii=False)
                f.write("\n")
            os.replace(tmp, self.file)
        except OSError as exc:
            raise RecordingError(f"Cannot write {self.file}: {exc.strerror or exc}") from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return self.file

    # ---- recording -------------------------------------------------------------------------

    def add(self, call: str, match: dict, answer=None, *, watch=None) -> dict:
        """Record one call's answer (`watch`: a function giving it, asked again at each write,
        for answers that grow after the call returns, like a monitor's samples)."""
        entry = {"call": call, "match": json.loads(_key(match)), "at": round(time.time(), 3), "answer": answer}
        self.calls.append(entry)
        if watch is not None:
            self._watched.append((entry, watch))
        self.write()
        return entry

    def new_file(self, stem: str, suffix: str) -> Path:
        """A fresh file name in the recording's folder (for archives)."""
        self._files += 1
        return self.folder / f"{stem}-{self._files}{suffix}"

    # ---- replaying --------------------------------------------------------------------------

    def answer(self, call: str, match: dict) -> dict:
        """The next recorded entry of `call` with these arguments (the last one again when a
        cell runs more often than when it was recorded). RecordingError when there is none."""
        key = _key(match)
        found = [e for e in self.calls if e.get("call") == call and _key(e.get("match") or {}) == key]
        if not found:
            same = sorted({_key(e.get("match") or {}) for e in self.calls if e.get("call") == call})
            held = f"it holds {call} for {', '.join(same)}" if same else f"it holds no {call} call"
            raise RecordingError(
                f"dockerviz {call}({_describe(match)}) has no recorded answer in {self.file} ({held}). "
                f"Record the notebook again with a Docker daemon ({MODE_ENV}=record)."
            )
        n = self._used.get((call, key), 0)
        self._used[(call, key)] = n + 1
        return found[min(n, len(found) - 1)]


def check_format(doc, where) -> None:
    """A recording's format and version, or a RecordingError saying what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise RecordingError(f"{where} is not a dockerviz recording (format {found!r}, expected {FORMAT!r}).")
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise RecordingError(f"{where} has no valid format version ({version!r}).")
    if version > VERSION:
        raise RecordingError(
            f"{where} is format version {version}, written by a newer dockerviz; this one reads version {VERSION}. "
            "Upgrade dockerviz, or record the notebook again."
        )


def _describe(match: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(match.items()))
