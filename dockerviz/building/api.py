"""dockerviz.build() and dockerviz.builds(): the public entry points for image builds."""

from __future__ import annotations

from ..errors import BuildError
from ..humanize import in_kernel as _in_kernel
from ..humanize import show_now, shown_again
from . import history
from .context import prepare
from .result import BuildResult
from .runner import BUILDERS, BuildJob, buildkit_conflict_message
from .waiting import wait_for


def build(context=".", dockerfile=None, tag=None, buildargs=None, target=None, nocache=False, labels=None,
          network_mode=None, builder="auto", wait=True, engine=None, platform=None) -> BuildResult:
    """Build an image and return a BuildResult; in a notebook, show the build live.

    context: the build context directory. dockerfile: a path (relative to the
    context or the current directory) or the Dockerfile text itself. tag: a
    name or a list of names. builder: "auto" (BuildKit when the daemon runs it
    without a session, else classic), "classic" or "buildkit". wait=False
    returns at once while the build goes on in the background; call
    `result.wait()` to block and raise its error. engine: where to build (a
    dockerviz.Engine, a docker.DockerClient or a host URL; default as the docker CLI picks).
    platform: the image's platform (e.g. "linux/arm64"), when it is not the engine's own.

    Raises BuildError (a DockervizError) when the build fails, with the failing
    step, its instruction, exit code and last log lines; interrupting the
    kernel cancels the build before the KeyboardInterrupt propagates.
    """
    from ..engine import as_engine

    eng = as_engine(engine)
    if builder not in BUILDERS:
        raise BuildError(f"builder must be one of {', '.join(map(repr, BUILDERS))}, not {builder!r}.")
    tags = _tags(tag)
    if buildargs is not None and not isinstance(buildargs, dict):
        raise BuildError("buildargs must be a dict of NAME -> value.")
    if labels is not None and not isinstance(labels, dict):
        raise BuildError("labels must be a dict of name -> value.")
    ctx = prepare(context, dockerfile, builder=builder)
    if builder == "buildkit" and ctx.buildkit_conflict:
        ctx.close()
        raise BuildError(buildkit_conflict_message(ctx.buildkit_conflict))
    result = BuildResult(context=ctx.root, dockerfile=ctx.dockerfile_path or "<inline>", tags=tags,
                         target=target, buildargs=buildargs)
    result.requested_builder = builder
    job = BuildJob(result, ctx, tags=tags, buildargs=buildargs, target=target, nocache=nocache, labels=labels,
                   network_mode=network_mode, builder=builder, client_factory=lambda: eng.client(timeout=None),
                   platform=platform)
    shown = _show_live(result, wait)
    try:
        # Started inside the try: an interrupt that lands before the wait loop (the build thread
        # may run first) must still cancel the build.
        job.start()
        if not wait:
            return result
        wait_for(job)
    except KeyboardInterrupt:
        job.cancel()
        job.join()
        raise
    _update(shown)
    if result.error is not None:
        result.error.result = result  # the steps and log stay at hand in `except BuildError as e: e.result`
        raise result.error
    return result


def builds(tag=None):
    """The builds of this session as a DataFrame (tag, builder, status, seconds, steps,
    cached_steps, image_id, image_size, started), oldest first; `tag` keeps one tag's builds."""
    return history.table(tag)


def _tags(tag):
    if tag is None:
        return []
    if isinstance(tag, str):
        tags = [tag]
    else:
        tags = list(tag)
    for t in tags:
        if not isinstance(t, str) or not t or any(c.isspace() for c in t):
            raise BuildError(f"Invalid image tag {t!r}: expected a name like 'myapp' or 'myapp:1.0'.")
    return tags


def _show_live(result, wait):
    """In a Jupyter kernel, display the live view now (before blocking); (handle, view) or None."""
    if not _in_kernel():
        return None
    try:
        from ..display import view_for
        from .result import _execution_count

        view = view_for(result, blocking=wait)
        handle = show_now(view)
        result._display_count = _execution_count()
        return handle, view
    except Exception:
        return None  # no widgets: the text result still comes back


def _update(shown) -> None:
    """The finished build's summary in the output shown live (a saved notebook keeps it)."""
    if shown is not None:
        shown_again(*shown)
