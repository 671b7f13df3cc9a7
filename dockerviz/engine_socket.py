"""The engine adapter's socket side: the API of a daemon on this machine, over its unix socket,
without docker-py.

Cheap calls for the common case (inspect an image, stream `docker save`):
docker-py costs ~0.1 s to import and copies a save stream more than once.
Anything unexpected raises LocalUnavailable or _NotFound and the caller goes
through docker-py, which words errors for people.
"""

from __future__ import annotations

import json
import os
import socket
import stat

from . import engine
from .errors import DaemonError

DEFAULT_SOCKET = "/var/run/docker.sock"


class LocalUnavailable(Exception):
    """The local store cannot be used; the message says why (shown when a path was forced)."""


def local_socket() -> str | None:
    """The unix socket of the daemon docker-py would talk to, when it is one on this machine."""
    from .contexts import from_environment
    from .errors import DockervizError

    try:
        host = from_environment().host  # DOCKER_HOST, DOCKER_CONTEXT or `docker context use`
    except DockervizError:
        return None  # docker-py's path words the unknown context for people
    if not host.startswith("unix://"):
        return None
    path = host[len("unix://"):]
    try:
        return path if stat.S_ISSOCK(os.stat(path).st_mode) else None
    except OSError:
        return None


class _NotFound(Exception):
    pass


def _exchange(sock_path: str, path: str, timeout: float, accept: str = "application/json") -> tuple[int, bytes, bytes]:
    """One HTTP/1.0 GET over the unix socket: (status, raw head, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\nAccept: {accept}\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise LocalUnavailable(f"the daemon socket {sock_path} did not answer ({exc})") from None
    finally:
        s.close()
    data = b"".join(chunks)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise LocalUnavailable(f"the daemon socket {sock_path} gave no HTTP answer")
    if b"transfer-encoding: chunked" in head.lower():
        try:
            body = _unchunk(body)
        except ValueError:
            raise LocalUnavailable(f"the daemon socket {sock_path} sent a chunked body that does not parse") from None
    return _status(head), head, body


def pings(sock_path: str, timeout: float = 5.0) -> bool:
    """Does GET /_ping answer 200 on that socket? (Podman answers it at once, /version only after
    running its OCI runtime.)"""
    try:
        return _exchange(sock_path, "/_ping", timeout, accept="text/plain")[0] == 200
    except LocalUnavailable:
        return False


def _status(head: bytes) -> int:
    status_line = head.split(b"\r\n", 1)[0].split()
    return int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0


def _headers(head: bytes) -> dict:
    out = {}
    for line in head.split(b"\r\n")[1:]:
        key, _, v = line.partition(b":")
        out[key.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return out


_NEGOTIATED: dict[tuple, str] = {}  # (socket path, its inode) -> API version


def api_prefix(sock_path: str, timeout: float = 10.0) -> str:
    """"/v{N}" for the daemon on this socket, N negotiated once per socket (engine.negotiate)."""
    try:
        key = (sock_path, os.stat(sock_path).st_ino)
    except OSError as exc:
        raise LocalUnavailable(f"the daemon socket {sock_path} is gone ({exc})") from None
    version = _NEGOTIATED.get(key)
    if version is None:
        def fetch(path):
            status, head, body = _exchange(sock_path, path, timeout)
            return status, _headers(head), body
        try:
            version = engine.negotiate(fetch)
        except DaemonError as exc:
            raise LocalUnavailable(str(exc)) from None
        _NEGOTIATED[key] = version
    return f"/v{version}"


def api_get(sock_path: str, path: str, timeout: float = 10.0):
    """GET a daemon API path over a unix socket, at the negotiated version; the decoded JSON.

    Raises _NotFound on 404 and LocalUnavailable on anything else unexpected,
    so the caller can fall back to docker-py, which words errors for people.
    """
    status, head, body = _exchange(sock_path, api_prefix(sock_path, timeout) + path, timeout)
    if status == 404:
        raise _NotFound()
    if status != 200:
        raise LocalUnavailable(f"the daemon answered {status} to {path}")
    try:
        value = json.loads(body)
    except ValueError:
        raise LocalUnavailable(f"the daemon's answer to {path} is not JSON") from None
    if isinstance(value, dict):
        version = _headers(head).get("api-version")
        if version:
            value["_api_version"] = version
    return value


class SocketBody:
    """The body of an HTTP/1.0 answer (the daemon ends it by closing), read into a buffer the caller
    reuses: one copy, from the kernel."""

    def __init__(self, sock: socket.socket, first: bytes):
        self._sock = sock
        self._first = first

    def readinto(self, buf) -> int:
        if self._first:
            n = min(len(buf), len(self._first))
            buf[:n] = self._first[:n]
            self._first = self._first[n:]
            return n
        return self._sock.recv_into(buf)

    def close(self) -> None:
        self._sock.close()


WAIT_TICK = 0.5  # seconds between on_wait calls while the daemon prepares its answer


def api_stream(sock_path: str, path: str, *, timeout: float | None = None, on_wait=None) -> SocketBody:
    """GET a daemon API path over a unix socket; its body, unread.

    HTTP/1.0, so the daemon sends the body as it is and ends it by closing:
    the `docker save` stream without loading docker-py. The status is checked
    before returning; anything but 200 raises LocalUnavailable (or _NotFound)
    so the caller can go through docker-py instead. `on_wait()` is called
    every half second until the answer starts: a daemon may prepare a whole
    export before its first byte.
    """
    prefix = api_prefix(sock_path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(f"GET {prefix}{path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        head = b""
        waited = 0.0
        if on_wait is not None:
            s.settimeout(WAIT_TICK)
        while b"\r\n\r\n" not in head:
            try:
                more = s.recv(1 << 16)
            except TimeoutError:
                waited += WAIT_TICK
                if timeout is not None and waited >= timeout:
                    raise
                on_wait()
                continue
            if not more:
                raise LocalUnavailable(f"the daemon socket {sock_path} gave no HTTP answer")
            head += more
        s.settimeout(timeout)
    except OSError as exc:
        s.close()
        raise LocalUnavailable(f"the daemon socket {sock_path} did not answer ({exc})") from None
    except BaseException:
        s.close()
        raise
    try:
        first = split_head(head, path)
    except BaseException:
        s.close()
        raise
    return SocketBody(s, first or b"")


def split_head(data: bytes, path: str) -> bytes | None:
    """The body bytes after a complete head of a 200 answer; None while the head is incomplete.

    Anything but 200 raises LocalUnavailable (or _NotFound for 404), as api_stream does."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    status = _status(head)
    if status != 200 or b"transfer-encoding: chunked" in head.lower():
        if status == 404:
            raise _NotFound()
        raise LocalUnavailable(f"the daemon answered {status} to {path}")
    return rest


