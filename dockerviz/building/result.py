"""BuildResult: the live state of one build, and the data it leaves behind.

Stream parsers (classic.py, buildkit.py) write into a BuildResult through its
`_step` / `_log` / `_fail` methods from the build thread; views subscribe with
`_subscribe` and are called on that thread. Readers get consistent snapshots
under a lock. No widget or plotting import here.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

STEP_COLUMNS = ["step", "instruction", "cached", "started", "seconds", "layer_id", "layer_size", "status"]

# step status values
PENDING, RUNNING, DONE, CACHED, FAILED, CANCELLED = "pending", "running", "done", "cached", "failed", "cancelled"
# build status values
BUILDING, SUCCEEDED = "building", "succeeded"

MAX_LOG_LINES = 100_000

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences and stray control characters (keeps \\n, \\t, \\r)."""
    return _CTRL_RE.sub("", _ANSI_RE.sub("", text))


@dataclass
class Step:
    key: object
    step: int
    instruction: str
    stage: str | None = None
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    layer_id: str | None = None
    layer_size: int | None = None
    status: str = PENDING
    short_id: str | None = None  # classic: the id after " ---> "
    error: str | None = None
    inputs: tuple = ()

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        end = self.completed if self.completed is not None else (time.time() if self.status == RUNNING else None)
        if end is None:
            return None
        return max(0.0, end - self.started)


@dataclass
class LogLine:
    text: str
    stderr: bool = False
    step: int | None = None
    time: float = 0.0


