"""Container resource usage from raw `GET /containers/{id}/stats` JSON.

Pure maths: no docker, no widgets. The numbers are the ones `docker stats`
prints (docker/cli, cli/command/container/stats_helpers.go):

- CPU %     = Δcpu_usage.total_usage / Δsystem_cpu_usage × online_cpus × 100,
              online_cpus falling back to len(percpu_usage); 0 unless both
              deltas are > 0.
- memory    = usage − total_inactive_file (cgroup v1) or − inactive_file
              (cgroup v2) when that is smaller than usage, else usage.
- memory %  = memory / limit × 100 (0 when the limit is 0).
- block I/O = io_service_bytes_recursive summed by op: ops starting with
              r/R are reads, w/W writes (v1 also lists Sync/Async/Total).
- network   = rx_bytes / tx_bytes summed over all interfaces.
- pids      = pids_stats.current.

Three Linux shapes are understood: Docker on cgroup v1, Docker on cgroup v2
and Podman's Docker-compatible API (no memory breakdown, a sample every 5 s,
its own `cpu` field). Two deliberate differences from the CLI:

- when a sample has no previous CPU reading (the first sample of a stream has
  an all-zero `precpu_stats`) the CLI divides by totals since boot; here CPU %
  is NaN.
- Podman's `system_cpu_usage` is not the host's CPU time over all cores (a
  busy loop reads ~200 % on two cores through the CLI's formula; an idle
  container's system delta is a few milliseconds over 5 s). For Podman, CPU %
  = Δtotal_usage / Δ`read` time × 100, which is what `podman stats` shows
  (and Podman's own `cpu` field); NaN for a first sample taken moments after
  its previous reading.
"""

from __future__ import annotations

import math
import re

from .record import Record

__all__ = [
    "COLUMNS",
    "Usage",
    "block_io",
    "compute",
    "cpu_percent",
    "cpu_percent_podman",
    "is_empty",
    "memory_percent",
    "memory_used",
    "network",
    "parse_time",
    "parse_time_reference",
    "pids",
    "shape",
]

NAN = float("nan")

# The column order of UsageMonitor.samples.
COLUMNS = (
    "container",
    "time",
    "cpu_percent",
    "mem_bytes",
    "mem_limit_bytes",
    "mem_percent",
    "net_rx_bytes",
    "net_tx_bytes",
    "blk_read_bytes",
    "blk_write_bytes",
    "pids",
)

