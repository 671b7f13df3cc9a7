"""Containers against their images, on the real daemon.

Every container here is created through dockerviz (so it carries the
dockerviz.managed / dockerviz.session labels) with network_mode="none", from
the FROM-scratch busybox test image. After each test nothing labelled for
this process may be left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from dockerviz.containers import api
from dockerviz.containers.lifecycle import MANAGED_LABEL, SESSION_LABEL, owned_ids
from dockerviz.containers.monitor import UsageMonitor
from dockerviz.errors import ContainerNotFoundError
from support import TEST_LABEL, cgroup, images

pytestmark = pytest.mark.daemon

MiB = 2**20
# exits promptly on SIGTERM although it is PID 1
IDLE = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


@pytest.fixture(scope="module")
def busybox(docker_client):
    return images.build(docker_client, images.BUSYBOX)


def _leftovers(all_sessions=False):
    args = ["docker", "ps", "-a", "-q", "--filter", f"label={MANAGED_LABEL}=1"]
    if not all_sessions:
        args += ["--filter", f"label={SESSION_LABEL}={os.getpid()}"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(autouse=True)
def nothing_left_behind(docker_client):
    yield
    left = _leftovers()
    if left:
        for cid in left:  # clean up so the next test starts clean, then fail
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        pytest.fail(f"containers left behind: {left}")
    assert owned_ids() == []


def run(busybox, command, **options):
    options.setdefault("network_mode", "none")
    return api.run(busybox.tags[0], command, **options)


def wait_for(predicate, timeout=15.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


# ---- live resource usage --------------------------------------------------------------------


def test_usage_cpu_memory_limit(busybox, docker_client, tmp_path):
    """CPU % and memory as the kernel accounted them for the same containers over the same periods.

    How much of a CPU the busy loop gets depends on what else the machine runs,
    so its CPU % is compared with the cgroup's own CPU counter between the
    daemon's stamps of each two samples, not with a fixed range.
    """
    busy = run(busybox, ["sh", "-c", "while :; do :; done"])
    # dd's 64 MiB buffer, filled from /dev/zero, stays resident while dd blocks
    # writing to a pipe nobody reads: anonymous memory, no page cache.
    mem = run(busybox, ["sh", "-c", "dd if=/dev/zero bs=64M count=1 | sleep 1000"], mem_limit="128m")
    with busy, mem, cgroup.CpuClock(cgroup.cgroup_of(docker_client.api, busy.id)) as clock:
        mem_cgroup = cgroup.cgroup_of(docker_client.api, mem.id)
        with api.monitor([busy, mem.name], interval=1.0, keep=50) as mon:

            def ready():
                frame = mon.samples
                held = frame[frame.container == mem.name].mem_bytes
                return cgroup.enough_cpu_samples(frame, busy.name, clock, need=3) and (held >= 60 * MiB).any()

            assert wait_for(ready, timeout=60, step=0.5), mon.samples
            widget = mon.widget  # renders without a browser
            widget.refresh()
            assert widget.plot.value[:4] == b"\x89PNG"
            assert mem.name in widget.table.value
            kernel_usage, kernel_inactive, kernel_limit = mem_cgroup.memory()
        assert not mon.running
        import threading

        assert not [t for t in threading.enumerate() if t.name.startswith("dockerviz-stats")]
        df = mon.samples
        assert list(df.columns) == [
            "container", "engine", "time", "cpu_percent", "mem_bytes", "mem_limit_bytes", "mem_percent",
            "net_rx_bytes", "net_tx_bytes", "blk_read_bytes", "blk_write_bytes", "pids",
        ]
        assert str(df["time"].dtype).startswith("datetime64")
        cgroup.assert_cpu_matches_kernel(df, busy.name, clock, need=3)

        m = df[df.container == mem.name].iloc[-1]
        # memory as `docker stats` defines it (usage less inactive file pages), against the kernel's
        # reading taken just after that sample; the dd buffer holds it still
        assert abs(m.mem_bytes - (kernel_usage - kernel_inactive)) <= MiB, (m.mem_bytes, kernel_usage, kernel_inactive)
        assert abs(m.mem_bytes - 64 * MiB) <= 0.1 * 64 * MiB, m.mem_bytes / MiB
        assert m.mem_limit_bytes == kernel_limit == 128 * MiB
        assert m.mem_percent == pytest.approx(m.mem_bytes / (128 * MiB) * 100)
        assert m.pids >= 2
        assert (df.net_rx_bytes == 0).all()  # network_mode none

        # record and replay
        path = mon.save(tmp_path / "usage.json")
        again = UsageMonitor.load(path)
        assert again.recorded and not again.running
        assert len(again.samples) == len(df)
        assert again.samples.mem_bytes.tolist() == df.mem_bytes.tolist()
        assert again.widget.plot.value[:4] == b"\x89PNG"
        summary = api.usage_summary(again)
        row = summary.set_index("container").loc[mem.name]
        assert row.mem_peak_bytes >= 0.9 * 64 * MiB
        assert row.image == busybox.tags[0]
        assert row.image_size_bytes == busybox.attrs["Size"]
        live = api.usage_summary(mon, sizes=False).set_index("container")
        busy_cpu = df[(df.container == busy.name) & df.cpu_percent.notna()].cpu_percent
        assert live.loc[busy.name].cpu_peak_percent == busy_cpu.max()
        assert live.loc[busy.name].cpu_mean_percent == pytest.approx(busy_cpu.mean())


def test_monitor_stops_when_containers_exit(busybox):
    with run(busybox, ["sh", "-c", "sleep 3"]) as view:
        mon = api.monitor(view)
        assert mon.wait(timeout=20), "the monitor kept running after its container exited"
        assert not mon.running
        assert len(mon.samples) >= 1
        assert view.refresh().state == "exited"
        assert view.exit_code == 0


# ---- image against container ---------------------------------------------------------------


def test_writable_layer_shows_10_mb(busybox):
    image_id = busybox.id
    with run(busybox, ["sh", "-c", "dd if=/dev/zero of=/data.bin bs=1000000 count=10 2>/dev/null; " + IDLE[2]]) as view:
        assert view.image_id == image_id
        changes = wait_for(lambda: [c for c in view.diff(refresh=True) if c["path"] == "/data.bin"])
        assert changes == [{"path": "/data.bin", "kind": "added"}]
        sizes = view.sizes(refresh=True)
        assert 10_000_000 <= sizes["size_rw"] <= 10_000_000 + 1_000_000, sizes
        assert sizes["image_size"] == busybox.attrs["Size"]
        assert sizes["size_root_fs"] == sizes["image_size"] + sizes["size_rw"]
        layers = view.layers()
        assert sum(layer["size"] for layer in layers) == busybox.attrs["Size"]

        w = view.widget
        w.show_image_panel()
        assert "data.bin" in w.tree.value and "writable layer" in w.stack.value

        # the image never changes, whatever the container does
        view.pause(), view.unpause()
        assert view.refresh().image_id == image_id
    assert view.state == "removed"
    assert busybox.client.images.get(busybox.tags[0]).id == image_id


# ---- lifecycle through the widget's buttons --------------------------------------------------


def test_lifecycle_buttons(busybox, docker_client):
    view = run(busybox, IDLE)
    image_id = busybox.id
    w = view.widget
    seen = []

    def click(action, expect):
        assert not w.buttons[action].disabled, (action, view.state)
        w.buttons[action].click()
        assert view.state == expect, (action, view.state, w.message.value)
        seen.append(view.state)
        # the state shown is what the daemon says
        if expect != "removed":
            assert docker_client.api.inspect_container(view.id)["State"]["Status"] == expect
        assert expect in w.header.value

    try:
        assert view.state == "running" and w.buttons["start"].disabled
        click("pause", "paused")
        assert w.buttons["pause"].disabled and not w.buttons["unpause"].disabled
        click("unpause", "running")
        click("stop", "exited")
        assert view.exit_code == 0 and "exit code" in w.header.value
        assert not w.buttons["start"].disabled and w.buttons["stop"].disabled
        assert view.image_id == image_id
        click("remove", "removed")
        assert all(b.disabled for b in w.buttons.values())
        assert seen == ["paused", "running", "exited", "removed"]
        with pytest.raises(Exception):
            docker_client.api.inspect_container(view.id)
    finally:
        view.close()


def test_events_update_the_view(busybox, docker_client):
    with run(busybox, IDLE) as view:
        w = view.widget  # starts the events listener
        docker_client.api.pause(view.id)  # behind the view's back
        assert wait_for(lambda: view.state == "paused", timeout=10)
        assert wait_for(lambda: "paused" in w.header.value, timeout=5)
        docker_client.api.unpause(view.id)
        assert wait_for(lambda: view.state == "running", timeout=10)


# ---- clean-up -----------------------------------------------------------------------------------


def test_close_and_with_remove_owned_containers(busybox, docker_client):
    v = run(busybox, IDLE)
    assert v.labels[MANAGED_LABEL] == "1" and v.labels[SESSION_LABEL] == str(os.getpid())
    v.close()
    assert v.state == "removed"
    with run(busybox, IDLE, labels={"purpose": "test"}) as v2:
        assert v2.labels["purpose"] == "test"
    assert v2.state == "removed"

    # a view of a container dockerviz did not create never removes it
    c = docker_client.containers.create(busybox.id, IDLE, network_mode="none", labels={TEST_LABEL: "1"})
    try:
        with api.container(c.name) as v3:
            assert v3.state == "created" and not v3.owned
        docker_client.api.inspect_container(c.id)
    finally:
        c.remove(force=True)


def test_interpreter_exit_removes_containers(busybox):
    code = textwrap.dedent(
        f"""
        from dockerviz.containers import api
        v = api.run({busybox.tags[0]!r}, ["sleep", "1000"], network_mode="none")
        print(v.id)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    cid = out.stdout.strip()
    assert len(cid) == 64
    assert _leftovers(all_sessions=True).count(cid[:12]) == 0


def test_unknown_container():
    with pytest.raises(ContainerNotFoundError):
        api.container("dockerviz-no-such-container")


# ---- snapshots -----------------------------------------------------------------------------------


def test_container_snapshot_roundtrip(busybox, tmp_path):
    with run(busybox, ["sh", "-c", "echo hi > /note; rm /bin/true; " + IDLE[2]]) as view:
        wait_for(lambda: any(c["path"] == "/note" for c in view.diff(refresh=True)))
        path = view.save(tmp_path / "c.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "dockerviz.container"
    loaded = api.load_container(path)
    assert loaded.recorded and loaded.allowed_actions() == set()
    assert loaded.name == view.name and loaded.image_id == busybox.id
    kinds = {c["path"]: c["kind"] for c in loaded.diff()}
    assert kinds["/note"] == "added" and kinds["/bin/true"] == "deleted" and kinds["/bin"] == "changed"
    w = loaded.widget
    assert "recorded" in w.header.value and "note" in w.tree.value
    assert all(b.disabled for b in w.buttons.values())
