"""The `docker stats` maths on recorded and documented stats JSON (no daemon needed).

cgroup1_*.json were recorded from Docker Engine 20.10 on this kind of host
(tests/data/stats/record_stats.py), podman_busy.json and podman_mem64.json from
Podman 4.3 (the same script); cgroup2_web.json and
podman_worker.json are hand-written in the shapes those producers stream.
Every expected number is worked out here from the raw fields with docker/cli's
formulas (Podman: `podman stats`'), not by calling the code under test.
"""

import json
import math
from pathlib import Path

import pytest

from dockerviz.model import stats

DATA = Path(__file__).parent / "data" / "stats"


def samples(name):
    return json.loads((DATA / name).read_text())["samples"]


def kernel_cpu(raw, previous=None):
    """What the kernel accounted: the cgroup's CPU counter (total_usage is cpuacct.usage) over the
    wall time between the two readings' stamps, in % of one CPU; also what `podman stats` shows."""
    pre = previous["cpu_stats"] if previous else raw["precpu_stats"]
    start = stats.parse_time(previous["read"] if previous else raw["preread"])
    used = raw["cpu_stats"]["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    return used / ((stats.parse_time(raw["read"]) - start) * 1e9) * 100


def cli_cpu(cur, pre):
    """docker/cli calculateCPUPercentUnix, transcribed."""
    cpu_delta = cur["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    system_delta = cur["system_cpu_usage"] - pre["system_cpu_usage"]
    online = cur.get("online_cpus") or len(cur["cpu_usage"].get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


# ---- cgroup v1, recorded ---------------------------------------------------


def test_cgroup1_busy_loop_cpu_matches_cli_formula():
    s = samples("cgroup1_busy.json")
    assert stats.shape(s[0]) == "cgroup1"
    # the first sample of a stream has no previous reading
    assert s[0]["precpu_stats"].get("system_cpu_usage") is None
    assert math.isnan(stats.compute(s[0]).cpu_percent)
    for raw in s[1:3]:
        u = stats.compute(raw)
        expected = cli_cpu(raw["cpu_stats"], raw["precpu_stats"])
        assert u.cpu_percent == pytest.approx(expected, rel=1e-12)
        # host CPU time over all cores stands for wall time: the same as the kernel's count per second
        assert u.cpu_percent == pytest.approx(kernel_cpu(raw), rel=0.02)
    # an explicit earlier reading spans two periods: still one busy CPU
    u = stats.compute(s[2], previous=s[0])
    assert u.cpu_percent == pytest.approx(cli_cpu(s[2]["cpu_stats"], s[0]["cpu_stats"]))
    assert u.cpu_percent == pytest.approx(kernel_cpu(s[2], s[0]), rel=0.02)


def test_cgroup1_busy_loop_first_sample_numbers():
    raw = samples("cgroup1_busy.json")[1]
    u = stats.compute(raw)
    # hand-worked from the recorded fields
    cpu = raw["cpu_stats"]
    pre = raw["precpu_stats"]
    assert cpu["online_cpus"] == 2
    expected = (
        (cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"])
        / (cpu["system_cpu_usage"] - pre["system_cpu_usage"])
        * 2
        * 100
    )
    assert u.cpu_percent == pytest.approx(expected)
    mem = raw["memory_stats"]
    assert u.mem_bytes == mem["usage"] - mem["stats"]["total_inactive_file"]
    assert u.mem_limit_bytes == mem["limit"]
    assert u.mem_percent == pytest.approx(u.mem_bytes / mem["limit"] * 100)
    assert (u.net_rx_bytes, u.net_tx_bytes) == (0, 0)  # network_mode none: no "networks"
    assert (u.blk_read_bytes, u.blk_write_bytes) == (0, 0)
    assert u.pids == 1
    assert u.time == pytest.approx(stats.parse_time(raw["read"]))


def test_cgroup1_64mib_anonymous_and_128mib_limit():
    for raw in samples("cgroup1_mem64.json")[:3]:
        u = stats.compute(raw)
        mem = raw["memory_stats"]
        assert u.mem_bytes == mem["usage"] - mem["stats"]["total_inactive_file"]
        assert abs(u.mem_bytes - 64 * 2**20) <= 0.1 * 64 * 2**20
        assert u.mem_limit_bytes == 128 * 2**20
        assert u.mem_percent == pytest.approx(u.mem_bytes / (128 * 2**20) * 100)


def test_stream_after_exit_is_empty():
    for name in ("cgroup1_busy.json", "cgroup1_mem64.json"):
        last = samples(name)[-1]
        assert last["read"].startswith("0001-01-01")
        assert stats.is_empty(last)
        assert stats.compute(last) is None


# ---- cgroup v2, documented shape ----------------------------------------------


def test_cgroup2_numbers():
    s = samples("cgroup2_web.json")
    assert [stats.shape(r) for r in s] == ["cgroup2", "cgroup2"]
    u0, u1 = (stats.compute(r) for r in s)
    # CPU: 0.5e9 / 4e9 * 4 cpus * 100 ; 1.2e9 / 4e9 * 4 * 100
    assert u0.cpu_percent == pytest.approx(50.0)
    assert u1.cpu_percent == pytest.approx(120.0)
    # memory: usage - inactive_file
    assert u0.mem_bytes == 157286400 - 31457280 == 125829120
    assert u1.mem_bytes == 167772160 - 31457280
    assert u1.mem_limit_bytes == 536870912
    assert u1.mem_percent == pytest.approx((167772160 - 31457280) / 536870912 * 100)
    # block I/O: lowercase ops, summed over both devices
    assert (u0.blk_read_bytes, u0.blk_write_bytes) == (10485760 + 2048, 4096000)
    assert (u1.blk_read_bytes, u1.blk_write_bytes) == (10493952 + 2048, 8192000 + 4096)
    # network: both interfaces
    assert (u1.net_rx_bytes, u1.net_tx_bytes) == (1150976 + 1000, 600000 + 2000)
    assert (u0.pids, u1.pids) == (7, 8)
    assert u1.time - u0.time == pytest.approx(1.000333333, abs=1e-6)


# ---- podman, documented shape ------------------------------------------------------


def test_podman_numbers():
    s = samples("podman_worker.json")
    assert [stats.shape(r) for r in s] == ["podman", "podman"]
    u0, u1 = (stats.compute(r) for r in s)
    assert u0.cpu_percent == pytest.approx(kernel_cpu(s[0]))
    assert u1.cpu_percent == pytest.approx(5.5e9 / 5.001543211e9 * 100)
    # no memory breakdown: usage as is
    assert u0.mem_bytes == 52428800
    assert u1.mem_bytes == 56623104
    assert u1.mem_percent == pytest.approx(56623104 / 268435456 * 100)
    # runc ops: Read + Write only (Sync/Async/Total ignored)
    assert (u1.blk_read_bytes, u1.blk_write_bytes) == (3145728, 2097152)
    assert (u1.net_rx_bytes, u1.net_tx_bytes) == (8192, 3072)
    assert u1.pids == 4
    # local-time stamps with an offset; 5 s period
    assert u1.time - u0.time == pytest.approx(5.001543211, abs=1e-6)
    assert u0.time == pytest.approx(1709634005.123456789, abs=1e-6)


def test_podman_recorded_busy_loop_reads_one_cpu_not_two():
    """Podman's system_cpu_usage is not host time over all cores: the CLI's formula doubles a busy loop here."""
    s = samples("podman_busy.json")
    assert all(stats.shape(r) == "podman" for r in s)
    # the first sample's previous reading is a millisecond old: nothing to measure yet
    assert math.isnan(stats.compute(s[0]).cpu_percent)
    for raw in s[1:]:
        u = stats.compute(raw)
        assert u.cpu_percent == pytest.approx(kernel_cpu(raw), rel=1e-9)
        assert u.cpu_percent == pytest.approx(raw["cpu_stats"]["cpu"], abs=0.5)  # Podman's own number
        assert cli_cpu(raw["cpu_stats"], raw["precpu_stats"]) > 190  # what `docker stats` would print
    # over two periods, from an explicit earlier sample
    u = stats.compute(s[2], previous=s[0])
    assert u.cpu_percent == pytest.approx(kernel_cpu(s[2], s[0]), rel=1e-9)


def test_podman_recorded_memory_and_limit():
    s = samples("podman_mem64.json")
    for raw in s[1:]:
        u = stats.compute(raw)
        assert u.mem_limit_bytes == 128 * 2**20
        assert 64 * 2**20 <= u.mem_bytes <= 64 * 2**20 * 1.1  # the 64 MiB buffer dd holds
        assert u.mem_percent == pytest.approx(u.mem_bytes / u.mem_limit_bytes * 100)
        assert u.cpu_percent == pytest.approx(raw["cpu_stats"]["cpu"], abs=0.5)  # Podman's own: idle


# ---- formula edge cases (the docker/cli unit tests' numbers) ---------------------------


def test_cli_edge_cases():
    assert stats.memory_used({"usage": 500, "stats": {"total_inactive_file": 400}}) == 100
    assert stats.memory_used({"usage": 100, "stats": {"total_inactive_file": 1}}) == 99
    assert stats.memory_used({"usage": 100, "stats": {"inactive_file": 2}}) == 98
    assert stats.memory_used({"usage": 100}) == 100
    # inactive >= usage: usage as is
    assert stats.memory_used({"usage": 100, "stats": {"total_inactive_file": 100}}) == 100
    assert stats.memory_percent(70.0, 100.0) == pytest.approx(70.0)
    assert stats.memory_percent(70.0, 0.0) == 0.0
    blk = {
        "io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 1234},
            {"major": 8, "minor": 1, "op": "read", "value": 4567},
            {"major": 8, "minor": 0, "op": "Read", "value": 6},
            {"major": 8, "minor": 1, "op": "Read", "value": 8},
            {"major": 8, "minor": 0, "op": "write", "value": 123},
            {"major": 8, "minor": 1, "op": "write", "value": 456},
            {"major": 8, "minor": 0, "op": "Write", "value": 6},
            {"major": 8, "minor": 1, "op": "Write", "value": 8},
            {"major": 8, "minor": 1, "op": "", "value": 456},
        ]
    }
    assert stats.block_io(blk) == (5815, 593)
    assert stats.block_io({"io_service_bytes_recursive": None}) == (0, 0)
    # CPU: a delta that is not > 0 gives 0, no previous reading gives NaN
    cur = {"cpu_usage": {"total_usage": 10}, "system_cpu_usage": 100, "online_cpus": 1}
    assert stats.cpu_percent(cur, cur) == 0.0
    assert math.isnan(stats.cpu_percent(cur, {"cpu_usage": {"total_usage": 0}}))


def test_parse_time():
    assert stats.parse_time("0001-01-01T00:00:00Z") is None
    assert stats.parse_time("garbage") is None
    assert stats.parse_time("1970-01-01T00:00:01.5Z") == pytest.approx(1.5)
    assert stats.parse_time("1970-01-01T01:00:01+01:00") == pytest.approx(1.0)
    assert stats.parse_time("2024-03-05T10:15:01.000123456Z") == pytest.approx(1709633701.000123456)


def test_usage_row_order():
    u = stats.compute(samples("cgroup2_web.json")[1])
    row = u.row("web")
    assert len(row) == len(stats.COLUMNS)
    assert dict(zip(stats.COLUMNS, row))["mem_limit_bytes"] == 536870912


# ---- replay of recorded files, with no daemon ----------------------------------------------------


def test_recorded_usage_replays_without_a_daemon(run_offline):
    from dockerviz.containers.api import load_monitor, usage_summary

    mon = run_offline(load_monitor, DATA / "usage_two_containers.json")
    assert mon.recorded and not mon.running
    df = mon.samples
    assert list(df.columns) == [stats.COLUMNS[0], "engine", *stats.COLUMNS[1:]]
    assert str(df["time"].dtype).startswith("datetime64") and str(df["time"].dt.tz) == "UTC"
    assert set(df.container) == {"busy-loop", "holds-64mib"}
    mem = df[df.container == "holds-64mib"]
    assert (mem.mem_limit_bytes == 128 * 2**20).all()
    assert abs(mem.mem_bytes.iloc[-1] - 64 * 2**20) <= 0.1 * 64 * 2**20
    summary = run_offline(usage_summary, mon).set_index("container")
    busy = df[df.container == "busy-loop"].cpu_percent
    assert summary.loc["busy-loop", "cpu_peak_percent"] == busy.max() and busy.max() > 0
    assert summary.loc["holds-64mib", "mem_peak_bytes"] == mem.mem_bytes.max()
    assert summary.loc["busy-loop", "image_size_bytes"] > 0
    w = run_offline(lambda: mon.widget)
    assert w.plot.value[:4] == b"\x89PNG"
    assert "recorded" in w.status.value and w.stop_button.disabled
    bundle = mon._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # shown under the banner its recorded kind gives, with a static copy for readers without widgets
    assert bundle["text/plain"].startswith("[recorded data: samples saved 2026-")
    assert "<UsageMonitor 2 containers" in bundle["text/plain"] and "Recorded data" in bundle["text/html"]


def test_recorded_container_snapshot_replays_without_a_daemon(run_offline):
    from dockerviz.containers.api import load_container

    view = run_offline(load_container, DATA / "container_snapshot.json")
    assert view.recorded and view.allowed_actions() == set()
    kinds = {c["path"]: c["kind"] for c in view.diff()}
    assert kinds == {"/bin": "changed", "/bin/true": "deleted", "/srv": "added",
                     "/srv/data": "added", "/srv/data/note": "added"}
    sizes = view.sizes()
    assert sizes["size_root_fs"] == sizes["image_size"] + sizes["size_rw"]
    w = run_offline(lambda: view.widget)
    assert "recorded" in w.header.value
    assert "note" in w.tree.value and "writable layer" in w.stack.value
    assert all(b.disabled for b in w.buttons.values())


def test_views_escape_daemon_text():
    from dockerviz.views.container_view import diff_tree_html, layer_stack_html
    from dockerviz.views.usage_monitor import latest_table_html

    evil = "<script>alert(1)</script>"
    assert "<script>" not in diff_tree_html([{"path": "/" + evil, "kind": "added"}])
    assert "<script>" not in layer_stack_html([{"id": evil, "created_by": evil, "size": 1}], {"size_rw": 0})
    row = (evil, 0.0, 1.0, 2, 3, 4.0, 0, 0, 0, 0, 1)
    assert "<script>" not in latest_table_html([row], [evil])


def test_container_diff_tree_of_a_path_10000_deep():
    from dockerviz.views.container_view import diff_tree_html

    deep = "/" + "/".join(["d"] * 10_000)
    changes = [{"path": deep, "kind": "added"}, {"path": "/srv/z", "kind": "changed"}]
    whole = diff_tree_html(changes, limit=20_000)  # every level drawn: deeper than the interpreter's recursion limit
    assert whole.count("<li>") == 10_002 and whole.count("<ul") == whole.count("</ul>") == 10_001  # root + each folder
    assert whole.count("</li>") == 10_002 and "and about" not in whole
    cut = diff_tree_html(changes)
    assert cut.count("<li>") == 400 and cut.count("<ul") == cut.count("</ul>") and "z</span>" not in cut


def test_bad_files_are_reported(tmp_path):
    from dockerviz.containers.api import load_container, load_monitor
    from dockerviz.errors import DockervizError

    with pytest.raises(DockervizError, match="not a dockerviz.usage file"):
        load_monitor(DATA / "container_snapshot.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DockervizError, match="not a readable JSON"):
        load_container(bad)
    with pytest.raises(DockervizError, match="No file"):
        load_container(tmp_path / "missing.json")
