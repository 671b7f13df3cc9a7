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

__all__ = ["LocalLab", "LocalRegistry", "LocalPodman", "ServiceUnavailableError", "local_lab"]

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


ARM64_BUSYBOX_ENV = "DOCKERVIZ_ARM64_BUSYBOX"
BINFMT_AARCH64 = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
PIECES = ("registry", "podman", "arm64", "binfmt")


class LocalLab:
    """What a notebook about registries, engines and platforms finds on this machine.

    `local_lab()` runs a local registry (`registry`: its host:port) and Podman (`podman`: its
    Engine) when their programs are installed, and looks for a statically linked arm64 busybox
    (`arm64_busybox`: the file $DOCKERVIZ_ARM64_BUSYBOX names, as extracted from Debian's
    busybox-static:arm64) and for binfmt running arm64 binaries through qemu. Each missing
    piece is named in `facts["missing"]`, so the notebook can skip what needs it. Replayed from
    a recording, the facts are the recorded ones and nothing is started.
    """

    def __init__(self, facts: dict, registry=None, podman=None):
        self.facts = facts
        self._registry = registry
        self._podman = podman

    @classmethod
    def start(cls, engine=None) -> "LocalLab":
        missing, registry, podman = [], None, None
        try:
            registry = LocalRegistry()
        except ServiceUnavailableError as exc:
            missing.append(f"registry: {exc}")
        try:
            podman = LocalPodman(insecure=[registry.host] if registry else [])
        except ServiceUnavailableError as exc:
            missing.append(f"podman: {exc}")
        busybox = os.environ.get(ARM64_BUSYBOX_ENV) or ""
        if not (busybox and Path(busybox).is_file()):
            missing.append(f"arm64: no arm64 busybox ({ARM64_BUSYBOX_ENV} names none)")
            busybox = ""
        binfmt = _binfmt_aarch64()
        if not binfmt:
            missing.append("binfmt: arm64 binaries do not run here (qemu-user-static's binfmt entry is not enabled)")
        facts = {"registry": registry.host if registry else "", "podman": podman is not None,
                 "arm64": bool(busybox), "binfmt": binfmt, "missing": missing,
                 "podman_version": _podman_version(podman) if podman else None}
        lab = cls(facts, registry, podman)
        lab.arm64_busybox = busybox
        lab._engine = engine
        return lab

    arm64_busybox = ""  # the arm64 busybox file, live only
    _engine = None  # where what was pulled from the registry is untagged on close

    @property
    def registry(self) -> str:
        """host:port of the local registry ("" when there is none)."""
        return str(self.facts.get("registry") or "")

    @property
    def podman(self):
        """Podman's Engine (None when there is none; replayed, one that is never reached)."""
        if self._podman is not None:
            return self._podman.engine
        if self.facts.get("podman"):
            from .engine import Engine

            return Engine("unix:///nonexistent/podman.sock", name="podman")
        return None

    def has(self, *pieces: str) -> bool:
        """Were all these pieces ("registry", "podman", "arm64", "binfmt") there?"""
        return all(self.facts.get(p) for p in pieces)

    def describe(self) -> str:
        parts = [
            "a registry (docker-registry) on 127.0.0.1" if self.facts.get("registry") else "no registry",
            f"Podman {self.facts.get('podman_version') or ''} with its own storage".replace("  ", " ")
            if self.facts.get("podman") else "no Podman",
            "an arm64 busybox" if self.facts.get("arm64") else "no arm64 busybox",
            "binfmt runs arm64 binaries through qemu" if self.facts.get("binfmt") else "no binfmt for arm64",
        ]
        text = "Here: " + "; ".join(parts) + "."
        if self.facts.get("missing"):
            text += " Skipped: " + "; ".join(self.facts["missing"])
        return text

    def __repr__(self) -> str:
        return self.describe()

    def close(self) -> None:
        """Untag what was pulled into the daemon from the registry, stop Podman, then the registry."""
        if self._registry is not None:
            from . import engine

            client = engine.as_engine(self._engine).client()
            try:
                for image in client.api.images():
                    for ref in [*(image.get("RepoTags") or []), *(image.get("RepoDigests") or [])]:
                        if ref.startswith(self._registry.host + "/"):
                            try:
                                client.api.remove_image(ref, noprune=True)
                            except Exception:
                                pass
            finally:
                client.close()
        if self._podman is not None:
            self._podman.close()
        if self._registry is not None:
            self._registry.close()

    def __enter__(self) -> "LocalLab":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def local_lab(*, engine=None) -> LocalLab:
    """Start the local registry and Podman this machine can run, and say what it has (LocalLab).
    `engine`: the daemon next to them (default: the usual one), where close() untags what was
    pulled from the registry."""
    return LocalLab.start(engine)


def _binfmt_aarch64() -> bool:
    try:
        return BINFMT_AARCH64.read_text().splitlines()[0].strip() == "enabled"
    except (OSError, IndexError):
        return False


def _podman_version(podman) -> str | None:
    try:
        client = podman.engine.client()
        try:
            return str(client.version().get("Version") or "") or None
        finally:
            client.close()
    except DockervizError:
        return None
