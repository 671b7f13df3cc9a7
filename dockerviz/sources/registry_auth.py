"""Registry credentials found as the docker CLI finds them, and the challenges that ask for them.

Credentials: `$DOCKER_CONFIG/config.json` (default ~/.docker/config.json):
`credHelpers[host]`, else `credsStore`, run as `docker-credential-NAME get`
with the server on stdin; else `auths[host].auth` (base64 user:password) or
its `identitytoken`. A challenge (`WWW-Authenticate`) is either Basic (send
the credentials) or Bearer (fetch a token from its realm for the scope asked,
with the credentials if there are any, anonymously if not).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass

from ..errors import RegistryAuthError
from .transports import DOCKER_HUB, DOCKER_HUB_AUTH_KEY

HELPER_TIMEOUT = 30


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = None
    identity_token: str | None = None  # an OAuth2 refresh token (`docker login` to some registries)
    found_in: str = ""  # where they came from, for messages

    @property
    def basic(self) -> str:
        raw = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def config_path() -> str:
    folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(folder, "config.json")


def _load_config(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RegistryAuthError(f"{path} cannot be read as the docker CLI's config ({exc}); fix or remove it.") \
            from None
    return data if isinstance(data, dict) else {}


def _host_of_key(key: str) -> str:
    """auths keys are written as host, host:port, https://host/v1/ ...: compare their host[:port]."""
    key = re.sub(r"^[a-z]+://", "", key.strip().lower())
    return key.split("/", 1)[0]


def _server_names(host: str) -> list[str]:
    if host == DOCKER_HUB:
        return [DOCKER_HUB_AUTH_KEY, "index.docker.io", "docker.io", DOCKER_HUB]
    return [host]


def _from_helper(helper: str, server: str) -> Credentials | None:
    exe = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([exe, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise RegistryAuthError(
            f"{config_path()} sends credentials for {server} to the helper {exe}, which is not installed. "
            f"Install it, or remove it from credsStore/credHelpers and run `docker login {server}`."
        ) from None
    except subprocess.TimeoutExpired:
        raise RegistryAuthError(f"The credential helper {exe} did not answer within {HELPER_TIMEOUT} s.") from None
    if proc.returncode != 0:
        return None  # "credentials not found in native keychain": anonymous, as docker does
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise RegistryAuthError(f"The credential helper {exe} printed something that is not JSON.") from None
    if not isinstance(data, dict):
        raise RegistryAuthError(f"The credential helper {exe} printed JSON that is not an object "
                                "(`docker-credential-NAME get` prints {\"Username\": ..., \"Secret\": ...}).")
    user, secret = data.get("Username"), data.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    if user == "<token>":
        return Credentials(identity_token=secret, found_in=exe)
    return Credentials(username=str(user or ""), password=secret, found_in=exe)


def find_credentials(host: str, *, path: str | None = None) -> Credentials | None:
    """What `docker pull HOST/...` would send, or None (anonymous)."""
    path = path or config_path()
    config = _load_config(path)
    names = _server_names(host)
    wanted = {_host_of_key(n) for n in names}
    helpers = config.get("credHelpers")
    helpers = helpers if isinstance(helpers, dict) else {}
    for key, helper in helpers.items():
        if _host_of_key(key) in wanted and isinstance(helper, str) and helper:
            return _from_helper(helper, names[0])
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = _from_helper(store, names[0])
        if found is not None:
            return found
    auths = config.get("auths")
    auths = auths if isinstance(auths, dict) else {}
    for key, entry in auths.items():
        if _host_of_key(key) not in wanted or not isinstance(entry, dict):
            continue
        token = entry.get("identitytoken")
        if isinstance(token, str) and token:
            return Credentials(identity_token=token, found_in=path)
        auth = entry.get("auth")
        if isinstance(auth, str) and auth:
            try:
                user, _, password = base64.b64decode(auth).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise RegistryAuthError(f"The auth entry for {key} in {path} is not base64 of user:password; "
                                        f"run `docker login {host}` again.") from None
            return Credentials(username=user, password=password, found_in=path)
        if entry.get("username") and entry.get("password"):
            return Credentials(username=str(entry["username"]), password=str(entry["password"]), found_in=path)
    return None


_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> tuple[str, dict]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for m in _PARAM.finditer(rest):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return scheme.lower(), params


def login_hint(host: str, creds: Credentials | None) -> str:
    who = f"user {creds.username!r} (from {creds.found_in})" if creds and creds.username else \
        (f"the token from {creds.found_in}" if creds else "no credentials")
    return f"{who}; log in with `docker login {host}` (it writes {config_path()})"


__all__ = ["Credentials", "config_path", "find_credentials", "login_hint", "parse_challenge"]
