"""Waiting for a build: in short slices, so that interrupting the kernel is noticed and cancels it.

A Jupyter kernel handles widget events (a click on the view's Cancel) only
between cells, and ipykernel 7 gives a running cell no way to take them, so
a cell that waits for a build is cancelled by interrupting the kernel; the
view disables its Cancel button then and says so.
"""

from __future__ import annotations

import time

WAIT_SLICE = 0.2  # seconds between looks at the build (and at KeyboardInterrupt)


def wait_for(job, timeout: float | None = None) -> None:
    """Block until job ends or timeout seconds pass; KeyboardInterrupt cancels the job, then propagates."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while job.alive:
            if deadline is None:
                job.join(WAIT_SLICE)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            job.join(min(WAIT_SLICE, left))
    except KeyboardInterrupt:
        job.cancel()
        job.join()
        raise
