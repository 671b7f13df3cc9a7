"""Parsing BuildKit's stream from a raw `POST /build?version=2` (no session).

docker-py has no BuildKit support, but the Engine answers a plain POST with a
JSON stream whose progress arrives as
    {"id": "moby.buildkit.trace", "aux": "<base64 StatusResponse protobuf>"}
    {"id": "moby.image.id", "aux": {"ID": "sha256:..."}}
    {"errorDetail": {"message": ...}, "error": ...}
Vertices named "[stage k/N] INSTRUCTION" are Dockerfile steps; the others
("[internal] load remote build context", "copy /context /", "exporting to
image") are bookkeeping and only reach the log. BuildKit stamps vertices with
their own start/completion times, which are used as they are.
"""

from __future__ import annotations

import re

from .buildkit_proto import decode_trace_aux
from .protobuf import ProtobufError
from .result import CACHED, CANCELLED, DONE, FAILED, PENDING, RUNNING

STEP_NAME_RE = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?(?P<k>\d+)/(?P<n>\d+)\] (?P<ins>.*)$", re.DOTALL)
EXIT_RE = re.compile(r"exit code:? (\d+)")
TRACE_ID = "moby.buildkit.trace"
IMAGE_ID = "moby.image.id"


def _is_cancel(err: str) -> bool:
    return "context canceled" in err or "context cancelled" in err


class BuildKitParser:
    builder = "buildkit"

    def __init__(self, result):
        self.r = result
        self.error = None  # (message, code, step number)
        self.image_id = None
        self.vertex_error = None  # (message, digest) of the first real vertex failure
        self._order: list[str] = []  # step vertex digests in first-seen order
        self._other: dict = {}  # non-step vertices: digest -> name
        self._logged_status: set = set()
        self.bad_messages = 0

    def _step_number(self, digest):
        return self._order.index(digest) + 1 if digest in self._order else None

    def feed(self, msg: dict, now: float):
        if not isinstance(msg, dict):
            return
        if "errorDetail" in msg or "error" in msg:
            detail = msg.get("errorDetail") or {}
            text = detail.get("message") or msg.get("error") or "unknown build error"
            step = None
            code = None
            if self.vertex_error is not None:
                vmsg, digest = self.vertex_error
                step = self._step_number(digest)
                m = EXIT_RE.search(vmsg)
                code = int(m.group(1)) if m else None
            if code is None:
                m = EXIT_RE.search(text)
                code = int(m.group(1)) if m else None
            if step is None:
                running = [s for s in self.r.step_list() if s.status == RUNNING]
                step = running[-1].step if running else None
            self.error = (text, code, step)
            self.r._log_text(text + "\n", stderr=True, step=step, when=now)
            return
        ident = msg.get("id")
        if ident == TRACE_ID:
            try:
                status = decode_trace_aux(msg.get("aux"))
            except ProtobufError:
                self.bad_messages += 1
                return
            self._trace(status, now)
            return
        if ident == IMAGE_ID:
            aux = msg.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                self.image_id = aux["ID"]
            return
        text = msg.get("stream")
        if text:
            self.r._log_text(text, when=now)

    def _trace(self, status, now):
        for v in status.vertexes:
            m = STEP_NAME_RE.match(v.name)
            if m is None or m.group("stage") == "internal":
                self._other_vertex(v, now)
                continue
            new = v.digest not in self._order
            if new:
                self._order.append(v.digest)
            if v.error:
                st = CANCELLED if _is_cancel(v.error) else FAILED
                if st == FAILED and self.vertex_error is None:
                    self.vertex_error = (v.error, v.digest)
            elif v.completed is not None:
                st = CACHED if v.cached else DONE
            elif v.started is not None:
                st = RUNNING
            else:
                st = PENDING
            fields = dict(
                instruction=m.group("ins").strip(),
                stage=m.group("stage"),
                cached=bool(v.cached),
                status=st,
                inputs=tuple(v.inputs),
            )
            if v.started is not None:
                fields["started"] = v.started
            if v.completed is not None:
                fields["completed"] = v.completed
            if v.error:
                fields["error"] = v.error
            if new:
                fields["step"] = len(self._order)
            self.r._step(v.digest, **fields)
            if new and self.r.total_steps != len(self._order):
                self.r._set_total(len(self._order))
        for lg in status.logs:
            step = self._step_number(lg.vertex)
            text = lg.msg.decode("utf-8", "replace")
            self.r._log_text(text, stderr=lg.stream == 2, step=step, when=lg.timestamp or now)
        for st in status.statuses:
            if st.completed is not None and st.id and st.id not in self._logged_status:
                self._logged_status.add(st.id)
                self.r._log_text(f"{st.id} done\n", step=self._step_number(st.vertex), when=now)
        for w in status.warnings:
            text = w.short.decode("utf-8", "replace").rstrip("\n")
            self.r._log_text(f"WARNING: {text}\n", stderr=True, step=self._step_number(w.vertex), when=now)

    def _other_vertex(self, v, now):
        key = v.digest
        if key not in self._other:
            self._other[key] = None
        state = "error" if v.error else ("done" if v.completed is not None else None)
        if state and self._other[key] != state:
            self._other[key] = state
            cached = " CACHED" if v.cached else ""
            suffix = f" ERROR: {v.error}" if v.error else f"{cached} DONE"
            self.r._log_text(f"{v.name}{suffix}\n", stderr=bool(v.error), when=now)
            if v.error and not _is_cancel(v.error) and self.vertex_error is None:
                self.vertex_error = (v.error, v.digest)

    def finish(self, now: float):
        pass

    # ------------------------------------------------------------------
    def final_chain(self) -> list:
        """Steps whose layers end up in the image, oldest first (follows vertex inputs)."""
        steps = {s.key: s for s in self.r.step_list()}
        if not steps:
            return []
        consumed = set()
        for s in steps.values():
            consumed.update(d for d in s.inputs if d in steps)
        sinks = [s for s in steps.values() if s.key not in consumed]
        if len(sinks) != 1:
            return []
        chain = []
        cur = sinks[0]
        seen = set()
        while cur is not None and cur.key not in seen:
            seen.add(cur.key)
            chain.append(cur)
            parents = [steps[d] for d in cur.inputs if d in steps]
            same = [p for p in parents if p.stage == cur.stage]
            if same:
                cur = same[0]
            elif len(parents) == 1 and not cur.instruction.upper().startswith(("COPY", "ADD")):
                cur = parents[0]  # first step of a stage built FROM another stage
            elif len(parents) == 1 and "--from" not in cur.instruction:
                cur = parents[0]
            else:
                cur = None
        chain.reverse()
        return chain
