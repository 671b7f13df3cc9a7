"""Per-layer analysis results cached by diff id (content-addressed, so never stale).

Layout under the cache folder ($DOCKERVIZ_CACHE_DIR, else $XDG_CACHE_HOME/dockerviz,
else ~/.cache/dockerviz):

    layers/<hex of the diff id>    one LayerContent
    images/<hex of the image id>   an image's config and layer names, so a warm
                                   run needs no `docker save` to learn them
    results/<hex of a digest>      the dive-compatible accounting of a list of
                                   layers (keyed by their diff ids and the
                                   accounting code itself)

Every file starts with a fixed header (magic, format version, the id it was
written for, payload length, CRC-32 of the payload) followed by a zlib-compressed
payload of columns (kinds as bytes, numbers as int64 arrays, names as
NUL-separated UTF-8). A file whose header, id, length, checksum or columns do
not add up is ignored (the caller reads the layer again and the file is
rewritten), never trusted. Writes go to a temporary file in the same folder
then os.replace: two kernels analysing at once each write a whole file and
the last rename wins. The folder is kept under a size limit by removing the
least recently used files (a hit refreshes a file's mtime).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from array import array
from operator import attrgetter

from .errors import CacheError
from .model import entries as E
from .model.layer import LayerContent

# 2: a layer's package databases stored with it; 3: and its members' data offsets; 4: and its disk bytes
FORMAT_VERSION = 4
LAYER_MAGIC = b"DVZLAYR\0"
IMAGE_MAGIC = b"DVZIMAG\0"
RESULT_MAGIC = b"DVZRSLT\0"
# magic, version, id (sha256:<64 hex>, padded to 80), payload length, crc32
_HEADER = struct.Struct("<8sH80sQI")
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
_KINDS = (E.FILE, E.DIR, E.SYMLINK, E.HARDLINK, E.OTHER)
_KIND_CODE = {k: i for i, k in enumerate(_KINDS)}
_SEP = "\0"  # cannot occur in a tar member name
_SEP_BYTE = b"\0"


def cache_dir() -> str:
    override = os.environ.get("DOCKERVIZ_CACHE_DIR")
    if override:
        return os.path.expanduser(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dockerviz")


def _max_bytes() -> int:
    text = os.environ.get("DOCKERVIZ_CACHE_MAX_BYTES", "").strip()
    try:
        return int(text) if text else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def _hex_of(digest: str) -> str | None:
    alg, _, h = (digest or "").partition(":")
    if alg != "sha256" or len(h) != 64 or not all(c in "0123456789abcdef" for c in h):
        return None
    return h


# -- serialisation -----------------------------------------------------------------


def _join(strings) -> bytes:
    return _SEP.join(strings).encode("utf-8", "surrogateescape")


def _split(data: bytes, n: int) -> list:
    if n == 0:
        return []
    out = str(data, "utf-8", "surrogateescape").split(_SEP)  # bytes or a memoryview
    if len(out) != n:
        raise ValueError("column length")
    return out


_path_of = attrgetter("path")
_link_of = attrgetter("link")
_kind_of = attrgetter("kind")
_NUM_ATTRS = tuple(attrgetter(a) for a in ("size", "mode", "uid", "gid"))


# n entries, n whiteouts, n opaque dirs, tar bytes, disk bytes; then the columns and a table of blob lengths
_PREFIX = struct.Struct("<IIIqq")
_BLOBS = struct.Struct("<6Q")


def encode_layer(content: LayerContent) -> bytes:
    entries = content.entries
    n = len(entries)
    kinds = bytes(map(_KIND_CODE.__getitem__, map(_kind_of, entries)))
    nums = array("q")
    for get in _NUM_ATTRS:
        nums.extend(map(get, entries))
    parts = [
        _PREFIX.pack(n, len(content.whiteouts), len(content.opaque_dirs), content.tar_bytes, content.disk_bytes),
        kinds,
        nums.tobytes(),
    ]
    blobs = [_join(map(_path_of, entries)), _join(map(_link_of, entries)), _join(content.whiteouts),
             _join(content.opaque_dirs), _encode_packages(content.packages),
             content.offsets.tobytes() if content.offsets is not None else b""]
    parts.append(_BLOBS.pack(*(len(b) for b in blobs)))
    parts.extend(blobs)
    return b"".join(parts)


class _Columns:
    """A layer payload whose every column has been checked; making its entries cannot fail.

    The checks are the ones a decode would meet, done in C over whole
    columns (lengths, kind codes, separator counts), so a warm run can trust
    a layer's counts and sizes and make its entries only if they are asked for.
    """

    __slots__ = ("data", "n", "nw", "no", "tar_bytes", "disk_bytes", "spans")

    def __init__(self, data: bytes):
        n, nw, no, self.tar_bytes, self.disk_bytes = _PREFIX.unpack_from(data, 0)
        self.data, self.n, self.nw, self.no = data, n, nw, no
        pos = _PREFIX.size + 33 * n  # kinds (a byte each), then sizes, modes, uids and gids (int64 each)
        lens = _BLOBS.unpack_from(data, pos)  # struct.error when the columns are short
        pos += _BLOBS.size
        spans = [(_PREFIX.size, _PREFIX.size + n), (_PREFIX.size + n, _PREFIX.size + 33 * n)]
        for ln in lens:
            spans.append((pos, pos + ln))
            pos += ln
        if pos != len(data):
            raise ValueError("payload length")
        if n and max(data[spans[0][0]: spans[0][1]]) >= len(_KINDS):
            raise ValueError("kind code")
        for (start, end), count in zip(spans[2:6], (n, n, nw, no)):
            if (end > start or count) and data.count(_SEP_BYTE, start, end) != count - 1:
                raise ValueError("column length")
        if spans[7][1] - spans[7][0] not in (0, 8 * n):
            raise ValueError("offsets column")
        self.spans = spans

    def _blob(self, i: int) -> bytes:
        start, end = self.spans[i]
        return self.data[start:end]

    def entries(self) -> list:
        n, nums = self.n, array("q")
        nums.frombytes(self._blob(1))
        paths = _split(self._blob(2), n)
        links = _split(self._blob(3), n)
        names = [_KINDS[k] for k in self._blob(0)]
        sizes = nums[:n].tolist()
        # One int object per distinct mode and id (most layers have a handful). Each
        # value is made and dropped in turn, so no field of freed ints is left
        # between the objects kept (it would stay in the process as fragmentation).
        share: dict = {}
        share = share.setdefault
        modes = [share(v, v) for v in nums[n: 2 * n]]
        uids = [share(v, v) for v in nums[2 * n: 3 * n]]
        gids = [share(v, v) for v in nums[3 * n:]]
        return list(map(E.Entry, paths, names, sizes, modes, uids, gids, links))

    def fill(self, content: LayerContent) -> None:
        """Every field but the entries."""
        content.whiteouts = _split(self._blob(4), self.nw)
        content.opaque_dirs = _split(self._blob(5), self.no)
        content.tar_bytes = self.tar_bytes
        content.packages = _decode_packages(self._blob(6))
        content.offsets = None
        offsets = self._blob(7)
        if offsets:
            content.offsets = array("q", offsets)


class CachedLayer(LayerContent):
    """A LayerContent read from the cache: counts and sizes at once, entries made when first used.

    The JSON and text reports of a warm analysis need only each layer's
    counts and disk bytes (dive's numbers and the change counts are cached
    beside them), so most warm runs never build a layer's entries. The payload
    was checked whole before this was made (checksum, then every column), so
    the late decode cannot meet a damaged file.
    """

    def __init__(self, columns: _Columns):
        self._columns: _Columns | None = columns
        columns.fill(self)
        self.__dict__["disk_bytes"] = columns.disk_bytes

    def __getattr__(self, name):
        columns = self.__dict__.get("_columns")
        if name != "entries" or columns is None:
            raise AttributeError(name)
        self.entries = columns.entries()
        self._columns = None  # the payload is no longer held
        return self.entries

    @property
    def entry_count(self) -> int:
        columns = self._columns
        return len(self.entries) if columns is None else columns.n

    def __len__(self) -> int:
        return self.entry_count + len(self.whiteouts) + len(self.opaque_dirs)


def decode_layer(data: bytes) -> LayerContent:
    """A payload as a LayerContent, entries made at once; ValueError or struct.error when it does not add up."""
    columns = _Columns(data)
    content = LayerContent()
    content.entries = columns.entries()
    columns.fill(content)
    return content


def _encode_packages(packages: dict | None) -> bytes:
    if packages is None:
        return b""
    return json.dumps(packages, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogateescape")


def _decode_packages(blob) -> dict | None:
    if not len(blob):
        return None
    value = json.loads(bytes(blob).decode("utf-8", "surrogateescape"))
    if not isinstance(value, dict):
        raise ValueError("packages")
    out = {}
    for path, records in value.items():
        if not isinstance(path, str) or not isinstance(records, list):
            raise ValueError("packages")
        out[path] = [(str(n), str(v), int(sz)) for n, v, sz in records]
    return out


def _pack(magic: bytes, ident: str, payload: bytes) -> bytes:
    body = zlib.compress(payload, 1)
    return _HEADER.pack(magic, FORMAT_VERSION, ident.encode("ascii"), len(body), zlib.crc32(body)) + body


def _unpack(data: bytes, magic: bytes, ident: str) -> bytes | None:
    if len(data) < _HEADER.size:
        return None
    m, version, stored, length, crc = _HEADER.unpack_from(data, 0)
    if m != magic or version != FORMAT_VERSION or stored.rstrip(b"\0") != ident.encode("ascii"):
        return None
    body = data[_HEADER.size:]
    if len(body) != length or zlib.crc32(body) != crc:
        return None
    return zlib.decompress(body)


# -- the cache -------------------------------------------------------------------------


class LayerCache:
    """Layer results (and image descriptions) on disk, keyed by content digests."""

    def __init__(self, directory: str | os.PathLike | None = None, *, max_bytes: int | None = None):
        self.dir = os.fspath(directory) if directory is not None else cache_dir()
        self.max_bytes = _max_bytes() if max_bytes is None else max_bytes
        self.hits = 0
        self.misses = 0
        self.rejected = 0  # files found but not trusted (corrupt, foreign, other version)
        self._usable = True

    put_encoded_ok = True  # put() takes encoded=encode_layer(content)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<LayerCache {self.dir} hits={self.hits} misses={self.misses} rejected={self.rejected}>"

    def _path(self, kind: str, digest: str) -> str | None:
        h = _hex_of(digest)
        return None if h is None else os.path.join(self.dir, kind, h)

    def _read(self, kind: str, magic: bytes, digest: str) -> bytes | None:
        path = self._path(kind, digest)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        try:
            payload = _unpack(data, magic, digest)
        except zlib.error:
            payload = None
        if payload is None:
            self.rejected += 1
            return None
        try:
            os.utime(path)  # recency for the size bound
        except OSError:
            pass
        return payload

    def _write(self, kind: str, magic: bytes, digest: str, payload: bytes) -> None:
        path = self._path(kind, digest)
        if path is None or not self._usable:
            return
        folder = os.path.dirname(path)
        try:
            os.makedirs(folder, exist_ok=True)
            import tempfile  # only when writing: a warm run never needs it

            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        except OSError:
            self._usable = False  # a read-only home: analyse without caching
            return
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_pack(magic, digest, payload))
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return
        self._enforce_limit()

    # layers
    def get(self, diff_id: str) -> LayerContent | None:
        payload = self._read("layers", LAYER_MAGIC, diff_id)
        if payload is not None:
            try:
                content: LayerContent | None = CachedLayer(_Columns(payload))
            except (ValueError, IndexError, TypeError, struct.error, UnicodeError):
                self.rejected += 1
                content = None
            if content is not None:
                self.hits += 1
                return content
        self.misses += 1
        return None

    def put(self, diff_id: str, content: LayerContent, *, encoded: bytes | None = None) -> None:
        """Store a layer; `encoded`, when given, is encode_layer(content) already made."""
        self._write("layers", LAYER_MAGIC, diff_id, encode_layer(content) if encoded is None else encoded)

    # images: what a warm run needs besides the layers
    def get_image(self, image_id: str) -> dict | None:
        payload = self._read("images", IMAGE_MAGIC, image_id)
        if payload is None:
            return None
        try:
            info = json.loads(payload)
        except ValueError:
            self.rejected += 1
            return None
        if not isinstance(info, dict) or not isinstance(info.get("config"), dict) \
                or not isinstance(info.get("layer_ids"), list):
            self.rejected += 1
            return None
        return info

    def put_image(self, image_id: str, *, config: dict, layer_ids: list) -> None:
        payload = json.dumps({"config": config, "layer_ids": list(layer_ids)}, separators=(",", ":")).encode()
        self._write("images", IMAGE_MAGIC, image_id, payload)

    # results derived from a set of layers (keyed by a digest of their diff ids and the code version)
    def get_result(self, key: str) -> dict | None:
        payload = self._read("results", RESULT_MAGIC, key)
        if payload is None:
            return None
        try:
            value = json.loads(payload)
        except ValueError:
            self.rejected += 1
            return None
        return value if isinstance(value, dict) else None

    def put_result(self, key: str, value: dict) -> None:
        self._write("results", RESULT_MAGIC, key, json.dumps(value, separators=(",", ":")).encode())

    # housekeeping
    def files(self) -> list:
        """[(mtime, size, path)] of every cache file."""
        out = []
        for kind in ("layers", "images", "results"):
            folder = os.path.join(self.dir, kind)
            try:
                it = os.scandir(folder)
            except OSError:
                continue
            with it:
                for d in it:
                    if d.name.startswith(".tmp-"):
                        continue
                    try:
                        st = d.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    out.append((st.st_mtime, st.st_size, d.path))
        return out

    def size_bytes(self) -> int:
        return sum(s for _, s, _ in self.files())

    def _enforce_limit(self) -> None:
        files = self.files()
        total = sum(s for _, s, _ in files)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(files):
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= size
            if total <= self.max_bytes:
                break

    def clear(self) -> None:
        for _, _, path in self.files():
            try:
                os.unlink(path)
            except OSError:
                pass


class NullCache:
    """No caching (`cache=False`, `--no-cache`)."""

    hits = misses = rejected = 0

    def get(self, diff_id):
        return None

    def put(self, diff_id, content):
        pass

    def get_image(self, image_id):
        return None

    def put_image(self, image_id, **kw):
        pass

    def get_result(self, key):
        return None

    def put_result(self, key, value):
        pass

    def __bool__(self):
        return False


def default_cache():
    """The cache in the default folder; NullCache when DOCKERVIZ_CACHE_DIR is 'off' or the folder is unusable."""
    if os.environ.get("DOCKERVIZ_CACHE_DIR", "").strip().lower() in ("off", "none", "0", "false"):
        return NullCache()
    try:
        return LayerCache()
    except OSError as exc:  # pragma: no cover - an unusable home directory
        raise CacheError(f"The cache folder {cache_dir()} cannot be used: {exc}") from None


__all__ = ["LayerCache", "NullCache", "default_cache", "cache_dir", "encode_layer", "decode_layer"]
