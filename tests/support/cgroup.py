"""What the kernel accounted for a container, read from its cgroup: the oracle for CPU % and memory.

A container's CPU % depends on how much CPU the machine gave it, so a test
cannot compare it with a fixed range on a busy host. Instead the test reads
the container's own cgroup counters (cgroup v1 `cpuacct.usage`, cgroup v2
`cpu.stat` usage_usec) many times a second with the wall clock beside each
reading, and works out what the kernel says the container used between any
two instants, such as the daemon's `read` stamps of two samples. The
container's cgroup comes from /proc/<pid>/cgroup of its init process (the pid
the engine's inspect gives) and the cgroup mounts in /proc/self/mountinfo, so
this works for Docker and for Podman, whatever cgroup layout each uses.
"""

from __future__ import annotations

import bisect
import threading
import time
from pathlib import Path

POLL = 0.05  # seconds between counter readings


class NoCgroup(RuntimeError):
    pass


def _mounts() -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """({v1 controller: (mount root, mount point)}, (root, point) of the v2 mount or None)."""
    v1: dict[str, tuple[str, str]] = {}
    v2 = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or not rest:
            continue
        root, point, fstype = fields[3], fields[4], rest[0]
        if fstype == "cgroup2":
            v2 = (root, point)
        elif fstype == "cgroup" and len(rest) >= 3:
            for opt in rest[2].split(","):
                if opt in ("cpuacct", "memory", "cpu"):
                    v1.setdefault(opt, (root, point))
    return v1, v2


def _under(mount: tuple[str, str], path: str) -> Path:
    root, point = mount
    rel = path[len(root):] if root != "/" and path.startswith(root) else path
    return Path(point) / rel.lstrip("/")


class Cgroup:
    """The cgroup directories of one process (a container's init pid)."""

    def __init__(self, pid: int):
        if not pid:
            raise NoCgroup("the container has no running process (pid 0)")
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError as exc:
            raise NoCgroup(f"cannot read /proc/{pid}/cgroup: {exc}") from None
        v1, v2 = _mounts()
        self.cpu_dir = self.memory_dir = None
        self.version = 1
        for line in lines:
            _, controllers, path = line.split(":", 2)
            names = controllers.split(",") if controllers else []
            if "cpuacct" in names and "cpuacct" in v1:
                self.cpu_dir = _under(v1["cpuacct"], path)
            if "memory" in names and "memory" in v1:
                self.memory_dir = _under(v1["memory"], path)
            if not controllers and v2 is not None and self.cpu_dir is None and not v1:
                self.version = 2
                self.cpu_dir = self.memory_dir = _under(v2, path)
        if self.cpu_dir is None or not self.cpu_dir.is_dir():
            raise NoCgroup(f"no CPU accounting cgroup found for pid {pid} ({lines})")

    def cpu_ns(self) -> int:
        """CPU time the cgroup's processes used so far, in nanoseconds."""
        if self.version == 1:
            return int((self.cpu_dir / "cpuacct.usage").read_text())
        for line in (self.cpu_dir / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) * 1000
        raise NoCgroup(f"no usage_usec in {self.cpu_dir / 'cpu.stat'}")

    def _memory_stat(self) -> dict[str, int]:
        out = {}
        for line in (self.memory_dir / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            out[key] = int(value)
        return out

    def memory(self) -> tuple[int, int, int]:
        """(usage, inactive file pages, limit) in bytes, as the kernel accounts them now."""
        if self.version == 1:
            usage = int((self.memory_dir / "memory.usage_in_bytes").read_text())
            limit = int((self.memory_dir / "memory.limit_in_bytes").read_text())
            inactive = self._memory_stat().get("total_inactive_file", 0)
        else:
            usage = int((self.memory_dir / "memory.current").read_text())
            text = (self.memory_dir / "memory.max").read_text().strip()
            limit = 0 if text == "max" else int(text)
            inactive = self._memory_stat().get("inactive_file", 0)
        return usage, inactive, limit


class CpuClock:
    """Reads a cgroup's CPU counter every POLL seconds in a thread, each reading stamped with the wall clock.

    percent(t0, t1) is the kernel's CPU % (of one CPU) between two epoch times,
    interpolated linearly between the readings around each end.
    """

    def __init__(self, cgroup: Cgroup):
        self.cgroup = cgroup
        self.times: list[float] = []
        self.values: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="test-cgroup-clock", daemon=True)

    def __enter__(self) -> CpuClock:
        self._read()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _read(self) -> None:
        before = time.time()
        try:
            value = self.cgroup.cpu_ns()
        except OSError:  # the container ended: its cgroup is gone
            self._stop.set()
            return
        after = time.time()
        with self._lock:
            self.times.append((before + after) / 2)
            self.values.append(value)

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            self._read()

    def _at(self, t: float) -> float:
        i = bisect.bisect_left(self.times, t)
        if i == 0 or i == len(self.times):
            raise ValueError(f"{t} is outside the readings ({self.times[0]} .. {self.times[-1]})")
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def percent(self, t0: float, t1: float) -> float:
        with self._lock:
            return (self._at(t1) - self._at(t0)) / ((t1 - t0) * 1e9) * 100.0

    def covers(self, t: float) -> bool:
        with self._lock:
            return bool(self.times) and self.times[0] < t < self.times[-1]


