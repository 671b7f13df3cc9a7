"""Streaming `docker stats` for many containers at once.

One `GET /containers/{id}/stats?stream=1` response per container: the daemon
pushes one sample per second (Podman: every 5 s). Never `stats(stream=False)`
in a loop: the daemon waits for two samples per call (about 1.8 s per
container).

Two ways to read the streams, one result:

- a daemon on this machine (a unix socket, no client given): every stream is
  a plain HTTP/1.0 answer on its own socket, one line of JSON per sample, and
  one thread reads them all as they become readable (selectors). No docker-py:
  its import and its per-response machinery cost more CPU than `docker stats`
  spends in all.
- any other engine, or a docker-py client given: docker-py, one reader thread
  per stream, each blocked in recv. This is the reference the fast path is
  tested against (tests/test_stats_streams.py).

The first two readings of each stream are taken as they come (the second
gives the first CPU %); thinning to `interval` starts after that. On the
local socket, where the containers' cgroups are readable here, the kernel's
CPU counters read just before the streams open are the first reading's
previous one (kernel_cpu), so the first streamed reading has a CPU % already.

Samples go to one bounded deque per container. A stream whose container
stops keeps sending empty samples; the sampler then asks the daemon whether
the container has exited (or is gone) and ends that stream. When every
stream has ended the sampler is finished.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time

from .. import engine
from ..errors import DockervizError
from ..model import stats
from ..model.record import Record

__all__ = ["StatsSampler", "Target", "resolve_targets", "stream_client"]

# States after which a container will send no more real samples by itself.
FINISHED_STATES = frozenset({"exited", "dead", "removing"})


class Target(Record):
    """One container being sampled."""

    _fields = ("id", "name", "image", "image_id", "error", "done", "first_at", "first_cpu_at", "raw_count", "extra")

    def __init__(self, id: str, name: str, image: str = "", image_id: str = "", error: str | None = None,
                 done: bool = False, first_at: float | None = None, first_cpu_at: float | None = None,
                 raw_count: int = 0, extra: dict | None = None):
        self.id = id
        self.name = name
        self.image = image
        self.image_id = image_id
        self.error = error
        self.done = done
        self.first_at = first_at  # monotonic time of the first sample
        self.first_cpu_at = first_cpu_at  # ... of the first sample with a CPU %
        self.raw_count = raw_count
        self.extra = {} if extra is None else extra


def stream_client(connections: int = 10):
    """A client for long streams: no read timeout, one pooled connection per stream.

    docker-py pools 10 connections per host by default; more concurrent
    streams than that make urllib3 log "Connection pool is full" warnings.
    """
    # the engine the environment names (DOCKER_HOST or a docker context), at the negotiated version
    return engine.client(timeout=None, max_pool_size=max(10, connections + 2))


def _name_of(info: dict) -> str:
    return str(info.get("Name") or info.get("Id", "")[:12]).lstrip("/")


def resolve_targets(api, containers, inspect=None) -> list[Target]:
    """Inspect each id, name or object; raise ContainerNotFoundError for an unknown one.

    `inspect(ref) -> dict` replaces docker-py's inspect_container (the local socket)."""
    targets: list[Target] = []
    seen = set()
    for ref in containers:
        ref_id = getattr(ref, "id", ref)
        if inspect is not None:
            info = inspect(ref_id)
        else:
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
    samples kept per container; older ones are dropped. `socket_path` reads a
    daemon on this machine through its unix socket (the default when neither
    it nor `client` is given and the engine in use is local).
    """

    def __init__(self, containers, *, interval: float = 1.0, keep: int = 3600, client=None,
                 socket_path: str | None = None):
        containers = list(containers)
        if not containers:
            raise DockervizError("Give at least one container (id, name or object) to sample.")
        if keep < 1:
            raise DockervizError(f"keep must be at least 1 sample, not {keep!r}.")
        self.interval = float(interval)
        self.keep = int(keep)
        self._socket = None
        self._pids: dict = {}
        self.targets: list[Target] = []
        if client is None:
            self._socket = socket_path if socket_path is not None else _local_socket()
            if self._socket is not None:
                try:
                    found = self._inspect_all([getattr(c, "id", c) for c in containers])
                    self.targets = resolve_targets(None, containers, inspect=lambda ref: found[str(ref)])
                    self._pids = {info["Id"]: (info.get("State") or {}).get("Pid") for info in found.values()}
                except _LocalFailed:
                    self._socket = None  # docker-py below words what went wrong
        self._owns_client = client is None
        self._client = client
        self.api = client.api if client is not None else None
        if self._socket is None:
            if self._client is None:
                self._client = stream_client(len(containers))
                self.api = self._client.api
            self.targets = resolve_targets(self.api, containers)
        self._buffers = {t.id: collections.deque(maxlen=self.keep) for t in self.targets}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._responses: dict[str, object] = {}
        self._threads: list[threading.Thread] = []
        self._alive = 0
        self._wake = None  # wakes the socket reader from select() when stop() is called
        self.started_at: float | None = None
        self.version = 0  # bumps with every kept sample, for views that poll

    @property
    def transport(self) -> str:
        """"socket" (the local fast path) or "docker-py"."""
        return "socket" if self._socket is not None else "docker-py"

    # ---- life cycle ----------------------------------------------------------------

    def start(self) -> "StatsSampler":
        if self._threads:
            return self
        self.started_at = time.monotonic()
        self._alive = len(self.targets)
        if self._socket is not None:
            self._wake = socket.socketpair()
            th = threading.Thread(target=self._run_local, name="dockerviz-stats", daemon=True)
            self._threads.append(th)
            th.start()
            return self
        for t in self.targets:
            th = threading.Thread(target=self._run, args=(t,), name=f"dockerviz-stats-{t.name}", daemon=True)
            self._threads.append(th)
            th.start()
        return self

    def stop(self, wait: float | None = 2.0) -> None:
        """Close every stream; wait up to `wait` seconds for the readers to end."""
        self._stop.set()
        if self._wake is not None:
            try:
                self._wake[1].send(b"x")
            except OSError:
                pass
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
        if self._client is None:
            return
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

    # ---- one raw sample, whichever way it came -----------------------------------------------

    def _take(self, t: Target, raw, state: list) -> bool:
        """Keep one raw sample of t (state: [last raw kept, its time]); False when the stream should end."""
        t.raw_count += 1
        if stats.is_empty(raw):
            return not self._container_finished(t.id)
        u = stats.compute(raw, previous=state[0])
        if u is None:
            return True
        if t.first_at is None and state[0] is not None and not _measurable(u, raw, state):
            u = stats.compute(raw)  # a kernel reading too close (or not comparable): the daemon's second reading it is
        # thinning starts once a CPU % has been shown: the first two readings are taken as they come
        if t.first_cpu_at is not None and state[1] is not None and u.time is not None \
                and u.time - state[1] < self.interval * 0.9:
            return True
        now = time.monotonic()
        if t.first_at is None:
            t.first_at = now
        if t.first_cpu_at is None and u.cpu_percent == u.cpu_percent:  # not NaN
            t.first_cpu_at = now
        state[0] = raw
        state[1] = u.time
        row = u.row(t.name)
        with self._lock:
            self._buffers[t.id].append(row)
            self.version += 1
        return True

    def _container_finished(self, container_id: str) -> bool:
        if self._socket is not None:
            try:
                info = self._inspect_local(container_id)
            except _LocalFailed as exc:
                return exc.not_found or self._stop.is_set()
        else:
            from docker.errors import NotFound

            try:
                info = self.api.inspect_container(container_id)
            except NotFound:
                return True
            except Exception:
                return self._stop.is_set()
        return info.get("State", {}).get("Status") in FINISHED_STATES

    def _ended(self, t: Target) -> None:
        t.done = True
        with self._lock:
            self._responses.pop(t.id, None)
            self._alive -= 1
            last = self._alive == 0
        if last:
            self._finished.set()
            if self._owns_client and not self._stop.is_set():
                self._close_client()

    # ---- docker-py: a thread per stream ----------------------------------------------------

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
            state: list = [None, None]
            for raw in samples:
                if self._stop.is_set() or not self._take(t, raw, state):
                    break
        except Exception as exc:
            if not self._stop.is_set():
                t.error = f"{type(exc).__name__}: {exc}"
        finally:
            engine.close_stream(response)
            self._ended(t)

    # ---- the local socket: one thread for every stream ------------------------------------------

    def _inspect_local(self, ref: str) -> dict:
        from .. import engine_socket as local_api

        try:
            return local_api.api_get(self._socket, f"/containers/{local_api.quote_path(str(ref))}/json")
        except local_api._NotFound:
            raise _LocalFailed(f"no container {ref}", not_found=True) from None
        except local_api.LocalUnavailable as exc:
            raise _LocalFailed(str(exc)) from None

    def _inspect_all(self, refs: list) -> dict:
        """{ref: inspect answer} for every ref, the requests all sent at once (a busy daemon answers
        50 of them in the time of a few when they are not asked one after another)."""
        import selectors

        from .. import engine_socket as local_api

        sel = selectors.DefaultSelector()
        got: dict = {}
        try:
            for ref in dict.fromkeys(str(r) for r in refs):
                try:
                    sock = local_api.send_request(self._socket, f"/containers/{local_api.quote_path(ref)}/json")
                except local_api.LocalUnavailable as exc:
                    raise _LocalFailed(str(exc)) from None
                got[ref] = []
                sel.register(sock, selectors.EVENT_READ, ref)
            left = len(got)
            while left:
                events = sel.select(timeout=30)
                if not events:
                    raise _LocalFailed("the daemon did not answer in 30 s")
                for key, _ in events:
                    try:
                        data = key.fileobj.recv(1 << 16)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        raise _LocalFailed(str(exc)) from None
                    if data:
                        got[key.data].append(data)
                        continue
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    left -= 1
        finally:
            for key in list(sel.get_map().values()):
                key.fileobj.close()
            sel.close()
        out = {}
        for ref, parts in got.items():
            try:
                body = local_api.split_head(b"".join(parts), f"the container {ref}")
                out[ref] = json.loads(body) if body is not None else None
            except local_api._NotFound:
                raise _LocalFailed(f"no container {ref}", not_found=True) from None
            except (local_api.LocalUnavailable, ValueError) as exc:
                raise _LocalFailed(str(exc)) from None
            if not isinstance(out[ref], dict) or "Id" not in out[ref]:
                raise _LocalFailed(f"the daemon's answer about {ref} is not a container")
        return out

    def _run_local(self) -> None:
        """Every stream's request sent at once, then whatever any socket has, as it comes."""
        import selectors

        from .. import engine_socket as local_api

        sel = selectors.DefaultSelector()
        open_: dict = {}  # target id -> [target, socket, JsonLines, [last raw, its time], head so far or None]
        try:
            sel.register(self._wake[0], selectors.EVENT_READ, None)
            from . import kernel_cpu

            before = kernel_cpu.readings({t.id: self._pids.get(t.id) for t in self.targets})
            for t in self.targets:
                if self._stop.is_set():
                    break
                try:
                    sock = local_api.send_request(self._socket, f"/containers/{t.id}/stats?stream=1")
                except local_api.LocalUnavailable as exc:
                    t.error = f"{type(exc).__name__}: {exc}"
                    self._ended(t)
                    continue
                previous = before.get(t.id)
                state = [previous, None if previous is None else stats.parse_time(previous["read"])]
                if previous is not None:
                    t.extra["kernel_cpu_read"] = state[1]
                open_[t.id] = [t, sock, JsonLines(), state, b""]
                sel.register(sock, selectors.EVENT_READ, t.id)
            while open_ and not self._stop.is_set():
                for key, _ in sel.select():
                    if key.data is None:  # stop()
                        return
                    if key.data in open_:
                        self._read_local(open_, sel, key.data, local_api)
        except Exception as exc:
            if not self._stop.is_set():
                for t, *_ in open_.values():
                    t.error = f"{type(exc).__name__}: {exc}"
        finally:
            for tid in list(open_):
                self._close_local(open_, sel, tid)
            for t in self.targets:
                if not t.done and t.id not in open_:
                    self._ended(t)  # never opened: stopped first
            sel.close()
            for s in self._wake or ():
                s.close()

    def _read_local(self, open_: dict, sel, tid: str, local_api) -> None:
        """What one readable stream has: its answer's head first, then lines of JSON, one per sample."""
        entry = open_[tid]
        t, sock, lines, state, head = entry
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            t.error = f"{type(exc).__name__}: {exc}"
            data = b""
        if not data:  # the daemon ended the stream
            self._close_local(open_, sel, tid)
            return
        if head is not None:
            try:
                body = local_api.split_head(head + data, f"the stats of {t.name}")
            except (local_api.LocalUnavailable, local_api._NotFound) as exc:
                t.error = f"{type(exc).__name__}: {exc}"
                self._close_local(open_, sel, tid)
                return
            if body is None:
                entry[4] = head + data
                return
            entry[4] = None
            data = body
        for raw in lines.feed(data):
            if not self._take(t, raw, state):
                self._close_local(open_, sel, tid)
                return

    def _close_local(self, open_: dict, sel, tid: str) -> None:
        t, sock = open_.pop(tid)[:2]
        try:
            sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        self._ended(t)


