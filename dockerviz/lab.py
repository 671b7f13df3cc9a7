"""A registry and a second engine on this machine, for the notebooks: started, used, stopped.

`LocalRegistry` runs the `docker-registry` program (CNCF distribution, Debian's
docker-registry package) on 127.0.0.1 over plain HTTP, which Docker and
dockerviz accept for loopback without configuration. `LocalPodman` runs
Podman's Docker-compatible API service with its own storage (vfs driver),
trusting the given loopback registries. Both keep everything in a temporary
folder, removed with it when they stop: on close(), at the end of a `with`
block, or at interpreter exit. Neither needs a network beyond loopback.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .errors import DockervizError

__all__ = ["LocalRegistry", "LocalPodman", "ServiceUnavailableError"]

START_TIMEOUT = 120.0  # Podman can take a minute to come up on a busy machine


class ServiceUnavailableError(DockervizError):
    """The program is not installed here, or did not start."""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class _Service:
    program = ""
    package = ""

    def __init__(self):
        self.exe = shutil.which(self.program)
        if self.exe is None:
            raise ServiceUnavailableError(f"{self.program} is not installed here (Debian: apt-get install "
                                          f"{self.package}).")
        self.folder = Path(tempfile.mkdtemp(prefix=f"dockerviz-{self.program}-"))
        self.log_path = self.folder / "service.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the service writes to it until stop()
        self.proc: subprocess.Popen | None = None
        atexit.register(self.close)

    def _start(self, argv, env=None) -> None:
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                self.close()
                raise ServiceUnavailableError(f"{self.program} did not start; its log ends:\n{tail}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalRegistry(_Service):
    """A registry at `host` (127.0.0.1:PORT), plain HTTP, no authentication, storage in a temporary folder."""

    program = "docker-registry"
    package = "docker-registry"

    def __init__(self):
        super().__init__()
        self.port = 0
        self.host = ""
        config = self.folder / "config.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n"
                          f"storage:\n  filesystem:\n    rootdirectory: {self.folder / 'storage'}\n"
                          "  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n")
        self._start([self.exe, "serve", str(config)])

    def _answers(self) -> bool:
        if not self.host:  # the port it was given, from its log: "listening on 127.0.0.1:PORT"
            found = re.search(rb"listening on 127\.0\.0\.1:(\d+)", self.log_path.read_bytes())
            if not found:
                return False
            self.port = int(found.group(1))
            self.host = f"127.0.0.1:{self.port}"
        try:
            urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def __repr__(self) -> str:
        return f"<LocalRegistry {self.host}{'' if self.running else ' (stopped)'}>"


PODMAN_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
"""


class LocalPodman(_Service):
    """Podman's Docker-compatible API at `engine` (a dockerviz.Engine named "podman"), with its own
    storage, trusting `insecure` registries (host:port) over plain HTTP."""

    program = "podman"
    package = "podman"

    def __init__(self, insecure=(), name: str = "podman"):
        super().__init__()
        from .engine import Engine

        self.run: Path | None = None
        # the run root's socket paths must stay short
        self.run = Path(tempfile.mkdtemp(prefix="dvpm-", dir="/tmp"))
        self.sock = self.run / "api.sock"
        (self.folder / "containers.conf").write_text(PODMAN_CONF)
        (self.folder / "registries.conf").write_text("".join(
            f'[[registry]]\nlocation = "{h}"\ninsecure = true\n' for h in insecure))
        env = dict(os.environ, CONTAINERS_CONF=str(self.folder / "containers.conf"),
                   CONTAINERS_REGISTRIES_CONF=str(self.folder / "registries.conf"))
        env.pop("DOCKER_HOST", None)
        self._start([self.exe, "--root", str(self.folder / "root"), "--runroot", str(self.run),
                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                     "system", "service", "--time=0", f"unix://{self.sock}"], env=env)
        self.engine = Engine(f"unix://{self.sock}", name=name)

    def _answers(self) -> bool:
        from .engine_socket import pings

        return self.sock.exists() and pings(str(self.sock))

    def close(self) -> None:
        if self.running and hasattr(self, "engine"):
            from .containers.lifecycle import cleanup

            try:  # containers would outlive the service (conmon keeps them)
                cleanup(all_sessions=True, engine=self.engine)
            except DockervizError:
                pass
        super().close()
        if getattr(self, "run", None) is not None:
            shutil.rmtree(self.run, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<LocalPodman {self.engine.host if hasattr(self, 'engine') else ''}>"
