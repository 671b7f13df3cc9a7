"""UsageMonitor: live (or recorded) resource usage of several containers.

The plain-Python object behind `dockerviz.monitor()`. It owns a StatsSampler,
exposes the samples as a pandas DataFrame, and creates its widget (a live
plot and a table) only when displayed.
"""

from __future__ import annotations

import math

from .. import engine
from ..errors import DockervizError
from ..humanize import saved_when
from ..model.stats import COLUMNS
from .fleet import FleetSampler
from .lifecycle import SLOW_TIMEOUT

__all__ = ["LiveSamples", "RecordedSamples", "UsageMonitor", "samples_frame"]


def samples_frame(rows, engine_of=None):
    """A DataFrame with the COLUMNS, time as UTC datetimes, and the engine of each
    container (`engine_of`: shown container name -> engine name) after `container`."""
    import pandas as pd

    df = pd.DataFrame.from_records(list(rows), columns=list(COLUMNS))
    df.insert(1, "engine", df["container"].map(lambda c: (engine_of or {}).get(c, "")).astype(str))
    df["time"] = pd.to_datetime(df["time"].astype("float64"), unit="s", utc=True)
    for c in ("cpu_percent", "mem_percent"):
        df[c] = df[c].astype("float64")
    for c in ("mem_bytes", "mem_limit_bytes", "net_rx_bytes", "net_tx_bytes",
              "blk_read_bytes", "blk_write_bytes", "pids"):
        df[c] = df[c].astype("int64")
    df["container"] = df["container"].astype(str)
    return df


class LiveSamples:
    """Samples streamed from the daemons now (a FleetSampler)."""

    recorded = None

    def __init__(self, containers, *, interval: float, keep: int, engine=None, client=None):
        self.sampler = FleetSampler(containers or [], interval=interval, keep=keep, engine=engine, client=client)
        self.engines = {t.name: eng for eng, s in self.sampler.samplers for t in s.targets}
        self.containers = [
            {"id": t.id, "name": t.name, "image": t.image, "image_id": t.image_id,
             "engine": self.sampler.engine_of[t.name]}
            for t in self.sampler.targets
        ]
        self.interval, self.keep = float(interval), int(keep)
        self.sampler.start()

    @property
    def running(self) -> bool:
        return self.sampler.running

    @property
    def version(self) -> int:
        return self.sampler.version

    def rows(self) -> list[tuple]:
        return self.sampler.rows()

    def errors(self) -> dict[str, str]:
        return {t.name: t.error for t in self.sampler.targets if t.error}

    def stop(self) -> None:
        self.sampler.stop()

    def wait(self, timeout: float | None) -> bool:
        return self.sampler.wait(timeout)

    def engine_of(self, name: str):
        return self.engines.get(name)

    def facts(self, c: dict) -> dict:
        """Sizes and changes of a container as its daemon has them now."""
        return container_facts(c["id"], self.engine_of(c["name"]))


class RecordedSamples:
    """Samples saved (UsageMonitor.save) or recorded: what they were, nothing streams."""

    running = False

    def __init__(self, doc: dict):
        self.doc = doc
        self.containers = list(doc.get("containers") or [])
        self.interval = float(doc.get("interval") or 1.0)
        self.keep = int(doc.get("keep") or 3600)
        self._rows = list(doc.get("rows") or [])

    @property
    def version(self) -> int:
        return len(self._rows)

    @property
    def recorded(self) -> str | None:
        return self.doc.get("note") or f"samples {saved_when(self.doc)}"

    def rows(self) -> list[tuple]:
        return list(self._rows)

    def errors(self) -> dict[str, str]:
        return {}

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None) -> bool:
        return True

    def engine_of(self, name: str):
        return None

    def facts(self, c: dict) -> dict:
        return {}  # the saved ones are in the container's entry already


