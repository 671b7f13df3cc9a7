"""analyze(): from whatever the user named to an analysed Image."""

from __future__ import annotations

import os
import time

from .humanize import in_kernel as _in_kernel
from .model.gc_pause import gc_paused
from .model.image import Image
from .model.jsondoc import check_config
from .parallel import read_layers
from .sources import open_source

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable


def _engine():
    from . import engine  # not for an archive or a layout: they never reach a daemon

    return engine


class Progress:
    """Counts layers and bytes done; calls `report` no more than a few times a second."""

    def __init__(self, report: Callable | None, total_layers: int = 0, total_bytes: int = 0):
        self.report = report
        self.total_layers = total_layers
        self.total_bytes = total_bytes
        self.layers = 0
        self.bytes = 0
        self.export_bytes = 0  # expected size of a daemon's export (0: unknown)
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


def analyze(source, *, path: str = "auto", cache=None, progress: Callable | None = None, client=None,
            image: str | None = None, platform: str | None = None, limits=None, engine=None,
            registry=None) -> Image:
    """Analyse an image: a daemon image name or id, a `docker save` archive, an OCI layout dir, or
    `registry://HOST[:PORT]/REPO[:TAG|@DIGEST]` (read from the registry without pulling).

    `path` forces how layers are read (see dockerviz.sources.PATHS; "auto"
    picks the fastest that works here). `cache` is a layer cache (None: the
    default cache, False: none, or a dockerviz.cache.LayerCache). `progress`
    is called with a Progress object while work goes on; in a notebook,
    without one, a progress bar appears once the analysis takes over a second.

    `registry` (a dockerviz.RegistryOptions or a dict of its fields: ca_file,
    insecure, docker_config, username, password) says how to reach registries.

    The returned Image's `path` says how the layers were read; "cache" when
    every layer came from the cache.

    A source holding several images (tags, platforms: see `dockerviz.images`)
    is chosen from by `image` (a tag, ref name or digest) and `platform`
    ("linux/arm64"); by default the host's platform, else the first image,
    and the Image's `chosen` says which was taken.

    `limits` raises dockerviz's bounds on untrusted input for this analysis
    (a dict such as {"json_bytes": 256 << 20}; see dockerviz.model.limits.Limits
    for their names and defaults).

    `engine` (a dockerviz.Engine, a docker.DockerClient or a host URL) names
    the daemon for an image reference; the default is the one the docker CLI
    would use. A daemon on another machine is read through its save stream.
    """
    if isinstance(source, Image):
        return source
    if client is None and _names_daemon_image(source) and (engine is not None or not _engine().Engine().is_local):
        eng = _engine().as_engine(engine)
        if not eng.is_local and path == "auto":
            path = "save-stream"  # the daemon's own store is not on this machine's disk
        own = eng.client(timeout=None)
        try:
            # the client stays with the Image: reading a file's contents later streams from it again
            return analyze(source, path=path, cache=cache, progress=progress, client=own, image=image,
                           platform=platform, limits=limits)
        except BaseException:
            own.close()
            raise
    if progress is None and _in_kernel():
        from .views.progress import NotebookProgress

        progress = NotebookProgress()
    tracker = Progress(progress)

    def saved(n):
        tracker.bytes = n
        tracker.update(phase="exporting")

    def waiting():
        tracker.update(phase="waiting")

    def export_size(n):
        tracker.export_bytes = n

    if cache is None:
        from .cache import default_cache

        cache = default_cache()
    elif cache is False:
        from .cache import NullCache

        cache = NullCache()
    from .model import limits as _limits

    with gc_paused(), _limits.using(limits):
        return _analyze(source, path, cache, client, tracker, (saved, waiting, export_size),
                        {"image": image, "platform": platform, "registry": registry})


def images(source, *, client=None, engine=None):
    """What a source holds, one row per image or attestation: a pandas DataFrame with columns
    ref, digest, platform, kind (image / attestation), attests (the image an attestation describes)
    and size (bytes of its blobs as stored). Pick one with analyze(source, image=..., platform=...).
    `engine` names the daemon for an image reference, as in analyze()."""
    import pandas as pd

    from .sources import list_images

    own = None
    if client is None and engine is not None and _names_daemon_image(source):
        client = own = _engine().as_engine(engine).client(timeout=None)
    try:
        rows = [c.row() for c in list_images(source, client=client)]
    finally:
        if own is not None:
            own.close()
    return pd.DataFrame(rows, columns=["ref", "digest", "platform", "kind", "attests", "size"])


def _names_daemon_image(source) -> bool:
    """True for what open_source sends to a daemon (not a file, folder or other transport)."""
    if not isinstance(source, str) or os.path.exists(source):
        return False
    return not source.startswith(("registry://", "docker-archive:", "oci:", "oci-archive:"))


