"""The build thread: POST /build, feed the stream to a parser, finish the BuildResult.

Both builders go through the same endpoint with the parameters
`APIClient.build` would send (the classic one with version=1, BuildKit with
version=2); the request is made directly so that the response object is at
hand: cancelling shuts its socket down, which ends the build on the daemon and
unblocks the reading thread at once. Nothing keeps running after the build
ends: the thread returns, the stream and the client are closed.
"""

from __future__ import annotations

import json
import re
import threading
import time

from .. import engine
from ..errors import BuildError, DockervizError
from .buildkit import BuildKitParser
from .classic import ClassicParser
from .result import CANCELLED, FAILED, SUCCEEDED

BUILDERS = ("auto", "classic", "buildkit")
LOG_TAIL = 15

# Daemon answers that mean "BuildKit is not available here", for builder="auto" fallback.
_NO_BUILDKIT = (
    "buildkit not supported",
    "buildkit is not supported",
    "session",
    "not implemented",
    "unsupported builder version",
    "experimental",
)


def buildkit_conflict_message(conflict: str) -> str:
    return (f"builder='buildkit' cannot keep the Dockerfile out of this image: {conflict}. "
            "Use builder='auto' or 'classic' (the classic builder leaves it out), copy named files "
            "instead of the whole context, or keep the Dockerfile in the context without listing it "
            "in .dockerignore.")


class _Dispatch:
    """Picks the parser from the messages themselves: a daemon asked for BuildKit
    that answers the classic way (podman, old engines) is parsed as classic."""

    def __init__(self, result, requested):
        self.result = result
        self.parser = None
        self.requested = requested

    def feed(self, msg, now):
        if self.parser is None:
            if isinstance(msg, dict) and str(msg.get("id", "")).startswith("moby."):
                self.parser = BuildKitParser(self.result)
            elif isinstance(msg, dict) and ("stream" in msg or "aux" in msg or "status" in msg):
                self.parser = ClassicParser(self.result)
            elif isinstance(msg, dict) and ("error" in msg or "errorDetail" in msg):
                self.parser = BuildKitParser(self.result) if self.requested == "buildkit" else ClassicParser(self.result)
            else:
                return
            self.result.builder = self.parser.builder
        self.parser.feed(msg, now)


def build_params(*, version, dockerfile_name, tags, buildargs, target, nocache, labels, network_mode, buildid=None,
                 platform=None):
    params = {
        "version": version,
        "dockerfile": dockerfile_name,
        "rm": "1",
        # A failed step's container is debris in a notebook session: remove it too.
        "forcerm": "1",
        "nocache": "1" if nocache else "0",
    }
    if tags:
        params["t"] = list(tags)
    if buildargs:
        params["buildargs"] = json.dumps({str(k): (None if v is None else str(v)) for k, v in buildargs.items()})
    if labels:
        params["labels"] = json.dumps({str(k): str(v) for k, v in labels.items()})
    if target:
        params["target"] = target
    if network_mode:
        params["networkmode"] = network_mode
    if buildid:
        params["buildid"] = buildid
    if platform:
        params["platform"] = platform
    return params


