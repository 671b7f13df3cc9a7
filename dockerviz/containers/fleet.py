"""Containers on several engines sampled as one: a StatsSampler per engine behind one face.

A monitor names containers by id, name, ContainerView, docker-py object or
(engine, container) pair; this module groups them by engine, opens one stream
client per engine and merges the samplers' rows. Container names that clash
across engines are shown as `name@engine` so every row stays attributable.
"""

from __future__ import annotations

from .. import engine as _engine
from ..errors import DockervizError
from .sampler import StatsSampler

__all__ = ["FleetSampler", "group_by_engine"]


def _engine_of(item, default):
    """(Engine, container reference) for one item of a monitor's container list."""
    if isinstance(item, tuple) and len(item) == 2:
        return _engine.as_engine(item[0]), getattr(item[1], "id", item[1])
    own = getattr(item, "engine", None)
    if isinstance(own, _engine.Engine):  # a ContainerView
        return own, item.id
    client = getattr(item, "client", None)
    if client is not None and hasattr(item, "id"):  # a docker-py Container
        return _engine.Engine.from_client(client), item.id
    return default, getattr(item, "id", item)


def group_by_engine(containers, engine=None) -> dict:
    """{Engine: [container refs]} in the order the engines first appear."""
    default = None
    groups: dict = {}
    for item in containers:
        if default is None and not isinstance(item, tuple) and not hasattr(item, "engine"):
            default = _engine.as_engine(engine)
        eng, ref = _engine_of(item, default)
        groups.setdefault(eng, []).append(ref)
    return groups


class FleetSampler:
    """The StatsSampler interface over one sampler per engine."""

    def __init__(self, containers, *, interval: float, keep: int, engine=None, client=None):
        containers = list(containers)
        if not containers:
            raise DockervizError("Give at least one container (id, name or object) to sample.")
        if client is not None:
            groups = {_engine.as_engine(client): [getattr(c, "id", c) for c in containers]}
        else:
            groups = group_by_engine(containers, engine)
        names = {e.name for e in groups}
        if len(names) < len(groups):
            raise DockervizError(
                f"Two engines share the name {sorted(names)}: give each a name, e.g. Engine(host, name='web-1')."
            )
        self.samplers: list[tuple[object, StatsSampler]] = []
        try:
            for eng, refs in groups.items():
                if client is None and eng.socket_path is not None:  # this machine's engine: its socket, no docker-py
                    sampler = StatsSampler(refs, interval=interval, keep=keep, socket_path=eng.socket_path)
                else:
                    own = client if client is not None else eng.client(timeout=None,
                                                                        max_pool_size=max(10, len(refs) + 2))
                    sampler = StatsSampler(refs, interval=interval, keep=keep, client=own)
                sampler._owns_client = client is None  # closed when its streams end
                self.samplers.append((eng, sampler))
        except BaseException:
            self.stop(wait=0)
            raise
        seen: dict[str, int] = {}
        for _, s in self.samplers:
            for t in s.targets:
                seen[t.name] = seen.get(t.name, 0) + 1
        self.engine_of: dict[str, str] = {}  # shown container name -> engine name
        for eng, s in self.samplers:
            for t in s.targets:
                if seen[t.name] > 1:
                    t.name = f"{t.name}@{eng.name}"
                self.engine_of[t.name] = eng.name

    @property
    def targets(self):
        return [t for _, s in self.samplers for t in s.targets]

    @property
    def engines(self) -> list:
        return [e for e, _ in self.samplers]

    def start(self) -> "FleetSampler":
        for _, s in self.samplers:
            s.start()
        return self

    def stop(self, wait: float | None = 2.0) -> None:
        for _, s in self.samplers:
            s.stop(wait)

    @property
    def running(self) -> bool:
        return any(s.running for _, s in self.samplers)

    @property
    def finished(self) -> bool:
        return all(s.finished for _, s in self.samplers)

    def wait(self, timeout: float | None = None) -> bool:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for _, s in self.samplers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not s.wait(left):
                return False
        return True

    def rows(self) -> list[tuple]:
        return [r for _, s in self.samplers for r in s.rows()]

    @property
    def version(self) -> int:
        return sum(s.version for _, s in self.samplers)
