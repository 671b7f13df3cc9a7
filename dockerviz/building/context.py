"""Build contexts: a tar of a directory honouring .dockerignore, plus the Dockerfile.

The tar is written in GNU format with integer mtimes so that no PAX header is
ever the first member: BuildKit (on a raw `POST /build?version=2`, without a
session) sniffs the upload and only recognises it as an archive when the first
header is a plain ustar/GNU one. The Dockerfile goes first for the same reason.

`dockerfile` may name a file or hold the Dockerfile text itself. Inline text
and Dockerfiles that live outside the context are added to the tar under a
generated name, which is also appended to the tar's .dockerignore so the daemon
drops it (and .dockerignore) from what `COPY . .` sees, as the docker CLI does.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tarfile
import tempfile
from dataclasses import dataclass, field

from ..errors import BuildError

# Files up to this size stay in memory; larger contexts spill to a temp file.
SPOOL_BYTES = 64 * 1024 * 1024

_INSTRUCTION_RE = re.compile(
    r"^\s*(FROM|RUN|CMD|LABEL|MAINTAINER|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|"
    r"ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL)(\s|$)",
    re.IGNORECASE,
)


@dataclass
class Instruction:
    """One Dockerfile instruction: 1-based index, first/last source line, text."""

    index: int
    line: int
    end_line: int
    keyword: str
    text: str
    stage: int = 0  # 0-based stage number (a FROM starts a new stage)
    stage_name: str | None = None


@dataclass
class BuildContext:
    """What gets uploaded: the tar (a seekable file object) and the Dockerfile's name in it."""

    root: str
    fileobj: object
    dockerfile_name: str
    dockerfile_text: str
    dockerfile_path: str | None  # None when the text was given inline
    excluded: list = field(default_factory=list)  # .dockerignore patterns in force
    size: int = 0
    instructions: list = field(default_factory=list)

    def stages(self) -> list[str]:
        names = []
        for ins in self.instructions:
            if ins.keyword == "FROM" and ins.stage_name:
                names.append(ins.stage_name)
        return names

    def instruction_at_line(self, line: int) -> Instruction | None:
        for ins in self.instructions:
            if ins.line <= line <= ins.end_line:
                return ins
        # a parse error on a line that is not an instruction (an unknown keyword)
        return None

    def close(self):
        try:
            self.fileobj.close()
        except Exception:
            pass


