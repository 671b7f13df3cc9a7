"""A socket proxy in front of the real daemon, run as a child process.

It listens on a unix socket or on TCP (127.0.0.1, any free port) and pipes
every connection to the daemon's unix socket. Killing it makes the daemon go
away mid-call; listening on TCP makes the daemon look remote (no local
socket: dockerviz goes through docker-py).
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import socket, sys, threading
listen, target = sys.argv[1], sys.argv[2]
if listen == "tcp":
    srv = socket.socket(socket.AF_INET)
    srv.bind(("127.0.0.1", 0))
    where = "tcp://127.0.0.1:%d" % srv.getsockname()[1]
else:
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(listen)
    where = "unix://" + listen
srv.listen(16)
print(where, flush=True)
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
while True:
    c, _ = srv.accept()
    u = socket.socket(socket.AF_UNIX)
    u.connect(target)
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
"""


def daemon_socket() -> str:
    """The real daemon's unix socket (the tests only run against one)."""
    real = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert real.startswith("unix://"), f"the test proxy fronts a unix-socket daemon, not {real}"
    return real[len("unix://"):]


def start(listen: str) -> tuple[subprocess.Popen, str]:
    """Start a proxy listening on `listen` (a socket path, or "tcp"); (process, its DOCKER_HOST)."""
    return spawn(["-c", SCRIPT, listen, daemon_socket()])


def spawn(args: list) -> tuple[subprocess.Popen, str]:
    """Run `python ARGS...`, a proxy that prints its DOCKER_HOST once listening; (process, that host)."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    host = proc.stdout.readline().strip()
    assert host.startswith(("unix://", "tcp://")), f"the proxy did not start ({host!r})"
    return proc, host


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()