class UsageMonitor:
    """CPU, memory, network, block I/O and pids of several containers over time.

    Live: stop() it, or use it as a context manager; it stops by itself when
    all its containers have exited. Recorded: UsageMonitor.load(path). The
    samples come from a backend (LiveSamples or RecordedSamples) with one interface.
    """

    def __init__(self, containers=None, *, interval: float = 1.0, keep: int = 3600, client=None, engine=None,
                 backend=None):
        self._widget = None
        if backend is None:
            if isinstance(containers, (str, bytes)) or hasattr(containers, "id"):
                containers = [containers]
            backend = LiveSamples(containers, interval=interval, keep=keep, engine=engine, client=client)
        self._backend = backend
        self.interval = backend.interval
        self.keep = backend.keep
        self._containers = backend.containers

    # ---- state -----------------------------------------------------------------------

    @property
    def recorded(self) -> str | None:
        """None while live; for samples loaded from a file or a recording, what they are
        ("samples saved <when>", or the recording's note)."""
        return self._backend.recorded

    @property
    def running(self) -> bool:
        return self._backend.running

    @property
    def version(self) -> int:
        """Grows with every new sample (a view redraws when it changes)."""
        return self._backend.version

    @property
    def containers(self) -> list[dict]:
        """[{"id", "name", "image", "image_id", ...}] in display order."""
        return [dict(c) for c in self._containers]

    def rows(self) -> list[tuple]:
        return self._backend.rows()

    @property
    def samples(self):
        """A pandas DataFrame, one row per kept sample (see model.stats.COLUMNS), with the
        name of each container's engine in `engine`."""
        return samples_frame(self.rows(), {c["name"]: c.get("engine", "") for c in self._containers})

    def engine_of(self, container_name: str):
        """The Engine a (shown) container name runs on; None for recorded monitors."""
        return self._backend.engine_of(container_name)

    def errors(self) -> dict[str, str]:
        return self._backend.errors()

    def stop(self) -> "UsageMonitor":
        self._backend.stop()
        if self._widget is not None:
            self._widget.refresh()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every container has exited (or stop()); True if so."""
        return self._backend.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- files and summaries -----------------------------------------------------------

    def save(self, path, *, sizes: bool = True):
        """Write the samples (and, if the daemon still has them, sizes and changes of each
        container) to a JSON file that UsageMonitor.load() reads back."""
        from .snapshot import save_json, usage_document

        containers = self.containers
        if sizes:
            for c in containers:
                c.update(self._backend.facts(c))
        return save_json(path, usage_document(containers, self.rows(), interval=self.interval, keep=self.keep))

    @classmethod
    def load(cls, path) -> "UsageMonitor":
        from .snapshot import load_usage

        return cls(backend=RecordedSamples(load_usage(path)))

    def usage_summary(self, sizes: bool = True):
        return usage_summary(self, sizes=sizes)

    # ---- display --------------------------------------------------------------------------

    def describe(self) -> str:
        n = len(self._containers)
        state = "running" if self.running else "stopped"
        return f"{n} container{'s' if n != 1 else ''}, {len(self.rows())} samples, {state}"

    def __repr__(self) -> str:
        return f"<UsageMonitor {self.describe()}>"

    @property
    def widget(self):
        if self._widget is None:
            from ..display import view_for

            self._widget = view_for(self)
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ..display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self):
        from ..display import static_html

        return static_html(self)


def peak_and_mean(values) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return float("nan"), float("nan")
    return float(max(vals)), float(sum(vals)) / len(vals)


def require_monitor(obj) -> "UsageMonitor":
    if isinstance(obj, UsageMonitor):
        return obj
    if isinstance(obj, (str, bytes)) or hasattr(obj, "__fspath__"):
        return UsageMonitor.load(obj)
    raise DockervizError("Pass a UsageMonitor (from dockerviz.monitor()) or the path of a saved one.")


def container_facts(container_id: str, eng=None) -> dict:
    """Sizes and number of changed files of a container, {} if the daemon no longer has it."""
    eng = engine.as_engine(eng)
    try:
        client = eng.client(timeout=SLOW_TIMEOUT)
    except DockervizError:
        return {}
    try:
        with engine.translated(container_id, kind="container", engine=eng):
            rows = client.api.containers(all=True, size=True, filters={"id": [container_id]})
            if not rows:
                return {}
            row = rows[0]
            image_size = None
            try:
                image_size = int(client.api.inspect_image(row.get("ImageID") or row.get("Image")).get("Size") or 0)
            except Exception:
                pass
            changes = client.api.diff(container_id) or []
        return {
            "image_size": image_size,
            "size_rw": int(row.get("SizeRw") or 0),
            "size_root_fs": int(row.get("SizeRootFs") or 0),
            "files_changed": len(changes),
        }
    except DockervizError:
        return {}
    finally:
        client.close()


SUMMARY_COLUMNS = (
    "container",
    "engine",
    "image",
    "image_size_bytes",
    "writable_bytes",
    "files_changed",
    "cpu_peak_percent",
    "cpu_mean_percent",
    "mem_peak_bytes",
    "mem_limit_bytes",
    "samples",
)


def usage_summary(monitor, *, sizes: bool = True):
    """One row per container of a UsageMonitor (or a saved one's path): image, image size,
    writable-layer size, files changed, peak and mean CPU %, peak memory.

    Sizes come from the daemon while the containers exist (slow: on demand),
    else from the saved file; missing ones are NaN.
    """
    import pandas as pd

    mon = require_monitor(monitor)
    rows = mon.rows()
    by_name: dict[str, list[tuple]] = {}
    for r in rows:
        by_name.setdefault(r[0], []).append(r)
    out = []
    for c in mon.containers:
        facts = {k: c.get(k) for k in ("image_size", "size_rw", "files_changed")}
        if sizes:
            facts.update(mon._backend.facts(c))
        mine = by_name.get(c["name"], [])
        cpu_peak, cpu_mean = peak_and_mean([r[2] for r in mine])
        mem_peak = max((r[3] for r in mine), default=None)
        limit = mine[-1][4] if mine else None
        out.append(
            (
                c["name"],
                c.get("engine", ""),
                c.get("image") or c.get("image_id", ""),
                facts.get("image_size"),
                facts.get("size_rw"),
                facts.get("files_changed"),
                cpu_peak,
                cpu_mean,
                mem_peak,
                limit,
                len(mine),
            )
        )
    df = pd.DataFrame.from_records(out, columns=list(SUMMARY_COLUMNS))
    for col in ("image_size_bytes", "writable_bytes", "files_changed", "mem_peak_bytes", "mem_limit_bytes"):
        df[col] = df[col].astype("Int64")
    return df