def cgroup_of(api, container_id: str) -> Cgroup:
    """The cgroup of a running container, from its init pid as the engine's inspect reports it."""
    return Cgroup(int(api.inspect_container(container_id)["State"]["Pid"]))


# A wrong formula is off by a factor (the docker CLI's on Podman reads 2x on two cores; dropping
# online_cpus reads 1/2). Measured on a 2-core host with load average 7: dockerviz and the kernel
# agree within 0.5 points. An absolute slack of 4 points plus 10 % of the kernel's figure leaves room
# for the daemon's timing jitter on a loaded machine and still catches a factor of 1.5 or more once
# the kernel says the container had at least 15 % of a CPU.
ABS_SLACK = 4.0
REL_SLACK = 0.10
MEANINGFUL = 15.0


def compare_cpu(frame, name: str, clock: CpuClock) -> list[tuple[float, float]]:
    """[(dockerviz's CPU %, the kernel's)] for every sample of `name` whose period the clock covers.

    A sample's CPU % spans the period since the container's previous sample in
    the frame (the monitor measures each kept sample against the one before it).
    """
    rows = frame[frame.container == name].sort_values("time")
    stamps = [t.timestamp() for t in rows["time"]]
    cpu = list(rows["cpu_percent"])
    out = []
    for i in range(1, len(rows)):
        if cpu[i] != cpu[i] or not (clock.covers(stamps[i - 1]) and clock.covers(stamps[i])):
            continue
        out.append((cpu[i], clock.percent(stamps[i - 1], stamps[i])))
    return out


def assert_cpu_matches_kernel(frame, name: str, clock: CpuClock, *, need: int = 2) -> list[tuple[float, float]]:
    pairs = compare_cpu(frame, name, clock)
    assert len(pairs) >= need, f"only {len(pairs)} samples of {name} inside the kernel readings: {pairs}"
    wrong = [(ours, kernel) for ours, kernel in pairs if abs(ours - kernel) > ABS_SLACK + REL_SLACK * kernel]
    assert not wrong, f"CPU % (dockerviz, kernel) differ: {wrong} of {pairs}"
    assert sum(kernel >= MEANINGFUL for _, kernel in pairs) >= need, (
        f"the kernel gave {name} too little CPU for a wrong formula to show: {pairs}")
    return pairs


def enough_cpu_samples(frame, name: str, clock: CpuClock, need: int = 2) -> bool:
    """For a wait: at least `need` compared samples in which the kernel gave the container MEANINGFUL CPU."""
    return sum(kernel >= MEANINGFUL for _, kernel in compare_cpu(frame, name, clock)) >= need
