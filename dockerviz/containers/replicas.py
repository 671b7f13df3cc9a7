"""N replicas of one image: what they cost on disk, in memory and in CPU.

`dockerviz.replicas(image, n)` starts n containers of one image (each a
ContainerView, labelled and registered like every container dockerviz makes)
and returns a Replicas. `scale(n)` adds or removes replicas; `table()` samples
them all for a few seconds and gives one row per replica; `curve(counts)`
scales through the counts and gives one row per count. The image is stored
once whatever the count: each replica adds only its writable layer.
"""

from __future__ import annotations

import time

from ..errors import DockervizError
from .lifecycle import ContainerView, run_container

__all__ = ["Replicas", "start_replicas", "CURVE_COLUMNS", "TABLE_COLUMNS"]

TABLE_COLUMNS = ["replica", "image_id", "image_bytes", "writable_bytes", "mem_bytes", "cpu_percent"]
CURVE_COLUMNS = ["replicas", "image_bytes", "writable_bytes", "disk_bytes", "disk_if_copied_bytes",
                 "mem_bytes", "mem_per_replica_bytes", "cpu_percent"]
MAX_REPLICAS = 200
PARALLEL = 4  # containers created or removed at once
SIZE_TIMEOUT = 300  # the daemon walks every writable layer to list sizes


class Replicas:
    """Containers of one image, started and removed together (close(), `with`, interpreter exit)."""

    def __init__(self, image: str, command=None, *, name: str | None = None, engine=None, **options):
        self.image = image
        self.command = command
        self.prefix = name
        self.engine = engine
        self.options = options
        self.views: list[ContainerView] = []
        self._started = 0
        self._closed = False
        self.last_table = None  # the last table() taken

    def __len__(self) -> int:
        return len(self.views)

    def __iter__(self):
        return iter(self.views)

    def scale(self, n: int) -> "Replicas":
        """Start or remove replicas until there are n (newest removed first)."""
        if self._closed:
            raise DockervizError("These replicas were closed: start new ones with dockerviz.replicas().")
        if not isinstance(n, int) or n < 0 or n > MAX_REPLICAS:
            raise DockervizError(f"A replica count is a whole number from 0 to {MAX_REPLICAS}, not {n!r}.")
        extra = self.views[n:]
        del self.views[n:]
        _in_parallel([v.close for v in extra])
        names = []
        for _ in range(n - len(self.views)):
            self._started += 1
            names.append(f"{self.prefix}-{self._started}" if self.prefix else None)
        started = _in_parallel([lambda name=name: self._start_one(name) for name in names])
        self.views.extend(started)
        return self

    def _start_one(self, name: str | None) -> ContainerView:
        opts = dict(self.options)
        if name:
            opts["name"] = name
        return run_container(self.image, self.command, engine=self.engine, **opts)

    def table(self, seconds: float = 2.0):
        """Sample every replica for `seconds`: a DataFrame, one row per replica (TABLE_COLUMNS):
        the image it runs and its size (the same for all), its writable layer, its memory (peak)
        and CPU (mean %)."""
        import pandas as pd

        from .monitor import UsageMonitor, usage_summary

        if not self.views:
            return pd.DataFrame(columns=TABLE_COLUMNS)
        mon = UsageMonitor(list(self.views), interval=1.0)
        try:
            time.sleep(seconds)
        finally:
            mon.stop()
        summary = usage_summary(mon, sizes=False).set_index("container")
        sizes, image_sizes = self._sizes()
        rows = []
        for v in self.views:
            s = summary.loc[v.name]
            rows.append((v.name, v.image_id, image_sizes.get(v.image_id, 0), sizes.get(v.id, 0),
                         int(s["mem_peak_bytes"]), float(s["cpu_mean_percent"])))
        self.last_table = pd.DataFrame.from_records(rows, columns=TABLE_COLUMNS)
        return self.last_table

    def _sizes(self) -> tuple[dict, dict]:
        """({container id: writable-layer bytes}, {image id: bytes}) in one listing per engine."""
        from .. import engine as _engine

        by_engine: dict = {}
        for v in self.views:
            by_engine.setdefault(v.engine, []).append(v.id)
        sizes, images = {}, {}
        for eng, ids in by_engine.items():
            client = eng.client(timeout=SIZE_TIMEOUT)
            try:
                with _engine.translated(self.image, kind="container", engine=eng):
                    for row in client.api.containers(all=True, size=True, filters={"id": ids}):
                        sizes[row["Id"]] = int(row.get("SizeRw") or 0)
                        image_id = row.get("ImageID") or ""
                        if image_id and image_id not in images:
                            images[image_id] = int(client.api.inspect_image(image_id).get("Size") or 0)
            finally:
                client.close()
        return sizes, images

    def curve(self, counts=(1, 5, 20), seconds: float = 2.0):
        """Scale to each count in turn and sample: a DataFrame, one row per count (CURVE_COLUMNS).
        image_bytes counts the image once (it is stored once); disk_if_copied_bytes is what the
        same replicas would take if each had its own copy of the image."""
        import pandas as pd

        rows = []
        for n in counts:
            t = self.scale(int(n)).table(seconds)
            if t["image_id"].nunique() > 1:
                raise DockervizError(f"The replicas of {self.image!r} run {t['image_id'].nunique()} different images.")
            image = int(t["image_bytes"].iloc[0]) if len(t) else 0
            writable = int(t["writable_bytes"].sum())
            mem = int(t["mem_bytes"].sum())
            rows.append((len(t), image, writable, image + writable, len(t) * image + writable, mem,
                         mem // max(1, len(t)), float(t["cpu_percent"].sum())))
        return pd.DataFrame.from_records(rows, columns=CURVE_COLUMNS)

    def summary(self) -> dict:
        return {"image": self.image, "replicas": len(self.views), "names": [v.name for v in self.views],
                "closed": self._closed}

    def close(self) -> None:
        """Remove every replica."""
        views, self.views = self.views, []
        _in_parallel([v.close for v in views])
        self._closed = True

    def __enter__(self) -> "Replicas":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Replicas {len(self.views)} of {self.image}>"


def _in_parallel(calls: list) -> list:
    """Each call's result, in order, a few at a time (the daemon creates and removes containers
    concurrently); the first failure is raised once all have finished."""
    from concurrent.futures import ThreadPoolExecutor

    if not calls:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(calls)), thread_name_prefix="dockerviz-replicas") as pool:
        futures = [pool.submit(c) for c in calls]
    errors = [f.exception() for f in futures if f.exception() is not None]
    done = [f.result() for f in futures if f.exception() is None]
    if errors:
        for view in done:  # started, but the set is incomplete: remove them too
            if isinstance(view, ContainerView):
                view.close()
        raise errors[0]
    return done


def start_replicas(image: str, n: int, command=None, *, name: str | None = None, engine=None,
                   **options) -> Replicas:
    fleet = Replicas(image, command, name=name, engine=engine, **options)
    try:
        return fleet.scale(n)
    except BaseException:
        fleet.close()
        raise