def parse_instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, following line continuations.

    This is not a full parser (the daemon stays the judge of syntax); it is
    enough to number steps, find the stages, and map an error line to a step.
    Heredocs (`<<EOF`) are followed so their bodies are not read as instructions.
    """
    lines = text.splitlines()
    escape = "\\"
    # parser directives: only at the very top, before any instruction or comment text
    for raw in lines:
        m = re.match(r"^\s*#\s*(\w+)\s*=\s*(\S+)\s*$", raw)
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            escape = m.group(2)
    out: list[Instruction] = []
    i = 0
    stage = -1
    stage_name = None
    while i < len(lines):
        raw = lines[i]
        s = raw.strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        start = i
        parts = [s]
        while parts[-1].endswith(escape) and i + 1 < len(lines):
            parts[-1] = parts[-1][:-1].rstrip()
            i += 1
            nxt = lines[i].strip()
            while (not nxt or nxt.startswith("#")) and i + 1 < len(lines):
                i += 1
                nxt = lines[i].strip()
            parts.append(nxt)
        joined = " ".join(p for p in parts if p)
        # heredocs: skip until each terminator
        for term in re.findall(r"<<-?[\"']?(\w+)[\"']?", joined):
            while i + 1 < len(lines):
                i += 1
                if lines[i].strip() == term:
                    break
        keyword = joined.split(None, 1)[0].upper()
        if keyword == "FROM":
            stage += 1
            m = re.search(r"\s+AS\s+(\S+)\s*$", joined, re.IGNORECASE)
            stage_name = m.group(1) if m else None
        out.append(
            Instruction(
                index=len(out) + 1,
                line=start + 1,
                end_line=i + 1,
                keyword=keyword,
                text=joined,
                stage=max(stage, 0),
                stage_name=stage_name,
            )
        )
        i += 1
    return out


def looks_like_dockerfile_text(s: str) -> bool:
    if "\n" in s.strip():
        return True
    return bool(_INSTRUCTION_RE.match(s)) and " " in s.strip()


def read_dockerignore(root: str) -> list[str]:
    path = os.path.join(root, ".dockerignore")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [ln.strip() for ln in f.read().splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _resolve_dockerfile(root: str, dockerfile) -> tuple[str | None, str]:
    """-> (path or None if inline, text)."""
    if dockerfile is None:
        path = os.path.join(root, "Dockerfile")
        if not os.path.isfile(path):
            alt = os.path.join(root, "dockerfile")
            if os.path.isfile(alt):
                path = alt
            else:
                raise BuildError(
                    f"No Dockerfile in the build context {root!r}. "
                    "Add one, pass dockerfile='path/to/Dockerfile', or pass the Dockerfile text itself "
                    "as dockerfile='FROM ...'."
                )
    else:
        dockerfile = os.fspath(dockerfile)
        candidates = [dockerfile] if os.path.isabs(dockerfile) else [
            os.path.join(root, dockerfile), os.path.abspath(dockerfile)]
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            if looks_like_dockerfile_text(dockerfile):
                return None, dockerfile if dockerfile.endswith("\n") else dockerfile + "\n"
            raise BuildError(
                f"Dockerfile {dockerfile!r} not found (looked in the context {root!r} and the "
                "current directory). Pass an existing path, or the Dockerfile text itself "
                "(a string with a FROM line)."
            )
    try:
        with open(path, encoding="utf-8") as f:
            return os.path.abspath(path), f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"Cannot read the Dockerfile {path!r}: {exc}") from None


def _clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = int(info.mtime) if 0 <= info.mtime < 8 ** 11 else 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def prepare(context=".", dockerfile=None) -> BuildContext:
    """Validate the inputs and write the context tar. Raises BuildError with what to fix."""
    from docker.utils.build import exclude_paths

    if context is None:
        context = "."
    root = os.path.abspath(os.fspath(context))
    if not os.path.exists(root):
        raise BuildError(
            f"The build context directory {os.fspath(context)!r} does not exist "
            f"(resolved to {root!r}). Pass the folder that holds the files the Dockerfile copies."
        )
    if not os.path.isdir(root):
        raise BuildError(f"The build context {root!r} is not a directory.")

    path, text = _resolve_dockerfile(root, dockerfile)
    instructions = parse_instructions(text)
    if not instructions:
        raise BuildError("The Dockerfile has no instructions (it is empty or only comments).")

    patterns = read_dockerignore(root)
    # A Dockerfile inside the context is sent under its own relative name;
    # inline text and outside files under a generated one.
    in_context = path is not None and os.path.commonpath([root, path]) == root
    if in_context:
        df_name = os.path.relpath(path, root).replace(os.sep, "/")
    else:
        df_name = f".dockerviz-Dockerfile-{secrets.token_hex(6)}"

    try:
        files = sorted(exclude_paths(root, list(patterns), dockerfile=df_name if in_context else None))
    except OSError as exc:
        raise BuildError(f"Cannot read the build context {root!r}: {exc}") from None

    fileobj = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT) as tar:
            def add_bytes(name, data):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                ti.mtime = 0
                tar.addfile(ti, io.BytesIO(data))

            extra = {}
            if not in_context:
                extra[df_name] = text.encode("utf-8")
                extra[".dockerignore"] = "\n".join(patterns + [df_name, ".dockerignore"]).encode() + b"\n"
                add_bytes(df_name, extra[df_name])
            else:
                # Dockerfile first: see the module docstring.
                ti = _clean(tar.gettarinfo(path, arcname=df_name))
                with open(path, "rb") as f:
                    tar.addfile(ti, f)
                extra[df_name] = None
            for name in files:
                if name in extra:
                    continue
                full = os.path.join(root, name)
                try:
                    ti = tar.gettarinfo(full, arcname=name)
                except OSError as exc:
                    raise BuildError(f"Cannot read {full!r} in the build context: {exc}") from None
                if ti is None:  # sockets and other unsupported types
                    continue
                _clean(ti)
                if ti.isreg():
                    try:
                        with open(full, "rb") as f:
                            tar.addfile(ti, f)
                    except OSError as exc:
                        raise BuildError(f"Cannot read {full!r} in the build context: {exc}") from None
                else:
                    tar.addfile(ti)
            if ".dockerignore" in extra:
                add_bytes(".dockerignore", extra[".dockerignore"])
        size = fileobj.tell()
        fileobj.seek(0)
    except BaseException:
        fileobj.close()
        raise
    return BuildContext(
        root=root,
        fileobj=fileobj,
        dockerfile_name=df_name,
        dockerfile_text=text,
        dockerfile_path=path,
        excluded=patterns,
        size=size,
        instructions=instructions,
    )