def send_request(sock_path: str, path: str) -> socket.socket:
    """Connect and send `GET path` (HTTP/1.0, the negotiated version); the socket, non-blocking, its
    answer unread: for one reader waiting on many answers at once (split_head reads each head)."""
    prefix = api_prefix(sock_path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock_path)
        s.sendall(f"GET {prefix}{path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
    except OSError as exc:
        s.close()
        raise LocalUnavailable(f"the daemon socket {sock_path} did not answer ({exc})") from None
    s.setblocking(False)
    return s


def _unchunk(body: bytes) -> bytes:
    out = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        size = int(body[pos:eol].split(b";", 1)[0] or b"0", 16)
        if size == 0:
            break
        out.append(body[eol + 2: eol + 2 + size])
        pos = eol + 2 + size + 2
    return b"".join(out)


_PATH_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/:@")


def quote_path(text: str) -> str:
    """urllib.parse.quote(text, safe="/:@") without importing urllib.parse (and ipaddress with it)."""
    return "".join(chr(b) if b in _PATH_SAFE else f"%{b:02X}" for b in text.encode("utf-8", "surrogatepass"))


def inspect_local(reference: str) -> dict | None:
    """/images/{ref}/json over the local socket; None when there is no local socket, it fails or the
    image is not there: the caller then asks docker-py, which words a missing image for people."""
    sock = local_socket()
    if sock is None:
        return None
    try:
        return api_get(sock, f"/images/{quote_path(reference)}/json")
    except (_NotFound, LocalUnavailable):
        return None


