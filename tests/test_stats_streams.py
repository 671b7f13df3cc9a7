"""The stats sampler's two transports give one result.

The fast path (a daemon on this machine: HTTP/1.0 streams on the unix socket,
one selector thread) against the reference (docker-py, a thread per stream):
the framing of the daemon's JSON lines however reads split them, and, sampling the same busy
containers at the same time, the same rows for the same daemon readings.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerviz.containers import api
from dockerviz.containers.sampler import JsonLines, StatsSampler, stream_client
from dockerviz.model import stats
from dockerviz.model.stats import COLUMNS
from support import images

DATA = Path(__file__).resolve().parent / "data" / "stats"
RECORDED = [s for f in sorted(DATA.glob("*.json")) for s in json.loads(f.read_text()).get("samples", [])]
STREAM = b"".join(json.dumps(s).encode() + b"\n" for s in RECORDED)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=40))
def test_json_lines_frame_any_split_as_the_whole_stream(cuts):
    bounds = [0, *sorted(set(cuts)), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in zip(bounds, bounds[1:])]
    lines = JsonLines()
    ours = [obj for piece in pieces for obj in lines.feed(piece)]
    assert ours == [json.loads(line) for line in STREAM.splitlines()] == RECORDED
    assert len(RECORDED) > 10


def _same(a: tuple, b: tuple) -> bool:
    return all(x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b))


@pytest.mark.daemon
def test_socket_and_docker_py_samplers_agree_on_busy_containers(docker_client):
    busybox = images.build(docker_client, images.BUSYBOX)
    views = [api.run(busybox.tags[0], ["sh", "-c", "trap 'exit 0' TERM; while :; do :; done"], network_mode="none")
             for _ in range(2)]
    try:
        ids = [v.id for v in views]
        fast = StatsSampler(ids).start()
        reference = StatsSampler(ids, client=stream_client(len(ids))).start()
        assert (fast.transport, reference.transport) == ("socket", "docker-py")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and min(fast.count(), reference.count()) < 5 * len(ids):
            time.sleep(0.2)
        fast.stop()
        reference.stop()
        assert not [t.error for t in fast.targets + reference.targets if t.error]
        assert fast.first_sample_seconds(with_cpu=True) is not None
        at = COLUMNS.index("time")

        def by_reading(rows):
            out: dict = {}
            for r in rows:
                out.setdefault(r[0], []).append(r)
            # a stream's first row has no previous reading of its own stream: compare from the second on
            return {(r[0], r[at]): r for rs in out.values() for r in rs[1:]}

        ours, theirs = by_reading(fast.rows()), by_reading(reference.rows())
        common = sorted(set(ours) & set(theirs))[len(ids):]  # both past their first shared reading
        assert len(common) >= 2 * len(ids)
        assert all(_same(ours[k], theirs[k]) for k in common), [(ours[k], theirs[k]) for k in common
                                                                  if not _same(ours[k], theirs[k])][:2]
        cpu = COLUMNS.index("cpu_percent")
        assert all(ours[k][cpu] > 1.0 for k in common)  # busy loops: the numbers are real readings
    finally:
        for v in views:
            v.remove()


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})?\Z"),
    st.from_regex(stats._TIME), st.text(max_size=40)))
def test_parse_time_agrees_with_datetime(text):
    assert stats.parse_time(text) == stats.parse_time_reference(text)


def test_parse_time_on_what_daemons_send():
    for s in RECORDED:
        for key in ("read", "preread"):
            if key in s:
                assert stats.parse_time(s[key]) == stats.parse_time_reference(s[key])
    assert stats.parse_time("2026-12-01T22:18:01.553819144Z") == 1796163481.553819144
    assert stats.parse_time("0001-01-01T00:00:00Z") is None
    assert stats.parse_time("2024-02-30T00:00:00Z") is None
