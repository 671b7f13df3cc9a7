"""A proxy in front of the real daemon that answers as Docker Engine 29 does.

Engine 29.0-29.2 refuse every API version below 1.44 and speak up to 1.52;
the daemon on this machine (Engine 20.10) speaks up to 1.41. The proxy stands
for the newer engine:

- a request for /v1.43 or older gets Engine 29's HTTP 400, word for word:
  "client version X is too old. Minimum supported API version is 1.44, please
  upgrade your client to a newer version";
- /_ping and every answer carry `Api-Version: 1.52`; /version says
  ApiVersion 1.52, MinAPIVersion 1.44 (and Version 29.1.0);
- newer requests are passed on at the real daemon's newest version, and the
  answers reshaped as 1.52 shapes them where that is cheap: image inspect
  without VirtualSize, Container, ContainerConfig and the empty fields 1.52
  omits, container inspect without the NetworkSettings fields 1.52 removed,
  events without `status`, `id` and `from`; and `docker save` in the format
  Engine 25+ writes (blobs/sha256, manifest.json naming them, index.json), so
  an image's layer names agree with what the daemon's version implies.

Run as `python engine29.py LISTEN_SOCKET REAL_SOCKET`; it prints its
DOCKER_HOST once listening. Everything else (bodies, streams, hijacked
attach/exec connections) passes through unchanged.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

MIN_VERSION = "1.44"
SPEAKS = "1.52"
ENGINE_VERSION = "29.1.0"
_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def _tuple(v: str) -> tuple[int, int]:
    major, minor = v.split(".")[:2]
    return int(major), int(minor)


class Conn:
    """A socket with buffered line and exact reads."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def head(self) -> bytes | None:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def chunks(self):
        """(raw bytes, payload) of each chunk of a chunked body, the last one (size 0) included."""
        while True:
            size_line = self.line()
            size = int(size_line.split(b";", 1)[0] or b"0", 16)
            if size == 0:
                trailer = b""
                while True:
                    t = self.line()
                    trailer += t + b"\r\n"
                    if not t:
                        break
                yield size_line + b"\r\n" + trailer, b""
                return
            payload = self.exact(size)
            self.exact(2)
            yield size_line + b"\r\n" + payload + b"\r\n", payload

    def rest(self):
        if self.buf:
            data, self.buf = self.buf, b""
            yield data
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            yield data


def _headers(head: bytes) -> tuple[bytes, list]:
    lines = head.split(b"\r\n")
    return lines[0], [tuple(h.split(b":", 1)) for h in lines[1:] if b":" in h]


def _get(headers, name: bytes) -> bytes | None:
    for k, v in headers:
        if k.strip().lower() == name:
            return v.strip()
    return None


def _join(first: bytes, headers) -> bytes:
    return first + b"\r\n" + b"".join(k + b":" + v + b"\r\n" for k, v in headers) + b"\r\n"


def _drop(obj, keys, *, only_empty=False):
    if isinstance(obj, dict):
        for k in keys:
            if k in obj and (not only_empty or obj[k] in ("", None, [], {})):
                del obj[k]


def reshape(kind: str, data):
    """A JSON answer as API 1.52 shapes it."""
    if kind == "version":
        data.update(ApiVersion=SPEAKS, MinAPIVersion=MIN_VERSION, Version=ENGINE_VERSION)
        for c in data.get("Components") or []:
            if c.get("Name") == "Engine":
                c["Version"] = ENGINE_VERSION
                c.setdefault("Details", {}).update(ApiVersion=SPEAKS, MinAPIVersion=MIN_VERSION)
    elif kind == "image":
        _drop(data, ("VirtualSize", "Container", "ContainerConfig"))
        _drop(data, ("Parent", "Comment", "DockerVersion", "Author"), only_empty=True)
        _drop(data.get("Config"), ("Cmd", "Entrypoint", "Env", "Labels", "OnBuild", "User", "Volumes",
                                   "WorkingDir"), only_empty=True)
    elif kind == "container":
        _drop(data.get("NetworkSettings"), ("Bridge", "HairpinMode", "LinkLocalIPv6Address", "LinkLocalIPv6PrefixLen",
                                            "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID", "Gateway",
                                            "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen",
                                            "IPv6Gateway", "MacAddress"))
        _drop(data.get("Config"), ("OnBuild",), only_empty=True)
    elif kind == "event":
        _drop(data, ("status", "id", "from"))
    return data