_TIME = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$"
)


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_time(text) -> float | None:
    """RFC 3339 with up to nanoseconds ("...52.320946042Z", "+02:00") to epoch seconds.

    Go's zero time ("0001-01-01T00:00:00Z", sent once a container stops) and
    anything unparsable give None. Two of these per sample: calendar
    arithmetic instead of datetime (slower, and an import on the way to the
    first sample); parse_time_reference is the datetime version it is
    tested against.
    """
    if not isinstance(text, str):
        return None
    m = _TIME.match(text.strip())
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hour, minute, second = int(m.group(4)), int(m.group(5)), int(m.group(6))
    if year <= 1 or not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 59:
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= _MONTH_DAYS[month - 1] + (month == 2 and leap):
        return None
    offset = 0
    tz = m.group(8) or "Z"
    if tz != "Z":
        digits = tz[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + int(digits[2:])
        if offset >= 24 * 60:
            return None  # as datetime.timezone refuses it
        offset *= 60 if tz[0] == "+" else -60
    # days from 1970-01-01 to year-month-day (proleptic Gregorian; H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era, yoe = divmod(y, 400)
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    whole = float(days * 86400 + hour * 3600 + minute * 60 + second - offset)
    frac = m.group(7) or ""
    return whole + (int(frac) / 10 ** len(frac) if frac else 0.0)


def parse_time_reference(text) -> float | None:
    """parse_time through datetime: the plain version the fast one must agree with."""
    from datetime import datetime, timezone

    if not isinstance(text, str):
        return None
    m = _TIME.match(text.strip())
    if not m:
        return None
    year = int(m.group(1))
    if year <= 1:
        return None
    frac = m.group(7) or ""
    tz = m.group(8) or "Z"
    if tz == "Z":
        tzinfo = timezone.utc
    else:
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        from datetime import timedelta

        try:
            tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        except ValueError:
            return None
    try:
        dt = datetime(
            year, int(m.group(2)), int(m.group(3)),
            int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=tzinfo,
        )
    except ValueError:
        return None
    whole = dt.timestamp()
    return whole + (int(frac) / 10 ** len(frac) if frac else 0.0)


def shape(raw: dict) -> str:
    """Which producer wrote this sample: "cgroup1", "cgroup2", "podman", "windows" or "empty".

    "empty" is what the daemon streams for a container that is not running
    (zero `read` time, no memory stats).
    """
    raw = _dict(raw)
    mem = _dict(raw.get("memory_stats"))
    cpu = _dict(raw.get("cpu_stats"))
    if parse_time(raw.get("read")) is None and not mem:
        return "empty"
    if "privateworkingset" in mem or "commitbytes" in mem or _int(raw.get("num_procs")) > 0:
        return "windows"
    if "cpu" in cpu or ("usage" in mem and mem.get("stats") is None):
        # Podman's compat handler adds its own cpu % and leaves `stats` null/omitted.
        return "podman"
    stats = _dict(mem.get("stats"))
    if "total_inactive_file" in stats or "hierarchical_memory_limit" in stats:
        return "cgroup1"
    if stats:
        return "cgroup2"
    return "cgroup1" if _dict(cpu.get("cpu_usage")).get("percpu_usage") else "cgroup2"


def is_empty(raw: dict) -> bool:
    """True for the placeholder samples a stream sends after its container stopped."""
    return shape(raw) == "empty"


def cpu_percent(cpu_stats: dict, precpu_stats: dict | None) -> float:
    """CPU % between two `cpu_stats` readings, as `docker stats` computes it.

    NaN when there is no previous reading (no `system_cpu_usage` in it).
    """
    cur = _dict(cpu_stats)
    pre = _dict(precpu_stats)
    if not _int(pre.get("system_cpu_usage")) or not _int(cur.get("system_cpu_usage")):
        return NAN
    usage = _dict(cur.get("cpu_usage"))
    cpu_delta = float(_int(usage.get("total_usage"))) - float(
        _int(_dict(pre.get("cpu_usage")).get("total_usage"))
    )
    system_delta = float(_int(cur.get("system_cpu_usage"))) - float(_int(pre.get("system_cpu_usage")))
    online = float(_int(cur.get("online_cpus")))
    if online == 0.0:
        online = float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


PODMAN_MIN_ELAPSED = 0.1  # seconds: a first sample's previous reading is ~1 ms old, too close to measure


def cpu_percent_podman(raw: dict, previous: dict | None = None) -> float:
    """CPU % of a Podman sample: CPU time used over wall time elapsed since the previous reading."""
    raw = _dict(raw)
    if previous is not None:
        pre, pre_time = _dict(_dict(previous).get("cpu_stats")), parse_time(_dict(previous).get("read"))
    else:
        pre, pre_time = _dict(raw.get("precpu_stats")), parse_time(raw.get("preread"))
    now = parse_time(raw.get("read"))
    if now is None or pre_time is None or now - pre_time < PODMAN_MIN_ELAPSED:
        return NAN
    cpu_delta = float(_int(_dict(_dict(raw.get("cpu_stats")).get("cpu_usage")).get("total_usage"))) - float(
        _int(_dict(pre.get("cpu_usage")).get("total_usage")))
    return max(cpu_delta, 0.0) / ((now - pre_time) * 1e9) * 100.0


def cpu_percent_windows(raw: dict) -> float:
    """Windows daemons: 100 ns intervals used / intervals possible across num_procs."""
    read, pre = parse_time(raw.get("read")), parse_time(raw.get("preread"))
    if read is None or pre is None or read <= pre:
        return NAN
    possible = int((read - pre) * 1e9) // 100 * _int(raw.get("num_procs"))
    if possible <= 0:
        return 0.0
    used = _int(_dict(_dict(raw.get("cpu_stats")).get("cpu_usage")).get("total_usage")) - _int(
        _dict(_dict(raw.get("precpu_stats")).get("cpu_usage")).get("total_usage")
    )
    return used / possible * 100.0


def memory_used(memory_stats: dict) -> int:
    """Memory in use without reclaimable page cache, as `docker stats` shows it."""
    mem = _dict(memory_stats)
    usage = _int(mem.get("usage"))
    stats = _dict(mem.get("stats"))
    if "total_inactive_file" in stats and _int(stats["total_inactive_file"]) < usage:  # cgroup v1
        return usage - _int(stats["total_inactive_file"])
    inactive = _int(stats.get("inactive_file"))  # cgroup v2 (0 when absent, e.g. podman)
    if inactive < usage:
        return usage - inactive
    return usage


def memory_percent(used: float, limit: float) -> float:
    return used / limit * 100.0 if limit else 0.0


def block_io(blkio_stats: dict) -> tuple[int, int]:
    """(read bytes, written bytes) summed over devices."""
    read = write = 0
    for entry in _dict(blkio_stats).get("io_service_bytes_recursive") or ():
        op = str(_dict(entry).get("op") or "")
        if not op:
            continue
        if op[0] in "rR":
            read += _int(entry.get("value"))
        elif op[0] in "wW":
            write += _int(entry.get("value"))
    return read, write


def network(networks: dict | None) -> tuple[int, int]:
    """(received bytes, sent bytes) summed over interfaces; 0 with no network."""
    rx = tx = 0
    for iface in _dict(networks).values():
        rx += _int(_dict(iface).get("rx_bytes"))
        tx += _int(_dict(iface).get("tx_bytes"))
    return rx, tx


def pids(pids_stats: dict | None) -> int:
    return _int(_dict(pids_stats).get("current"))


class Usage(Record):
    """One `docker stats` row. time: epoch seconds of the daemon's `read` stamp; cpu_percent: NaN
    without a previous reading. (A plain class: one is made per sample, per container.)"""

    __slots__ = _fields = ("time", "cpu_percent", "mem_bytes", "mem_limit_bytes", "mem_percent", "net_rx_bytes",
                           "net_tx_bytes", "blk_read_bytes", "blk_write_bytes", "pids", "shape")

    def __init__(self, time: float | None, cpu_percent: float, mem_bytes: int, mem_limit_bytes: int,
                 mem_percent: float, net_rx_bytes: int, net_tx_bytes: int, blk_read_bytes: int,
                 blk_write_bytes: int, pids: int, shape: str):
        self.time = time
        self.cpu_percent = cpu_percent
        self.mem_bytes = mem_bytes
        self.mem_limit_bytes = mem_limit_bytes
        self.mem_percent = mem_percent
        self.net_rx_bytes = net_rx_bytes
        self.net_tx_bytes = net_tx_bytes
        self.blk_read_bytes = blk_read_bytes
        self.blk_write_bytes = blk_write_bytes
        self.pids = pids
        self.shape = shape

    def row(self, container: str) -> tuple:
        """A tuple in COLUMNS order."""
        return (
            container, self.time, self.cpu_percent, self.mem_bytes, self.mem_limit_bytes,
            self.mem_percent, self.net_rx_bytes, self.net_tx_bytes, self.blk_read_bytes,
            self.blk_write_bytes, self.pids,
        )


def compute(raw: dict, previous: dict | None = None) -> Usage | None:
    """The `docker stats` numbers of one raw sample, or None for an empty one.

    `previous` is an earlier raw sample of the same container to measure CPU
    against (for example the last one kept when sampling less often than the
    daemon streams); by default the sample's own `precpu_stats`.
    """
    raw = _dict(raw)
    kind = shape(raw)
    if kind == "empty":
        return None
    mem = _dict(raw.get("memory_stats"))
    if kind == "windows":
        used = _int(mem.get("privateworkingset"))
        limit = 0
        cpu = cpu_percent_windows(raw)
        blk_read = _int(_dict(raw.get("storage_stats")).get("read_size_bytes"))
        blk_write = _int(_dict(raw.get("storage_stats")).get("write_size_bytes"))
    else:
        used = memory_used(mem)
        limit = _int(mem.get("limit"))
        if kind == "podman":
            cpu = cpu_percent_podman(raw, previous)
        else:
            pre = _dict(previous).get("cpu_stats") if previous is not None else raw.get("precpu_stats")
            cpu = cpu_percent(_dict(raw.get("cpu_stats")), pre)
        blk_read, blk_write = block_io(raw.get("blkio_stats"))
    rx, tx = network(raw.get("networks"))
    return Usage(
        time=parse_time(raw.get("read")),
        cpu_percent=cpu,
        mem_bytes=used,
        mem_limit_bytes=limit,
        mem_percent=memory_percent(used, limit),
        net_rx_bytes=rx,
        net_tx_bytes=tx,
        blk_read_bytes=blk_read,
        blk_write_bytes=blk_write,
        pids=pids(raw.get("pids_stats")),
        shape=kind,
    )


def summarize_cpu(values) -> tuple[float, float]:
    """(peak, mean) of CPU % values, ignoring NaN; (NaN, NaN) when none."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return NAN, NAN
    return max(vals), sum(vals) / len(vals)
