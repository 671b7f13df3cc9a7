"""analyze(): from whatever the user named to an analysed Image."""

from __future__ import annotations

import time
from typing import Callable

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
    src = open_source(source, path=path, client=client, on_bytes=saved, cache=cache)
    with src as record:
        tracker.total_layers = len(record.layers)
        tracker.total_bytes = sum(l.size_hint or 0 for l in record.layers)
        tracker.bytes = 0
        tracker.update(phase="reading", force=True)
        contents = []
        done: dict = {}  # a layer repeated in one image is read once
        read_any = False
        for ref in record.layers:
            content = done.get(ref.diff_id)
            if content is None and cache:
                content = cache.get(ref.diff_id)
            if content is None:
                content = ref.read()
                read_any = True
                if cache:
                    cache.put(ref.diff_id, content)
            done[ref.diff_id] = content
            contents.append(content)
            tracker.update(layers=1, nbytes=ref.size_hint or 0)
        tracker.update(phase="done", force=True)
        name = record.repo_tags[0] if record.repo_tags else record.reference
        return Image(name=name, image_id=record.image_id, repo_tags=record.repo_tags, config=record.config,
                     diff_ids=[l.diff_id for l in record.layers], layer_ids=[l.id for l in record.layers],
                     contents=contents, source=record.source_kind, path=record.path if read_any else "cache")
