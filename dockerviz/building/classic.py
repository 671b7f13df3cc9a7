"""Parsing the classic builder's JSON stream (what `APIClient.build(decode=True)` yields).

Message shapes (Engine API 1.41):
    {"stream": "Step 2/6 : RUN ..."}           a step starts (the newline comes separately)
    {"stream": " ---> Using cache\\n"}          the step was served from the cache
    {"stream": " ---> Running in 1ea40f37f834\\n"}
    {"stream": " ---> 6c4bd3aaf2b1\\n"}         the step's resulting image id: step done
    {"stream": "\\x1b[91merr\\n\\x1b[0m"}         stderr of a RUN, in ANSI red
    {"aux": {"ID": "sha256:..."}}               the final image
    {"errorDetail": {"code": 3, "message": ...}, "error": ...}
There are no timestamps: steps are stamped on receipt.

Podman's Docker-compatible endpoint builds with buildah and streams its text:
    {"stream": "STEP 2/6: COPY busybox /bin/busybox\n"}
    {"stream": "--> Using cache 0c7731cf22a2...\n"}   (full id)
    {"stream": "--> 0c7731cf22a\n"}                    the step's image: step done
    {"stream": "COMMIT name\n"}                         the last step's image is committed
    {"errorDetail": {"message": "building at STEP \"RUN ...\": while running runtime: exit status 3"}}
with stderr not told apart from stdout.
"""

from __future__ import annotations

import re

from .result import CACHED, DONE, FAILED, RUNNING

STEP_RE = re.compile(r"^(?:Step (\d+)/(\d+) : |STEP (\d+)/(\d+): )(.*)$", re.DOTALL)  # Docker | buildah
ARROW_RE = re.compile(r"^(?: ---> |--> )(.*)$")
HEX_RE = re.compile(r"^[0-9a-f]{11,64}$")
EXIT_RE = re.compile(r"(?:non-zero code|exit code|exit status):? (\d+)")


class ClassicParser:
    builder = "classic"

    def __init__(self, result):
        self.r = result
        self.current = None  # step number of the running step
        self.error = None  # (message, code, step number)
        self.image_id = None
        self._partial = ""  # stream text not yet ended by a newline

    # ------------------------------------------------------------------
    def _close_current(self, now, status=None):
        if self.current is None:
            return
        s = self.r._get_step(self.current)
        if s is not None and s.status == RUNNING:
            self.r._step(self.current, status=status or (CACHED if s.cached else DONE), completed=now)

    def feed(self, msg: dict, now: float):
        if not isinstance(msg, dict):
            return
        if "errorDetail" in msg or "error" in msg:
            detail = msg.get("errorDetail") or {}
            text = detail.get("message") or msg.get("error") or "unknown build error"
            code = detail.get("code")
            if code is None:
                m = EXIT_RE.search(text)
                code = int(m.group(1)) if m else None
            self.error = (text, code, self.current)
            if self.current is not None:
                self.r._step(self.current, status=FAILED, completed=now, error=text)
            self.r._log_text(text + "\n", stderr=True, step=self.current, when=now)
            return
        aux = msg.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = aux["ID"]
            self._close_current(now)
            return
        text = msg.get("stream")
        if text is None:
            status = msg.get("status")  # pulls of a FROM image
            if status:
                prog = f" {msg['progress']}" if msg.get("progress") else ""
                ident = f"{msg['id']}: " if msg.get("id") else ""
                self.r._log_text(f"{ident}{status}{prog}\n", step=self.current, when=now)
            return
        self._stream(text, now)

    def _stream(self, text: str, now: float):
        stderr = text.startswith("\x1b[91m")
        if stderr:
            self.r._log_text(text, stderr=True, step=self.current, when=now)
            return
        m = STEP_RE.match(text.rstrip("\n"))
        if m:
            self._close_current(now)
            number, total = int(m.group(1) or m.group(3)), int(m.group(2) or m.group(4))
            instruction = m.group(5).strip()
            if m.group(3) and self.builder != "buildah":
                self.builder = self.r.builder = "buildah"  # Podman's builder answered the classic request
            if self.r.total_steps != total:
                self.r._set_total(total)
            self.current = number
            self.r._step(number, step=number, instruction=instruction, status=RUNNING, started=now,
                         stage=None)
            self.r._log_text(text.rstrip("\n") + "\n", step=number, when=now)
            return
        if text == "\n":
            return
        m = ARROW_RE.match(text.rstrip("\n"))
        if m and self.current is not None:
            rest = m.group(1).strip()
            if rest == "Using cache" or rest.startswith("Using cache "):
                self.r._step(self.current, cached=True)
            elif rest.startswith("Running in "):
                pass
            elif rest == "" or HEX_RE.match(rest):
                # the step's resulting image (empty for FROM scratch)
                s = self.r._get_step(self.current)
                self.r._step(self.current, short_id=rest or None,
                             status=CACHED if s is not None and s.cached else DONE, completed=now)
        self.r._log_text(text, step=self.current, when=now)

    def finish(self, now: float):
        """End of stream without an error message."""
        if self.error is None:
            self._close_current(now)
