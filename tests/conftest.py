"""Shared fixtures. The logic lives in tests/support; this file only wires it to pytest.

- docker_client: a docker.DockerClient on a daemon that answers (found, or
  started for the session and stopped after). Without one: pytest.fail under
  CI=true, pytest.skip otherwise.
- test_images / saved_archive: the images of tests/support/images.py, built
  once per session (reused across sessions by their input-hash label), and
  their `docker save` archives.
- lab / chromium: a JupyterLab server and a browser for a browser test module.
- podman: a Podman API service with the small test images (a second engine).
- tls_daemon / ssh_server: a second dockerd on a TLS-verified TCP port holding the busybox
  test image, and an sshd on loopback reaching the shared daemon (tests/support/remote.py).
- shared_fixtures: ../shared/fixtures; skips when that folder is absent (the
  one kind of skip CI allows).
- offline / run_offline: DOCKER_HOST pointed at a socket nothing listens on.

DOCKERVIZ_TEST_ENGINE=29 runs every daemon test through tests/support/engine29.py,
a proxy answering as Docker Engine 29 (refuses API < 1.44, speaks 1.52).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from support import SHARED_FIXTURES, images, unavailable
from support.engine import EngineUnavailable, ensure_engine, offline_environ, pointing_nowhere


_ENGINE29: list = []
_REAL_ENGINE: list = []  # under DOCKERVIZ_TEST_ENGINE=29: the daemon the proxy fronts, if started here


def pytest_configure(config):
    from support import engine, engine29

    if engine29.wanted():
        # the proxy needs a daemon behind it before it starts; a dockerd started here is stopped at
        # the session's end (an earlier run of the test command stops the one it started)
        try:
            _REAL_ENGINE.append(ensure_engine())
        except EngineUnavailable as exc:
            raise pytest.UsageError(f"DOCKERVIZ_TEST_ENGINE=29 needs a Docker daemon to front: {exc}") from None
        engine.forget()  # the session's engine is the proxy from here on
    proc = engine29.session_start(tempfile.mkdtemp(prefix="dockerviz-engine29-"))
    if proc is not None:
        _ENGINE29.append(proc)
        os.environ["DOCKERVIZ_TEST_ENGINE29_HOST"] = os.environ["DOCKER_HOST"]
        print(f"[engine] through the Engine 29 proxy: DOCKER_HOST={os.environ['DOCKER_HOST']}", flush=True)

    # also declared in pyproject.toml; repeated here so a run from another rootdir knows them
    config.addinivalue_line("markers", "daemon: needs a Docker daemon (fails, not skips, under CI=true)")
    config.addinivalue_line("markers", "browser: needs Chromium (fails, not skips, under CI=true)")
    config.addinivalue_line("markers", "hostile_heavy: hostile-input bombs; run by the test command")


def pytest_unconfigure(config):
    from support import engine29

    while _ENGINE29:
        engine29.session_stop(_ENGINE29.pop())
    while _REAL_ENGINE:
        _REAL_ENGINE.pop().stop()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "docker_client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.daemon)


@pytest.fixture(scope="session")
def docker_engine():
    """The Engine in use (tests/support/engine.py); stops a dockerd it started."""
    try:
        engine = ensure_engine()
    except EngineUnavailable as exc:
        unavailable(f"no Docker daemon: {exc}")
    if _ENGINE29 and engine.describe().split()[0] != os.environ.get("DOCKERVIZ_TEST_ENGINE29_HOST"):
        pytest.fail(f"DOCKERVIZ_TEST_ENGINE=29 but the tests would use {engine.describe()}", pytrace=False)
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def docker_client(docker_engine):
    client = docker_engine.client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_images(docker_client):
    """{tag: docker-py Image} for every test image (busybox, parity, Debian)."""
    return images.build_all(docker_client)


@pytest.fixture(scope="session")
def saved_archive(docker_client, test_images, tmp_path_factory):
    """saved_archive(tag) -> Path of that image's `docker save` archive (made once)."""
    folder = tmp_path_factory.mktemp("saved")
    made = {}

    def get(tag):
        if tag not in made:
            made[tag] = images.save_archive(docker_client, tag, folder / (tag.replace("/", "_").replace(":", "_") + ".tar"))
        return made[tag]

    return get


