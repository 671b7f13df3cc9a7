"""Public entry points for containers: run, container, monitor, usage_summary, cleanup."""

from __future__ import annotations

import time

from ..humanize import show_now, shown_again
from .lifecycle import ContainerView, cleanup, run_container
from .monitor import UsageMonitor, usage_summary
from .replicas import Replicas, start_replicas
from .volumes import Volume, create_volume

__all__ = ["run", "container", "monitor", "usage_summary", "cleanup", "load_container", "load_monitor", "replicas",
           "volume"]


def run(image, command=None, *, start: bool = True, engine=None, **options) -> ContainerView:
    """Create and start a container (docker-py `containers.run` options, always detached)
    on `engine` (a dockerviz.Engine, docker.DockerClient or host URL; default: as the docker CLI picks).
    start=False only creates it (state "created"; `.start()` it later).

    The container is labelled dockerviz.managed=1 and removed when the view is
    closed, at the end of a `with` block, or when the interpreter exits.
    """
    return run_container(image, command, engine=engine, start=start, **options)


def container(id_or_name, *, engine=None) -> ContainerView:
    """A view of an existing container (never removed by dockerviz on close)."""
    client = getattr(id_or_name, "client", None)
    if engine is None and client is not None and hasattr(id_or_name, "id"):
        engine = client  # a docker-py Container knows its engine
    return ContainerView(getattr(id_or_name, "id", id_or_name), engine=engine)


def monitor(containers, interval: float = 1.0, keep: int = 3600, *, seconds: float | None = None,
            engine=None) -> UsageMonitor:
    """Stream resource usage of one or several containers, on one or several engines, in one
    figure and one `samples` DataFrame (with an `engine` column). Containers are ids or names
    (on `engine`, default: as the docker CLI picks), ContainerViews and docker-py objects (on
    their own engine) or (engine, id) pairs. `interval`: seconds between kept samples (the
    daemon streams every 1 s, Podman every 5 s); `keep`: samples kept per container. `seconds`:
    sample for that long, then stop (in a notebook it is shown while it samples)."""
    if isinstance(containers, (str, bytes)) or hasattr(containers, "id"):
        containers = [containers]
    mon = UsageMonitor(list(containers), interval=interval, keep=keep, engine=engine)
    if seconds is not None:
        shown = show_now(mon)
        try:
            time.sleep(max(0.0, float(seconds)))
        finally:
            mon.stop()
            shown_again(shown, mon)
    return mon


def load_container(path) -> ContainerView:
    """A ContainerView saved with ContainerView.save(path)."""
    return ContainerView.load(path)


def load_monitor(path) -> UsageMonitor:
    """A UsageMonitor saved with UsageMonitor.save(path)."""
    return UsageMonitor.load(path)


def replicas(image, n: int, command=None, *, name: str | None = None, engine=None, **options) -> Replicas:
    """Start n containers of one image (named NAME-1, NAME-2... when `name` is given; run()'s
    options). Replicas.scale(n) changes the count, .table() samples them (one row per replica),
    .curve([1, 5, 20]) scales through counts (one row per count); all are removed on close(), at
    the end of a `with` block, or at interpreter exit."""
    return start_replicas(image, n, command, name=name, engine=engine, **options)


def volume(name: str | None = None, *, engine=None) -> Volume:
    """A new named volume, labelled as dockerviz's and removed on close(), at the end of a `with`
    block or at interpreter exit. Mount it with run(..., volumes=vol.mount("/data"))."""
    return create_volume(name, engine=engine)
