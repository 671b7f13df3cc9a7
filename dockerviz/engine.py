"""Connecting to a Docker Engine and turning docker-py failures into DockervizErrors.

Everything in dockerviz that talks to a daemon gets its client here, so the API
version negotiation (for docker-py and the local socket client alike), the
connect timeout and the error translation live in one place.
"""

from __future__ import annotations

import contextlib
import os

from . import contexts
from .errors import (
    ContainerNotFoundError,
    DaemonError,
    DaemonUnavailableError,
    DockervizError,
    EngineSSHError,
    EngineTLSError,
    ImageNotFoundError,
)

CONNECT_TIMEOUT = 5
# Seconds (after connecting within CONNECT_TIMEOUT) for a daemon to answer /_ping and /version: Podman runs
# conmon and its OCI runtime to answer /version, which takes seconds on a busy machine.
ANSWER_TIMEOUT = 30


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(v).split("."))


def pick_api_version(advertised: str | None, info: dict | None) -> str:
    """The API version to speak to a daemon: the newest it offers.

    `advertised` is /_ping's API-Version header, `info` the /version answer
    (ApiVersion, MinAPIVersion). Responses are then read by their shape at
    that version (sources read fields that are there, never fields removed
    since: VirtualSize, Container, ContainerConfig), so no version is pinned:
    a daemon that refuses old versions (Engine 29.0-29.2 below 1.44) is never
    asked for one.
    """
    info = info if isinstance(info, dict) else {}
    newest = str(info.get("ApiVersion") or advertised or "").strip()
    try:
        _version_tuple(newest)
    except ValueError:
        raise DaemonError(
            f"The daemon at {describe_host()} does not say which API versions it speaks "
            f"(/_ping API-Version {advertised!r}, /version ApiVersion {info.get('ApiVersion')!r}); "
            "is DOCKER_HOST a Docker Engine?"
        ) from None
    return newest


def negotiate(fetch) -> str:
    """Negotiate over any transport: `fetch(path)` -> (status, {lower-case header: value}, body bytes).

    GET /_ping (unversioned by design) names the daemon's newest version;
    GET /v{that}/version confirms it with the daemon's minimum.
    """
    import json

    status, headers, _ = fetch("/_ping")
    advertised = headers.get("api-version") if status == 200 else None
    status, _, body = fetch(f"/v{advertised}/version" if advertised else "/version")
    info = None
    if status == 200:
        try:
            info = json.loads(body)
        except ValueError:
            info = None
    return pick_api_version(advertised, info)


def _docker_py_fetch(api):
    def fetch(path: str):
        response = api._get(api.base_url + path, timeout=(CONNECT_TIMEOUT, ANSWER_TIMEOUT))
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
    return fetch


def describe_host() -> str:
    try:
        return Engine().describe()
    except DockervizError:
        return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (the default socket)"


def _unavailable(exc: BaseException | None = None, where: str | None = None) -> DaemonUnavailableError:
    detail = f" ({type(exc).__name__}: {exc})" if exc else ""
    return DaemonUnavailableError(
        f"No Docker daemon answered at {where or describe_host()}{detail}. "
        "Start one (for example `sudo dockerd &` or `sudo systemctl start docker`), "
        "or point DOCKER_HOST at a running daemon (unix:///path/to.sock, tcp://host:2376, ssh://user@host). "
        "To look at an image without a daemon, pass a `docker save` archive or an OCI layout directory instead."
    )


def client(timeout: float | None = CONNECT_TIMEOUT, *, engine=None, **kwargs):
    """A docker.DockerClient speaking the API version negotiated with the daemon, for `engine`
    (an Engine, a docker.DockerClient, a host URL; None: as the docker CLI would pick).

    `timeout=None` is for streams (save, export, build, stats) whose first byte
    can take minutes; the negotiation itself always uses a short timeout so a
    dead daemon is reported within seconds. Other keyword arguments (such as
    max_pool_size for many concurrent streams) go to docker.DockerClient.
    """
    return as_engine(engine).client(timeout, **kwargs)


