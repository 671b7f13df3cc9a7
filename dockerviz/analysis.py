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

    `path` forces how layers are read (see dockerviz.sources.PATHS); `cache`
    is a layer cache (None: the default cache, False: none); `progress` is
    called with a Progress object while work goes on.
    """
    if isinstance(source, Image):
        return source
    tracker = Progress(progress)

    def saved(n):
        tracker.bytes = n
        tracker.update(phase="exporting")

    if cache is None:
        from .cache import default_cache

        cache = default_cache()
    src = open_source(source, path=path, client=client, on_bytes=saved)
    with src as record:
        tracker.total_layers = len(record.layers)
        tracker.total_bytes = sum(l.size_hint or 0 for l in record.layers)
        tracker.bytes = 0
        tracker.update(phase="reading", force=True)
        contents = []
        for ref in record.layers:
            content = cache.get(ref.diff_id) if cache else None
            if content is None:
                content = ref.read()
                if cache:
                    cache.put(ref.diff_id, content)
            contents.append(content)
            tracker.update(layers=1, nbytes=ref.size_hint or 0)
        tracker.update(phase="done", force=True)
        name = record.repo_tags[0] if record.repo_tags else record.reference
        return Image(name=name, image_id=record.image_id, repo_tags=record.repo_tags, config=record.config,
                     diff_ids=[l.diff_id for l in record.layers], layer_ids=[l.id for l in record.layers],
                     contents=contents, source=record.source_kind, path=record.path)
