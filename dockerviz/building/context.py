"""Build contexts: a tar of a directory honouring .dockerignore, plus the Dockerfile.

The tar is written in GNU format with integer mtimes so that no PAX header is
ever the first member: BuildKit (on a raw `POST /build?version=2`, without a
session) sniffs the upload and only recognises it as an archive when the first
header is a plain ustar/GNU one. The Dockerfile goes first for the same reason.

`dockerfile` may name a file or hold the Dockerfile text itself. Inline text
and Dockerfiles that live outside the context are added to the tar under a
generated name. What `COPY . .` sees follows the docker CLI: files matched by
.dockerignore never reach the image, nor does an inline or outside Dockerfile,
nor a Dockerfile or .dockerignore that .dockerignore lists (a .dockerignore
that does not list itself is copied like any file).

Excluded files are left out of the tar. The Dockerfile cannot be: the daemon
reads it from the tar. The classic builder then drops it from the COPY sources
when the tar's .dockerignore lists it, so that tar carries a .dockerignore
naming it. BuildKit on a raw upload ignores the tar's .dockerignore, so a
Dockerfile that must stay out of the image is only safe there when no COPY or
ADD from the context (nor a bind mount of it) can reach its name;
`BuildContext.buildkit_conflict` says which instruction would copy it.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import posixpath
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
    """What gets uploaded: the tar (`tar(builder)`, a seekable file object) and the Dockerfile's name in it."""

    root: str
    dockerfile_name: str
    dockerfile_text: str
    dockerfile_path: str | None  # None when the text was given inline
    dockerfile_in_context: bool = False  # sent from its file under its own name (else under a generated one)
    excluded: list = field(default_factory=list)  # .dockerignore patterns in force
    size: int = 0  # of the last tar written
    instructions: list = field(default_factory=list)
    files: list = field(default_factory=list)  # context paths sent besides the Dockerfile and .dockerignore
    hide_dockerfile: bool = False  # the Dockerfile must not reach the image
    hide_dockerignore: bool = True  # .dockerignore must not reach the image (it lists itself, or there is none)
    has_dockerignore: bool = False
    buildkit_conflict: str | None = None  # why BuildKit would copy the Dockerfile into the image
    _tars: dict = field(default_factory=dict, repr=False)

    def dockerignore_entry(self, builder: str) -> bytes | None:
        """The .dockerignore the tar carries for `builder` ("classic" or "buildkit"), None for none."""
        if builder == "classic" and self.hide_dockerfile:
            extra = [self.dockerfile_name] + ([".dockerignore"] if self.hide_dockerignore else [])
            return "\n".join(self.excluded + extra).encode() + b"\n"
        if self.has_dockerignore and not self.hide_dockerignore:
            with open(os.path.join(self.root, ".dockerignore"), "rb") as f:
                return f.read()
        return None

    def tar(self, builder: str):
        """The context tar for `builder`, rewound; written on first use, shared when both builders get the same."""
        try:
            key = self.dockerignore_entry(builder)
        except OSError as exc:
            raise BuildError(f"Cannot read {os.path.join(self.root, '.dockerignore')!r}: {exc}") from None
        fileobj = self._tars.get(key)
        if fileobj is None:
            fileobj = self._tars[key] = _write_tar(self, key)
        self.size = fileobj.seek(0, 2)
        fileobj.seek(0)
        return fileobj

    @property
    def fileobj(self):
        return self.tar("classic")

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
        for f in self._tars.values():
            try:
                f.close()
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


def _source_reaches(src: str, name: str) -> bool:
    """Could a COPY/ADD source (or bind-mount source) from the context include the path `name`?"""
    if "$" in src:
        return True  # decided by a build argument: assume it can
    s = posixpath.normpath("/" + src.replace("\\", "/")).lstrip("/")
    if s in ("", "."):
        return True
    parts = name.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    if any(c in s for c in "*?["):
        # fnmatch's * also crosses "/", unlike the daemon's: errs on the side of "reaches"
        return any(fnmatch.fnmatchcase(p, s) for p in prefixes)
    return s in prefixes


def _flags(rest: str) -> tuple[list[str], str]:
    flags = []
    while rest.startswith("--"):
        parts = rest.split(None, 1)
        flags.append(parts[0])
        rest = parts[1] if len(parts) > 1 else ""
    return flags, rest


