"""Reading the layers a cache does not hold, on two cores when one is idle.

Half of the work (by estimated cost) goes to a forked worker, which sends
its layers back in the cache's compact encoding. If it fails in any way the
parent reads its share itself, so errors surface exactly as in a sequential
read. Forking is skipped when it is not safe (threads: a notebook kernel) or
would not pay (one layer, little work, no idle core).
"""

from __future__ import annotations

import mmap
import os
import struct
import sys

PARALLEL_MIN_COST = 400_000  # tar-split bytes (~ 500 entries) before a second process pays off


def _cost(ref) -> int:
    reader = ref.reader
    cost = getattr(reader, "cost", None) if reader is not None else None
    return cost if cost is not None else (ref.size_hint or 0) // 100


def can_fork(refs) -> bool:
    if len(refs) < 2 or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return False
    if sum(_cost(r) for r in refs) < PARALLEL_MIN_COST:
        return False  # cheapest test first: small images never import threading or read the load
    threading = sys.modules.get("threading")  # never imported: no thread was started through it
    if threading is not None and threading.active_count() > 1:  # forking a threaded process (a kernel) is unsafe
        return False
    if not _idle_core():
        return False  # a second process would only compete with the first
    return not any(r.reader is not None and not getattr(r.reader, "fork_safe", False) for r in refs)


def _idle_core() -> bool:
    """Whether a core is free for a worker: the 1-minute load says so, or (as it lags a minute behind
    processes that just ended) the number of tasks running right now does."""
    cpus = os.cpu_count() or 1
    try:
        if os.getloadavg()[0] <= cpus - 0.5:
            return True
    except OSError:
        return True
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return running - 1 <= cpus - 2  # besides this process


def read_layers(refs, finished, *, want_encoded: bool = False) -> None:
    """Read refs, calling finished(ref, content, encoded) for each.

    `encoded` is encode_layer(content) when the worker made it and
    `want_encoded` asks for it (a cache stores it as it is), else None.
    """
    if not can_fork(refs):
        for ref in refs:
            finished(ref, ref.read(), None)
        return
    # Largest first, each to the lighter side: two shares of about equal cost.
    order = sorted(refs, key=_cost, reverse=True)
    mine, theirs, load = [], [], [0, 0]
    for ref in order:
        side = 0 if load[0] <= load[1] else 1
        (mine if side == 0 else theirs).append(ref)
        load[side] += _cost(ref)
    from .cache import decode_layer, encode_layer

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        status = 1
        try:
            os.close(r)
            blobs = [encode_layer(ref.read()) for ref in theirs]
            _write_all(w, struct.pack(f"<I{len(blobs)}Q", len(blobs), *map(len, blobs)))
            for blob in blobs:
                _write_all(w, blob)
            status = 0
        except BaseException:
            pass
        finally:
            os._exit(status)
    os.close(w)
    received = None
    try:
        for ref in mine:
            finished(ref, ref.read(), None)
        received = _receive(r, len(theirs))
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    contents = None
    if status == 0 and received is not None:
        buf, lens = received
        try:
            with memoryview(buf) as view:
                contents, pos = [], 0
                for ln in lens:
                    with view[pos: pos + ln] as piece:
                        blob = piece.tobytes()
                    contents.append((decode_layer(blob), blob if want_encoded else None))
                    pos += ln
        except (struct.error, ValueError, IndexError, UnicodeError, TypeError):
            contents = None
        finally:
            buf.close()
    if contents is None:
        for ref in theirs:
            finished(ref, ref.read(), None)
        return
    for ref, (content, blob) in zip(theirs, contents):
        finished(ref, content, blob)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    parts, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _receive(fd: int, expected: int):
    """The worker's blobs, in one anonymous mapping: unmapped when done, so a large transfer leaves
    no heap behind (copies through bytes objects kept ~100 bytes per entry in the process)."""
    head = _read_exact(fd, 4)
    if head is None or struct.unpack("<I", head)[0] != expected:
        return None
    raw = _read_exact(fd, 8 * expected) if expected else b""
    if raw is None:
        return None
    lens = struct.unpack(f"<{expected}Q", raw)
    total = sum(lens)
    buf = mmap.mmap(-1, max(total, 1))
    with memoryview(buf) as view:
        pos = 0
        while pos < total:
            n = os.readv(fd, [view[pos:total]])
            if n == 0:
                break
            pos += n
    if pos != total or os.read(fd, 1):
        buf.close()
        return None
    return buf, lens
