"""Remote engines for the tests, on loopback only.

- `make_ca(folder)`: a CA the tests make, with a server certificate for 127.0.0.1
  and a client certificate (openssl, EC keys: fast).
- `TLSDaemon`: a second dockerd on a TCP port with --tlsverify, its own
  --data-root, --exec-root, --pidfile and unix socket, no networking of its own
  (--bridge=none, no iptables: the shared daemon's rules are left alone).
- `SSHServer`: openssh-server on a loopback port with a host key and a user key
  made here; a client HOME holding that key and the host key in known_hosts,
  so `DOCKER_HOST=ssh://root@127.0.0.1:PORT` reaches the shared daemon.

Every process is started here and stopped by `stop()`; every wait has a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .engine import find_dockerd

START_TIMEOUT = 60.0


class RemoteUnavailable(RuntimeError):
    pass


def wait_for(cond, timeout=30.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, **kw) -> None:
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise RemoteUnavailable(f"`{' '.join(map(str, cmd))}` failed: {r.stderr.strip()[-500:]}")


def _key(path: Path) -> None:
    _run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", str(path)])


def _signed(folder: Path, ca: Path, name: str, subject: str, ext: str) -> None:
    _key(folder / f"{name}-key.pem")
    (folder / f"{name}.ext").write_text(ext)
    _run(["openssl", "req", "-new", "-key", str(folder / f"{name}-key.pem"), "-subj", subject,
          "-out", str(folder / f"{name}.csr")])
    _run(["openssl", "x509", "-req", "-in", str(folder / f"{name}.csr"), "-CA", str(ca / "ca.pem"),
          "-CAkey", str(ca / "ca-key.pem"), "-CAcreateserial", "-days", "3", "-extfile", str(folder / f"{name}.ext"),
          "-out", str(folder / f"{name}.pem")])


def make_ca(folder: Path, *, server: bool = True) -> Path:
    """folder/ca.pem (+ ca-key.pem), server.pem/server-key.pem for 127.0.0.1, and a client
    folder folder/client holding ca.pem, cert.pem, key.pem as DOCKER_CERT_PATH wants them."""
    if shutil.which("openssl") is None:
        raise RemoteUnavailable("openssl is not installed (Debian: apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    _key(folder / "ca-key.pem")
    _run(["openssl", "req", "-x509", "-new", "-key", str(folder / "ca-key.pem"), "-days", "3",
          "-subj", f"/CN=dockerviz test CA {folder.name}", "-out", str(folder / "ca.pem")])
    if server:
        _signed(folder, folder, "server", "/CN=127.0.0.1",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _signed(folder, folder, "client", "/CN=dockerviz-test-client", "extendedKeyUsage=clientAuth\n")
    client = folder / "client"
    client.mkdir(exist_ok=True)
    shutil.copy(folder / "ca.pem", client / "ca.pem")
    shutil.copy(folder / "client.pem", client / "cert.pem")
    shutil.copy(folder / "client-key.pem", client / "key.pem")
    return client


class TLSDaemon:
    """A dockerd with --tlsverify on tcp://127.0.0.1:PORT."""

    def __init__(self, folder: Path):
        exe = find_dockerd()
        if exe is None:
            raise RemoteUnavailable("dockerd is not installed (Debian: apt-get install docker.io)")
        self.folder = folder
        self.certs = folder / "ca"
        self.cert_path = make_ca(self.certs)
        self.port = free_port()
        self.host = f"tcp://127.0.0.1:{self.port}"
        self.sock = folder / "docker.sock"
        c = self.certs
        self.log = open(folder / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [exe, "--tlsverify", f"--tlscacert={c / 'ca.pem'}", f"--tlscert={c / 'server.pem'}",
             f"--tlskey={c / 'server-key.pem'}", "-H", self.host, "-H", f"unix://{self.sock}",
             f"--data-root={folder / 'data'}", f"--exec-root={folder / 'exec'}", f"--pidfile={folder / 'docker.pid'}",
             "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false", "--ip-masq=false"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RemoteUnavailable(f"the TLS dockerd did not answer; its log:\n{self.tail()}")
            time.sleep(0.3)

    @property
    def env(self) -> dict:
        return {"DOCKER_HOST": self.host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(self.cert_path)}

    def _answers(self) -> bool:
        r = subprocess.run(["docker", "-H", f"unix://{self.sock}", "version", "--format", "{{.Server.Version}}"],
                           capture_output=True, timeout=10, env=_cli_env())
        return r.returncode == 0

    def load(self, archive) -> None:
        """`docker load` an archive (from the shared daemon's save stream) into this daemon."""
        with open(archive, "rb") as f:
            r = subprocess.run(["docker", "-H", f"unix://{self.sock}", "load", "-q"], stdin=f, capture_output=True,
                               timeout=120, env=_cli_env())
        if r.returncode != 0:
            raise RemoteUnavailable(f"docker load into the TLS daemon failed: {r.stderr.decode()[-300:]}")

    def cli(self, *args, timeout: float = 60) -> str:
        r = subprocess.run(["docker", "-H", f"unix://{self.sock}", *args], capture_output=True, text=True,
                           timeout=timeout, env=_cli_env())
        if r.returncode != 0:
            raise RemoteUnavailable(f"docker {' '.join(args)}: {r.stderr.strip()[-300:]}")
        return r.stdout

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join((self.folder / "dockerd.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        _stop(self.proc, timeout=20)
        self.log.close()


def _cli_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return env


def _stop(proc, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {folder}/host_key
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
"""


class SSHServer:
    """sshd on 127.0.0.1:PORT accepting one user key for root; `home` is a client HOME
    (~/.ssh/id_ed25519 and known_hosts) and `other_home` one whose key is not accepted."""

    def __init__(self, folder: Path):
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.path.exists(sshd) or shutil.which("ssh-keygen") is None:
            raise RemoteUnavailable("openssh-server is not installed (Debian: apt-get install openssh-server)")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"ssh://root@127.0.0.1:{self.port}"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host_key")])
        self.home = self._client_home("home")
        self.other_home = self._client_home("other-home")
        (folder / "authorized_keys").write_text((self.home / ".ssh" / "id_ed25519.pub").read_text())
        (folder / "sshd_config").write_text(SSHD_CONFIG.format(port=self.port, folder=folder))
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        self.log = open(folder / "sshd.log", "wb")
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(folder / "sshd_config"), "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RemoteUnavailable(f"sshd did not listen; its log:\n{self.tail()}")
            time.sleep(0.1)

    def _client_home(self, name: str) -> Path:
        home = self.folder / name
        ssh = home / ".ssh"
        ssh.mkdir(parents=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "id_ed25519")])
        host_pub = (self.folder / "host_key.pub").read_text().split()
        (ssh / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        return home

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join((self.folder / "sshd.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        _stop(self.proc, timeout=10)
        self.log.close()
