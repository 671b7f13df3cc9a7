"""The local daemon's socket client (engine_socket) on answers it cannot read: LocalUnavailable, so the
caller goes through docker-py, never a traceback."""

from __future__ import annotations

import socket
import threading

import pytest


def test_a_local_socket_answering_a_broken_chunked_body_falls_back_quietly(tmp_path):
    """The unix-socket client gives way to docker-py (LocalUnavailable) on any answer it cannot read,
    here a chunked body whose chunk size is not hex (a proxy in front of the daemon gone wrong)."""
    from dockerviz import engine_socket

    path = str(tmp_path / "d.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(4)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nApi-Version: 1.41\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(engine_socket.LocalUnavailable):
            engine_socket.api_get(path, "/images/busybox/json", timeout=5)
    finally:
        srv.close()
