"""Reading file bytes of an analysed image from where its layers came from.

An Image holds headers only. When a file's contents are asked for, this
reader opens the image's source again (once, kept open for later reads) and
gets the bytes of one member, in place: from the layer's directory in a local
store, from the archive by the member's offset, or, for a remote or Podman
daemon, by a second pass over the save stream that keeps only that file (for
a registry, over the one layer blob that holds it).
Recent reads are kept in memory, so a side pane opened twice costs one read.
"""

from __future__ import annotations

from _thread import allocate_lock  # threading.Lock itself; importing threading is start-up time
from collections import OrderedDict

from .errors import ArchiveError, FileContentsError

KEEP_BYTES = 64 << 20  # recently read file bytes kept in memory


class _KnownImage:
    """What a daemon source needs to skip a first `docker save`: the config and layer names it already has."""

    def __init__(self, image_id: str, config: dict, layer_ids: list):
        self._info = {image_id: {"config": config, "layer_ids": list(layer_ids)}}

    def __bool__(self) -> bool:
        return True

    def get_image(self, image_id):
        return self._info.get(image_id)

    def put_image(self, image_id, **kw):
        pass

    def get(self, diff_id):
        return None

    def put(self, *a, **kw):
        pass


class SourceReader:
    """reader.read(layer index, path, n) -> bytes, for one Image analysed from `source`."""

    def __init__(self, source, *, source_kind: str, image_id: str, diff_ids: list, config: dict, layer_ids: list,
                 client=None, path: str = "auto", select: dict | None = None):
        self._source = image_id if source_kind == "daemon" and image_id else source
        self._select = dict(select or {}) if source_kind != "daemon" else {}  # the image chosen in an archive
        self._kind = source_kind
        self._diff_ids = list(diff_ids)
        self._known = _KnownImage(image_id, config, layer_ids)
        self._client = client
        self._path = path if path in ("auto", "tar-split", "overlay2-diff", "save-stream") else "auto"
        self._src = None
        self._record = None
        self._blobs: dict = {}
        self._kept: OrderedDict = OrderedDict()
        self._kept_bytes = 0
        self._lock = allocate_lock()

    def _open(self):
        if self._record is None:
            from .sources import open_source

            kw = {"client": self._client, "cache": self._known} if self._kind == "daemon" else {}
            src = open_source(self._source, path=self._path if self._kind == "daemon" else "auto", **kw,
                              **self._select)
            record = src.__enter__()
            if [l.diff_id for l in record.layers] != self._diff_ids:
                src.__exit__(None, None, None)
                raise ArchiveError(f"{self._source} no longer holds the layers it held when it was analysed; "
                                   "analyse it again.")
            self._src, self._record = src, record
        return self._record

    def read(self, index: int, path: str, n: int, offset: int | None = None) -> bytes:
        """Up to n bytes of `path` in layer `index`; `offset`: where the header walk found its data."""
        key = (index, path)
        with self._lock:
            found = self._kept.get(key)
            if found is not None and (len(found[1]) >= n or found[0]):
                self._kept.move_to_end(key)
                return found[1][:n]
            record = self._open()
            ref = record.layers[index]
            if ref.fetch is not None:
                data = ref.fetch(path, n)
            elif ref.open is not None:
                blob = self._blobs.get(index)
                if blob is None:
                    from .sources.files import BlobIndex

                    blob = self._blobs[index] = BlobIndex(ref.open, what=ref.what)
                data = blob.read(path, n, offset)
            else:
                fetch_saved = getattr(self._src, "fetch_saved", None)
                if fetch_saved is None:
                    raise FileContentsError(f"{self._source} cannot give the bytes of {path}.")
                data = fetch_saved(index, path, n)
            self._keep(key, data, complete=len(data) < n)
            return data

    def _keep(self, key, data: bytes, complete: bool) -> None:
        old = self._kept.pop(key, None)
        if old is not None:
            self._kept_bytes -= len(old[1])
        if len(data) > KEEP_BYTES // 4:
            return
        self._kept[key] = (complete, data)
        self._kept_bytes += len(data)
        while self._kept_bytes > KEEP_BYTES and self._kept:
            _, (_, dropped) = self._kept.popitem(last=False)
            self._kept_bytes -= len(dropped)

    def close(self) -> None:
        with self._lock:
            if self._src is not None:
                try:
                    self._src.__exit__(None, None, None)
                finally:
                    self._src = self._record = None
                    self._blobs.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


__all__ = ["SourceReader"]
