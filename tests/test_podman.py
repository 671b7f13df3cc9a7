"""Podman, the second engine: the same analysis as Docker's, and containers measured as `podman stats` does.

Podman's store is not the classic overlay2 layout, so `auto` reads its images
through the save stream (its Docker-compatible `GET /images/{name}/get`); the
results must equal those of the Docker daemon that built the images.
"""

from __future__ import annotations

import time

import pytest

import dockerviz
from support import cgroup, images

SMALL = [spec.tag for spec in images.SMALL_IMAGES]


def _facts(img) -> tuple:
    d = img.dive
    return (img.id, img.diff_ids, [(c.entries, c.whiteouts, c.opaque_dirs, c.tar_bytes) for c in img.contents],
            img.size_bytes, img.reclaimable_bytes, d.efficiency, d.inefficient_bytes, d.layer_sizes,
            sorted((p.path, p.count, p.size) for p in d.inefficient),
            [(s.created_by, s.layer) for s in img.steps])


@pytest.fixture
def on_podman(podman, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", podman.host)
    return podman


@pytest.mark.parametrize("tag", SMALL, ids=lambda t: t.split("/", 1)[1])
def test_podman_image_reads_like_docker(tag, podman, monkeypatch):
    from_docker = dockerviz.analyze(tag, cache=False)
    monkeypatch.setenv("DOCKER_HOST", podman.host)
    from_podman = dockerviz.analyze(tag, cache=False)
    assert from_podman.path == "save-stream"  # not the classic overlay2 store: the save stream it is
    assert from_podman.repo_tags == [f"localhost/{tag}:latest"]
    if len(set(from_docker.diff_ids)) < len(from_docker.diff_ids):
        # Podman's save names a repeated layer's file twice, which dive reads in full; Docker 20.10's
        # links to it, which dive reads as empty. The rest of the analysis is the same either way.
        assert from_podman.dive_full_repeats and not from_docker.dive_full_repeats
        from_docker.dive_full_repeats = True
    assert _facts(from_podman) == _facts(from_docker)


def test_podman_container_usage_and_cleanup(on_podman):
    """A busy loop's CPU % is what the kernel accounted for its cgroup between Podman's samples (the
    docker CLI's formula would read twice that on two cores here), memory and its limit are the
    cgroup's, pause/unpause/stop/start reach the view, and the container is gone when its view closes."""
    view = dockerviz.run(images.BUSYBOX.tag, ["sh", "-c", "while :; do :; done"], network_mode="none",
                         mem_limit="64m")
    cid = view.id
    client = dockerviz.engine.client()
    try:
        assert view.state == "running"
        group = cgroup.cgroup_of(client.api, cid)
        with cgroup.CpuClock(group) as clock, dockerviz.monitor([view]) as mon:
            # Podman streams a sample every 5 s; on a busy machine the loop may get little CPU for a while
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not cgroup.enough_cpu_samples(mon.samples, view.name, clock):
                time.sleep(0.5)
            usage, _inactive, limit = group.memory()
        samples = mon.samples
        cgroup.assert_cpu_matches_kernel(samples, view.name, clock)
        assert (samples["mem_limit_bytes"] == limit).all() and limit == 64 * 2**20
        # Podman reports the cgroup's usage as it is (no page cache is subtracted); a busy loop's
        # memory stays put, so the last sample is within a page or two of the kernel's reading
        assert abs(samples["mem_bytes"].iloc[-1] - usage) <= 256 * 1024, (samples["mem_bytes"].tolist(), usage)
        # the lifecycle, as the view's buttons drive it; the state comes back through Podman's events
        for action, state in (("pause", "paused"), ("unpause", "running"), ("stop", "exited"), ("start", "running")):
            getattr(view, action)()
            deadline = time.monotonic() + 20
            while view.state != state and time.monotonic() < deadline:
                time.sleep(0.2)
            assert view.state == state, (action, view.state)
    finally:
        view.close()
    try:
        assert not [c for c in client.api.containers(all=True) if c["Id"] == cid]
    finally:
        client.close()


PODMAN_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo {token} > /made && echo made
CMD ["cat", "/made"]
"""


def test_podman_build_steps_cache_and_failure(on_podman, tmp_path):
    """Podman builds with buildah and streams its own text: the steps, cache hits and a failing step
    with its exit code read as they do from Docker."""
    import shutil
    import uuid

    from dockerviz.errors import BuildError

    shutil.copy(images.find_static_busybox(), tmp_path / "busybox")
    dockerfile = PODMAN_DOCKERFILE.format(token=uuid.uuid4().hex[:8])
    tag = "dockerviz-test/podman-build:1"
    client = dockerviz.engine.client()
    try:
        first = dockerviz.build(str(tmp_path), dockerfile=dockerfile, tag=tag, nocache=True, network_mode="none")
        assert first.status == "succeeded" and first.image_id and first.builder == "buildah"
        steps = first.steps
        assert list(steps["step"]) == [1, 2, 3, 4, 5]
        assert list(steps["status"]) == ["done"] * 5 and not steps["cached"].any()
        assert steps["instruction"][3].startswith("RUN echo ")
        assert any("made" in ln.text for ln in first.log_lines() if ln.step == 4)
        assert client.api.inspect_image(first.image_id)["Id"] == first.image_id
        again = dockerviz.build(str(tmp_path), dockerfile=dockerfile, tag=tag, network_mode="none")
        assert list(again.steps["cached"])[1:] == [True] * 4 and again.image_id == first.image_id
        with pytest.raises(BuildError) as info:
            dockerviz.build(str(tmp_path), dockerfile=dockerfile.replace('CMD ["cat", "/made"]', "RUN exit 5"),
                            network_mode="none")
        err = info.value
        assert (err.step, err.exit_code) == (5, 5)
        assert err.result.step_list()[4].status == "failed"
    finally:
        try:
            client.api.remove_image(tag, force=True)
        except Exception:
            pass
        client.close()
