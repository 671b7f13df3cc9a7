"""Podman, the second engine: the same analysis as Docker's, and containers measured as `podman stats` does.

Podman's store is not the classic overlay2 layout, so `auto` reads its images
through the save stream (its Docker-compatible `GET /images/{name}/get`); the
results must equal those of the Docker daemon that built the images.
"""

from __future__ import annotations

import math
import time

import pytest

import dockerviz
from support import images

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
    assert _facts(from_podman) == _facts(from_docker)


def test_podman_container_usage_and_cleanup(on_podman):
    """A busy loop reads one CPU (the docker CLI's formula would say two here), memory is capped by the
    limit, and the container is gone when its view closes."""
    view = dockerviz.run(images.BUSYBOX.tag, ["sh", "-c", "while :; do :; done"], network_mode="none",
                         mem_limit="64m")
    cid = view.id
    try:
        assert view.state == "running"
        with dockerviz.monitor([view]) as mon:
            deadline = time.monotonic() + 30
            cpu = []
            while time.monotonic() < deadline:  # Podman streams a sample every 5 s
                time.sleep(1)
                cpu = [v for v in mon.samples["cpu_percent"] if not math.isnan(v)]
                if len(cpu) >= 2:
                    break
        samples = mon.samples
        assert len(cpu) >= 2, samples
        assert any(85 <= v <= 115 for v in cpu), cpu
        assert all(v <= 130 for v in cpu), cpu
        assert (samples["mem_limit_bytes"] == 64 * 2**20).all()
        assert (samples["mem_bytes"] > 0).all()
    finally:
        view.close()
    client = dockerviz.engine.client()
    try:
        assert not [c for c in client.api.containers(all=True) if c["Id"] == cid]
    finally:
        client.close()
