"""The first streamed sample's CPU %, measured against the kernel's counters read as the streams open.

The kernel reading (containers/kernel_cpu.py) must be the very counters the
daemon reports: read just before and just after a daemon reading of a busy
container, it brackets the daemon's numbers. The sampler then gives the
first streamed reading a CPU % of its own when it came far enough after the
kernel reading, and none (NaN, the daemon's second reading brings it) when
it did not.
"""

from __future__ import annotations

import collections
import math
import threading
import time

import pytest

from dockerviz.containers import api, kernel_cpu
from dockerviz.containers.sampler import MIN_FIRST_SPAN, StatsSampler, Target
from dockerviz.model import stats
from dockerviz.model.stats import COLUMNS
from support import images

BUSY = ["sh", "-c", "trap 'exit 0' TERM; while :; do :; done"]


def _reading(total: int, system: int, read: str, online: int = 2) -> dict:
    return {"read": read, "cpu_stats": {"cpu_usage": {"total_usage": total}, "system_cpu_usage": system, "online_cpus": online},
            "memory_stats": {"usage": 1 << 20, "limit": 1 << 30, "stats": {"total_inactive_file": 0}}, "precpu_stats": {}}


def _sampler_state(previous: dict) -> list:
    return [previous, stats.parse_time(previous["read"])]


def test_first_reading_measured_against_the_kernel_reading():
    sampler = StatsSampler.__new__(StatsSampler)  # no daemon: only the sample-taking half
    sampler.__dict__.update(interval=1.0, _buffers={"c": collections.deque()}, _lock=threading.Lock(), version=0,
                            _socket=None)
    t = Target(id="c", name="c")
    before = {"read": "2026-01-01T00:00:00.000000000Z", "cpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000},
                                                                       "system_cpu_usage": 50_000_000_000}}
    # 0.5 s later: 0.25 s of the container's CPU time over 1 s of host CPU time (2 cores)
    assert sampler._take(t, _reading(1_250_000_000, 51_000_000_000, "2026-01-01T00:00:00.500000000Z"), _sampler_state(before))
    row = sampler._buffers["c"][-1]
    assert row[COLUMNS.index("cpu_percent")] == pytest.approx(0.25 / 1.0 * 2 * 100)
    assert t.first_cpu_at is not None

    # a reading closer than MIN_FIRST_SPAN to the kernel's, or with counters behind it: no CPU % yet
    for late, total, system in ((MIN_FIRST_SPAN / 2, 1_100_000_000, 50_200_000_000), (0.5, 900_000_000, 51_000_000_000),
                                (0.5, 1_100_000_000, 49_000_000_000)):
        t = Target(id="c", name="c")
        read = f"2026-01-01T00:00:00.{int(late * 1e9):09d}Z"
        assert sampler._take(t, _reading(total, system, read), _sampler_state(before))
        assert math.isnan(sampler._buffers["c"][-1][COLUMNS.index("cpu_percent")])
        assert t.first_at is not None and t.first_cpu_at is None


def _daemon_pid(docker_client, cid: str) -> int:
    return docker_client.api.inspect_container(cid)["State"]["Pid"]


@pytest.mark.daemon
def test_kernel_counters_bracket_the_daemons_reading(docker_client):
    busybox = images.build(docker_client, images.BUSYBOX)
    view = api.run(busybox.tags[0], BUSY, network_mode="none")
    try:
        pid = _daemon_pid(docker_client, view.id)
        first = kernel_cpu.readings({view.id: pid})
        assert view.id in first, "a container of the local daemon is readable here"
        time.sleep(0.3)
        daemon = docker_client.api.stats(view.id, stream=False, one_shot=True)
        after = kernel_cpu.readings({view.id: pid})[view.id]
        for reading in (first[view.id], daemon, after):
            assert reading["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        lo, mid, hi = (r["cpu_stats"]["cpu_usage"]["total_usage"] for r in (first[view.id], daemon, after))
        assert lo < mid <= hi  # the same counter, in the same unit (ns), as a busy loop runs
        lo, mid, hi = (r["cpu_stats"]["system_cpu_usage"] for r in (first[view.id], daemon, after))
        assert lo < mid <= hi
        assert kernel_cpu.readings({view.id: 1}) == {}  # pid 1 is not in the container's cgroup
    finally:
        view.remove()


@pytest.mark.daemon
def test_sampler_first_streamed_reading_has_a_cpu_percent(docker_client):
    busybox = images.build(docker_client, images.BUSYBOX)
    view = api.run(busybox.tags[0], BUSY, network_mode="none")
    try:
        sampler = StatsSampler([view.id]).start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sampler.count() < 2:
            time.sleep(0.1)
        sampler.stop()
        assert sampler.transport == "socket"
        t = sampler.targets[0]
        assert t.error is None
        kernel_at = t.extra["kernel_cpu_read"]
        first = sampler.rows()[0]
        cpu = first[COLUMNS.index("cpu_percent")]
        if first[COLUMNS.index("time")] - kernel_at >= MIN_FIRST_SPAN:
            assert cpu > 1.0  # a busy loop, measured from the kernel reading to the daemon's first
        else:
            assert math.isnan(cpu)
            assert sampler.rows()[1][COLUMNS.index("cpu_percent")] > 1.0
    finally:
        view.remove()
