"""A registry that misbehaves: whatever it sends, the answer is a DockervizError naming it.

Each server here is a loopback socket that answers every connection with the
same bytes, standing for something at a registry's address that is not a
registry (an SSH server, a broken proxy) or for one that answers with
headers no HTTP client should accept.
"""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from dockerviz.errors import DockervizError, RegistryAuthError, RegistryError
from dockerviz.sources.registry_auth import find_credentials
from dockerviz.sources.registry_http import RegistryClient, RegistryOptions


class Canned:
    """A loopback TCP server answering each connection with `reply`; `connections` counts them."""

    def __init__(self, reply: bytes):
        self.reply = reply
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def canned():
    servers = []

    def make(reply: bytes) -> Canned:
        servers.append(Canned(reply))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _client(port: int) -> RegistryClient:
    return RegistryClient(f"127.0.0.1:{port}", "127.0.0.1", "repo", RegistryOptions.coerce(None))


@pytest.mark.parametrize("reply", [
    b"SSH-2.0-OpenSSH_9.2\r\n",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-Many: a\r\n" * 200 + b"\r\n",
], ids=["not-http", "header-line-too-long", "too-many-headers"])
def test_an_answer_that_is_not_http_is_a_registry_error(canned, reply):
    server = canned(reply)
    client = _client(server.port)
    with pytest.raises(DockervizError) as err:
        client.request("GET", "/v2/")
    assert f"127.0.0.1:{server.port}" in str(err.value)
    client.close()


def test_a_redirect_to_another_scheme_is_refused_without_connecting(canned):
    target = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    server = canned(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: ftp://127.0.0.1:{target.port}/blob\r\n"
                    "Content-Length: 0\r\n\r\n".encode())
    client = _client(server.port)
    with pytest.raises(RegistryError) as err:
        client.request("GET", "/v2/repo/blobs/sha256:00")
    assert "ftp://" in str(err.value)
    assert target.connections == 0
    client.close()


def test_registry_options_name_what_they_take():
    with pytest.raises(RegistryError) as err:
        RegistryOptions.coerce({"ca": "ca.pem"})
    assert "'ca'" in str(err.value) and "ca_file" in str(err.value)
    opts = RegistryOptions.coerce({"insecure": "registry.lan:5000, other:443"})
    assert opts.is_insecure("registry.lan:5000") and opts.is_insecure("other:443")
    assert not opts.is_insecure("registry.lan")


def test_a_credential_helper_printing_json_that_is_not_an_object(tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-listy"
    helper.parent.mkdir()
    helper.write_text("#!/bin/sh\necho '[1, 2]'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text('{"credHelpers": {"registry.lan": "listy"}}')
    with pytest.raises(RegistryAuthError) as err:
        find_credentials("registry.lan", path=str(config))
    assert "docker-credential-listy" in str(err.value)



@pytest.mark.parametrize("entry", [
    {"mediaType": ["not", "a", "string"], "digest": "sha256:" + "0" * 64, "size": 2},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64, "size": 2,
     "platform": {"os": "linux", "architecture": 5}},
], ids=["list-media-type", "number-architecture"])
def test_an_index_entry_of_the_wrong_shape_is_an_archive_error(canned, entry):
    import json

    from dockerviz.errors import ArchiveError
    from dockerviz.sources.registry import RegistrySource

    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [entry]}).encode()
    server = canned(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
    source = RegistrySource(f"127.0.0.1:{server.port}/repo:tag")
    with pytest.raises(ArchiveError) as err:
        source.open()
    assert "index" in str(err.value)
    source.close()