@pytest.fixture(scope="session")
def podman(docker_client, test_images, saved_archive, tmp_path_factory):
    """A Podman API service (tests/support/podman.py) holding the small test images, loaded from
    their `docker save` archives. Without podman: pytest.fail under CI=true, pytest.skip otherwise."""
    from support.podman import PodmanService, PodmanUnavailable

    try:
        service = PodmanService(tmp_path_factory.mktemp("podman", numbered=True))
    except PodmanUnavailable as exc:
        unavailable(f"no podman: {exc}")
    try:
        for spec in images.SMALL_IMAGES:
            service.load(saved_archive(spec.tag))
        yield service
    finally:
        service.stop()


def _remote(start):
    from support.remote import RemoteUnavailable

    try:
        return start()
    except RemoteUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def tls_daemon(docker_client, test_images, saved_archive, tmp_path_factory):
    """A second dockerd (tcp://127.0.0.1:PORT, --tlsverify) with the busybox test image,
    moved there through the save stream (`docker save | docker load`)."""
    from support.remote import TLSDaemon

    # short folder: containerd's sockets live under the exec root (unix paths are short)
    folder = Path(tempfile.mkdtemp(prefix="dvr-", dir="/tmp"))
    daemon = _remote(lambda: TLSDaemon(folder))
    try:
        daemon.load(saved_archive(images.BUSYBOX.tag))
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def ssh_server(docker_client, tmp_path_factory):
    """openssh-server on 127.0.0.1:PORT; `.host` is ssh://root@127.0.0.1:PORT, `.home` a client
    HOME with the accepted key and the host key, `.other_home` one with a refused key."""
    from support.remote import SSHServer

    server = _remote(lambda: SSHServer(tmp_path_factory.mktemp("sshd")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server (tests/support/jupyter.py) for one browser test module; Chromium required."""
    from support import browser
    from support.jupyter import jupyter_server

    browser.require_browser()
    with jupyter_server(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def chromium(lab):
    """Debian's Chromium driven by Playwright, for one browser test module."""
    from support import browser

    with browser.chromium() as instance:
        yield instance


@pytest.fixture(scope="session")
def shared_fixtures():
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"{SHARED_FIXTURES} is absent")
    return SHARED_FIXTURES


@pytest.fixture
def offline(tmp_path):
    """DOCKER_HOST points at a socket nothing listens on for the test; yields the URL."""
    with pointing_nowhere(tmp_path) as url:
        yield url


@pytest.fixture
def offline_env(tmp_path):
    """An environment dict for subprocesses, with DOCKER_HOST pointing nowhere."""
    return offline_environ(directory=tmp_path)


@pytest.fixture
def run_offline(tmp_path):
    """run_offline(fn, *args, **kwargs): call fn with DOCKER_HOST pointing nowhere."""

    def run(fn, *args, **kwargs):
        with pointing_nowhere(tmp_path):
            return fn(*args, **kwargs)

    return run


@pytest.fixture(scope="session")
def registry(docker_client, test_images, tmp_path_factory):
    """A TLS registry with an htpasswd user on 127.0.0.1 (tests/support/registry.py), started once.
    Without docker-registry: pytest.fail under CI=true, pytest.skip otherwise."""
    from support.registry import Registry, RegistryUnavailable

    try:
        reg = Registry(tmp_path_factory.mktemp("registry", numbered=True))
    except RegistryUnavailable as exc:
        unavailable(f"no registry: {exc}")
    try:
        yield reg
    finally:
        reg.stop()