class BuildJob:
    def __init__(self, result, ctx, *, tags, buildargs, target, nocache, labels, network_mode, builder,
                 client_factory=None, platform=None):
        if builder not in BUILDERS:
            raise BuildError(f"builder must be one of {', '.join(map(repr, BUILDERS))}, not {builder!r}.")
        self.result = result
        self.ctx = ctx
        self.kw = dict(tags=tags, buildargs=buildargs, target=target, nocache=nocache, labels=labels,
                       network_mode=network_mode, platform=platform)
        self.builder = builder
        self._client_factory = client_factory
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._response = None
        self._api = None
        self.thread = None
        result._job = self

    # ------------------------------------------------------------------ control
    def start(self):
        self.thread = threading.Thread(target=self._run, name="dockerviz-build", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout=None):
        t = self.thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    @property
    def alive(self):
        return self.thread is not None and self.thread.is_alive()

    def cancel(self):
        self._cancel.set()
        with self._lock:
            resp, api = self._response, self._api
        if resp is not None:
            engine.close_stream(resp, api)

    # ------------------------------------------------------------------ the thread
    def _client(self):
        if self._client_factory is not None:
            return self._client_factory()
        return engine.client(timeout=None)

    def _run(self):
        r = self.result
        client = None
        try:
            try:
                client = self._client()
            except DockervizError as exc:
                raise BuildError(f"Cannot start the build: {exc}") from None
            if self._cancel.is_set():
                r._finish(CANCELLED)
                return
            order = {"classic": ["1"], "buildkit": ["2"], "auto": ["2", "1"]}[self.builder]
            if self.builder == "auto" and not _buildkit_likely(client):
                order = ["1"]
            conflict = self.ctx.buildkit_conflict
            if "2" in order and conflict:
                if self.builder == "buildkit":
                    raise BuildError(buildkit_conflict_message(conflict))
                order = ["1"]
                r._log_text(f"Using the classic builder: {conflict}.\n", when=time.time())
            for i, version in enumerate(order):
                last = i == len(order) - 1
                outcome = self._attempt(client, version, allow_fallback=not last)
                if outcome != "fallback":
                    return
        except BuildError as exc:
            if not r.done:
                r._finish(FAILED, exc)
        except BaseException as exc:  # anything unexpected still ends the build visibly
            if not r.done:
                r._finish(FAILED, BuildError(f"The build stopped on an unexpected error: {type(exc).__name__}: {exc}"))
        finally:
            with self._lock:
                resp, self._response = self._response, None
            if resp is not None:
                try:
                    resp.close()
                except Exception:
                    pass
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
            try:
                self.ctx.close()
            except Exception:
                pass
            from . import history

            if not r.done:
                r._finish(FAILED, BuildError("The build thread ended without a result."))
            history.record(r)

    def _attempt(self, client, version, *, allow_fallback):
        """One POST /build. Returns "fallback" when BuildKit turned out unavailable before any step ran."""
        r = self.result
        api = client.api
        fileobj = self.ctx.tar("buildkit" if version == "2" else "classic")
        params = build_params(version=version, dockerfile_name=self.ctx.dockerfile_name, **self.kw)
        headers = {"Content-Type": "application/x-tar"}
        dispatch = _Dispatch(r, "buildkit" if version == "2" else "classic")
        try:
            resp = engine.post_build(api, params, fileobj, headers)
        except Exception as exc:
            if self._cancel.is_set():
                r._finish(CANCELLED)
                return "done"
            raise BuildError(f"The daemon could not be reached to start the build: {type(exc).__name__}: {exc}") from None
        with self._lock:
            self._response, self._api = resp, api
        if self._cancel.is_set():
            engine.close_stream(resp, api)
        if resp.status_code >= 400:
            text = _error_text(resp)
            if allow_fallback and any(s in text.lower() for s in _NO_BUILDKIT):
                return "fallback"
            r.builder = "buildkit" if version == "2" else "classic"
            raise self._definition_error(text)

        broken = None
        try:
            for msg in engine.json_messages(api, resp):
                dispatch.feed(msg, time.time())
                if self._cancel.is_set():
                    break
        except Exception as exc:  # connection reset, truncated chunk, bad JSON
            broken = exc
        now = time.time()
        parser = dispatch.parser
        if r.builder is None:
            r.builder = "buildkit" if version == "2" else "classic"
        if self._cancel.is_set():
            r._finish(CANCELLED)
            return "done"
        if parser is not None and broken is None:
            parser.finish(now)
        error = parser.error if parser is not None else None
        if error is not None:
            text, code, step = error
            if (allow_fallback and version == "2" and not r.step_list()
                    and any(s in text.lower() for s in _NO_BUILDKIT)):
                return "fallback"
            if step is None and _is_definition_error(text):
                raise self._definition_error(text)
            raise self._step_error(text, code, step)
        if broken is not None:
            cur = r.current_step
            where = f" during step {cur.step} ({cur.instruction})" if cur is not None else ""
            raise BuildError(
                f"The connection to the Docker daemon was lost{where}: {type(broken).__name__}: {broken}. "
                "The daemon may have stopped or restarted; check it with `docker info` and build again.",
                step=cur.step if cur is not None else None,
                instruction=cur.instruction if cur is not None else None,
                log_tail=self._tail(cur.step if cur is not None else None),
            )
        image_id = parser.image_id if parser is not None else None
        if not image_id:
            cur = r.current_step
            raise BuildError(
                "The build stream ended without an image id or an error message; "
                "the daemon may have stopped mid-build. Check it with `docker info` and build again.",
                step=cur.step if cur is not None else None,
                instruction=cur.instruction if cur is not None else None,
                log_tail=self._tail(None),
            )
        r.image_id = image_id
        try:
            _fill_layers(api, r, parser)
        except Exception:
            pass  # layer sizes are a bonus; the build itself succeeded
        r._finish(SUCCEEDED)
        return "done"

    # ------------------------------------------------------------------ errors
    def _tail(self, step, n=LOG_TAIL, skip=None):
        """The last log lines of `step` (of the whole build when unknown), minus the builder's own chatter."""
        lines = self.result.log_lines()
        if step is not None:
            own = [ln for ln in lines if ln.step == step]
            if own:
                lines = own
        out = []
        for ln in lines:
            for t in ln.text.rstrip("\n").splitlines() or [""]:
                if step is not None and (_CHATTER.match(t) or (skip and t.strip() == skip.strip())):
                    continue
                out.append(t)
        return out[-n:]

    def _step_error(self, text, code, step):
        r = self.result
        s = None
        if step is not None:
            s = next((x for x in r.step_list() if x.step == step), None)
        tail = self._tail(step, skip=text)
        where = f"Step {step}" + (f"/{r.total_steps}" if r.total_steps else "") if step is not None else "The build"
        instr = f" ({s.instruction})" if s is not None else ""
        code_txt = f" with exit code {code}" if code is not None else ""
        msg = f"{where}{instr} failed{code_txt}: {text}"
        if tail:
            msg += "\nLast log lines:\n" + "\n".join("  " + ln for ln in tail)
        return BuildError(msg, step=step, instruction=s.instruction if s is not None else None,
                          exit_code=code, log_tail=tail)

    def _definition_error(self, text):
        """The Dockerfile could not be turned into a build (syntax error, unknown target...).

        The classic builder refuses the request (HTTP 400); BuildKit says it in the
        stream before any step. `step` is then the instruction's index in the Dockerfile.
        """
        ctx = self.ctx
        step = instruction = None
        low = text.lower()
        m = re.search(r"line (\d+)", text)
        if m and ("parse error" in low or "dockerfile" in low):
            line = int(m.group(1))
            ins = ctx.instruction_at_line(line)
            if ins is not None:
                step, instruction = ins.index, ins.text
            else:
                lines = ctx.dockerfile_text.splitlines()
                if 0 < line <= len(lines):
                    instruction = lines[line - 1].strip()
                    step = sum(1 for i in ctx.instructions if i.line < line) + 1
        hint = ""
        target = self.kw.get("target")
        if target and ("target" in low):
            stages = ctx.stages()
            hint = (f" The Dockerfile's named stages are: {', '.join(stages)}." if stages
                    else " The Dockerfile names no stages (use `FROM image AS name`).")
        where = f" at step {step} ({instruction})" if step is not None else ""
        return BuildError(f"The daemon rejected the Dockerfile{where}: {text}.{hint}", step=step,
                          instruction=instruction)


