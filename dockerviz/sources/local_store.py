"""Reading layers straight from a local Docker daemon's classic overlay2 store.

When the daemon runs on this machine and its data root is readable (root, the
classic image store, the overlay2 driver), the layers need not be exported:

- tar-split (tar_split.py): the headers the daemon keeps for every layer tar
  it received or produced, image/overlay2/layerdb/sha256/<chainID>/tar-split.json.gz;
  the entries are those `docker save` would stream, byte for byte.
- overlay2-diff (overlay2_diff.py): the layer unpacked in overlay2/<cache-id>/diff,
  walked in the order the daemon's tar writer walks it.

This module finds the store from an image's inspect data and builds the
image record. Everything is feature-detected and verified (the layer's
recorded diff id, the image config's digest): a store that does not look
exactly like this is not used, and the caller falls back to the save stream.
"""
from __future__ import annotations

import hashlib
import json
import os

from ..engine_socket import LocalUnavailable, inspect_local, local_socket  # noqa: F401 - re-exported
from ..errors import ArchiveError
from ..model.layer import LayerContent
from .base import ImageRecord, LayerRef
from .files import dir_reader, read_in_dir
from .legacy_ids import legacy_layer_ids
from .overlay2_diff import walk_diff
from .tar_split import read_tar_split

LOCAL_PATHS = ("tar-split", "overlay2-diff")


# -- the store ---------------------------------------------------------------------


def chain_ids(diff_ids: list[str]) -> list[str]:
    """c0 = d0; cN = sha256(f"{c(N-1)} {dN}")."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def _hex(digest: str) -> str:
    alg, _, h = digest.partition(":")
    if alg != "sha256" or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise LocalUnavailable(f"{digest!r} is not a sha256 digest")
    return h


class LocalStore:
    """The classic image store of a daemon on this machine (data root, overlay2)."""

    def __init__(self, root: str, *, driver_dir: str = "overlay2"):
        self.root = root
        self.layerdb = os.path.join(root, "image", driver_dir, "layerdb", "sha256")
        self.imagedb = os.path.join(root, "image", driver_dir, "imagedb", "content", "sha256")
        self.layers_dir = os.path.join(root, driver_dir)
        # A userns-remapped daemon shifts ids on disk; the tar it writes maps them back.
        base = os.path.basename(os.path.normpath(root))
        self.remapped = base.count(".") == 1 and all(p.isdigit() for p in base.split("."))
        if not os.access(self.layerdb, os.R_OK | os.X_OK):
            raise LocalUnavailable(f"{self.layerdb} is not readable (not root, or not the classic image store)")

    @classmethod
    def for_inspect(cls, inspect: dict) -> "LocalStore":
        """Find the store from an image's inspect data (GraphDriver names its directories)."""
        driver = inspect.get("GraphDriver") or {}
        if driver.get("Name") != "overlay2":
            raise LocalUnavailable(
                f"the daemon's storage driver is {driver.get('Name') or 'unknown'!r}, not the classic overlay2 store "
                "(containerd image store, podman, or another driver)")
        upper = (driver.get("Data") or {}).get("UpperDir") or ""
        parts = upper.rstrip("/").split("/")
        if len(parts) < 4 or parts[-1] != "diff" or parts[-3] != "overlay2":
            raise LocalUnavailable(f"the overlay2 layer directory {upper!r} is not laid out as expected")
        root = "/".join(parts[:-3]) or "/"
        if not os.path.isdir(upper):
            raise LocalUnavailable(f"{upper} is not on this machine (a daemon reached through a forwarded socket?)")
        return cls(root)

    def layer_meta(self, chain_id: str, diff_id: str) -> str:
        """The layerdb directory of a layer, checked against the diff id it must hold."""
        d = os.path.join(self.layerdb, _hex(chain_id))
        try:
            with open(os.path.join(d, "diff"), "rb") as f:
                recorded = f.read().strip().decode("ascii", "replace")
        except OSError as exc:
            raise LocalUnavailable(f"layer metadata {d} cannot be read ({exc.strerror})") from None
        if recorded != diff_id:
            raise LocalUnavailable(f"layer metadata {d} records {recorded}, not {diff_id}")
        return d

    def cache_id(self, meta_dir: str) -> str:
        try:
            with open(os.path.join(meta_dir, "cache-id"), "rb") as f:
                cid = f.read().strip().decode("ascii", "replace")
        except OSError as exc:
            raise LocalUnavailable(f"{meta_dir}/cache-id cannot be read ({exc.strerror})") from None
        if not cid or "/" in cid or cid.startswith("."):
            raise LocalUnavailable(f"{meta_dir}/cache-id is not a layer directory name")
        return cid

    def config_bytes(self, image_id: str) -> bytes:
        path = os.path.join(self.imagedb, _hex(image_id))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise LocalUnavailable(f"the image config {path} cannot be read ({exc.strerror})") from None
        if "sha256:" + hashlib.sha256(data).hexdigest() != image_id:
            raise LocalUnavailable(f"the image config {path} does not hash to {image_id}")
        return data


# -- the record ------------------------------------------------------------------------


