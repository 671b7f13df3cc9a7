"""A real registry on loopback for the tests: Debian's `docker-registry` (CNCF distribution 2.8).

- TLS from a CA made here with openssl (server certificate for 127.0.0.1 and
  localhost), an htpasswd user (bcrypt, `htpasswd -B` from apache2-utils).
- `token()` starts a second registry process over the same storage that asks
  for bearer tokens instead, and a small token service (TokenServer) that
  stands for a real registry's (Docker Hub's auth.docker.io, a Harbor or
  GitLab token endpoint): it checks the same user's password and signs a JWT
  (RS256, with its certificate in `x5c`) that the registry verifies against
  the certificate bundle it is configured with.
- `written(since)` counts the bytes the registry says it sent
  (`http.response.written` in its log) to requests made with a User-Agent,
  so the tests measure downloads at the registry side.
- Images go in with `skopeo copy` (any compression) or a docker push through
  the shared daemon (which reads /etc/docker/certs.d/127.0.0.1:PORT/ca.crt).
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from . import stop_process

USER = "dvuser"
PASSWORD = "dv-secret-pw"
SERVICE = "dockerviz-test-registry"
ISSUER = "dockerviz-test-token-service"
IDENTITY_TOKEN = "dv-refresh-token-1"
START_TIMEOUT = 20


class RegistryUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key) for 127.0.0.1 and localhost, signed by a CA made here."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
          "-days", "3", "-subj", "/CN=dockerviz test CA"])
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
          "-subj", "/CN=127.0.0.1"])
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
          "-out", crt, "-days", "3", "-extfile", ext])
    return ca_crt, crt, key


def _config(storage: Path, port: int, crt: Path | None, key: Path | None, auth: str) -> str:
    tls = f"  tls:\n    certificate: {crt}\n    key: {key}\n" if crt else ""
    return f"""version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{tls}{auth}"""


class _Process:
    def __init__(self, folder: Path, name: str, config: str, port: int, ca: Path):
        self.port = port
        self.config = folder / f"{name}.yml"
        self.config.write_text(config)
        self.log = folder / f"{name}.log"
        self._log = open(self.log, "ab")  # noqa: SIM115 - held by the running process until stop()
        exe = shutil.which("docker-registry")
        if exe is None:
            raise RegistryUnavailable("docker-registry is not installed (apt-get install docker-registry; "
                                      "bash tests/run.sh does this)")
        self.proc = subprocess.Popen([exe, "serve", str(self.config)], stdout=self._log, stderr=subprocess.STDOUT)
        ctx = self.ctx = ssl.create_default_context(cafile=str(ca))
        self.tls = "tls:" in config
        scheme = "https" if self.tls else "http"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/v2/", context=ctx, timeout=2)
                break
            except urllib.error.HTTPError:
                break  # 401: it answers
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RegistryUnavailable(f"docker-registry did not start: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def settle(self, timeout: float = 30.0) -> None:
        """Return once every request answered so far is in the log: the registry writes a request's
        "response completed" line after its response, so send one marked request of our own (after
        the measured ones were answered) and wait for its line."""
        mark = f"test-settle/{uuid.uuid4().hex}"  # no "dockerviz" prefix: not counted as ours
        scheme = "https" if self.tls else "http"
        req = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}/v2/", headers={"User-Agent": mark})
        with contextlib.suppress(urllib.error.HTTPError):  # 401 without credentials: logged all the same
            urllib.request.urlopen(req, context=self.ctx, timeout=10).read()
        deadline = time.monotonic() + timeout
        while mark not in self.log.read_text("utf-8", "replace"):
            if time.monotonic() > deadline:
                raise AssertionError(f"the registry did not log a request within {timeout:.0f} s ({self.log})")
            time.sleep(0.02)

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')


def _fields(line: str) -> dict:
    return {k: v[1:-1] if v.startswith('"') else v for k, v in _FIELD.findall(line)}


class Registry:
    """A TLS registry with an htpasswd user; `host` is 127.0.0.1:PORT."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.storage = self.folder / "storage"
        self.ca, self.crt, self.key = make_ca(self.folder / "tls")
        self.certs = self.folder / "certs"  # skopeo --dest-cert-dir
        self.certs.mkdir(exist_ok=True)
        shutil.copy(self.ca, self.certs / "ca.crt")
        htpasswd = self.folder / "htpasswd"
        out = _run(["htpasswd", "-Bbn", USER, PASSWORD]).stdout
        htpasswd.write_text(out)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = f"auth:\n  htpasswd:\n    realm: dockerviz-test\n    path: {htpasswd}\n"
        self._main = _Process(self.folder, "registry", _config(self.storage, self.port, self.crt, self.key, auth),
                              self.port, self.ca)
        self._token: TokenRegistry | None = None
        self._plain: _Process | None = None
        self.docker_certs: Path | None = None

    # -- measuring ---------------------------------------------------------------
    def _processes(self) -> list[_Process]:
        extra = [p for p in (self._token.registry if self._token else None, self._plain) if p is not None]
        return [self._main, *extra]

    def logs(self) -> list[Path]:
        return [p.log for p in self._processes()]

    def plain(self) -> str:
        """host:port of the same storage served over plain HTTP, anonymously (a loopback test registry)."""
        if self._plain is None:
            port = _free_port()
            self._plain = _Process(self.folder, "plain", _config(self.storage, port, None, None, ""), port, self.ca)
        return f"127.0.0.1:{self._plain.port}"

    def mark(self) -> dict:
        return {p: p.stat().st_size for p in self.logs()}

    def requests(self, since: dict, agent: str = "dockerviz") -> list[tuple[str, int, int]]:
        """(uri, status, body bytes written) of every request made with that User-Agent since the mark."""
        for proc in self._processes():
            proc.settle()
        out = []
        for path in self.logs():
            with open(path, "rb") as f:
                f.seek(since.get(path, 0))
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if "response completed" not in line:
                        continue
                    fields = _fields(line)
                    if fields.get("http.request.useragent", "").startswith(agent):
                        out.append((fields.get("http.request.uri", ""), int(fields.get("http.response.status", 0)),
                                    int(fields.get("http.response.written", 0))))
        return out

    def written(self, since: dict, agent: str = "dockerviz") -> int:
        """Body bytes of the successful (2xx) responses; auth challenges' small error bodies are left out."""
        return sum(n for _, status, n in self.requests(since, agent) if 200 <= status < 300)

    def login_config(self, folder: Path) -> Path:
        """A docker CLI config folder as `docker login` leaves it: auths[host].auth = base64(user:password)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (folder / "config.json").write_text(json.dumps({"auths": {self.host: {"auth": auth}}}))
        return folder

    # -- pushing -----------------------------------------------------------------
    def skopeo(self, src: str, dest: str, *args: str) -> None:
        """`skopeo copy SRC docker://HOST/DEST` as the htpasswd user."""
        _run(["skopeo", "copy", "-q", "--dest-cert-dir", str(self.certs), "--dest-creds", f"{USER}:{PASSWORD}",
              *args, src, f"docker://{self.host}/{dest}"], timeout=300)

    def skopeo_fresh(self, src: str, dest: str, compression: str | None, edit=None) -> None:
        """Push with exactly this compression (gzip, zstd, zstd:chunked, none, estargz): through an OCI layout,
        digests preserved, so skopeo cannot substitute blobs of another compression it pushed before."""
        layout = self.folder / "layouts" / dest.replace("/", "_").replace(":", "_")
        shutil.rmtree(layout, ignore_errors=True)
        layout.parent.mkdir(exist_ok=True)
        args = ["skopeo", "copy", "-q"]
        if compression in ("none", "estargz"):
            args += ["--dest-oci-accept-uncompressed-layers"]
        elif compression:
            args += ["--dest-compress-format", compression]
        _run([*args, src, f"oci:{layout}:x"], timeout=300)
        if compression == "estargz":  # skopeo 1.9 writes none: made here (support/estargz.py)
            from .estargz import estargz_layout

            estargz_layout(layout, "x")
        if edit is not None:
            edit(layout)  # e.g. a test altering what the registry will serve
        self.skopeo(f"oci:{layout}:x", dest, "--preserve-digests")

    def docker_push(self, client, image: str, dest: str) -> None:
        """A push by the Engine itself (gzip layers), trusting the CA through /etc/docker/certs.d."""
        if self.docker_certs is None:
            folder = Path("/etc/docker/certs.d") / self.host
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.ca, folder / "ca.crt")
            self.docker_certs = folder
        repo, _, tag = dest.rpartition(":")
        target = f"{self.host}/{repo}"
        client.images.get(image).tag(target, tag)
        try:
            for line in client.api.push(target, tag, stream=True, decode=True,
                                        auth_config={"username": USER, "password": PASSWORD}):
                if "error" in line:
                    raise RuntimeError(f"docker push {target}:{tag} failed: {line['error']}")
        finally:
            client.images.remove(f"{target}:{tag}")

    def manifest(self, repo: str, ref: str) -> tuple[dict, int]:
        """The manifest (as JSON) and its size, fetched with curl-like plain means (not dockerviz)."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        req = urllib.request.Request(f"https://{self.host}/v2/{repo}/manifests/{ref}", headers={
            "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
            "Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
                      "application/vnd.docker.distribution.manifest.v2+json, "
                      "application/vnd.docker.distribution.manifest.list.v2+json",
            "User-Agent": "dockerviz-tests"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            body = resp.read()
        return json.loads(body), len(body)

    def blob_file(self, digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"

    # -- bearer tokens -------------------------------------------------------------
    def token(self) -> TokenRegistry:
        if self._token is None:
            self._token = TokenRegistry(self)
        return self._token

    def stop(self) -> None:
        if self._token is not None:
            self._token.stop()
        if self._plain is not None:
            self._plain.stop()
        self._main.stop()
        if self.docker_certs is not None:
            shutil.rmtree(self.docker_certs, ignore_errors=True)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    """A token service (as a real registry's auth endpoint): Basic credentials in, a signed JWT out."""

    def __init__(self, folder: Path, crt: Path, key: Path):
        self.sign_key = folder / "token.key"
        self.sign_crt = folder / "token.crt"
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.sign_key,
              "-out", self.sign_crt, "-days", "3", "-subj", "/CN=dockerviz test token signer"])
        der = subprocess.run(["openssl", "x509", "-in", str(self.sign_crt), "-outform", "DER"], capture_output=True,
                             check=True).stdout
        self._x5c = base64.b64encode(der).decode("ascii")
        self.issued = 0
        self.refused = 0
        self.refreshed = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    server.refused += 1
                    return self.answer(401)
                server.issued += 1
                scope = (query.get("scope") or [""])[0]
                self.answer(200, json.dumps({"token": server.sign(scope), "expires_in": 300}).encode())

            def do_POST(self):  # OAuth2 refresh-token grant: what `docker login` leaves as an identitytoken
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [IDENTITY_TOKEN]:
                    server.refused += 1
                    return self.answer(401)
                server.refreshed += 1
                scope = (form.get("scope") or [""])[0]
                self.answer(200, json.dumps({"access_token": server.sign(scope), "expires_in": 300}).encode())

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.realm = f"https://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def sign(self, scope: str) -> str:
        access = []
        parts = scope.split(":")
        if len(parts) >= 3 and parts[0] == "repository":
            access.append({"type": "repository", "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.sign_key)],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class TokenRegistry:
    """The same storage served by a registry that asks for bearer tokens from a TokenServer."""

    def __init__(self, main: Registry):
        folder = main.folder / "token"
        folder.mkdir(exist_ok=True)
        self.server = TokenServer(folder, main.crt, main.key)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = (f"auth:\n  token:\n    realm: {self.server.realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
                f"    rootcertbundle: {self.server.sign_crt}\n")
        try:
            self.registry = _Process(folder, "registry", _config(main.storage, self.port, main.crt, main.key, auth),
                                     self.port, main.ca)
        except BaseException:
            self.server.stop()
            raise

    def stop(self) -> None:
        self.registry.stop()
        self.server.stop()


def multi_platform_layout(folder: Path, amd64: str, arm64: str) -> str:
    """An OCI layout whose ref "multi" is an image index of two platforms, for `skopeo copy --all`.

    The amd64 entry is `amd64` as it is; the arm64 one is `arm64`'s layers under a config that says
    arm64 (no arm64 machine is needed to read one). Returns the skopeo source `oci:DIR:multi`.
    """
    import hashlib

    shutil.rmtree(folder, ignore_errors=True)
    for ref, image in (("amd64", amd64), ("arm64", arm64)):
        _run(["skopeo", "copy", "-q", f"docker-daemon:{image}", f"oci:{folder}:{ref}"], timeout=300)
    blobs = folder / "blobs" / "sha256"

    def put(obj: dict) -> tuple[str, int]:
        data = json.dumps(obj, separators=(",", ":")).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return "sha256:" + digest, len(data)

    index = json.loads((folder / "index.json").read_text())
    entries = []
    for desc in index["manifests"]:
        ref = desc["annotations"]["org.opencontainers.image.ref.name"]
        manifest = json.loads((blobs / desc["digest"].split(":")[1]).read_text())
        if ref == "arm64":
            config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
            config["architecture"] = "arm64"
            digest, size = put(config)
            manifest["config"].update(digest=digest, size=size)
        digest, size = put(manifest)
        entries.append({"mediaType": manifest["mediaType"], "digest": digest, "size": size,
                        "platform": {"architecture": ref, "os": "linux"}})
    digest, size = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries})
    (folder / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size,
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    return f"oci:{folder}:multi"
