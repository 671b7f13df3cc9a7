"""HTTP to one registry, as the docker CLI speaks it: TLS, certs.d, auth challenges, redirects.

HTTPS is verified against the system's CAs plus the registry's own from
`/etc/docker/certs.d/HOST:PORT/*.crt` (where docker reads them; `client.cert`
and `client.key` there are sent too) and an explicit `ca_file`. Plain HTTP is
used only for a loopback registry (localhost, 127.0.0.0/8, ::1) or one named
insecure, and only when it does not speak TLS. Every byte of every response
body is counted in `downloaded`.
"""

from __future__ import annotations

import glob
import http.client
import ipaddress
import json
import os
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field

from ..errors import (
    RegistryAuthError,
    RegistryError,
    RegistryImageNotFoundError,
    RegistryTLSError,
    RegistryUnavailableError,
)
from .registry_auth import Credentials, find_credentials, login_hint, parse_challenge

CERTS_DIR = "/etc/docker/certs.d"
SMALL_LIMIT = 16 << 20  # manifests, configs, tokens, error bodies: never more than this in memory
MAX_REDIRECTS = 5
MAX_ATTEMPTS = 3  # per request, for GET/HEAD answered 429/502/503/504 or reset before any byte came back
RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 10.0  # seconds; a longer Retry-After is cut to this
IDEMPOTENT = ("GET", "HEAD")
USER_AGENT = "dockerviz"


@dataclass
class RegistryOptions:
    """How to reach registries: extra CA, insecure hosts, where docker's config is.

    ca_file   a PEM CA bundle trusted besides the system's and certs.d's
              (default: $DOCKERVIZ_REGISTRY_CA)
    insecure  True, or host[:port] names, to skip TLS verification and allow
              plain HTTP (default: $DOCKERVIZ_INSECURE_REGISTRIES, comma-separated)
    docker_config  the docker CLI's config.json (default: $DOCKER_CONFIG/config.json)
    """

    ca_file: str | None = None
    insecure: bool | tuple | list = ()
    docker_config: str | None = None
    certs_dir: str = CERTS_DIR
    timeout: float = 60.0
    username: str | None = None  # explicit credentials win over docker's config
    password: str | None = field(default=None, repr=False)

    @classmethod
    def coerce(cls, value) -> RegistryOptions:
        if isinstance(value, cls):
            return value
        if value is None:
            value = {}
        fields = list(cls.__dataclass_fields__)
        if not isinstance(value, dict):
            raise RegistryError("registry= takes a dockerviz.RegistryOptions or a dict of its fields.")
        unknown = sorted(str(k) for k in value if k not in fields)
        if unknown:
            raise RegistryError(f"registry= has no field {', '.join(map(repr, unknown))}; its fields are "
                                f"{', '.join(fields)}.")
        opts = cls(**value)
        if isinstance(opts.insecure, str):  # "host:port" or "a:5000,b:443", as the environment variable takes
            opts.insecure = _hosts(opts.insecure)
        if opts.ca_file is None:
            opts.ca_file = os.environ.get("DOCKERVIZ_REGISTRY_CA") or None
        if not opts.insecure:
            opts.insecure = _hosts(os.environ.get("DOCKERVIZ_INSECURE_REGISTRIES", ""))
        return opts

    def is_insecure(self, host: str) -> bool:
        if self.insecure is True:
            return True
        return isinstance(self.insecure, (tuple, list)) and host in self.insecure


