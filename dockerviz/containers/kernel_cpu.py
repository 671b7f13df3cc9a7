"""CPU time of containers on this machine as the kernel accounts it: what the first streamed sample is measured against.

A stats stream's first reading has no previous one (its `precpu_stats` is
empty); the daemon's next reading comes a second later, and a one-shot
request on Engine 20.10 waits for the same once-a-second collection. The
daemon's numbers are the kernel's: a container's cgroup CPU time
(`cpuacct.usage` on cgroup v1, `usage_usec` of `cpu.stat` on v2, in
nanoseconds) and the host's CPU time from /proc/stat (user to softirq, in
clock ticks, as moby's collector sums them). Reading the same files just
before the streams open gives a previous reading, so the first streamed
reading already carries a CPU %.

Only a container whose main process is visible here and whose cgroup path
names its id is read (a daemon in a VM behind a local socket has process ids
of its own); anything else gets no reading and waits for the daemon's second
one, as before.
"""

from __future__ import annotations

import os
import time

__all__ = ["readings", "system_cpu_ns"]

_NS = 1_000_000_000


def system_cpu_ns() -> int | None:
    """Host CPU time in nanoseconds: the first seven fields of /proc/stat's cpu line, as the daemon sums them."""
    try:
        with open("/proc/stat", "rb") as f:
            first = f.readline().split()
        ticks = sum(int(x) for x in first[1:8])
        return ticks * _NS // os.sysconf("SC_CLK_TCK") if first[:1] == [b"cpu"] and len(first) >= 8 else None
    except (OSError, ValueError):
        return None


def _mounts() -> dict:
    """{"v1": (mount point, root) of the cpuacct hierarchy, "v2": (mount point, root) of cgroup2}."""
    out: dict = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, tail = left.split(), right.split()
                if len(fields) < 5 or len(tail) < 3:
                    continue
                if tail[0] == "cgroup" and "cpuacct" in tail[2].split(","):
                    out.setdefault("v1", (fields[4], fields[3]))
                elif tail[0] == "cgroup2":
                    out.setdefault("v2", (fields[4], fields[3]))
    except OSError:
        pass
    return out


def _under(mount: tuple, path: str) -> str | None:
    point, root = mount
    if root != "/":
        if not (path == root or path.startswith(root.rstrip("/") + "/")):
            return None
        path = path[len(root.rstrip("/")):]
    return point.rstrip("/") + path


def _cpu_file(pid: int, container_id: str, mounts: dict) -> tuple[str, bool] | None:
    """(file, is v2) holding the container's CPU time, or None when it cannot be found here."""
    try:
        with open(f"/proc/{int(pid)}/cgroup") as f:
            lines = f.read().splitlines()
    except (OSError, ValueError):
        return None
    v1 = v2 = None
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "" and line.startswith("0::"):
            v2 = path
        elif "cpuacct" in controllers.split(","):
            v1 = path
    # the daemon reads cgroup v1 whenever the host mounts it (hybrid hosts too)
    if v1 is not None and "v1" in mounts and container_id in v1:
        where = _under(mounts["v1"], v1)
        if where:
            return os.path.join(where, "cpuacct.usage"), False
    if v2 is not None and "v2" in mounts and container_id in v2 and v1 is None:
        where = _under(mounts["v2"], v2)
        if where:
            return os.path.join(where, "cpu.stat"), True
    return None


def _usage_ns(path: str, v2: bool) -> int | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
        if not v2:
            return int(data)
        for line in data.splitlines():
            key, _, value = line.partition(b" ")
            if key == b"usage_usec":
                return int(value) * 1000
    except (OSError, ValueError):
        pass
    return None


def _rfc3339(epoch: float) -> str:
    whole = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((epoch - whole) * 1e9):09d}Z"


def readings(pids: dict) -> dict:
    """{container id: a raw-sample-shaped previous reading} for the containers ({id: main pid}) readable here.

    Each reading has `cpu_stats` (`cpu_usage.total_usage`, `system_cpu_usage`)
    and `read` (this machine's clock, the one the daemon stamps its samples
    with), what model.stats.compute measures a sample against."""
    if not pids:
        return {}
    mounts = _mounts()
    if not mounts:
        return {}
    files = {}
    for cid, pid in pids.items():
        if pid and int(pid) > 0:
            found = _cpu_file(pid, cid, mounts)
            if found:
                files[cid] = found
    if not files:
        return {}
    # the containers' counters, then the host's: all within a few milliseconds
    usage = {cid: _usage_ns(*found) for cid, found in files.items()}
    system = system_cpu_ns()
    now = time.time()
    if not system:
        return {}
    stamp = _rfc3339(now)
    return {cid: {"read": stamp, "cpu_stats": {"cpu_usage": {"total_usage": ns}, "system_cpu_usage": system}}
            for cid, ns in usage.items() if ns is not None}