_CHATTER = re.compile(r"^(Step \d+/\d+ : | ---> |Removing intermediate container )")


def _is_definition_error(text: str) -> bool:
    low = text.lower()
    return "parse error" in low or "llb definition" in low or "build target" in low or "target stage" in low


def _error_text(resp) -> str:
    try:
        data = resp.json()
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    except Exception:
        pass
    try:
        return resp.text.strip() or f"HTTP {resp.status_code}"
    except Exception:
        return f"HTTP {resp.status_code}"


def _buildkit_likely(client) -> bool:
    """BuildKit without a session: Docker Engine (not podman) on Linux, API >= 1.39."""
    try:
        v = client.api.version(api_version=False)
    except Exception:
        return False
    if v.get("Os", "linux") != "linux":
        return False
    components = " ".join(str(c.get("Name", "")) for c in v.get("Components") or [])
    if "podman" in components.lower():
        return False
    try:
        major, minor = (int(p) for p in str(v.get("ApiVersion", "0.0")).split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (1, 39)


def _classify_layered(entries) -> list[bool]:
    """For history entries (oldest first): does the entry carry a filesystem layer?"""
    out = []
    for h in entries:
        created = str(h.get("CreatedBy") or "")
        if str(h.get("Comment") or "").startswith("buildkit"):
            out.append(created.rstrip().endswith("# buildkit"))
        elif "#(nop)" in created:
            nop = created.split("#(nop)", 1)[1].strip().upper()
            out.append(nop.startswith(("COPY", "ADD")))
        else:
            out.append(True)
    return out


def _fill_layers(api, r, parser):
    """layer_id (the layer's diff id) and layer_size for the steps that made the image's layers."""
    info = api.inspect_image(r.image_id)
    r.size = info.get("Size")
    history = list(reversed(api.history(r.image_id)))  # oldest first
    diff_ids = list((info.get("RootFS") or {}).get("Layers") or [])
    layered = _classify_layered(history)
    if sum(layered) != len(diff_ids):
        by_size = [int(h.get("Size") or 0) > 0 for h in history]
        layered = by_size if sum(by_size) == len(diff_ids) else None
    diff_of = {}
    if layered is not None:
        k = 0
        for i, has in enumerate(layered):
            if has:
                diff_of[i] = diff_ids[k]
                k += 1
    if isinstance(parser, ClassicParser):
        index_of = {}
        for i, h in enumerate(history):
            hid = str(h.get("Id") or "")
            if hid.startswith("sha256:"):
                index_of[hid[7:19]] = i
        for s in r.step_list():
            i = index_of.get(s.short_id or "")
            if i is None or s.instruction.upper().startswith("FROM"):
                continue
            r._step(s.key, layer_size=int(history[i].get("Size") or 0), layer_id=diff_of.get(i))
    elif isinstance(parser, BuildKitParser):
        chain = parser.final_chain()
        layered_idx = [i for i, has in enumerate(layered or []) if has]
        if not chain or len(chain) > len(layered_idx):
            return
        for s, i in zip(chain, layered_idx[-len(chain):]):
            r._step(s.key, layer_size=int(history[i].get("Size") or 0), layer_id=diff_of.get(i))