# Shortest span a first CPU % is measured over: /proc/stat counts in clock ticks (10 ms per core).
MIN_FIRST_SPAN = 0.2


def _measurable(u, raw: dict, state: list) -> bool:
    """Whether a first reading's CPU % against the kernel reading in state is one: far enough apart, counters not behind."""
    if u.time is None or state[1] is None or u.time - state[1] < MIN_FIRST_SPAN:
        return False
    pre, cur = state[0].get("cpu_stats") or {}, raw.get("cpu_stats") or {}
    try:
        return (int(cur["system_cpu_usage"]) > int(pre["system_cpu_usage"])
                and int(cur["cpu_usage"]["total_usage"]) >= int(pre["cpu_usage"]["total_usage"]))
    except (KeyError, TypeError, ValueError):
        return False


class _LocalFailed(Exception):
    def __init__(self, message: str, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found


def _local_socket() -> str | None:
    from ..engine_socket import local_socket

    return local_socket()


class JsonLines:
    """Newline-delimited JSON from bytes that arrive in pieces of any size: feed(bytes) -> objects.

    The daemon writes one JSON document and a newline per sample; a read may
    end anywhere, so the unfinished tail waits for the next one.
    """

    def __init__(self):
        self._tail = b""

    def feed(self, data: bytes) -> list:
        data = self._tail + data
        *lines, self._tail = data.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]
