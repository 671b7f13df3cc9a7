"""Connecting to a Docker Engine and turning docker-py failures into DockervizErrors.

Everything in dockerviz that talks to a daemon gets its client here, so the API
version negotiation (for docker-py and the local socket client alike), the
connect timeout and the error translation live in one place.
"""

from __future__ import annotations

import contextlib
import os

from .errors import (
    ContainerNotFoundError,
    DaemonError,
    DaemonUnavailableError,
    DockervizError,
    ImageNotFoundError,
)

CONNECT_TIMEOUT = 5


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
        response = api._get(api.base_url + path, timeout=CONNECT_TIMEOUT)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
    return fetch


def describe_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (the default socket)"


def _unavailable(exc: BaseException | None = None) -> DaemonUnavailableError:
    detail = f" ({type(exc).__name__}: {exc})" if exc else ""
    return DaemonUnavailableError(
        f"No Docker daemon answered at {describe_host()}{detail}. "
        "Start one (for example `sudo dockerd &` or `sudo systemctl start docker`), "
        "or point DOCKER_HOST at a running daemon (unix:///path/to.sock, tcp://host:2376, ssh://user@host). "
        "To look at an image without a daemon, pass a `docker save` archive or an OCI layout directory instead."
    )


def client(timeout: float | None = CONNECT_TIMEOUT, **kwargs):
    """A docker.DockerClient speaking the API version negotiated with the daemon.

    `timeout=None` is for streams (save, export, build, stats) whose first byte
    can take minutes; the negotiation itself always uses a short timeout so a
    dead daemon is reported within seconds. Other keyword arguments (such as
    max_pool_size for many concurrent streams) go to docker.from_env.
    """
    import docker
    from docker.constants import MINIMUM_DOCKER_API_VERSION
    from docker.errors import DockerException

    try:
        # No request is made at this version: the probe only asks unversioned /_ping and the
        # negotiated /v{N}/version.
        probe = docker.from_env(timeout=CONNECT_TIMEOUT, version=MINIMUM_DOCKER_API_VERSION)
        try:
            version = negotiate(_docker_py_fetch(probe.api))
        finally:
            probe.close()
        return docker.from_env(timeout=timeout, version=version, **kwargs)
    except DockervizError:
        raise
    except DockerException as exc:
        raise _unavailable(exc) from None
    except Exception as exc:  # requests/urllib3 connection errors, timeouts
        raise _unavailable(exc) from None


def daemon_available() -> bool:
    try:
        client().close()
        return True
    except DockervizError:
        return False


@contextlib.contextmanager
def translated(what: str = "", *, kind: str = "image"):
    """Map docker-py errors raised inside the block to DockervizErrors.

    `what` names the object the user asked for, so "not found" messages can
    repeat it back; `kind` is "image" or "container".
    """
    from docker.errors import APIError, DockerException, NotFound

    try:
        yield
    except DockervizError:
        raise
    except NotFound:
        if kind == "container":
            raise ContainerNotFoundError(
                f"No container {what!r} in the daemon at {describe_host()}. "
                "List containers with `docker ps -a` (or dockerviz.containers())."
            ) from None
        raise ImageNotFoundError(
            f"No image {what!r} in the daemon at {describe_host()}. "
            "Check the name with `docker images`, build it first, or pass an archive path "
            "(`docker save -o image.tar NAME`)."
        ) from None
    except APIError as exc:
        msg = getattr(exc, "explanation", None) or str(exc)
        raise DaemonError(f"The Docker daemon refused the request for {what!r}: {msg}") from None
    except DockerException as exc:
        raise _unavailable(exc) from None
    except (ConnectionError, OSError) as exc:
        raise _unavailable(exc) from None
    except Exception as exc:
        # requests' exceptions do not all derive from OSError
        if type(exc).__module__.startswith(("requests", "urllib3")):
            raise _unavailable(exc) from None
        raise
