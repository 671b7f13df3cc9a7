"""A registry that is rate-limiting or overloaded: answers 429/503 are asked again, a bounded number of times.

The server here is a few lines of http.server standing for a registry behind a rate limiter or a
busy proxy; the image it serves is made in the test, so what analysis reads back is checked against it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import dockerviz
from dockerviz.errors import RegistryUnavailableError

CONTENT = b"served after a 429\n"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image() -> dict:
    """Path -> (content type, body) of a one-layer image holding /hello.txt."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(CONTENT)
        tar.addfile(info, io.BytesIO(CONTENT))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [_sha(raw.getvalue())]},
                         "history": [{"created_by": "COPY hello.txt /"}]}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": _sha(layer), "size": len(layer)}]}).encode()
    return {"/v2/t/manifests/1": ("application/vnd.oci.image.manifest.v1+json", manifest),
            f"/v2/t/blobs/{_sha(config)}": ("application/octet-stream", config),
            f"/v2/t/blobs/{_sha(layer)}": ("application/octet-stream", layer)}


class _Server:
    """Serves `files`; each path's first `refuse` GETs are answered `status` (with Retry-After: 0), or,
    with status 0, the connection is closed before any byte of an answer (a reset by a proxy)."""

    def __init__(self, status: int, refuse: int):
        self.files = _image()
        self.counts: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                n = outer.counts[self.path] = outer.counts.get(self.path, 0) + 1
                if self.path == "/v2/":
                    self._answer(200, "application/json", b"{}")
                elif self.path not in outer.files:
                    self._answer(404, "application/json", b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
                elif n <= refuse and not status:
                    self.close_connection = True
                elif n <= refuse:
                    self._answer(status, "text/plain", b"slow down", {"Retry-After": "0"})
                else:
                    self._answer(200, *outer.files[self.path])

            def _answer(self, code, ctype, body, extra=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def source(self) -> str:
        return f"registry://127.0.0.1:{self.httpd.server_address[1]}/t:1"


def test_429_with_retry_after_then_200_reads_the_image():
    with _Server(429, refuse=1) as server:
        img = dockerviz.analyze(server.source, cache=False)
        counts = dict(server.counts)
        assert img.read("/hello.txt") == CONTENT  # bytes are read lazily, while the server still answers
    # manifest, config and the layer: each refused once, then served once
    assert {p: counts.get(p) for p in server.files} == {p: 2 for p in server.files}


def test_always_503_gives_a_clear_error_after_a_bounded_number_of_requests():
    with _Server(503, refuse=10**6) as server:
        with pytest.raises(RegistryUnavailableError) as err:
            dockerviz.analyze(server.source, cache=False)
        counts = dict(server.counts)
    text = str(err.value)
    assert "kept answering 503" in text and "3 attempts" in text and "Wait a while" in text
    assert counts["/v2/t/manifests/1"] == 3
    assert sum(counts.values()) == 3  # nothing past the manifest was asked for


def test_connection_closed_before_the_answer_is_asked_again_a_bounded_number_of_times():
    with _Server(0, refuse=2) as server:
        img = dockerviz.analyze(server.source, cache=False)
        assert server.counts["/v2/t/manifests/1"] == 3
        assert img.read("/hello.txt") == CONTENT
    with _Server(0, refuse=10**6) as server:
        with pytest.raises(RegistryUnavailableError, match="closed the connection"):
            dockerviz.analyze(server.source, cache=False)
        assert server.counts["/v2/t/manifests/1"] == 3