def _hosts(text: str) -> tuple:
    return tuple(h.strip() for h in text.split(",") if h.strip())


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def retry_delay(attempt: int, retry_after: str | None) -> float:
    """Seconds to wait before attempt `attempt + 1`: Retry-After (seconds; capped), else 0.25 s doubling."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after.strip()), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass  # an HTTP date: not worth parsing for a cap of a few seconds
    return min(0.25 * (2 ** attempt), MAX_RETRY_AFTER)


def _ca_hint(netloc: str) -> str:
    return (f"Give dockerviz the CA that signed it: put it at {CERTS_DIR}/{netloc}/ca.crt (where docker looks), "
            "or pass registry={'ca_file': 'ca.pem'} (CLI: --registry-ca ca.pem; or DOCKERVIZ_REGISTRY_CA=ca.pem).")


_CONTEXTS: dict = {}


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class _NotTLS(Exception):
    """The TLS handshake failed for a reason other than the certificate (e.g. the server speaks plain HTTP)."""

    def __init__(self, netloc: str, exc: ssl.SSLError):
        super().__init__(netloc)
        self.netloc = netloc
        self.exc = exc

    def error(self) -> RegistryTLSError:
        return RegistryTLSError(f"TLS with {self.netloc} failed ({self.exc.reason or self.exc}). If it serves plain "
                                f"HTTP, name it insecure: registry={{'insecure': ['{self.netloc}']}} (CLI: "
                                f"--insecure-registry {self.netloc}).")


class RegistryClient:
    """Requests to one registry (and wherever it redirects), authenticated as needed."""

    def __init__(self, host: str, hostname: str, repo: str, options: RegistryOptions):
        self.host = host  # host[:port]
        self.hostname = hostname
        self.repo = repo
        self.options = options
        self.downloaded = 0
        self.requests = 0
        self._plain_ok = is_loopback(hostname) or options.is_insecure(host)
        self._scheme: str | None = None
        self._conns: dict = {}
        self._auth: str | None = None
        self._creds: Credentials | None = None
        self._creds_loaded = False

    # -- connections -------------------------------------------------------------
    def _context(self, netloc: str) -> ssl.SSLContext:
        # Loading the system's CA bundle takes a good part of a warm analysis: one context per
        # registry and trust settings, for the life of the process.
        # The files it was made from are part of the key: a CA put in place after a failure is used.
        files = sorted(glob.glob(os.path.join(self.options.certs_dir, netloc, "*")))
        if self.options.ca_file:
            files.append(self.options.ca_file)
        key = (netloc, self.options.is_insecure(netloc), tuple((f, _mtime(f)) for f in files))
        ctx = _CONTEXTS.get(key)
        if ctx is None:
            ctx = _CONTEXTS[key] = self._new_context(netloc)
        return ctx

    def _new_context(self, netloc: str) -> ssl.SSLContext:
        if self.options.is_insecure(netloc):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        ctx = ssl.create_default_context()
        folder = os.path.join(self.options.certs_dir, netloc)
        try:
            for ca in sorted(glob.glob(os.path.join(folder, "*.crt"))):
                ctx.load_verify_locations(cafile=ca)
            if self.options.ca_file:
                ctx.load_verify_locations(cafile=self.options.ca_file)
            for cert in sorted(glob.glob(os.path.join(folder, "*.cert"))):
                key = cert[: -len(".cert")] + ".key"
                if os.path.exists(key):
                    ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise RegistryTLSError(f"The CA or client certificate for {netloc} cannot be loaded ({exc}).") from None
        return ctx

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conn = self._conns.get((scheme, netloc))
        if conn is None:
            timeout = self.options.timeout
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=timeout, context=self._context(netloc))
            else:
                conn = http.client.HTTPConnection(netloc, timeout=timeout)
            self._conns[(scheme, netloc)] = conn
        return conn

    def drop(self, scheme: str, netloc: str) -> None:
        conn = self._conns.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def _send(self, method: str, scheme: str, netloc: str, path: str, headers: dict,
              body: bytes | str | None = None) -> http.client.HTTPResponse:
        """One request; a connection closed or reset before the answer began is reopened (once for a
        kept-alive connection the server closed meanwhile; up to MAX_ATTEMPTS times for GET/HEAD)."""
        attempts = MAX_ATTEMPTS if method in IDEMPOTENT else 2
        for attempt in range(attempts):
            if attempt > 1:
                time.sleep(retry_delay(attempt - 2, None))
            conn = self._connection(scheme, netloc)
            try:
                conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **headers})
                resp = conn.getresponse()
                self.requests += 1
                return resp
            except ssl.SSLCertVerificationError as exc:
                self.drop(scheme, netloc)
                raise RegistryTLSError(
                    f"The TLS certificate of {netloc} cannot be verified ({exc.verify_message}). "
                    + _ca_hint(netloc)) from None
            except ssl.SSLError as exc:
                self.drop(scheme, netloc)
                raise _NotTLS(netloc, exc) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.drop(scheme, netloc)
                if attempt == attempts - 1:
                    raise RegistryUnavailableError(
                        f"{netloc} closed the connection ({exc}), {attempts} times. Is the registry running, "
                        "and is it a registry?") from None
            except http.client.HTTPException as exc:
                # what answers is not an HTTP server (an SSH port, a broken proxy) or sends headers past
                # http.client's bounds
                self.drop(scheme, netloc)
                raise RegistryUnavailableError(
                    f"{scheme}://{netloc} did not answer as an HTTP server ({type(exc).__name__}: "
                    f"{str(exc)[:120]}). Is it a registry?") from None
            except TimeoutError:
                self.drop(scheme, netloc)
                raise RegistryUnavailableError(
                    f"{netloc} did not answer within {self.options.timeout:g} s.") from None
            except OSError as exc:
                self.drop(scheme, netloc)
                reason = exc.strerror or str(exc)
                raise RegistryUnavailableError(
                    f"No registry answers at {scheme}://{netloc} ({reason}). Check the host and port, and that "
                    "the registry is running and reachable from here.") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _base_scheme(self) -> str:
        return self._scheme or "https"

    def _send_base(self, method: str, path: str, headers: dict, body: bytes | None = None) -> http.client.HTTPResponse:
        """To the registry itself: HTTPS, or plain HTTP where allowed and TLS is not spoken."""
        try:
            resp = self._send(method, self._base_scheme(), self.host, path, headers, body)
        except _NotTLS as exc:
            if self._scheme is not None or not self._plain_ok:
                raise exc.error() from None
            self._scheme = "http"
            return self._send(method, "http", self.host, path, headers, body)
        self._scheme = self._base_scheme()
        return resp

    # -- bodies ----------------------------------------------------------------
    def read_body(self, resp: http.client.HTTPResponse, limit: int = SMALL_LIMIT, what: str = "response") -> bytes:
        length = resp.getheader("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            resp.close()
            raise RegistryError(f"The registry {self.host} sent a {what} of {int(length)} bytes; dockerviz reads "
                                f"at most {limit} bytes for one.")
        try:
            data = resp.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryUnavailableError(f"Reading the {what} from {self.host} failed ({exc}).") from None
        self.downloaded += len(data)
        if len(data) > limit:
            resp.close()
            raise RegistryError(f"The {what} from {self.host} is larger than {limit} bytes.")
        return data

    def discard(self, resp: http.client.HTTPResponse) -> None:
        try:
            self.read_body(resp, what="error body")
        except RegistryError:
            pass

    # -- credentials -----------------------------------------------------------
    def credentials(self) -> Credentials | None:
        if not self._creds_loaded:
            self._creds_loaded = True
            if self.options.username is not None:
                self._creds = Credentials(self.options.username, self.options.password or "",
                                          found_in="the username and password given")
            else:
                self._creds = find_credentials(self.host, path=self.options.docker_config)
        return self._creds

    def _refused(self, why: str) -> RegistryAuthError:
        return RegistryAuthError(f"The registry {self.host} refused access to {self.repo} ({why}) with "
                                 f"{login_hint(self.host, self.credentials())}.")

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        creds = self.credentials()
        if scheme == "basic":
            if creds is None or creds.username is None:
                raise RegistryAuthError(
                    f"The registry {self.host} asks for a user name and password and none were found for it: "
                    f"{login_hint(self.host, None)}, or pass registry={{'username': ..., 'password': ...}}.")
            self._auth = creds.basic
            return
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryAuthError(f"The registry {self.host} asks for an authentication dockerviz does not speak "
                                    f"({challenge[:120]!r}).")
        self._auth = "Bearer " + self._token(params, creds)

    def _token(self, params: dict, creds: Credentials | None) -> str:
        realm = urllib.parse.urlsplit(params["realm"])
        if realm.scheme not in ("https", "http") or not realm.netloc:
            raise RegistryAuthError(f"The registry {self.host} names a token service {params['realm']!r} that is "
                                    "not an http(s) URL.")
        if realm.scheme == "http" and not (is_loopback(realm.hostname or "") or self.options.is_insecure(realm.netloc)):
            raise RegistryAuthError(f"The registry {self.host} sends credentials to a plain-HTTP token service "
                                    f"({params['realm']}); dockerviz only does that for loopback or insecure hosts.")
        query = {"service": params.get("service", ""), "scope": params.get("scope") or f"repository:{self.repo}:pull"}
        headers = {"Accept": "application/json"}
        method = "GET"
        body = None
        if creds is not None and creds.identity_token:
            method = "POST"
            body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                                           "client_id": USER_AGENT, **query})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            path = realm.path or "/"
        else:
            if creds is not None and creds.username is not None:
                headers["Authorization"] = creds.basic
            sep = "&" if realm.query else ""
            path = (realm.path or "/") + "?" + realm.query + sep + urllib.parse.urlencode(query)
        try:
            resp = self._send(method, realm.scheme, realm.netloc, path, headers, body)
        except _NotTLS as exc:
            raise exc.error() from None
        data = self.read_body(resp, what="token")
        if resp.status in (401, 403):
            raise self._refused(f"the token service {realm.netloc} answered {resp.status}")
        if resp.status != 200:
            raise RegistryError(f"The token service {params['realm']} answered {resp.status} {resp.reason}.")
        try:
            answer = json.loads(data)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"The token service {params['realm']} answered without a token.")
        return token

    # -- requests --------------------------------------------------------------
    def request(self, method: str, path: str, *, headers: dict | None = None, what: str = "request",
                ok=(200,), body: bytes | None = None) -> http.client.HTTPResponse:
        """A response with a status in `ok`, its body not read; errors as DockervizErrors. A `body`
        (a manifest being put) is sent to the registry itself, never along a redirect.

        GET and HEAD answered 429/502/503/504 are asked again (MAX_ATTEMPTS in all, after Retry-After
        or a short backoff). Nothing is retried once a response is returned: its body is the caller's
        to stream, and bytes already parsed cannot be taken back."""
        headers = dict(headers or {})
        authenticated = False
        busy = 0  # answers in RETRY_STATUSES so far
        scheme, netloc = "", None  # netloc None: the registry itself
        for _ in range(MAX_REDIRECTS + 2 + MAX_ATTEMPTS):
            sent = dict(headers)
            if netloc is None and self._auth:
                sent["Authorization"] = self._auth
            if netloc is None:
                resp = self._send_base(method, path, sent, body)
            else:
                try:
                    resp = self._send(method, scheme, netloc, path, sent)
                except _NotTLS as exc:
                    raise exc.error() from None
            if resp.status in ok:
                return resp
            if resp.status in RETRY_STATUSES and method in IDEMPOTENT:
                busy += 1
                if busy >= MAX_ATTEMPTS:
                    raise self._busy(resp, what, busy)
                delay = retry_delay(busy - 1, resp.getheader("Retry-After"))
                self.discard(resp)
                time.sleep(delay)
                continue
            if resp.status == 401 and netloc is None and not authenticated:
                challenge = resp.getheader("WWW-Authenticate") or ""
                self.discard(resp)
                if not challenge:
                    raise self._refused("401 without a challenge")
                self._authenticate(challenge)
                authenticated = True
                continue
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                target = urllib.parse.urljoin(f"{scheme or self._base_scheme()}://{netloc or self.host}{path}",
                                              resp.getheader("Location"))
                self.discard(resp)
                parts = urllib.parse.urlsplit(target)
                if parts.scheme not in ("https", "http") or not parts.netloc:
                    raise RegistryError(f"The registry {self.host} redirects to {target[:200]}, which is not an "
                                        "http(s) URL; refused.")
                if parts.scheme == "http" and not (is_loopback(parts.hostname or "") or self._plain_ok):
                    raise RegistryError(f"The registry {self.host} redirects to plain HTTP ({target}); refused.")
                if parts.netloc == self.host and parts.scheme == self._base_scheme():
                    scheme, netloc = "", None
                else:
                    scheme, netloc = parts.scheme, parts.netloc
                path = parts.path + (("?" + parts.query) if parts.query else "")
                continue
            raise self._error(resp, what)
        raise RegistryError(f"The registry {self.host} redirected more than {MAX_REDIRECTS} times for the {what}.")

    def _busy(self, resp: http.client.HTTPResponse, what: str, attempts: int) -> RegistryError:
        self.discard(resp)
        why = ("is limiting the rate of requests" if resp.status == 429 else
               "or a proxy in front of it is overloaded or down")
        return RegistryUnavailableError(
            f"The registry {self.host} kept answering {resp.status} {resp.reason} for the {what} ({attempts} "
            f"attempts): it {why}. Wait a while and run again; for a rate limit, log in (`docker login "
            f"{self.host}`) or use a mirror.")

    def _error(self, resp: http.client.HTTPResponse, what: str) -> Exception:
        data = b""
        try:
            data = self.read_body(resp, limit=1 << 16, what="error body")
        except RegistryError:
            pass
        codes, messages = [], []
        try:
            for err in json.loads(data).get("errors") or []:
                codes.append(str(err.get("code", "")))
                messages.append(str(err.get("message", "")))
        except (ValueError, AttributeError, TypeError):
            pass
        detail = "; ".join(m for m in messages if m) or resp.reason
        if resp.status == 404 or set(codes) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"}:
            return RegistryImageNotFoundError(
                f"The registry {self.host} has no {what} ({detail}). Check the repository name and the tag or "
                f"digest (`skopeo list-tags docker://{self.host}/{self.repo}` lists the tags).")
        if resp.status in (401, 403):
            return self._refused(f"{resp.status} {detail}")
        return RegistryError(f"The registry {self.host} answered {resp.status} {resp.reason} for the {what}"
                             f"{': ' + detail if detail != resp.reason else ''}.")


__all__ = ["CERTS_DIR", "RegistryClient", "RegistryOptions", "is_loopback"]
