"""Public entry points for containers: run, container, monitor, usage_summary, cleanup."""

from __future__ import annotations

from .. import engine
from ..errors import DockervizError
from .lifecycle import SLOW_TIMEOUT, ContainerView, cleanup, run_container
from .monitor import UsageMonitor, peak_and_mean, require_monitor

__all__ = ["run", "container", "monitor", "usage_summary", "cleanup", "load_container", "load_monitor"]


def run(image, command=None, *, engine=None, **options) -> ContainerView:
    """Create and start a container (docker-py `containers.run` options, always detached)
    on `engine` (a dockerviz.Engine, docker.DockerClient or host URL; default: as the docker CLI picks).

    The container is labelled dockerviz.managed=1 and removed when the view is
    closed, at the end of a `with` block, or when the interpreter exits.
    """
    return run_container(image, command, engine=engine, **options)


def container(id_or_name, *, engine=None) -> ContainerView:
    """A view of an existing container (never removed by dockerviz on close)."""
    client = getattr(id_or_name, "client", None)
    if engine is None and client is not None and hasattr(id_or_name, "id"):
        engine = client  # a docker-py Container knows its engine
    return ContainerView(getattr(id_or_name, "id", id_or_name), engine=engine)


def monitor(containers, interval: float = 1.0, keep: int = 3600, *, engine=None) -> UsageMonitor:
    """Stream resource usage of one or several containers, on one or several engines, in one
    figure and one `samples` DataFrame (with an `engine` column). Containers are ids or names
    (on `engine`, default: as the docker CLI picks), ContainerViews and docker-py objects (on
    their own engine) or (engine, id) pairs. `interval`: seconds between kept samples (the
    daemon streams every 1 s, Podman every 5 s); `keep`: samples kept per container."""
    if isinstance(containers, (str, bytes)) or hasattr(containers, "id"):
        containers = [containers]
    return UsageMonitor(list(containers), interval=interval, keep=keep, engine=engine)


def load_container(path) -> ContainerView:
    """A ContainerView saved with ContainerView.save(path)."""
    return ContainerView.load(path)


def load_monitor(path) -> UsageMonitor:
    """A UsageMonitor saved with UsageMonitor.save(path)."""
    return UsageMonitor.load(path)


def _container_facts(container_id: str, eng=None) -> dict:
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
        if sizes and not mon.recorded:
            facts.update(_container_facts(c["id"], mon.engine_of(c["name"])))
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
