"""analyze(): from whatever the user named to an analysed Image."""

from __future__ import annotations

import os
import struct
import time
from typing import Callable

from .model.gc_pause import gc_paused
from .model.image import Image
from .sources import open_source


class Progress:
    """Counts layers and bytes done; calls `report` no more than a few times a second."""

    def __init__(self, report: Callable | None, total_layers: int = 0, total_bytes: int = 0):
        self.report = report
        self.total_layers = total_layers
        self.total_bytes = total_bytes
        self.layers = 0
        self.bytes = 0
        self.phase = "reading"
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, *, layers: int = 0, nbytes: int = 0, phase: str | None = None, force: bool = False) -> None:
        self.layers += layers
        self.bytes += nbytes
        if phase:
            self.phase = phase
        now = time.monotonic()
        if self.report is not None and (force or now - self._last > 0.2):
            self._last = now
            self.report(self)


def analyze(source, *, path: str = "auto", cache=None, progress: Callable | None = None, client=None) -> Image:
    """Analyse an image: a daemon image name or id, a `docker save` archive, or an OCI layout dir.

    `path` forces how layers are read (see dockerviz.sources.PATHS; "auto"
    picks the fastest that works here). `cache` is a layer cache (None: the
    default cache, False: none, or a dockerviz.cache.LayerCache). `progress`
    is called with a Progress object while work goes on; in a notebook,
    without one, a progress bar appears once the analysis takes over a second.

    The returned Image's `path` says how the layers were read; "cache" when
    every layer came from the cache.
    """
    if isinstance(source, Image):
        return source
    if progress is None:
        from .progress import notebook_progress

        progress = notebook_progress()
    tracker = Progress(progress)

    def saved(n):
        tracker.bytes = n
        tracker.update(phase="exporting")

    if cache is None:
        from .cache import default_cache

        cache = default_cache()
    elif cache is False:
        from .cache import NullCache

        cache = NullCache()
    with gc_paused():
        return _analyze(source, path, cache, client, tracker, saved)


def _analyze(source, path, cache, client, tracker: Progress, saved) -> Image:
    src = open_source(source, path=path, client=client, on_bytes=saved, cache=cache)
    with src as record:
        tracker.total_layers = len(record.layers)
        tracker.total_bytes = sum(l.size_hint or 0 for l in record.layers)
        tracker.bytes = 0
        tracker.update(phase="reading", force=True)
        done: dict = {}  # diff id -> LayerContent; a layer repeated in one image is read once
        missing = []
        for ref in record.layers:
            if ref.diff_id in done or any(m.diff_id == ref.diff_id for m in missing):
                continue
            content = cache.get(ref.diff_id) if cache else None
            if content is None:
                missing.append(ref)
            else:
                done[ref.diff_id] = content
                tracker.update(layers=1, nbytes=ref.size_hint or 0)

        def finished(ref, content, encoded=None):
            done[ref.diff_id] = content
            if cache:
                if encoded is not None and getattr(cache, "put_encoded_ok", False):
                    cache.put(ref.diff_id, content, encoded=encoded)
                else:
                    cache.put(ref.diff_id, content)
            tracker.update(layers=1, nbytes=ref.size_hint or 0)

        _read_layers(missing, finished)
        tracker.layers = len(record.layers)
        tracker.update(phase="done", force=True)
        name = record.repo_tags[0] if record.repo_tags else record.reference
        diff_ids = [l.diff_id for l in record.layers]
        img = Image(name=name, image_id=record.image_id, repo_tags=record.repo_tags, config=record.config,
                    diff_ids=diff_ids, layer_ids=[l.id for l in record.layers],
                    contents=[done[d] for d in diff_ids], source=record.source_kind,
                    path=record.path if missing else "cache")
    if cache:
        _cached_dive_accounting(img, cache)
    return img


# -- reading the layers a cache does not hold ---------------------------------------

PARALLEL_MIN_COST = 400_000  # tar-split bytes (~ 500 entries) before a second process pays off


def _cost(ref) -> int:
    reader = ref.reader
    cost = getattr(reader, "cost", None) if reader is not None else None
    return cost if cost is not None else (ref.size_hint or 0) // 100


