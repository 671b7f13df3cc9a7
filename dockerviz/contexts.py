"""Where the docker CLI would connect: DOCKER_HOST, DOCKER_CONTEXT, `docker context use`.

Reads the same files as the CLI (docker-py 7.1 does not read contexts):
`$DOCKER_CONFIG/config.json` (default `~/.docker`) for `currentContext`, and
`contexts/meta/<sha256(name)>/meta.json` plus `contexts/tls/<sha256(name)>/docker/`
for each context. Only files are read here; connecting is engine.py's job.
"""

from __future__ import annotations

import json
import os

from .errors import UnknownContextError
from .model.record import FrozenRecord

DEFAULT_HOST = "unix:///var/run/docker.sock"


class Endpoint(FrozenRecord):
    """How to reach one engine: its URL and TLS files, and where that was found.

    name: the context's name, or the host for DOCKER_HOST; found_in: e.g. "DOCKER_HOST",
    "context 'remote' (DOCKER_CONTEXT)"; cert_dir holds ca.pem, cert.pem, key.pem (any may be absent).
    """

    __slots__ = _fields = ("host", "name", "found_in", "tls", "tls_verify", "cert_dir")
    host: str
    name: str
    found_in: str
    tls: bool
    tls_verify: bool
    cert_dir: str | None

    def __init__(self, host: str, name: str, found_in: str, tls: bool = False, tls_verify: bool = False,
                 cert_dir: str | None = None):
        self._freeze(locals())


def config_dir(env=None) -> str:
    env = os.environ if env is None else env
    return env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def _meta_dir(cfg: str) -> str:
    return os.path.join(cfg, "contexts", "meta")


def context_id(name: str) -> str:
    import hashlib  # here: hashlib loads OpenSSL, start-up time for every caller that never needs an id

    return hashlib.sha256(name.encode()).hexdigest()


def current_context_name(env=None) -> tuple[str, str]:
    """(name, why) of the context the CLI would use when DOCKER_HOST is unset."""
    env = os.environ if env is None else env
    if env.get("DOCKER_CONTEXT", "").strip():
        return env["DOCKER_CONTEXT"].strip(), "DOCKER_CONTEXT"
    path = os.path.join(config_dir(env), "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            name = (json.load(f) or {}).get("currentContext") or ""
    except (OSError, ValueError, AttributeError):
        name = ""
    if name:
        return str(name), f"currentContext in {path} (`docker context use`)"
    return "default", "the default"


def context_names(env=None) -> list[str]:
    names = ["default"]
    root = _meta_dir(config_dir(env))
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return names
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "meta.json"), encoding="utf-8") as f:
                names.append(str(json.load(f)["Name"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return names


def load_context(name: str, why: str = "", env=None) -> Endpoint:
    """The endpoint of a named context; UnknownContextError (naming the fix) if there is none."""
    env = os.environ if env is None else env
    found_in = f"context {name!r}" + (f" ({why})" if why else "")
    if name == "default":
        return Endpoint(host=DEFAULT_HOST, name="default", found_in=found_in)
    cfg = config_dir(env)
    meta_path = os.path.join(_meta_dir(cfg), context_id(name), "meta.json")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        docker_ep = meta["Endpoints"]["docker"]
        host = str(docker_ep["Host"])
    except FileNotFoundError:
        known = ", ".join(context_names(env))
        where = why or "the context argument"
        raise UnknownContextError(
            f"There is no docker context named {name!r} (asked for by {where}); contexts under {cfg}: {known}. "
            f"Create it (`docker context create {name} --docker host=tcp://HOST:2376,ca=...,cert=...,key=...`), "
            "pick an existing one with `docker context use NAME`, or unset DOCKER_CONTEXT."
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnknownContextError(
            f"The docker context {name!r} is unreadable ({meta_path}: {type(exc).__name__}). "
            f"Recreate it with `docker context rm {name}` and `docker context create {name} --docker host=...`."
        ) from None
    tls_dir = os.path.join(cfg, "contexts", "tls", context_id(name), "docker")
    has_tls = os.path.isdir(tls_dir)
    return Endpoint(host=host, name=name, found_in=found_in, tls=has_tls,
                    tls_verify=has_tls and not docker_ep.get("SkipTLSVerify", False),
                    cert_dir=tls_dir if has_tls else None)


def from_environment(env=None) -> Endpoint:
    """The endpoint the docker CLI would use: DOCKER_HOST first, then the current context."""
    env = os.environ if env is None else env
    host = env.get("DOCKER_HOST", "").strip()
    if host:
        verify = env.get("DOCKER_TLS_VERIFY", None)
        verify_on = verify is not None and verify != ""
        cert_dir = env.get("DOCKER_CERT_PATH") or None
        tls = bool(cert_dir) or verify_on
        if tls and not cert_dir:
            cert_dir = config_dir(env)
        return Endpoint(host=host, name=host, found_in="DOCKER_HOST", tls=tls, tls_verify=verify_on,
                        cert_dir=cert_dir)
    name, why = current_context_name(env)
    return load_context(name, why, env)