def _kind(method: bytes, path: str) -> str | None:
    path = path.split("?", 1)[0]
    if method != b"GET":
        return None
    if path == "/version":
        return "version"
    if re.match(r"^/images/.+/json$", path):
        return "image"
    if re.match(r"^/containers/[^/]+/json$", path):
        return "container"
    if path == "/events":
        return "event"
    if re.match(r"^/images/.+/get$", path) or path == "/images/get":
        return "save"
    return None


def as_engine25_save(legacy) -> "tempfile._TemporaryFileWrapper":
    """A 20.10 `docker save` tar rewritten as Engine 25+ writes it: blobs/sha256/<digest> for configs and
    (uncompressed) layers, manifest.json naming them, index.json and oci-layout."""
    import hashlib
    import io
    import tarfile

    out = tempfile.TemporaryFile()
    with tarfile.open(fileobj=legacy) as src, tarfile.open(fileobj=out, mode="w") as dst:
        def member(name):
            m = src.getmember(name)
            while m.issym():
                m = src.getmember(os.path.normpath(os.path.join(os.path.dirname(m.name), m.linkname)))
            return src.extractfile(m)

        def add(name, data=None, fileobj=None, size=0):
            info = tarfile.TarInfo(name)
            if data is None and fileobj is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size, info.mode = (len(data) if data is not None else size), 0o644
            info.mtime = 0
            dst.addfile(info, io.BytesIO(data) if data is not None else fileobj)

        manifest = json.load(src.extractfile("manifest.json"))
        add("blobs")
        add("blobs/sha256")
        written, entries, descriptors = set(), [], []
        for image in manifest:
            config = src.extractfile(image["Config"]).read()
            config_hex = hashlib.sha256(config).hexdigest()
            if config_hex not in written:
                add(f"blobs/sha256/{config_hex}", config)
                written.add(config_hex)
            layers = []
            for name in image["Layers"]:
                f = member(name)
                digest = hashlib.sha256()
                size = 0
                while block := f.read(1 << 20):
                    digest.update(block)
                    size += len(block)
                hexd = digest.hexdigest()
                if hexd not in written:
                    f = member(name)
                    add(f"blobs/sha256/{hexd}", fileobj=f, size=size)
                    written.add(hexd)
                layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{hexd}",
                               "size": size})
            body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": f"sha256:{config_hex}", "size": len(config)},
                               "layers": layers}).encode()
            body_hex = hashlib.sha256(body).hexdigest()
            if body_hex not in written:
                add(f"blobs/sha256/{body_hex}", body)
                written.add(body_hex)
            for tag in image.get("RepoTags") or [None]:
                descriptors.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                    "digest": f"sha256:{body_hex}", "size": len(body),
                                    **({"annotations": {"io.containerd.image.name": tag,
                                                        "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[-1]}}
                                       if tag else {})})
            entries.append({"Config": f"blobs/sha256/{config_hex}", "RepoTags": image.get("RepoTags"),
                            "Layers": [f"blobs/sha256/{d['digest'][7:]}" for d in layers]})
        add("index.json", json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                      "manifests": descriptors}).encode())
        add("manifest.json", json.dumps(entries).encode())
        add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    return out