class BuildResult:
    """The outcome (or, while it runs, the progress) of one `dockerviz.build()`.

    Attributes: image_id, tags, seconds, builder ("classic" / "buildkit"; "buildah" on Podman),
    status ("building", "succeeded", "failed", "cancelled"), cancelled, error
    (the BuildError of a failed build), size (image bytes), log (text).
    `steps` is a pandas DataFrame, one row per step; `image` is the analysed image.
    """

    def __init__(self, *, context=None, dockerfile=None, tags=(), target=None, buildargs=None, builder=None):
        self.context = context
        self.dockerfile = dockerfile
        self.tags = list(tags)
        self.target = target
        self.buildargs = dict(buildargs or {})
        self.builder = builder  # what actually ran; set once the stream tells
        self.requested_builder = builder
        self.image_id = None
        self.size = None
        self.status = BUILDING
        self.error = None
        self.cancelled = False
        self.started = time.time()
        self.finished = None
        self.total_steps = None  # known N, if the builder announced it
        self._steps: dict = {}
        self._log: list[LogLine] = []
        self._log_dropped = 0
        self._lock = threading.RLock()
        self._listeners: list = []
        self._job = None  # the runner.BuildJob, while one exists
        self._image = None
        self.recorded: str | None = None  # what a build loaded from a recording is; None when live
        self._display_count = None  # IPython execution count when the live view was shown

    # ---------------------------------------------------------------- reading
    @property
    def seconds(self) -> float:
        end = self.finished if self.finished is not None else time.time()
        return max(0.0, end - self.started)

    @property
    def done(self) -> bool:
        return self.status != BUILDING

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def step_list(self) -> list[Step]:
        with self._lock:
            return sorted(self._steps.values(), key=lambda s: s.step)

    def log_lines(self, last: int | None = None) -> list[LogLine]:
        with self._lock:
            return list(self._log[-last:] if last else self._log)

    @property
    def log(self) -> str:
        with self._lock:
            head = f"[{self._log_dropped} earlier log lines dropped]\n" if self._log_dropped else ""
            return head + "".join(ln.text if ln.text.endswith("\n") else ln.text + "\n" for ln in self._log)

    @property
    def steps(self):
        import pandas as pd

        rows = []
        for s in self.step_list():
            rows.append(
                {
                    "step": s.step,
                    "instruction": s.instruction,
                    "cached": bool(s.cached),
                    "started": pd.Timestamp(s.started, unit="s", tz="UTC") if s.started else pd.NaT,
                    "seconds": s.seconds if s.seconds is not None else float("nan"),
                    "layer_id": s.layer_id,
                    "layer_size": s.layer_size,
                    "status": s.status,
                }
            )
        df = pd.DataFrame(rows, columns=STEP_COLUMNS)
        df["step"] = df["step"].astype("int64")
        df["cached"] = df["cached"].astype(bool)
        df["seconds"] = df["seconds"].astype("float64")
        df["layer_size"] = df["layer_size"].astype("Int64")
        df["started"] = pd.to_datetime(df["started"], utc=True)
        df["layer_id"] = df["layer_id"].astype(object)
        df["instruction"] = df["instruction"].astype(object)
        df["status"] = df["status"].astype(object)
        return df

    @property
    def cached_steps(self) -> int:
        return sum(1 for s in self.step_list() if s.cached)

    @property
    def current_step(self) -> Step | None:
        steps = self.step_list()
        running = [s for s in steps if s.status == RUNNING]
        if running:
            return running[-1]
        failed = [s for s in steps if s.status == FAILED]
        if failed:
            return failed[0]
        started = [s for s in steps if s.started is not None]
        return started[-1] if started else None

    @property
    def image(self):
        """The analysed image (dockerviz.analyze(image_id)), computed on first use."""
        if self._image is None:
            if not self.image_id:
                from ..errors import DockervizError

                raise DockervizError(
                    f"This build has no image (status: {self.status}); there is nothing to analyse."
                )
            from ..analysis import analyze

            self._image = analyze(self.image_id)
        return self._image

    # ---------------------------------------------------------------- control
    def cancel(self):
        """Stop the build: closes the stream, which stops it on the daemon."""
        job = self._job
        if job is not None:
            job.cancel()

    def wait(self, timeout=None):
        """Block until the build ends; raise its BuildError if it failed.

        Interrupting the kernel meanwhile cancels the build.
        """
        job = self._job
        if job is not None:
            from .waiting import wait_for

            wait_for(job, timeout)
        if self.error is not None:
            raise self.error
        return self

    # ---------------------------------------------------------------- writing (build thread)
    def _subscribe(self, fn):
        with self._lock:
            self._listeners.append(fn)

    def _unsubscribe(self, fn):
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _notify(self, kind, payload=None):
        for fn in list(self._listeners):
            try:
                fn(kind, payload)
            except Exception:  # a broken view must not break the build
                pass

    def _step(self, key, **fields) -> Step:
        with self._lock:
            s = self._steps.get(key)
            if s is None:
                number = fields.pop("step", None) or (len(self._steps) + 1)
                s = Step(key=key, step=number, instruction=fields.pop("instruction", ""))
                self._steps[key] = s
            for k, v in fields.items():
                setattr(s, k, v)
        self._notify("step", s)
        return s

    def _get_step(self, key) -> Step | None:
        with self._lock:
            return self._steps.get(key)

    def _log_text(self, text: str, *, stderr=False, step=None, when=None):
        if not text:
            return
        line = LogLine(strip_ansi(text), stderr, step, when or time.time())
        with self._lock:
            self._log.append(line)
            if len(self._log) > MAX_LOG_LINES:
                drop = len(self._log) - MAX_LOG_LINES
                del self._log[:drop]
                self._log_dropped += drop
        self._notify("log", line)

    def _set_total(self, n):
        with self._lock:
            self.total_steps = n
        self._notify("total", n)

    def _finish(self, status, error=None):
        with self._lock:
            self.status = status
            self.error = error
            self.cancelled = status == CANCELLED
            self.finished = time.time()
            now = self.finished
            for s in self._steps.values():
                if s.status == RUNNING:
                    s.status = FAILED if status == "failed" else (CANCELLED if status == CANCELLED else DONE)
                    if s.completed is None:
                        s.completed = now
        self._notify("finished", self)

    # ---------------------------------------------------------------- display
    def describe(self) -> str:
        steps = self.step_list()
        parts = [f"builder={self.builder or '?'}", f"status={self.status}"]
        if self.image_id:
            parts.append(f"image={self.image_id[:19]}")
        if self.tags:
            parts.append("tags=" + ",".join(self.tags))
        parts.append(f"steps={len(steps)} ({self.cached_steps} cached)")
        if self.size is not None:
            parts.append(f"size={self.size}")
        parts.append(f"seconds={self.seconds:.1f}")
        if self.error is not None:
            parts.append(f"error={str(self.error).splitlines()[0][:120]!r}")
        return "BuildResult(" + ", ".join(parts) + ")"

    def __repr__(self):
        return self.describe()

    @property
    def widget(self):
        """The live build view's widget (a new view each time it is asked for)."""
        from ..display import view_for

        return view_for(self).widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.describe()}
        # Shown live already in this cell: do not show a second copy of the view.
        if self._display_count is not None and self._display_count == _execution_count():
            return bundle
        try:
            from ..display import mimebundle

            view_bundle = mimebundle(self, include, exclude)
        except Exception:
            return bundle
        view_bundle.setdefault("text/plain", bundle["text/plain"])
        return view_bundle

    def _repr_html_(self):
        from ..display import static_html

        return static_html(self)


def _execution_count():
    import sys

    if "IPython" not in sys.modules:
        return None
    try:
        ip = sys.modules["IPython"].get_ipython()
        return getattr(ip, "execution_count", None) if ip is not None else None
    except Exception:
        return None
