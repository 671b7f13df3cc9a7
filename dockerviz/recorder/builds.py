"""Builds in a recording: a finished BuildResult as plain JSON, and back."""

from __future__ import annotations

from ..building.result import BuildResult, LogLine, Step
from ..errors import BuildError

__all__ = ["build_document", "build_from_document"]


def build_document(result, *, dockerfile_text: str | None = None) -> dict:
    """A finished BuildResult as plain JSON-able data (see build_from_document)."""
    steps = []
    for s in result.step_list():
        steps.append({
            "step": s.step, "instruction": s.instruction, "stage": s.stage, "cached": bool(s.cached),
            "started": s.started, "completed": s.completed, "layer_id": s.layer_id, "layer_size": s.layer_size,
            "status": s.status, "short_id": s.short_id, "error": s.error,
        })
    err = result.error
    error = None
    if err is not None:
        error = {
            "message": str(err), "step": getattr(err, "step", None), "instruction": getattr(err, "instruction", None),
            "exit_code": getattr(err, "exit_code", None), "log_tail": list(getattr(err, "log_tail", None) or []),
        }
    return {
        "dockerfile": dockerfile_text,
        "tags": list(result.tags),
        "target": result.target,
        "buildargs": dict(result.buildargs or {}),
        "builder": result.builder,
        "requested_builder": getattr(result, "requested_builder", None),
        "image_id": result.image_id,
        "size": result.size,
        "status": result.status,
        "started": result.started,
        "finished": result.finished,
        "total_steps": result.total_steps,
        "steps": steps,
        "log": [[ln.text, bool(ln.stderr), ln.step, ln.time] for ln in result.log_lines()],
        "log_dropped": getattr(result, "_log_dropped", 0),
        "error": error,
    }


def build_from_document(doc: dict, *, recorded: str) -> BuildResult:
    """A finished BuildResult with the steps, log and error of build_document(); `recorded`
    is its note (shown in its banner)."""
    r = BuildResult(context="<recorded>", dockerfile="<recorded>", tags=doc.get("tags") or [],
                    target=doc.get("target"), buildargs=doc.get("buildargs"), builder=doc.get("builder"))
    r.requested_builder = doc.get("requested_builder")
    r.image_id = doc.get("image_id")
    r.size = doc.get("size")
    r.status = doc.get("status") or "succeeded"
    r.cancelled = r.status == "cancelled"
    r.started = float(doc.get("started") or 0.0)
    r.finished = float(doc.get("finished") or r.started)
    r.total_steps = doc.get("total_steps")
    for i, s in enumerate(doc.get("steps") or []):
        r._steps[i] = Step(key=i, step=int(s["step"]), instruction=s.get("instruction") or "", stage=s.get("stage"),
                           cached=bool(s.get("cached")), started=s.get("started"), completed=s.get("completed"),
                           layer_id=s.get("layer_id"), layer_size=s.get("layer_size"),
                           status=s.get("status") or "done", short_id=s.get("short_id"), error=s.get("error"))
    r._log = [LogLine(text, bool(stderr), step, float(when or 0.0)) for text, stderr, step, when in doc.get("log") or []]
    r._log_dropped = int(doc.get("log_dropped") or 0)
    e = doc.get("error")
    if e:
        r.error = BuildError(e.get("message") or "the build failed", step=e.get("step"),
                             instruction=e.get("instruction"), exit_code=e.get("exit_code"),
                             log_tail=e.get("log_tail"))
        r.error.result = r
    r.recorded = recorded
    return r
