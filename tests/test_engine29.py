"""Engine 29's API rules, through tests/support/engine29.py in front of the real daemon.

The proxy stands for Docker Engine 29.0-29.2: API versions below 1.44 are
refused with its exact HTTP 400, it speaks 1.52 and shapes answers as 1.52
does. dockerviz negotiates from /_ping and /version, so both its clients (docker-py
and the local socket client) speak 1.52 through it and every read path gives
the same image as the real daemon gives directly. (The whole daemon suite runs
through it with DOCKERVIZ_TEST_ENGINE=29; tests/run.sh runs a subset that way.)
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from support import engine29, images
from support.proxy import daemon_socket

TOO_OLD = ("client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a "
           "newer version")


@pytest.fixture(scope="module")
def engine29_host(docker_client, test_images, tmp_path_factory):
    proc, host = engine29.start(str(tmp_path_factory.mktemp("e29") / "d.sock"), daemon_socket())
    yield host
    engine29.session_stop(proc)


@pytest.fixture
def via_engine29(engine29_host, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine29_host)
    return engine29_host


def _raw(host: str, path: str) -> tuple[int, bytes]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(host[len("unix://"):])
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: d\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_proxy_refuses_old_versions_as_engine_29_does(engine29_host):
    status, body = _raw(engine29_host, "/v1.41/images/json")
    assert status == 400 and json.loads(body)["message"] == TOO_OLD
    status, body = _raw(engine29_host, "/v1.52/version")
    assert status == 200 and (json.loads(body)["ApiVersion"], json.loads(body)["MinAPIVersion"]) == ("1.52", "1.44")


def test_a_client_pinned_below_1_44_fails_there(via_engine29):
    import docker

    from dockerviz import engine
    from dockerviz.errors import DaemonError

    pinned = docker.from_env(version="1.41", timeout=10)
    with pytest.raises(DaemonError, match="too old. Minimum supported API version is 1.44"):
        with engine.translated(images.BUSYBOX.tag):
            pinned.api.inspect_image(images.BUSYBOX.tag)
    pinned.close()


def test_both_clients_negotiate_1_52(via_engine29):
    from dockerviz import engine
    from dockerviz import engine_socket as local_api

    client = engine.client()
    assert client.api.api_version == "1.52"
    inspect = client.api.inspect_image(images.BUSYBOX.tag)
    assert "VirtualSize" not in inspect and "ContainerConfig" not in inspect  # shaped as 1.52 shapes it
    client.close()
    assert local_api.api_prefix(via_engine29[len("unix://"):]) == "/v1.52"
    assert local_api.inspect_local(images.BUSYBOX.tag)["_api_version"] == "1.52"


@pytest.mark.parametrize("path", ["tar-split", "overlay2-diff", "save-stream"])
def test_every_path_reads_the_same_image_through_engine_29(docker_client, test_images, engine29_host, monkeypatch,
                                                           path):
    import dockerviz

    tag = images.PARITY_LINKS.tag
    direct = dockerviz.analyze(tag, path=path, cache=False).to_dive_json()
    monkeypatch.setenv("DOCKER_HOST", engine29_host)
    through = dockerviz.analyze(tag, path=path, cache=False).to_dive_json()
    assert through["image"]["path"] == path
    for key in ("sizeBytes", "inefficientBytes", "efficiencyScore", "fileReference", "reclaimableBytes"):
        assert through["image"][key] == direct["image"][key]
    assert [layer["sizeBytes"] for layer in through["layer"]] == [layer["sizeBytes"] for layer in direct["layer"]]
    assert os.environ["DOCKER_HOST"] == engine29_host
