"""Sharing, state and scale on real components: volumes, exec and mounts, replicas, and images moved
between Docker and Podman through Debian's docker-registry or a save/load stream.

The registry and Podman are the ones dockerviz.lab starts (a loopback registry over plain HTTP, a
Podman API service with its own storage). Every number dockerviz reports is checked against another
reading of the same thing: docker-py's own listings and inspects on each engine, the registry's blob
store on disk, the index fetched with urllib.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from support import REPO_ROOT, TEST_LABEL, images, unavailable

import dockerviz
from dockerviz.lab import LocalPodman, LocalRegistry, ServiceUnavailableError

BUSYBOX = images.BUSYBOX.tag
CHILD = images.PARITY_DELETE.tag  # busybox's layers plus one
ARM64 = "dockerviz-test/busybox-arm64:latest"


@pytest.fixture(scope="module")
def registry(docker_client):
    try:
        reg = LocalRegistry()
    except ServiceUnavailableError as exc:
        unavailable(str(exc))
    yield reg
    reg.close()


@pytest.fixture
def podman(registry):
    """An empty Podman for each test, trusting the registry."""
    try:
        service = LocalPodman(insecure=[registry.host])
    except ServiceUnavailableError as exc:
        unavailable(str(exc))
    yield service
    service.close()


def _layers(client, image) -> list:
    return client.api.inspect_image(image)["RootFS"]["Layers"]


def _blobs(registry) -> set:
    root = registry.folder / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return {p.name for p in root.glob("*/*") if (p / "data").is_file()} if root.is_dir() else set()


# ---- state: volumes, mounts, exec ------------------------------------------------------------


def test_a_volume_outlives_its_container_and_a_writable_layer_does_not(docker_client, test_images):
    from docker.errors import NotFound

    with dockerviz.volume() as vol:
        assert docker_client.volumes.get(vol.name).attrs["Labels"]["dockerviz.managed"] == "1"
        with dockerviz.run(BUSYBOX, ["sleep", "300"], volumes=vol.mount("/data"), network_mode="none") as a:
            mounts = a.mounts()
            assert mounts == [{"type": "volume", "name": vol.name, "source": mounts[0]["source"],
                               "destination": "/data", "rw": True}]
            assert docker_client.containers.get(a.id).attrs["Mounts"][0]["Name"] == vol.name
            assert a.exec("echo kept > /data/v; echo lost > /w; hostname").strip() == a.hostname
        with dockerviz.run(BUSYBOX, ["sleep", "300"], volumes=vol.mount("/data"), network_mode="none") as b:
            out = b.exec("cat /data/v; ls /w 2>&1 || true")
        assert "kept" in out and "No such file" in out
        with pytest.raises(dockerviz.DockervizError, match="exit code 3"):
            with dockerviz.run(BUSYBOX, ["sleep", "300"], network_mode="none") as c:
                c.exec(["sh", "-c", "exit 3"])
    with pytest.raises(NotFound):
        docker_client.volumes.get(vol.name)


def test_a_container_refused_at_start_is_not_left_behind(docker_client, test_images):
    before = {c["Id"] for c in docker_client.api.containers(all=True)}
    with pytest.raises(dockerviz.DockervizError):
        dockerviz.run(BUSYBOX, ["/no/such/program"], network_mode="none")
    left = [c for c in docker_client.api.containers(all=True, filters={"label": "dockerviz.managed=1"})
            if c["Id"] not in before and c["Labels"].get("dockerviz.session") == str(os.getpid())]
    assert left == []


def test_a_volume_name_in_use_is_refused(docker_client):
    with dockerviz.volume() as vol:
        with pytest.raises(dockerviz.DockervizError, match="exists already"):
            dockerviz.volume(vol.name)


# ---- scale ---------------------------------------------------------------------------------


def test_replicas_cost_one_image_and_thin_writable_layers(docker_client, test_images):
    name = f"dockerviz-test-replicas-{os.getpid()}"
    command = ["sh", "-c", "echo 12345678 > /me; exec sleep 300"]  # 9 bytes in each writable layer
    with dockerviz.replicas(BUSYBOX, 1, command, name=name, network_mode="none") as fleet:
        curve = fleet.curve([1, 3], seconds=3)
        table = fleet.last_table
        listed = {c["Names"][0].lstrip("/"): c for c in
                  docker_client.api.containers(all=True, size=True, filters={"name": name})}
        assert sorted(listed) == sorted(table["replica"]) == [f"{name}-{i}" for i in (1, 2, 3)]
        for _, row in table.iterrows():
            assert row["writable_bytes"] == listed[row["replica"]]["SizeRw"] == 9
        assert set(table["image_bytes"]) == {docker_client.api.inspect_image(BUSYBOX)["Size"]}
        assert (table["mem_bytes"] > 0).all()
        fleet.scale(2)
        assert len(docker_client.api.containers(all=True, filters={"name": name})) == 2
    assert curve["replicas"].tolist() == [1, 3]
    assert curve["image_bytes"].nunique() == 1
    assert curve["writable_bytes"].tolist() == [9, 27]
    assert curve.loc[1, "disk_if_copied_bytes"] == 3 * curve.loc[1, "image_bytes"] + 27
    assert docker_client.api.containers(all=True, filters={"name": name}) == []


def test_twenty_replicas_are_removed_when_the_interpreter_exits(docker_client, test_images):
    name = f"dockerviz-test-exit-{os.getpid()}"
    script = (f"import dockerviz\nf = dockerviz.replicas({BUSYBOX!r}, 20, ['sleep', '300'], name={name!r}, "
              f"network_mode='none')\nprint(len(f))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "20", proc.stderr
    assert docker_client.api.containers(all=True, filters={"name": name}) == []


def test_a_replica_count_is_checked(docker_client):
    with pytest.raises(dockerviz.DockervizError, match="whole number"):
        dockerviz.replicas(BUSYBOX, -1)


def test_the_scale_figure_draws_each_count():
    import pandas as pd

    from dockerviz.containers.replicas import CURVE_COLUMNS

    curve = pd.DataFrame([[1, 100, 9, 109, 109, 10, 10, 0.5], [5, 100, 45, 145, 545, 50, 10, 2.5]],
                         columns=CURVE_COLUMNS)
    fig = dockerviz.scale_figure(curve)
    disk, mem, cpu = fig.axes
    assert [t.get_text() for t in disk.get_xticklabels()] == ["1", "5"]
    assert [p.get_height() for p in disk.patches] == [109, 145, 109, 545]
    assert [p.get_height() for p in cpu.patches] == [0.5, 2.5]


# ---- sharing and portability ---------------------------------------------------------------


def test_push_then_pull_into_podman_sends_only_the_missing_layers(docker_client, test_images, registry, podman):
    import docker

    base, child = _layers(docker_client, BUSYBOX), _layers(docker_client, CHILD)
    shared = [layer for layer in child if layer in base]
    assert shared and len(child) > len(shared)
    before = _blobs(registry)
    first = dockerviz.push(BUSYBOX, f"{registry.host}/t/bb:1")
    after_first = _blobs(registry)
    second = dockerviz.push(CHILD, f"{registry.host}/t/child:1")
    assert (first.sent, first.already_there) == (len(base), 0)
    # the registry stores the base's layers, config and manifest as blobs, and the child's push reuses them
    assert len(after_first - before) == len(base) + 2
    assert (second.sent, second.already_there) == (len(child) - len(shared), len(shared))
    assert len(_blobs(registry) - after_first) == len(child) - len(shared) + 2
    # the pushes left no registry-named tags nor digest references behind in Docker
    assert not [r for i in docker_client.api.images() for r in (i.get("RepoTags") or []) + (i.get("RepoDigests") or [])
                if r.startswith(registry.host)]

    pulled = dockerviz.pull(f"{registry.host}/t/bb:1", engine=podman.engine)
    child_pull = dockerviz.pull(f"{registry.host}/t/child:1", engine=podman.engine)
    assert (pulled.sent, pulled.already_there) == (len(base), 0)
    assert (child_pull.sent, child_pull.already_there) == (len(child) - len(shared), len(shared))
    other = docker.DockerClient(base_url=podman.engine.host)
    try:
        assert other.api.inspect_image(child_pull.image_id)["RootFS"]["Layers"] == child
    finally:
        other.close()
    assert child_pull.image_id == docker_client.api.inspect_image(CHILD)["Id"]
    assert child_pull.digest == second.digest
    table = dockerviz.compare_engines(child_pull.image_id, [dockerviz.Engine(name="docker"), podman.engine])
    assert table["same_id"].all() and table["same_layers"].all()


def test_copy_image_by_save_and_load_keeps_the_id_and_the_analysis(docker_client, test_images, podman):
    moved = dockerviz.copy_image(CHILD, podman.engine)
    want = docker_client.api.inspect_image(CHILD)
    assert moved.kind == "load" and moved.image_id == want["Id"] and moved.sent == len(want["RootFS"]["Layers"])
    a = dockerviz.analyze(CHILD, cache=False)
    b = dockerviz.analyze(moved.image_id, engine=podman.engine, cache=False)
    assert (a.id, a.size_bytes, a.efficiency, a.inefficient_bytes) == (b.id, b.size_bytes, b.efficiency,
                                                                       b.inefficient_bytes)
    assert a.layers[["size_bytes", "entries", "added", "removed"]].equals(b.layers[["size_bytes", "entries", "added",
                                                                                 "removed"]])


def test_copy_image_through_a_registry(docker_client, test_images, registry, podman):
    moved = dockerviz.copy_image(BUSYBOX, podman.engine, registry=registry.host)
    assert moved.kind == "pull" and moved.pushed.kind == "push"
    assert moved.image_id == docker_client.api.inspect_image(BUSYBOX)["Id"]
    with pytest.raises(dockerviz.DockervizError, match="same engine"):
        dockerviz.copy_image(BUSYBOX, dockerviz.Engine())


def test_a_transfer_round_trips_through_its_dict():
    from dockerviz.transfer import Transfer

    t = Transfer(kind="pull", image="r/x:1", destination="podman", engine_name="podman", image_id="sha256:ab",
                 layers=[("abc", "sent", 10), ("def", "already there", 0)])
    back = Transfer.from_dict(json.loads(json.dumps(t.to_dict())), recorded="recorded then")
    assert back.summary() == t.summary() and (back.sent, back.already_there) == (1, 1)
    assert "Recorded data" in back._repr_html_() and "<td>already there</td>" in back._repr_html_()


# ---- platforms -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def arm64_image(docker_client, tmp_path_factory):
    from support import producers

    busybox = producers.arm64_busybox()
    ctx = tmp_path_factory.mktemp("arm64")
    shutil.copy(busybox, ctx / "busybox")  # mode kept: executable
    (ctx / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "uname", "-m"]\n')
    dockerviz.build(str(ctx), tag=ARM64, platform="linux/arm64", labels={TEST_LABEL: "1"}, network_mode="none")
    assert docker_client.api.inspect_image(ARM64)["Architecture"] == "arm64"
    return ARM64


def _binfmt_runs_arm64() -> bool:
    try:
        return Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").read_text().startswith("enabled")
    except OSError:
        return False


def test_one_tag_names_an_image_per_platform(docker_client, test_images, registry, arm64_image):
    ref = f"{registry.host}/t/multi:1"
    index = dockerviz.push_index(ref, {"linux/amd64": BUSYBOX, "linux/arm64": arm64_image})
    req = urllib.request.Request(f"http://{registry.host}/v2/t/multi/manifests/1", headers={
        "Accept": "application/vnd.docker.distribution.manifest.list.v2+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Docker-Content-Digest"] == index.digest
        body = json.loads(resp.read())
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in body["manifests"]] == \
           [("linux", "amd64"), ("linux", "arm64")]
    listed = dockerviz.images(f"registry://{ref}")
    assert sorted(listed["platform"]) == ["linux/amd64", "linux/arm64"]
    assert sorted(listed["digest"]) == sorted(m["digest"] for m in body["manifests"])

    arm = dockerviz.pull(ref, platform="linux/arm64")
    try:
        assert arm.platform == "linux/arm64" and arm.image_id == docker_client.api.inspect_image(arm64_image)["Id"]
        if not _binfmt_runs_arm64():
            unavailable("binfmt does not run arm64 binaries here (qemu-user-static; bash tests/run.sh enables it)")
        with dockerviz.run(ref, ["/bin/busybox", "sleep", "60"], platform="linux/arm64", network_mode="none") as c:
            assert c.exec(["/bin/busybox", "uname", "-m"]).strip() == "aarch64"
    finally:
        docker_client.api.remove_image(ref, noprune=True)
        for d in docker_client.api.inspect_image(arm64_image).get("RepoDigests") or []:
            if d.startswith(registry.host):
                docker_client.api.remove_image(d, noprune=True)


def test_a_bad_platform_is_refused_before_anything_is_pushed(registry):
    with pytest.raises(dockerviz.ImageChoiceError, match="not a platform"):
        dockerviz.push_index(f"{registry.host}/t/bad:1", {"arm64": BUSYBOX})


# ---- the local services --------------------------------------------------------------------


def _processes(cmdline: bytes) -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "cmdline").read_bytes() == cmdline:
                found.append(proc.name)
        except OSError:
            pass
    return found


def test_local_services_stop_and_leave_nothing_behind(docker_client, test_images, registry):
    marker = b"sleep\x00%d\x00" % (4000 + os.getpid() % 1000)
    with LocalPodman(insecure=[registry.host]) as service:
        folder, run = service.folder, service.run
        dockerviz.copy_image(BUSYBOX, service.engine)
        dockerviz.run(BUSYBOX, ["sleep", marker.split(b"\x00")[1].decode()], engine=service.engine,
                      network_mode="none")
        assert service.running and folder.is_dir() and _processes(marker)
    assert not service.running and not folder.exists() and not run.exists()
    assert _processes(marker) == []  # its container went with it
    with LocalRegistry() as other:
        host, folder = other.host, other.folder
        assert urllib.request.urlopen(f"http://{host}/v2/", timeout=5).status == 200
    assert not folder.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{host}/v2/", timeout=2)
