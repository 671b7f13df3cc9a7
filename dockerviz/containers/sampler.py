"""Streaming `docker stats` for many containers at once.

One `GET /containers/{id}/stats?stream=1` response per container, each read
by its own daemon thread: the daemon pushes one sample per second (Podman:
every 5 s), so a thread spends its life blocked in recv and costs nothing.
Never `stats(stream=False)` in a loop: the daemon waits for two samples per
call (about 1.8 s per container).

Samples go to one bounded deque per container. A stream whose container
stops keeps sending empty samples; the sampler then asks the daemon whether
the container has exited (or is gone) and ends that stream. When every
stream has ended the sampler is finished.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field

from .. import engine
from ..errors import DockervizError
from ..model import stats

log = logging.getLogger(__name__)

__all__ = ["StatsSampler", "Target", "resolve_targets", "stream_client"]

# States after which a container will send no more real samples by itself.
FINISHED_STATES = frozenset({"exited", "dead", "removing"})


@dataclass
class Target:
    """One container being sampled."""

    id: str
    name: str
    image: str = ""
    image_id: str = ""
    error: str | None = None
    done: bool = False
    first_at: float | None = None  # monotonic time of the first sample
    first_cpu_at: float | None = None  # ... of the first sample with a CPU %
    raw_count: int = 0
    extra: dict = field(default_factory=dict)


def stream_client(connections: int = 10):
    """A client for long streams: no read timeout, one pooled connection per stream.

    docker-py pools 10 connections per host by default; more concurrent
    streams than that make urllib3 log "Connection pool is full" warnings.
    """
    base = engine.client(timeout=None)  # probes the daemon and pins the API version
    version = base.api.api_version
    base.close()
    import docker

    with engine.translated("a stats stream", kind="container"):
        return docker.from_env(timeout=None, version=version, max_pool_size=max(10, connections + 2))


def _name_of(info: dict) -> str:
    return str(info.get("Name") or info.get("Id", "")[:12]).lstrip("/")


def resolve_targets(api, containers) -> list[Target]:
    """Inspect each id, name or object; raise ContainerNotFoundError for an unknown one."""
    targets: list[Target] = []
    seen = set()
    for ref in containers:
        ref_id = getattr(ref, "id", ref)
        with engine.translated(str(ref_id), kind="container"):
            info = api.inspect_container(ref_id)
        if info["Id"] in seen:
            continue
        seen.add(info["Id"])
        targets.append(
            Target(
                id=info["Id"],
                name=_name_of(info),
                image=str(info.get("Config", {}).get("Image") or ""),
                image_id=str(info.get("Image") or ""),
            )
        )
    return targets


class StatsSampler:
    """Stream stats of several containers into bounded per-container buffers.

    `interval` (seconds) thins the daemon's stream: a sample is kept when at
    least about `interval` has passed since the last one kept, and its CPU %
    is measured over that whole span. The daemon cannot stream faster than
    its own period (1 s for Docker, 5 s for Podman). `keep` is the number of
    samples kept per container; older ones are dropped.
    """

    def __init__(self, containers, *, interval: float = 1.0, keep: int = 3600, client=None):
        containers = list(containers)
        if not containers:
            raise DockervizError("Give at least one container (id, name or object) to sample.")
        if keep < 1:
            raise DockervizError(f"keep must be at least 1 sample, not {keep!r}.")
        self.interval = float(interval)
        self.keep = int(keep)
        self._owns_client = client is None
        self._client = client if client is not None else stream_client(len(containers))
        self.api = self._client.api
        self.targets: list[Target] = resolve_targets(self.api, containers)
        self._buffers = {t.id: collections.deque(maxlen=self.keep) for t in self.targets}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._responses: dict[str, object] = {}
        self._threads: list[threading.Thread] = []
        self._alive = 0
        self.started_at: float | None = None
        self.version = 0  # bumps with every kept sample, for views that poll

    # ---- life cycle ----------------------------------------------------------------

    def start(self) -> "StatsSampler":
        if self._threads:
            return self
        self.started_at = time.monotonic()
        self._alive = len(self.targets)
        for t in self.targets:
            th = threading.Thread(target=self._run, args=(t,), name=f"dockerviz-stats-{t.name}", daemon=True)
            self._threads.append(th)
            th.start()
        return self

    def stop(self, wait: float | None = 2.0) -> None:
        """Close every stream; wait up to `wait` seconds for the readers to end."""
        self._stop.set()
        with self._lock:
            responses = list(self._responses.values())
        for r in responses:
            engine.close_stream(r)
        if wait:
            deadline = time.monotonic() + wait
            for th in self._threads:
                th.join(max(0.0, deadline - time.monotonic()))
        if self._owns_client and self._finished.is_set():
            self._close_client()

    def _close_client(self):
        try:
            self._client.close()
        except Exception:
            pass

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._finished.is_set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every stream has ended (containers exited, or stop()); True if so."""
        return self._finished.wait(timeout)

    # ---- reading ----------------------------------------------------------------------

    def rows(self) -> list[tuple]:
        """Every kept sample as a tuple in stats.COLUMNS order, container by container."""
        with self._lock:
            out = []
            for t in self.targets:
                out.extend(self._buffers[t.id])
            return out

    def latest(self) -> dict[str, tuple]:
        with self._lock:
            return {t.id: self._buffers[t.id][-1] for t in self.targets if self._buffers[t.id]}

    def count(self) -> int:
        with self._lock:
            return sum(len(b) for b in self._buffers.values())

    def first_sample_seconds(self, with_cpu: bool = True) -> float | None:
        """Seconds from start() until every container had a sample (with a CPU % if with_cpu)."""
        if self.started_at is None:
            return None
        stamps = [t.first_cpu_at if with_cpu else t.first_at for t in self.targets]
        if any(s is None for s in stamps):
            return None
        return max(stamps) - self.started_at

    # ---- the reader threads ---------------------------------------------------------------

    def _container_finished(self, container_id: str) -> bool:
        from docker.errors import NotFound

        try:
            info = self.api.inspect_container(container_id)
        except NotFound:
            return True
        except Exception:
            return self._stop.is_set()
        return info.get("State", {}).get("Status") in FINISHED_STATES

    def _run(self, t: Target) -> None:
        response = None
        try:
            try:
                response, samples = engine.open_stats(self.api, t.id)
            except Exception as exc:  # not found, daemon gone...
                t.error = f"{type(exc).__name__}: {exc}"
                return
            with self._lock:
                self._responses[t.id] = response
            if self._stop.is_set():
                return
            last_raw = None
            last_time = None
            min_gap = self.interval * 0.9
            for raw in samples:
                if self._stop.is_set():
                    break
                t.raw_count += 1
                if stats.is_empty(raw):
                    if self._container_finished(t.id):
                        break
                    continue
                now = time.monotonic()
                u = stats.compute(raw, previous=last_raw)
                if u is None:
                    continue
                if last_time is not None and u.time is not None and u.time - last_time < min_gap:
                    continue
                if t.first_at is None:
                    t.first_at = now
                if t.first_cpu_at is None and u.cpu_percent == u.cpu_percent:  # not NaN
                    t.first_cpu_at = now
                last_raw = raw
                last_time = u.time
                row = u.row(t.name)
                with self._lock:
                    self._buffers[t.id].append(row)
                    self.version += 1
        except Exception as exc:
            if not self._stop.is_set():
                t.error = f"{type(exc).__name__}: {exc}"
                log.debug("stats stream of %s ended: %s", t.name, exc)
        finally:
            t.done = True
            engine.close_stream(response)
            with self._lock:
                self._responses.pop(t.id, None)
                self._alive -= 1
                last = self._alive == 0
            if last:
                self._finished.set()
                if self._owns_client and not self._stop.is_set():
                    self._close_client()