def local_record(reference: str, inspect: dict, *, path: str, config: dict | None = None,
                 layer_ids: list | None = None, api_version: str | None = None) -> ImageRecord:
    """An ImageRecord whose layers are read from the local store by `path` (auto / tar-split / overlay2-diff).

    Raises LocalUnavailable when the store cannot serve this image.
    """
    store = LocalStore.for_inspect(inspect)
    image_id = inspect.get("Id") or ""
    diff_ids = list((inspect.get("RootFS") or {}).get("Layers") or [])
    if config is None:
        try:
            config = json.loads(store.config_bytes(image_id))
        except ValueError:
            raise LocalUnavailable("the image config in the store is not JSON") from None
    if ((config.get("rootfs") or {}).get("diff_ids") or []) != diff_ids:
        raise LocalUnavailable("the image config in the store does not list the layers the daemon reports")
    chain = chain_ids(diff_ids)
    metas = [store.layer_meta(c, d) for c, d in zip(chain, diff_ids)]
    if path == "auto":
        path = "tar-split" if all(os.path.isfile(os.path.join(m, "tar-split.json.gz")) for m in metas) \
            else "overlay2-diff"
    if path == "overlay2-diff" and store.remapped:
        raise LocalUnavailable("the daemon remaps user ids (userns-remap); the diff directories hold shifted ids")
    # Engine 25+ (API 1.44) saves OCI-style: a repeated layer is its blob named twice, which dive reads in full
    oci_save = bool(api_version) and tuple(int(p) for p in api_version.split(".")[:2]) >= (1, 44)
    if layer_ids is None:
        if oci_save:
            layer_ids = [_hex(d) for d in diff_ids]
        else:
            layer_ids = legacy_layer_ids(config, chain)
    layers = []
    for i, (meta, diff_id) in enumerate(zip(metas, diff_ids)):
        what = f"layer {i} ({diff_id[:19]}) of {reference}"
        size_hint = _layer_size(meta)
        diff_dir = os.path.join(store.layers_dir, store.cache_id(meta), "diff")
        if path == "tar-split":
            reader = _tar_split_reader(os.path.join(meta, "tar-split.json.gz"), what, diff_dir)
        else:
            reader = _diff_reader(diff_dir, _split_cost(os.path.join(meta, "tar-split.json.gz")))
        layers.append(LayerRef(diff_id=diff_id, id=layer_ids[i], reader=reader, size_hint=size_hint, what=what,
                               fetch=_fetcher(diff_dir)))
    return ImageRecord(reference=reference, image_id=image_id, repo_tags=list(inspect.get("RepoTags") or []),
                       config=config, layers=layers, source_kind="daemon", path=path,
                       extra={"data_root": store.root, "dive_full_repeats": oci_save and len(set(diff_ids)) < len(diff_ids)})


def _layer_size(meta: str) -> int | None:
    try:
        with open(os.path.join(meta, "size"), "rb") as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def _split_cost(path: str) -> int | None:
    """How much reading a layer costs, from its tar-split file: half the size of its text.

    The text grows with the number of entries; how well it compresses varies
    (a layer of small files compresses better), so the compressed size alone
    would put most of the work on one side of a parallel read. gzip's trailer
    holds the text size (mod 2**32).
    """
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < 18:
                return size
            f.seek(size - 4)
            text = int.from_bytes(f.read(4), "little")
    except OSError:
        return None
    return max(size, text // 2)


def _with_packages(content: LayerContent, diff_dir: str) -> LayerContent:
    """The layer's package databases, read from its unpacked directory (tar-split holds headers only)."""
    from ..model import packages

    if packages.CAPTURE:
        content.packages = packages.collect(content.entries, dir_reader(diff_dir))
    return content


def _fetcher(diff_dir: str):
    return lambda path, n: read_in_dir(diff_dir, path, n)


def _tar_split_reader(path: str, what: str, diff_dir: str):
    def read() -> LayerContent:
        try:
            return _with_packages(read_tar_split(path, what=what), diff_dir)
        except LocalUnavailable as exc:
            raise ArchiveError(f"The daemon's record of {what} cannot be read: {exc}. "
                               "Try --path save-stream.") from None
    cost = _split_cost(path)  # grows with the number of entries, not file bytes
    if cost is not None:
        read.cost = cost  # type: ignore[attr-defined]
    read.fork_safe = True  # type: ignore[attr-defined]  # reads files only: may run in a forked worker
    return read


def _diff_reader(diff_dir: str, entries_hint: int | None = None):
    def read() -> LayerContent:
        try:
            return _with_packages(walk_diff(diff_dir), diff_dir)
        except LocalUnavailable as exc:
            raise ArchiveError(f"The layer directory cannot be read: {exc}. Try --path save-stream.") from None
    if entries_hint is not None:
        read.cost = entries_hint  # type: ignore[attr-defined]
    read.fork_safe = True  # type: ignore[attr-defined]
    return read


__all__ = ["LocalStore", "LocalUnavailable", "local_socket", "inspect_local", "local_record", "chain_ids", "LOCAL_PATHS"]