def context_reach(instructions, name: str) -> Instruction | None:
    """The first instruction that could copy `name` from the build context into a stage."""
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD", "RUN"):
            continue
        body = ins.text.split(None, 1)
        flags, rest = _flags(body[1].strip() if len(body) > 1 else "")
        if ins.keyword == "RUN":
            for fl in flags:
                if not fl.lower().startswith("--mount="):
                    continue
                opts = dict((kv.split("=", 1) + [""])[:2] for kv in fl.split("=", 1)[1].split(","))
                opts = {k.strip().lower(): v for k, v in opts.items()}
                if opts.get("type", "bind") == "bind" and "from" not in opts:
                    if _source_reaches(opts.get("source", opts.get("src", ".")) or ".", name):
                        return ins
            continue
        if any(fl.lower().startswith("--from") for fl in flags):
            continue
        args = None
        if rest.startswith("["):
            try:
                args = json.loads(rest)
            except ValueError:
                args = None
            if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
                args = None
        if args is None:
            args = rest.split()
        for src in args[:-1]:
            if src.startswith("<<") or "://" in src or src.startswith("git@"):
                continue
            if _source_reaches(src, name):
                return ins
    return None


def prepare(context=".", dockerfile=None, builder=None) -> BuildContext:
    """Validate the inputs and write the context tar. Raises BuildError with what to fix.

    `builder` ("classic", "buildkit" or "auto") picks which tar is written now
    (the other one, when it differs, is written if a build falls back to it).
    """
    from docker.utils.build import PatternMatcher, exclude_paths

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

    has_dockerignore = os.path.isfile(os.path.join(root, ".dockerignore"))
    patterns = read_dockerignore(root)
    matcher = PatternMatcher(list(patterns))
    # docker-py's matcher always keeps .dockerignore (a trailing "!.dockerignore"): not the daemon's rule
    last = matcher.patterns[-1] if matcher.patterns else None
    if last is not None and last.exclusion and last.cleaned_pattern == ".dockerignore":
        matcher.patterns.pop()
    # A Dockerfile inside the context is sent under its own relative name;
    # inline text and outside files under a generated one.
    in_context = path is not None and os.path.commonpath([root, path]) == root
    if in_context:
        df_name = os.path.relpath(path, root).replace(os.sep, "/")
        hide_dockerfile = bool(matcher.matches(df_name))
    else:
        df_name = f".dockerviz-Dockerfile-{secrets.token_hex(6)}"
        hide_dockerfile = True
    hide_dockerignore = not has_dockerignore or bool(matcher.matches(".dockerignore"))

    try:
        # dockerfile=df_name: docker-py would otherwise keep a file named Dockerfile whatever .dockerignore says
        files = sorted(exclude_paths(root, list(patterns), dockerfile=df_name))
    except OSError as exc:
        raise BuildError(f"Cannot read the build context {root!r}: {exc}") from None
    files = [f for f in files if f not in (df_name, ".dockerignore")]

    conflict = None
    if hide_dockerfile:
        ins = context_reach(instructions, df_name)
        if ins is not None:
            what = ("the Dockerfile text" if path is None else
                    f"the Dockerfile {path!r}" + ("" if in_context else " (outside the context)"))
            why = "" if not in_context else ", which .dockerignore excludes,"
            conflict = (f"BuildKit without a session reads {what}{why} from the build context itself, "
                        f"and step {ins.index} ({ins.text}) would copy it into the image")

    ctx = BuildContext(
        root=root,
        dockerfile_name=df_name,
        dockerfile_text=text,
        dockerfile_path=path,
        dockerfile_in_context=in_context,
        excluded=patterns,
        instructions=instructions,
        files=files,
        hide_dockerfile=hide_dockerfile,
        hide_dockerignore=hide_dockerignore,
        has_dockerignore=has_dockerignore,
        buildkit_conflict=conflict,
    )
    first = "classic" if builder == "classic" or (builder != "buildkit" and conflict) else "buildkit"
    ctx.tar(first)
    return ctx


def _write_tar(ctx: BuildContext, dockerignore: bytes | None):
    root = ctx.root
    fileobj = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT) as tar:
            def add_bytes(name, data):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                ti.mtime = 0
                tar.addfile(ti, io.BytesIO(data))

            # Dockerfile first: see the module docstring.
            if not ctx.dockerfile_in_context:
                add_bytes(ctx.dockerfile_name, ctx.dockerfile_text.encode("utf-8"))
            else:
                try:
                    ti = _clean(tar.gettarinfo(ctx.dockerfile_path, arcname=ctx.dockerfile_name))
                    with open(ctx.dockerfile_path, "rb") as f:
                        tar.addfile(ti, f)
                except OSError as exc:
                    raise BuildError(f"Cannot read the Dockerfile {ctx.dockerfile_path!r}: {exc}") from None
            for name in ctx.files:
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
            if dockerignore is not None:
                add_bytes(".dockerignore", dockerignore)
        fileobj.seek(0)
    except BaseException:
        fileobj.close()
        raise
    return fileobj
