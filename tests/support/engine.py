"""A Docker Engine for the test session, found or started, never left hanging.

Order of preference:

1. the daemon at DOCKER_HOST, when that variable is set and the daemon answers;
2. the daemon at the default socket (unix:///var/run/docker.sock);
3. an installed `dockerd`, started in the background (root only), logging to a
   temporary file;
4. as root on Debian, `apt-get install -y docker.io`, then as 3.

Every network call has a short timeout and every wait a deadline, so a dead or
wedged daemon costs seconds, not a hung CI job. `Engine.stop()` stops only a
dockerd this module started.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_HOST = f"unix://{DEFAULT_SOCKET}"
DOCKERD_PIDFILE = "/var/run/docker.pid"

PING_TIMEOUT = 3.0  # seconds for one "are you there" call
START_TIMEOUT = 60.0  # seconds for a started dockerd to answer
APT_TIMEOUT = 900.0  # seconds for each apt-get call
STOP_TIMEOUT = 20.0  # seconds for dockerd to exit after SIGTERM

# Used when a started dockerd exits straight away: inside some containers
# iptables is not usable, and the tests run with network_mode="none" anyway.
FALLBACK_DOCKERD_ARGS = ["--iptables=false", "--ip6tables=false", "--bridge=none"]

# Environment variables docker-py reads besides DOCKER_HOST.
_DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")


class EngineUnavailable(RuntimeError):
    """No Docker daemon could be found, started or installed."""


def _log(msg: str) -> None:
    print(f"[engine] {msg}", flush=True)


def _with_deadline(fn, timeout: float):
    """Run fn() in a daemon thread; None if it has not returned within timeout.

    docker-py's own timeouts cover socket reads, not every way a connect can
    stall (ssh:// hosts, half-open TCP), so the deadline is enforced here too.
    """
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # reported to the caller as "no answer"
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive() or "error" in box:
        return None
    return box.get("value")


def _make_client(base_url: str | None, timeout: float, version: str = "auto"):
    """A DockerClient for base_url, or from the environment when base_url is None."""
    import docker

    if base_url is None:
        return docker.from_env(timeout=timeout, version=version)
    return docker.DockerClient(base_url=base_url, timeout=timeout, version=version)


def ping(base_url: str | None = None, timeout: float = PING_TIMEOUT) -> bool:
    """True when a daemon answers at base_url (None: as the environment says)."""

    def probe():
        # "auto" asks the unversioned /version first: a daemon refusing old API versions (Engine 29
        # below 1.44) would refuse a ping at a version pinned low
        c = _make_client(base_url, timeout=timeout, version="auto")
        try:
            return bool(c.ping())
        finally:
            c.close()

    return bool(_with_deadline(probe, timeout + 2.0))


def find_dockerd() -> str | None:
    found = shutil.which("dockerd")
    if found:
        return found
    for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"):
        p = Path(d, "dockerd")
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _is_debian() -> bool:
    return Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_dockerd_pid() -> int | None:
    try:
        pid = int(Path(DOCKERD_PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _run_bounded(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _log("$ " + " ".join(cmd))
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
    )


def install_docker_io() -> None:
    """apt-get install docker.io (root on Debian only)."""
    if not (_is_root() and _is_debian()):
        raise EngineUnavailable(
            "dockerd is not installed and this is not root on Debian, so it cannot be installed here. "
            "Install Docker Engine (Debian: `apt-get install -y docker.io`) or set DOCKER_HOST."
        )
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "docker.io"]):
        try:
            r = _run_bounded(cmd, APT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise EngineUnavailable(f"`{' '.join(cmd)}` did not finish within {APT_TIMEOUT:.0f} s") from None
        if r.returncode != 0:
            tail = "\n".join(r.stdout.splitlines()[-20:])
            raise EngineUnavailable(f"`{' '.join(cmd)}` failed (exit {r.returncode}):\n{tail}")


def _tail(path: str | None, lines: int = 25) -> str:
    if not path:
        return ""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Engine:
    """The daemon the session uses, and what (if anything) was started for it."""

    base_url: str | None  # None: docker-py's from_env() (DOCKER_HOST and TLS variables)
    process: subprocess.Popen | None = None  # a dockerd this module started
    log_path: str | None = None
    installed_docker_io: bool = False
    stopped: bool = False
    _saved_env: dict | None = field(default=None, repr=False)

    @property
    def started(self) -> bool:
        return self.process is not None

    def client(self, timeout: float | None = 900.0):
        """A DockerClient speaking the daemon's newest API version (docker-py's own negotiation,
        independent of dockerviz's). Long timeout: builds, save and export can wait a long time for
        their first byte."""
        return _make_client(self.base_url, timeout=timeout, version="auto")

    def describe(self) -> str:
        where = self.base_url or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        how = f"started here, pid {self.process.pid}, log {self.log_path}" if self.process else "already running"
        return f"{where} ({how})"

    def stop(self) -> None:
        """Stop the dockerd started here (if any) and restore DOCKER_HOST. Idempotent."""
        proc, self.process = self.process, None
        if proc is not None:
            self.stopped = True
        if proc is not None and proc.poll() is None:
            _log(f"stopping dockerd pid {proc.pid}")
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _log(f"dockerd pid {proc.pid} ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killing its process group")
                # start_new_session=True made proc.pid the group id: only what was started here
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        if self._saved_env is not None:
            for k, v in self._saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            self._saved_env = None


def _point_env_at(host: str) -> dict:
    """Make DOCKER_HOST=host for this process and its children (the dockerviz CLI,
    dive); return the previous values for Engine.stop() to restore."""
    saved = {k: os.environ.get(k) for k in _DOCKER_ENV}
    for k in _DOCKER_ENV:
        os.environ.pop(k, None)
    os.environ["DOCKER_HOST"] = host
    return saved


def _start_dockerd(dockerd: str, extra_args: list[str], timeout: float) -> Engine:
    log_fd, log_path = tempfile.mkstemp(prefix="dockerviz-test-dockerd-", suffix=".log")
    cmd = [dockerd, *extra_args]
    _log(f"starting {' '.join(cmd)} (log: {log_path})")
    with os.fdopen(log_fd, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in pytest must not kill it mid-write
            close_fds=True,
        )
    engine = Engine(base_url=DEFAULT_HOST, process=proc, log_path=log_path)
    atexit.register(engine.stop)  # in case the session ends without its finalizer
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            engine.process = None
            raise EngineUnavailable(
                f"dockerd exited with status {proc.returncode} right after start; log {log_path}:\n{_tail(log_path)}"
            )
        if ping(DEFAULT_HOST, timeout=2.0):
            _log(f"dockerd pid {proc.pid} answers at {DEFAULT_HOST}")
            return engine
        time.sleep(0.5)
    engine.stop()
    raise EngineUnavailable(
        f"dockerd (pid {proc.pid}) did not answer within {timeout:.0f} s; log {log_path}:\n{_tail(log_path)}"
    )


_ENGINE: Engine | None = None


def forget() -> None:
    """Drop the cached Engine (not stopping it): the next ensure_engine() looks again, from DOCKER_HOST."""
    global _ENGINE
    _ENGINE = None


def ensure_engine(timeout: float = START_TIMEOUT, install: bool = True) -> Engine:
    """Find or start a Docker daemon; raise EngineUnavailable with the reason if none.

    The result is cached for the process: later calls return the same Engine.
    """
    global _ENGINE
    if _ENGINE is not None and not _ENGINE.stopped and (_ENGINE.process is None or _ENGINE.process.poll() is None):
        return _ENGINE

    env_host = os.environ.get("DOCKER_HOST")
    if env_host:
        if ping(None):
            _ENGINE = Engine(base_url=None)
            return _ENGINE
        _log(f"DOCKER_HOST={env_host} does not answer; trying the default socket")

    if ping(DEFAULT_HOST):
        _ENGINE = Engine(base_url=DEFAULT_HOST, _saved_env=_point_env_at(DEFAULT_HOST) if env_host else None)
        return _ENGINE

    if not _is_root():
        raise EngineUnavailable(
            f"No Docker daemon answers at {env_host or DEFAULT_HOST}, and starting one needs root. "
            "Start dockerd, or point DOCKER_HOST at a running daemon."
        )
    other = _running_dockerd_pid()
    if other is not None:
        # a daemon on a busy machine may take more than one ping's time to answer: keep asking a while
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ping(DEFAULT_HOST):
                _ENGINE = Engine(base_url=DEFAULT_HOST, _saved_env=_point_env_at(DEFAULT_HOST) if env_host else None)
                return _ENGINE
            time.sleep(0.5)
        raise EngineUnavailable(
            f"A dockerd is running (pid {other}, from {DOCKERD_PIDFILE}) but does not answer at {DEFAULT_HOST}; "
            "not starting a second one. Check that daemon's log."
        )

    installed = False
    dockerd = find_dockerd()
    if dockerd is None:
        if not install:
            raise EngineUnavailable("dockerd is not installed (Debian: apt-get install -y docker.io)")
        _log("dockerd not found: installing docker.io with apt-get")
        install_docker_io()
        installed = True
        dockerd = find_dockerd()
        if dockerd is None:
            raise EngineUnavailable("apt-get install docker.io succeeded but no dockerd is on PATH")
        # the package's maintainer scripts may have started the service already
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if ping(DEFAULT_HOST, timeout=1.0):
                _ENGINE = Engine(
                    base_url=DEFAULT_HOST,
                    installed_docker_io=True,
                    _saved_env=_point_env_at(DEFAULT_HOST) if env_host else None,
                )
                return _ENGINE
            time.sleep(0.5)

    saved = _point_env_at(DEFAULT_HOST) if env_host else None
    try:
        try:
            engine = _start_dockerd(dockerd, [], timeout)
        except EngineUnavailable as first:
            if _running_dockerd_pid() is not None:
                raise
            _log(f"first start failed; retrying with {' '.join(FALLBACK_DOCKERD_ARGS)}\n{first}")
            engine = _start_dockerd(dockerd, FALLBACK_DOCKERD_ARGS, timeout)
    except BaseException:
        if saved is not None:
            Engine(base_url=None, _saved_env=saved).stop()
        raise
    engine.installed_docker_io = installed
    engine._saved_env = saved
    _ENGINE = engine
    return _ENGINE


# --- no daemon at all ------------------------------------------------------


def dead_socket_url(directory: str | os.PathLike | None = None) -> str:
    """A unix:// URL whose socket file does not exist, so nothing can listen on it."""
    d = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="dockerviz-nodaemon-"))
    return f"unix://{d / 'nothing-listens-here.sock'}"


def offline_environ(base: dict | None = None, directory: str | os.PathLike | None = None) -> dict:
    """A copy of the environment (for a subprocess) whose Docker variables point nowhere."""
    env = dict(os.environ if base is None else base)
    for k in _DOCKER_ENV:
        env.pop(k, None)
    env["DOCKER_HOST"] = dead_socket_url(directory)
    return env


@contextlib.contextmanager
def pointing_nowhere(directory: str | os.PathLike | None = None):
    """Inside the block DOCKER_HOST names a socket nothing listens on; restored after.

    Yields that URL. Changes this process's environment: do not use from threads.
    """
    saved = {k: os.environ.get(k) for k in _DOCKER_ENV}
    for k in _DOCKER_ENV:
        os.environ.pop(k, None)
    url = dead_socket_url(directory)
    os.environ["DOCKER_HOST"] = url
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_offline(fn, *args, **kwargs):
    """fn(*args, **kwargs) with DOCKER_HOST pointed at a socket nothing listens on."""
    with pointing_nowhere():
        return fn(*args, **kwargs)
