"""Connecting to a Docker Engine and turning docker-py failures into DockervizErrors.

Everything in dockerviz that talks to a daemon gets its client here, so the API
version pin, the connect timeout and the error translation live in one place.
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

# The newest Engine API version whose response shapes dockerviz is tested
# against. Newer daemons drop legacy fields (1.52+), so never ask for more.
NEWEST_TESTED_API = "1.45"
CONNECT_TIMEOUT = 5


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(v).split("."))


def pinned_api_version(server_version: str) -> str:
    """min(server, newest tested): responses keep the shapes the code expects."""
    if _version_tuple(server_version) <= _version_tuple(NEWEST_TESTED_API):
        return server_version
    return NEWEST_TESTED_API


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
    """A docker.DockerClient pinned to a tested API version.

    `timeout=None` is for streams (save, export, build, stats) whose first byte
    can take minutes; the version probe itself always uses a short timeout so a
    dead daemon is reported within seconds. Other keyword arguments (such as
    max_pool_size for many concurrent streams) go to docker.from_env.
    """
    import docker
    from docker.errors import DockerException

    try:
        probe = docker.from_env(timeout=CONNECT_TIMEOUT, version="1.24")
        try:
            server = probe.api.version(api_version=False)
        finally:
            probe.close()
        version = pinned_api_version(server.get("ApiVersion", "1.41"))
        return docker.from_env(timeout=timeout, version=version, **kwargs)
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