def too_old(version: str) -> bytes:
    body = json.dumps({"message": f"client version {version} is too old. Minimum supported API version is "
                                  f"{MIN_VERSION}, please upgrade your client to a newer version"}).encode() + b"\n"
    return (b"HTTP/1.1 400 Bad Request\r\nApi-Version: " + SPEAKS.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def serve_connection(client_sock: socket.socket, target: str, real_version: str) -> None:
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(target)
    client, server = Conn(client_sock), Conn(upstream)
    queue: list = []
    ready = threading.Condition()

    def requests():
        try:
            while True:
                head = client.head()
                if head is None:
                    break
                first, headers = _headers(head)
                method, target_path, proto = first.split(b" ", 2)
                path = target_path.decode("latin-1")
                m = _VERSIONED.match(path)
                local = None
                if m:
                    asked = f"{m.group(1)}.{m.group(2)}"
                    if _tuple(asked) < _tuple(MIN_VERSION):
                        local = too_old(asked)
                    else:
                        sent = asked if _tuple(asked) <= _tuple(real_version) else real_version
                        path = f"/v{sent}{m.group(3)}"
                bare = m.group(3) if m else path
                upgrade = _get(headers, b"upgrade") is not None
                closes = proto.strip() == b"HTTP/1.0" or (_get(headers, b"connection") or b"").lower() == b"close"
                entry = {"local": local, "kind": _kind(method, bare), "upgrade": upgrade, "head": method == b"HEAD",
                         "close": closes}
                body = []
                length = _get(headers, b"content-length")
                if _get(headers, b"transfer-encoding") is not None:
                    body = [raw for raw, _ in client.chunks()]
                elif length:
                    body = [client.exact(int(length))]
                with ready:
                    queue.append(entry)
                    ready.notify()
                if local is None:
                    upstream.sendall(_join(b" ".join((method, path.encode("latin-1"), proto)), headers) + b"".join(body))
                if upgrade and local is None:
                    for data in client.rest():
                        upstream.sendall(data)
                    break
        except (OSError, EOFError, ValueError):
            pass
        finally:
            with ready:
                queue.append(None)
                ready.notify()
            _shut(upstream, socket.SHUT_WR)

    def responses():
        try:
            while True:
                with ready:
                    while not queue:
                        ready.wait()
                    entry = queue.pop(0)
                if entry is None:
                    break
                if entry["local"] is not None:
                    client_sock.sendall(entry["local"])
                    if entry["close"]:
                        break
                    continue
                head = server.head()
                if head is None:
                    break
                first, headers = _headers(head)
                status = int(first.split(b" ")[1])
                headers = [(k, b" " + SPEAKS.encode()) if k.strip().lower() == b"api-version" else (k, v)
                           for k, v in headers]
                chunked = _get(headers, b"transfer-encoding") is not None
                length = _get(headers, b"content-length")
                kind = entry["kind"] if status == 200 else None
                if status == 101 or (entry["upgrade"] and status == 200 and not length and not chunked):
                    client_sock.sendall(_join(first, headers))
                    for data in server.rest():
                        client_sock.sendall(data)
                    break
                if entry["head"] or status in (204, 304) or (length is not None and not chunked
                                                              and kind in (None, "event")):
                    client_sock.sendall(_join(first, headers))
                    if not entry["head"] and length:
                        client_sock.sendall(server.exact(int(length)))
                    if entry["close"]:
                        break
                    continue
                if kind == "event" and chunked:
                    client_sock.sendall(_join(first, headers))
                    for raw, payload in server.chunks():
                        if payload:
                            lines = [json.dumps(reshape("event", json.loads(x))).encode()
                                     for x in payload.splitlines() if x.strip()]
                            payload = b"\n".join(lines) + b"\n"
                            raw = b"%x\r\n" % len(payload) + payload + b"\r\n"
                        client_sock.sendall(raw)
                    if entry["close"]:
                        break
                    continue
                if kind == "save":
                    with tempfile.TemporaryFile() as legacy:
                        if chunked:
                            for _, payload in server.chunks():
                                legacy.write(payload)
                        elif length is not None:
                            legacy.write(server.exact(int(length)))
                        else:
                            for data in server.rest():
                                legacy.write(data)
                        legacy.seek(0)
                        oci = as_engine25_save(legacy)
                    headers = [(k, v) for k, v in headers
                               if k.strip().lower() not in (b"content-length", b"transfer-encoding")]
                    headers.append((b"Content-Length", b" " + str(oci.seek(0, 2)).encode()))
                    oci.seek(0)
                    client_sock.sendall(_join(first, headers))
                    while block := oci.read(1 << 20):
                        client_sock.sendall(block)
                    oci.close()
                    if entry["close"] or (length is None and not chunked):
                        break
                    continue
                if kind is not None and kind != "event":
                    if chunked:
                        body = b"".join(p for _, p in server.chunks())
                    elif length is not None:
                        body = server.exact(int(length))
                    else:
                        body = b"".join(server.rest())
                    body = json.dumps(reshape(kind, json.loads(body))).encode() + b"\n"
                    headers = [(k, v) for k, v in headers
                               if k.strip().lower() not in (b"content-length", b"transfer-encoding")]
                    headers.append((b"Content-Length", b" " + str(len(body)).encode()))
                    client_sock.sendall(_join(first, headers) + body)
                    if entry["close"] or (length is None and not chunked):
                        break
                    continue
                client_sock.sendall(_join(first, headers))
                if chunked:
                    for raw, _ in server.chunks():
                        client_sock.sendall(raw)
                    if entry["close"]:
                        break
                else:  # ended by closing
                    for data in server.rest():
                        client_sock.sendall(data)
                    break
        except (OSError, EOFError, ValueError):
            pass
        finally:
            for s in (client_sock, upstream):
                _shut(s)
                s.close()

    threading.Thread(target=requests, daemon=True).start()
    threading.Thread(target=responses, daemon=True).start()


def _shut(s: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    try:
        s.shutdown(how)
    except OSError:
        pass


def _real_version(target: str) -> str:
    s = socket.socket(socket.AF_UNIX)
    s.connect(target)
    s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    data = b""
    while True:
        more = s.recv(65536)
        if not more:
            break
        data += more
    s.close()
    _, headers = _headers(data.partition(b"\r\n\r\n")[0])
    return (_get(headers, b"api-version") or b"1.41").decode()


def main(listen: str, target: str) -> None:
    real = _real_version(target)
    if os.path.exists(listen):
        os.unlink(listen)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(listen)
    srv.listen(64)
    print(f"unix://{listen}", flush=True)
    while True:
        c, _ = srv.accept()
        try:
            serve_connection(c, target, real)
        except OSError:
            c.close()


def start(listen: str, target: str) -> tuple[subprocess.Popen, str]:
    """Start the proxy as a child process; (process, its DOCKER_HOST)."""
    from support.proxy import spawn

    return spawn([os.path.abspath(__file__), listen, target])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])