def daemon_available(engine=None) -> bool:
    try:
        client(engine=engine).close()
        return True
    except DockervizError:
        return False


class Engine:
    """One Docker-compatible engine: where it is and how to reach it.

    `Engine()` finds the engine the docker CLI would use (DOCKER_HOST with
    DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, else DOCKER_CONTEXT, else the
    `docker context use` choice in ~/.docker/config.json, else the default
    socket). `Engine("tcp://host:2376", cert_path=DIR)`, `Engine("ssh://user@host")`
    and `Engine(context="name")` name one; `Engine.from_client(docker_client)`
    wraps a docker-py client. Every dockerviz call takes one as `engine=`.
    `name` labels its rows in DataFrames and figures.
    """

    def __init__(self, host: str | None = None, *, context: str | None = None, cert_path: str | None = None,
                 tls_verify: bool = True, name: str | None = None, use_ssh_client: bool = False):
        if context is not None:
            ep = contexts.load_context(context, "Engine(context=...)")
        elif host is not None:
            host = str(host)
            cert_path = os.path.expanduser(str(cert_path)) if cert_path is not None else None
            ep = contexts.Endpoint(host=host, name=host, found_in="the host argument", tls=cert_path is not None,
                                   tls_verify=cert_path is not None and tls_verify, cert_dir=cert_path)
        else:
            ep = contexts.from_environment()
        self.endpoint = ep
        self.host = ep.host
        self.name = name or ep.name
        self.use_ssh_client = use_ssh_client
        self._client_kwargs: dict = {}

    @classmethod
    def from_client(cls, docker_client, name: str | None = None) -> "Engine":
        """The engine a docker.DockerClient (or APIClient) talks to. dockerviz opens its own
        connections to it (streams need other timeouts), and never closes the one given."""
        api = getattr(docker_client, "api", docker_client)
        adapter = getattr(api, "_custom_adapter", None)
        base = str(getattr(api, "base_url", ""))
        cert = getattr(api, "cert", None)
        verify = getattr(api, "verify", True)
        if base == "http+docker://ssh":
            host = "ssh://" + str(getattr(adapter, "ssh_host", ""))
        elif base.startswith("http+docker://") and getattr(adapter, "socket_path", None):
            host = "unix://" + adapter.socket_path
        else:
            host = base.replace("https://", "tcp://").replace("http://", "tcp://")
        self = cls(host, name=name, use_ssh_client=getattr(adapter, "ssh_client", True) is None)
        if base.startswith("https://"):
            import docker

            self._client_kwargs["tls"] = docker.tls.TLSConfig(
                client_cert=cert if isinstance(cert, tuple) else None,
                ca_cert=verify if isinstance(verify, str) else None, verify=bool(verify))
        return self

    # ---- what it is -------------------------------------------------------------------

    @property
    def socket_path(self) -> str | None:
        """The unix socket when the engine is on this machine, else None."""
        return self.host[len("unix://"):] if self.host.startswith("unix://") else None

    @property
    def is_local(self) -> bool:
        return self.socket_path is not None

    def describe(self) -> str:
        if self.endpoint.found_in.startswith("context") and self.endpoint.name != "default":
            return f"{self.host} (docker context {self.endpoint.name!r})"
        if self.host == contexts.DEFAULT_HOST:
            return f"{self.host} (the default socket)"
        return self.host if self.name == self.host else f"{self.host} ({self.name})"

    def __repr__(self) -> str:
        return f"<Engine {self.describe()}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Engine) and (self.host, self.name) == (other.host, other.name)

    def __hash__(self) -> int:
        return hash((self.host, self.name))

    # ---- connecting -------------------------------------------------------------------

    def _tls(self):
        if "tls" in self._client_kwargs:
            return self._client_kwargs["tls"]
        ep = self.endpoint
        if not ep.tls:
            return False
        import docker

        d = ep.cert_dir or contexts.config_dir()
        files = {n: os.path.join(d, n) for n in ("ca.pem", "cert.pem", "key.pem")}
        missing = [n for n in ("cert.pem", "key.pem") if not os.path.isfile(files[n])]
        if ep.tls_verify and not os.path.isfile(files["ca.pem"]):
            missing.insert(0, "ca.pem")
        if missing:
            raise EngineTLSError(
                f"TLS to {self.host} needs {', '.join(missing)} in {d} (from {_cert_dir_origin(ep)}), "
                "and it is not there. Copy the CA certificate (ca.pem) and a client certificate and key "
                "(cert.pem, key.pem) signed by the CA the daemon's --tlscacert names into that folder, "
                "or point DOCKER_CERT_PATH at the folder that holds them."
            )
        return docker.tls.TLSConfig(client_cert=(files["cert.pem"], files["key.pem"]),
                                    ca_cert=files["ca.pem"] if ep.tls_verify else None, verify=ep.tls_verify)

    def client(self, timeout: float | None = CONNECT_TIMEOUT, **kwargs):
        """A new docker.DockerClient for this engine, at the negotiated API version (close it)."""
        import docker
        from docker.constants import MINIMUM_DOCKER_API_VERSION

        tls = self._tls()
        if self.host.startswith("ssh://"):
            self._check_ssh_port()
            import logging

            # paramiko's transport thread logs each failure with a traceback on stderr; the
            # DockervizError raised here says it once, with the fix
            transport_log = logging.getLogger("paramiko.transport")
            if transport_log.level == logging.NOTSET:
                transport_log.setLevel(logging.CRITICAL)
        c = None
        try:
            # No request is made at this version: negotiation asks unversioned /_ping and the
            # negotiated /v{N}/version, then the client speaks what was negotiated.
            c = docker.DockerClient(base_url=self.host, version=MINIMUM_DOCKER_API_VERSION, timeout=CONNECT_TIMEOUT,
                                    tls=tls,
                                    use_ssh_client=self.use_ssh_client, **kwargs)
            if isinstance(getattr(c.api, "verify", None), str):
                # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's CA file:
                # the engine's own ca.pem must win (the docker CLI ignores those variables)
                c.api.trust_env = False
            answers: list = []
            fetch = _docker_py_fetch(c.api)

            def recording(path):
                answers.append(fetch(path))
                return answers[-1]

            try:
                c.api._version = negotiate(recording)
            except DockervizError:
                if any(b"HTTPS server" in body for _, _, body in answers):  # plain HTTP to a TLS port
                    raise self.connect_error(DaemonError("Client sent an HTTP request to an HTTPS server")) from None
                raise
            c.api.timeout = timeout
            return c
        except DockervizError:
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
            raise
        except Exception as exc:  # docker-py, requests, urllib3, ssl and paramiko errors
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
            raise self.connect_error(exc) from None

    def _check_ssh_port(self) -> None:
        """Fail within CONNECT_TIMEOUT when nothing answers: docker-py opens ssh:// connections
        without a connect timeout, so an unreachable host would otherwise hang the call."""
        import socket
        from urllib.parse import urlparse

        u = urlparse(self.host)
        try:
            host, port = u.hostname or "", u.port
        except ValueError:
            raise EngineSSHError(f"The engine URL {self.host} has a port that is not a number; write it as "
                                 "ssh://user@host or ssh://user@host:PORT.") from None
        config = os.path.expanduser("~/.ssh/config")
        if os.path.exists(config):
            try:
                import paramiko

                found = paramiko.SSHConfig.from_path(config).lookup(host)
                port = port or int(found.get("port", 22))
            except Exception:
                return  # paramiko itself will report it
            if "proxycommand" in found or "proxyjump" in found:
                return  # reached through another program
            host = found.get("hostname", host)
        try:
            socket.create_connection((host, port or 22), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise _unavailable(exc, f"{self.describe()} (nothing accepted an SSH connection on "
                                    f"{host}:{port or 22} within {CONNECT_TIMEOUT} s)") from None

    def connect_error(self, exc: BaseException) -> DaemonUnavailableError:
        """The DockervizError for a failed connection, naming what to fix."""
        text = _error_chain_text(exc)
        if self.host.startswith("ssh://"):
            ssh = _ssh_error(self, exc, text)
            if ssh is not None:
                return ssh
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return EngineTLSError(
                f"The daemon at {self.host} presented a certificate that {self._ca_file()} does not vouch for "
                f"({_short(text)}). Put the CA that signed the daemon's certificate (its --tlscacert) in "
                "ca.pem there, and check the daemon's certificate names this host (subjectAltName)."
            )
        # TLS 1.3: the daemon checks the client's certificate after the client thinks the
        # handshake is done, so a refusal often arrives as an EOF rather than an alert
        if any(s in text for s in ("unknown ca", "bad certificate", "certificate required", "CERTIFICATE_UNKNOWN",
                                   "handshake failure", "certificate unknown", "SSLEOFError",
                                   "EOF occurred in violation of protocol")):
            return EngineTLSError(
                f"The daemon at {self.host} refused this client's certificate ({_short(text)}). "
                f"Use a cert.pem and key.pem signed by the CA the daemon trusts (its --tlscacert) in "
                f"{self._cert_dir()}."
            )
        if "HTTP request to an HTTPS server" in text or ("400" in text and "HTTPS" in text):
            return EngineTLSError(
                f"The daemon at {self.host} speaks TLS only. Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH "
                "to the folder holding ca.pem, cert.pem and key.pem (or Engine(host, cert_path=DIR))."
            )
        if "SSL" in text or "ssl" in type(exc).__module__:
            return EngineTLSError(f"TLS to {self.host} failed ({_short(text)}). Check the files in {self._cert_dir()}.")
        return _unavailable(exc, self.describe())

    def _cert_dir(self) -> str:
        return self.endpoint.cert_dir or "DOCKER_CERT_PATH"

    def _ca_file(self) -> str:
        return os.path.join(self.endpoint.cert_dir, "ca.pem") if self.endpoint.cert_dir else "the CA bundle"


def as_engine(engine=None) -> Engine:
    """An Engine from None (the CLI's choice), an Engine, a docker client or a host URL."""
    if engine is None:
        return Engine()
    if isinstance(engine, Engine):
        return engine
    if isinstance(engine, str):
        return Engine(engine)
    if hasattr(engine, "api") or hasattr(engine, "base_url"):
        return Engine.from_client(engine)
    raise DockervizError(
        f"engine= takes a dockerviz.Engine, a docker.DockerClient or a host URL, not {type(engine).__name__}."
    )


def _cert_dir_origin(ep) -> str:
    if ep.found_in == "DOCKER_HOST":
        return "DOCKER_CERT_PATH" if os.environ.get("DOCKER_CERT_PATH") else "the default ~/.docker"
    return ep.found_in


def _error_chain_text(exc: BaseException) -> str:
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        for arg in getattr(exc, "args", ()):
            if isinstance(arg, BaseException):
                parts.append(_error_chain_text(arg))
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            parts.append(_error_chain_text(reason))
        exc = exc.__cause__ or exc.__context__
    return " | ".join(parts)


def _short(text: str, limit: int = 200) -> str:
    first = text.split(" | ")[-1]
    return first if len(first) <= limit else first[:limit] + "..."


def _ssh_error(eng: Engine, exc: BaseException, text: str) -> EngineSSHError | None:
    from urllib.parse import urlparse

    u = urlparse(eng.host)
    user = u.username or os.environ.get("USER") or "root"
    port = f"-p {u.port} " if u.port else ""
    try_it = f"`ssh {port}{user}@{u.hostname} docker version`"
    if "Install paramiko" in text or ("paramiko" in text and "No module named" in text):
        return EngineSSHError(f"ssh:// engines need the paramiko package: `pip install 'dockerviz[ssh]'` "
                              f"(or `pip install paramiko`), then check with {try_it}.")
    if "AuthenticationException" in text or "Authentication failed" in text or "No authentication methods" in text:
        return EngineSSHError(
            f"The SSH server at {u.hostname}{':' + str(u.port) if u.port else ''} refused the key for user {user!r}. "
            f"Add your public key (~/.ssh/id_ed25519.pub, or the IdentityFile for this host in ~/.ssh/config) "
            f"to ~{user}/.ssh/authorized_keys on that host, or load the right key into ssh-agent; "
            f"check with {try_it}."
        )
    if "known_hosts" in text or "not found in known" in text:
        return EngineSSHError(
            f"The host key of {u.hostname} is not in ~/.ssh/known_hosts, so the connection was refused. "
            f"Trust it by connecting once ({try_it}) or with `ssh-keyscan {port}{u.hostname} >> ~/.ssh/known_hosts`."
        )
    if "dial-stdio" in text or "docker: not found" in text or "command not found" in text:
        return EngineSSHError(f"{u.hostname} has no `docker` command for `docker system dial-stdio`: install the "
                              f"docker CLI there (check with {try_it}).")
    return None


# ---- streams docker-py lacks or keeps private ---------------------------------------------------
# docker-py's build() and stats() read their stream inside a generator that cannot be interrupted
# from another thread; these keep the response, so a cancel or stop() closes it at once.


def post_build(api, params: dict, context, headers: dict):
    """POST /build with `context` (a tar file object) as the body; the streaming response."""
    return api._post(api._url("/build"), params=params, data=context, headers=headers, stream=True)


def json_messages(api, response):
    """The decoded JSON messages of a streaming response (build progress, stats samples)."""
    return api._stream_helper(response, decode=True)


def open_stats(api, container_id: str):
    """(response, samples) of GET /containers/{id}/stats?stream=1: what `api.stats(id, stream=True,
    decode=True)` sends, with the response kept for close_stream(). A docker-py without these
    internals gives (None, its own generator)."""
    try:
        url = api._url("/containers/{0}/stats", container_id)
        response = api._get(url, params={"stream": True}, stream=True)
        api._raise_for_status(response)
        return response, api._stream_helper(response, decode=True)
    except AttributeError:
        return None, api.stats(container_id, stream=True, decode=True)


def _response_socket(response, api=None):
    getters = [lambda: response.raw._fp.fp.raw]
    if api is not None:
        getters.insert(0, lambda: api._get_raw_response_socket(response))
    for get in getters:
        try:
            sock = get()
        except Exception:
            continue
        for s in (sock, getattr(sock, "_sock", None)):
            if s is not None and hasattr(s, "shutdown"):
                return s
    return None


def close_stream(response, api=None) -> None:
    """Unblock a thread reading `response` and drop the connection: a blocked recv wakes up only on
    shutdown, not on close (the daemon then stops the build or the stats stream)."""
    if response is None:
        return
    import socket

    sock = _response_socket(response, api)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
    try:
        response.close()
    except Exception:
        pass


@contextlib.contextmanager
def translated(what: str = "", *, kind: str = "image", engine=None):
    """Map docker-py errors raised inside the block to DockervizErrors.

    `what` names the object the user asked for, so "not found" messages can
    repeat it back; `kind` is "image" or "container"; `engine` (an Engine) is
    named in the messages (default: the engine the environment picks).
    """
    from docker.errors import APIError, DockerException, NotFound

    def host():
        return engine.describe() if isinstance(engine, Engine) else describe_host()

    try:
        yield
    except DockervizError:
        raise
    except NotFound:
        if kind == "container":
            raise ContainerNotFoundError(
                f"No container {what!r} in the daemon at {host()}. "
                "List containers with `docker ps -a` (or dockerviz.containers())."
            ) from None
        raise ImageNotFoundError(
            f"No image {what!r} in the daemon at {host()}. "
            "Check the name with `docker images`, build it first, or pass an archive path "
            "(`docker save -o image.tar NAME`)."
        ) from None
    except APIError as exc:
        msg = getattr(exc, "explanation", None) or str(exc)
        raise DaemonError(f"The Docker daemon refused the request for {what!r}: {msg}") from None
    except DockerException as exc:
        raise _unavailable(exc, host()) from None
    except (ConnectionError, OSError) as exc:
        raise _unavailable(exc, host()) from None
    except Exception as exc:
        # requests' and paramiko's exceptions do not all derive from OSError
        if type(exc).__module__.startswith(("requests", "urllib3", "paramiko")):
            raise _unavailable(exc, host()) from None
        raise
