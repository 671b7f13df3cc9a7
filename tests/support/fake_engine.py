"""A fake Docker Engine: canned API answers recorded from the real daemon, served over HTTP on
127.0.0.1, as docker-py's own unit tests replay tests/unit/fake_api.py.

`FakeEngine(canned)` answers each request with the recorded answer for its method and path (the
API version prefix removed; answers to one path are replayed in order, the last one repeated).
Streams (build progress, stats) are sent chunked, one recorded message per chunk, as the daemon
sends them. A request with no recorded answer gets a 404 naming it, which `misses` lists.

`FakeEngine(record_to=daemon_socket)` forwards every request to the real daemon and keeps what it
answered (a stream: its first STREAM_KEEP messages); `canned` is then the recording, which
tests/data/fake_engine.json holds (re-record: `python tests/support/fake_engine.py`).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CANNED = Path(__file__).resolve().parent.parent / "data" / "fake_engine.json"
STREAM_KEEP = 4  # messages kept of an endless stream (stats)
_VERSION = re.compile(r"^/v\d+\.\d+(?=/)")
# answers that are streams of JSON messages
_STREAMS = (re.compile(r"^/build$"), re.compile(r"^/containers/[^/]+/stats$"))
_KEEP_HEADERS = ("content-type", "api-version", "docker-experimental", "ostype", "server")


def _key(method: str, target: str) -> str:
    path = _VERSION.sub("", target.split("?", 1)[0])
    return f"{method} {path}"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 120):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class FakeEngine:
    def __init__(self, canned: dict | None = None, *, record_to: str | None = None):
        self.canned = {k: list(v) for k, v in (canned or {}).items()}
        self.record_to = record_to
        self.recorded: dict[str, list] = {}
        self.misses: list[str] = []
        self.requests: list[str] = []
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                engine._handle(self)

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"tcp://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # ---- answering --------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(req.rfile)
        key = _key(req.command, req.path)
        with self._lock:
            self.requests.append(key)
        if self.record_to is not None:
            answer = self._forward(req, body)
            with self._lock:
                self.recorded.setdefault(key, []).append(answer)
        else:
            with self._lock:
                answers = self.canned.get(key)
                if not answers:
                    self.misses.append(key)
                    answer = {"status": 404, "headers": {"content-type": "application/json"},
                              "body": json.dumps({"message": f"the fake engine has no answer for {key}"})}
                else:
                    n = self._served.get(key, 0)
                    self._served[key] = n + 1
                    answer = answers[min(n, len(answers) - 1)]
        self._send(req, answer)

    def _send(self, req, answer: dict) -> None:
        try:
            req.send_response(answer["status"])
            for name, value in answer.get("headers", {}).items():
                req.send_header(name, value)
            if "stream" in answer:
                req.send_header("Transfer-Encoding", "chunked")
                req.end_headers()
                for message in answer["stream"]:
                    data = (message + "\n").encode()
                    req.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                req.wfile.write(b"0\r\n\r\n")
            else:
                data = body_bytes(answer)
                req.send_header("Content-Length", str(len(data)))
                req.end_headers()
                if req.command != "HEAD":
                    req.wfile.write(data)
            req.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _forward(self, req, body: bytes) -> dict:
        conn = _UnixConnection(self.record_to)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "transfer-encoding", "content-length")}
        conn.request(req.command, req.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        answer = {"status": resp.status,
                  "headers": {k.lower(): v for k, v in resp.getheaders() if k.lower() in _KEEP_HEADERS}}
        path = _VERSION.sub("", req.path.split("?", 1)[0])
        if any(p.match(path) for p in _STREAMS) and resp.status < 400:
            messages = []
            endless = "/stats" in path
            while True:
                line = resp.readline()
                if not line:
                    break
                if line.strip():
                    messages.append(line.decode().strip())
                if endless and len(messages) >= STREAM_KEEP:
                    break
            answer["stream"] = messages
        else:
            data = resp.read()
            try:
                answer["body"] = data.decode()
            except UnicodeDecodeError:
                answer["body64"] = base64.b64encode(data).decode()
        conn.close()
        return answer

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_chunked(rfile) -> bytes:
    out = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            rfile.readline()
            return out
        out += rfile.read(size)
        rfile.readline()


def body_bytes(answer: dict) -> bytes:
    """The body of a recorded answer (text, or base64 for bytes that are not UTF-8)."""
    return base64.b64decode(answer["body64"]) if "body64" in answer else answer.get("body", "").encode()


def load() -> dict:
    return json.loads(CANNED.read_text())


# ---- recording, from the real daemon ---------------------------------------------------------

SCENARIO_IMAGE = "dockerviz-test/fake-engine:1"
DOCKERFILE = "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data/ /data/\n"


def write_context(directory: Path) -> Path:
    """The build context the recording was made from (and the fake build replays)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(DOCKERFILE)
    (directory / "hello.txt").write_text("hello from the fake engine\n")
    (directory / "data").mkdir(exist_ok=True)
    (directory / "data" / "a.txt").write_text("a" * 100)
    return directory


def scenario(engine_url: str, context: Path, busybox: str) -> dict:
    """The calls the fake engine's tests make, against `engine_url`. Returns what they saw."""
    import dockerviz

    result = dockerviz.build(str(context), tag=SCENARIO_IMAGE, builder="classic", engine=engine_url)
    img = dockerviz.analyze(SCENARIO_IMAGE, path="save-stream", cache=False, engine=engine_url)
    view = dockerviz.container(FAKE_CONTAINER, engine=engine_url)
    import time

    with dockerviz.monitor([view], interval=1.0, engine=engine_url) as mon:
        deadline = time.monotonic() + 20
        while len(mon.rows()) < STREAM_KEEP - 1 and time.monotonic() < deadline:
            time.sleep(0.2)
    return {"build": result, "image": img, "view": view, "monitor": mon}


FAKE_CONTAINER = "dockerviz-fake-engine-box"


def record(path: Path = CANNED) -> dict:
    """Run the scenario through a recording FakeEngine in front of the real daemon; save the answers."""
    import subprocess
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from support import images
    from support.engine import ensure_engine

    eng = ensure_engine()
    client = eng.client()
    images.build(client, images.BUSYBOX)
    busybox = images.BUSYBOX.tag
    subprocess.run(["docker", "rm", "-f", FAKE_CONTAINER], capture_output=True)
    subprocess.run(["docker", "run", "-d", "--name", FAKE_CONTAINER, "--network", "none", busybox,
                    "sh", "-c", "while :; do :; done"], check=True, capture_output=True)
    try:
        with tempfile.TemporaryDirectory() as tmp, FakeEngine(record_to=(eng.base_url or "unix:///var/run/docker.sock").removeprefix("unix://")) as fake:
            scenario(fake.url, write_context(Path(tmp) / "ctx"), busybox)
            recorded = fake.recorded
    finally:
        subprocess.run(["docker", "rm", "-f", FAKE_CONTAINER], capture_output=True)
        subprocess.run(["docker", "rmi", SCENARIO_IMAGE], capture_output=True)
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    return recorded


if __name__ == "__main__":
    done = record()
    print(f"{CANNED}: {len(done)} paths, {sum(len(v) for v in done.values())} answers")
