"""Podman as a second engine: its Docker-compatible API service, started for the session.

The service runs with its own storage under a temporary folder (vfs driver:
nothing mounted, nothing left in /var/lib/containers), cgroupfs and a file
event log (no systemd needed), and default ulimits a sandbox allows (Podman
asks for nofile=1048576, which an unprivileged-limits container refuses).
Images come from the Docker daemon's `docker save` archives via `podman load`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from . import stop_process


def _answers(sock: Path, timeout: float = 5.0) -> bool:
    """Does the service answer GET /_ping? Asked raw: Podman's /version (which docker-py's version
    negotiation asks first) runs conmon and the OCI runtime and takes seconds on a busy machine."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(sock))
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
        return s.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except OSError:
        return False
    finally:
        s.close()


START_TIMEOUT = 120.0  # a busy machine can take a minute to bring the service up
LOAD_TIMEOUT = 120.0

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
"""


class PodmanUnavailable(RuntimeError):
    pass


class PodmanService:
    def __init__(self, folder: Path):
        exe = shutil.which("podman")
        if exe is None:
            raise PodmanUnavailable("podman is not installed (Debian: apt-get install podman)")
        self.folder = folder
        self.sock = folder / "podman.sock"
        self.host = f"unix://{self.sock}"
        conf = folder / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf))
        self.env.pop("DOCKER_HOST", None)
        self.base = [exe, "--root", str(folder / "root"), "--runroot", str(folder / "run"),
                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        self.log = open(folder / "service.log", "wb")
        self.proc = subprocess.Popen([*self.base, "system", "service", "--time=0", self.host],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + START_TIMEOUT
        while not (self.sock.exists() and _answers(self.sock)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PodmanUnavailable(f"the podman API service did not answer; its log:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.folder / "service.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def load(self, archive: str | os.PathLike) -> None:
        r = subprocess.run([*self.base, "load", "-q", "-i", str(archive)], capture_output=True, text=True,
                           env=self.env, timeout=LOAD_TIMEOUT)
        if r.returncode != 0:
            raise PodmanUnavailable(f"podman load {archive} failed: {r.stderr.strip()}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()