# -- the test session's switch -------------------------------------------------------------------

SWITCH = "DOCKERVIZ_TEST_ENGINE"  # =29: every daemon test talks to the daemon through this proxy
REAL_HOST = "DOCKERVIZ_TEST_REAL_DOCKER_HOST"
# tools whose own clients predate 1.44 talk to the real daemon; dive negotiates its version, so it goes through
# the proxy and reads the save stream in the shape Engine 29 gives it (a repeated layer's blob named twice)
PEERS = ("docker", "skopeo")


def wanted() -> bool:
    return os.environ.get(SWITCH, "").strip() == "29"


def session_start(workdir: str) -> subprocess.Popen | None:
    """When SWITCH is 29: start the proxy, point DOCKER_HOST at it for this process and its children, and
    put shims for the peer tools first on PATH (they keep the real daemon). None otherwise."""
    if not wanted():
        return None
    real = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not real.startswith("unix://"):
        raise RuntimeError(f"{SWITCH}=29 fronts a unix-socket daemon, not {real}")
    proc, host = start(os.path.join(workdir, "engine29.sock"), real[len("unix://"):])
    shims = os.path.join(workdir, "peers")
    os.makedirs(shims, exist_ok=True)
    path = os.environ.get("PATH", "")
    for tool in PEERS:
        found = _which(tool, path)
        if found:
            shim = os.path.join(shims, tool)
            with open(shim, "w") as f:
                f.write(f'#!/bin/sh\nDOCKER_HOST="${REAL_HOST}" exec {found} "$@"\n')
            os.chmod(shim, 0o755)
    os.environ[REAL_HOST] = real
    os.environ["DOCKER_HOST"] = host
    os.environ["PATH"] = shims + os.pathsep + path
    return proc


def _which(tool: str, path: str) -> str | None:
    import shutil

    return shutil.which(tool, path=path)


def session_stop(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        from support.proxy import stop

        stop(proc)