def _can_fork(refs) -> bool:
    import threading

    if len(refs) < 2 or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return False
    if threading.active_count() > 1:  # forking a threaded process (a kernel) is not safe
        return False
    if not _idle_core():
        return False  # a second process would only compete with the first
    if any(r.reader is not None and not getattr(r.reader, "fork_safe", False) for r in refs):
        return False  # e.g. a reader that would start `docker save`
    return sum(_cost(r) for r in refs) >= PARALLEL_MIN_COST


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


def _read_layers(refs, finished) -> None:
    """Read refs, calling finished(ref, content) for each; on two cores or more, half in a forked worker.

    The worker sends the layers back in the cache's compact encoding. If it
    fails in any way, the parent reads its share itself, so errors surface
    exactly as in a sequential read.
    """
    if not _can_fork(refs):
        for ref in refs:
            finished(ref, ref.read())
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
            out = struct.pack("<I", len(blobs)) + b"".join(struct.pack("<Q", len(b)) for b in blobs) + b"".join(blobs)
            view = memoryview(out)
            while view:
                view = view[os.write(w, view):]
            status = 0
        except BaseException:
            pass
        finally:
            os._exit(status)
    os.close(w)
    try:
        for ref in mine:
            finished(ref, ref.read())
        chunks = []
        while True:
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    contents = None
    if status == 0 and len(data) >= 4:
        try:
            (n,) = struct.unpack_from("<I", data, 0)
            lens = struct.unpack_from(f"<{n}Q", data, 4)
            pos = 4 + 8 * n
            contents = []
            blobs = []
            for ln in lens:
                blob = data[pos: pos + ln]
                contents.append(decode_layer(blob))
                blobs.append(blob)
                pos += ln
            if n != len(theirs) or pos != len(data):
                contents = None
        except (struct.error, ValueError, IndexError, UnicodeError):
            contents = None
    if contents is None:
        for ref in theirs:
            finished(ref, ref.read())
        return
    for ref, content, blob in zip(theirs, contents, blobs):
        finished(ref, content, blob)


# -- the dive-compatible accounting of a known set of layers --------------------------


def _accounting_key(diff_ids) -> str:
    """A digest of the layers and of the code that computes the accounting."""
    import hashlib

    from .model import dive_accounting, entries, layer

    h = hashlib.sha256(b"dive-accounting 1\n")
    for module in (dive_accounting, layer, entries):
        try:
            with open(module.__file__, "rb") as f:
                h.update(f.read())
        except (OSError, TypeError):
            h.update(repr(time.time()).encode())  # unknown code: never reuse
    h.update("\n".join(diff_ids).encode())
    return "sha256:" + h.hexdigest()


def _cached_dive_accounting(img: Image, cache) -> None:
    """Reuse dive's numbers for exactly these layers when the cache has them, else compute and store them.

    They are a pure function of the layers' contents (content-addressed by
    diff id) and of the accounting code (part of the key), so never stale.
    """
    import functools

    from .model.dive_accounting import DiveAccounting, InefficientPath

    if not isinstance(type(img).__dict__.get("dive"), functools.cached_property):
        return
    key = _accounting_key(img.diff_ids)
    found = cache.get_result(key)
    if found is not None:
        try:
            img.__dict__["dive"] = DiveAccounting(
                efficiency=float(found["efficiency"]), inefficient_bytes=int(found["inefficient_bytes"]),
                inefficient=[InefficientPath(str(p), int(c), int(s)) for p, c, s in found["inefficient"]],
                layer_sizes=[int(x) for x in found["layer_sizes"]], size_bytes=int(found["size_bytes"]),
                user_size_bytes=int(found["user_size_bytes"]))
            return
        except (KeyError, TypeError, ValueError):
            pass
    d = img.dive
    cache.put_result(key, {"efficiency": d.efficiency, "inefficient_bytes": d.inefficient_bytes,
                           "inefficient": [[p.path, p.count, p.size] for p in d.inefficient],
                           "layer_sizes": d.layer_sizes, "size_bytes": d.size_bytes,
                           "user_size_bytes": d.user_size_bytes})