def _analyze(source, path, cache, client, tracker: Progress, export_callbacks, select: dict) -> Image:
    saved, waiting, export_size = export_callbacks
    src = open_source(source, path=path, client=client, on_bytes=saved, on_wait=waiting, on_export_size=export_size,
                      cache=cache, **select)
    with src as record:
        check_config(record.config, record.reference)
        _check_counts(record)
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
            if content is None and cache and ref.cache_key:
                content = cache.get(ref.cache_key)
            if content is None:
                missing.append(ref)
            else:
                done[ref.diff_id] = content
                tracker.update(layers=1, nbytes=ref.size_hint or 0)

        takes_encoded = bool(cache) and getattr(cache, "put_encoded_ok", False)

        def finished(ref, content, encoded):
            done[ref.diff_id] = content
            if cache:
                key = ref.cache_key or ref.diff_id
                if encoded is not None:
                    cache.put(key, content, encoded=encoded)
                else:
                    cache.put(key, content)
            tracker.update(layers=1, nbytes=ref.size_hint or 0)

        read_layers(missing, finished, want_encoded=takes_encoded)
        _check_entries(record, done)
        tracker.layers = len(record.layers)
        tracker.update(phase="done", force=True)
        name = record.repo_tags[0] if record.repo_tags else record.reference
        diff_ids = [l.diff_id for l in record.layers]
        img = Image(name=name, image_id=record.image_id, repo_tags=record.repo_tags, config=record.config,
                    diff_ids=diff_ids, layer_ids=[l.id for l in record.layers],
                    contents=[done[d] for d in diff_ids], source=record.source_kind,
                    path=record.path if missing else "cache")
        img.chosen = record.extra.get("chosen", "")
        img.dive_full_repeats = bool(record.extra.get("dive_full_repeats"))
    from .contents import SourceReader

    img.reader = SourceReader(source, source_kind=record.source_kind, image_id=record.image_id, diff_ids=diff_ids,
                              config=record.config, layer_ids=img.layer_ids, client=client, path=path,
                              select=select)
    if cache:
        _cached_dive_accounting(img, cache)
    return img


def _check_counts(record) -> None:
    from .model import limits

    if len(record.layers) > limits.current().layer_count:
        raise limits.exceeded("layer_count", f"{record.reference} lists {len(record.layers)} layers; that count")


def _check_entries(record, done) -> None:
    """Entries over the manifest's layers (a layer listed twice counted twice): the merge's work."""
    from .model import limits

    total = sum(done[ref.diff_id].entry_count for ref in record.layers)
    if total > limits.current().image_entries:
        raise limits.exceeded("image_entries", f"{record.reference} stacks {total} entries over its "
                                               f"{len(record.layers)} layers; that many")


# -- the dive-compatible accounting of a known set of layers --------------------------


def _accounting_key(diff_ids) -> str:
    """A digest of the layers and of the code that computes the accounting."""
    import hashlib

    from .model import dive_accounting, entries, layer, merge

    h = hashlib.sha256(b"dive-accounting 2\n")
    for module in (dive_accounting, layer, entries, merge):
        try:
            with open(module.__file__, "rb") as f:
                h.update(f.read())
        except (OSError, TypeError):
            h.update(repr(time.time()).encode())  # unknown code: never reuse
    h.update("\n".join(diff_ids).encode())
    return "sha256:" + h.hexdigest()


def _cached_dive_accounting(img: Image, cache) -> None:
    """Reuse dive's numbers and the merge's summary for exactly these layers when the cache has them, else
    compute and store them.

    They are a pure function of the layers' contents (content-addressed by
    diff id) and of the accounting and merge code (part of the key), so never
    stale.
    """
    import functools

    from .model import entries as E
    from .model.dive_accounting import DiveAccounting, InefficientPath
    from .model.image import MergeSummary

    if not all(isinstance(type(img).__dict__.get(name), functools.cached_property) for name in ("dive", "merge_summary")):
        return
    key = _accounting_key(img.diff_ids + (["full repeats"] if img.dive_full_repeats else []))
    found = cache.get_result(key)
    if found is not None:
        try:
            img.__dict__["dive"] = DiveAccounting(
                efficiency=float(found["efficiency"]), inefficient_bytes=int(found["inefficient_bytes"]),
                inefficient=[InefficientPath(str(p), int(c), int(s)) for p, c, s in found["inefficient"]],
                layer_sizes=[int(x) for x in found["layer_sizes"]], size_bytes=int(found["size_bytes"]),
                user_size_bytes=int(found["user_size_bytes"]))
            counts = [{k: int(c[k]) for k in (E.ADDED, E.MODIFIED, E.REMOVED)} for c in found["change_counts"]]
            if len(counts) != len(img.contents):
                raise ValueError("one count per layer")
            summary = MergeSummary(counts=counts, reclaimable_bytes=int(found["reclaimable_bytes"]))
        except (KeyError, TypeError, ValueError):
            img.__dict__.pop("dive", None)
        else:
            img.__dict__["merge_summary"] = summary
            return
    d, m = img.dive, img.merge_summary
    cache.put_result(key, {"efficiency": d.efficiency, "inefficient_bytes": d.inefficient_bytes,
                           "inefficient": [[p.path, p.count, p.size] for p in d.inefficient],
                           "layer_sizes": d.layer_sizes, "size_bytes": d.size_bytes,
                           "user_size_bytes": d.user_size_bytes,
                           "change_counts": m.counts, "reclaimable_bytes": m.reclaimable_bytes})

