"""Images in a recording: `docker save` archives with every file's bytes blanked.

The tar headers (names, sizes, modes, owners, times), the image config and the
history are kept as the engine wrote them, and that is all an analysis reads;
the bytes of regular files become zeros, which compress to almost nothing.
`dockerviz-blanked.json` in the archive names what each blanked layer tar
hashes to, so the layers are still checked as they are read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

__all__ = ["write_blank_archive", "add_blanked_marker"]


def _blank_layer(data: bytes) -> bytes:
    """The same layer tar with every regular file's bytes replaced by zeros (headers kept)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as src, \
            tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as dst:
        for member in src:
            if member.isreg():
                dst.addfile(member, _Zeros(member.size))
            else:
                dst.addfile(member)
    return out.getvalue()


def add_blanked_marker(dst, digests: dict) -> None:
    """Name what each blanked layer tar hashes to (its diff id names the original bytes): the
    archive source checks the layers against these instead."""
    from ..sources.oci import BLANKED

    body = json.dumps({"format": "dockerviz-blanked/1", "layers": digests}, indent=1, sort_keys=True).encode()
    info = tarfile.TarInfo(BLANKED)
    info.size, info.mode = len(body), 0o644
    dst.addfile(info, io.BytesIO(body))


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


def write_blank_archive(chunks, out) -> Path:
    """Write a gzipped `docker save` archive from its byte chunks, file contents blanked.

    Everything but the layer tars is copied as it is (manifest, config,
    repositories); in each layer tar, regular files keep their headers (name,
    size, mode, owner, times) and their bytes become zeros.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(prefix="dockerviz-save-") as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            with tarfile.open(fileobj=spool, mode="r:") as src:
                manifest = json.load(src.extractfile("manifest.json"))
                layers = {p for m in manifest for p in m.get("Layers") or []}
                with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
                        tarfile.open(fileobj=gz, mode="w:", format=tarfile.PAX_FORMAT) as dst:
                    digests = {}
                    for member in src.getmembers():
                        if member.isreg() and member.name in layers:
                            data = _blank_layer(src.extractfile(member).read())
                            digests[member.name] = "sha256:" + hashlib.sha256(data).hexdigest()
                            info = tarfile.TarInfo(member.name)
                            info.size, info.mode, info.mtime = len(data), member.mode, member.mtime
                            dst.addfile(info, io.BytesIO(data))
                        elif member.isreg():
                            dst.addfile(member, src.extractfile(member))
                        else:
                            dst.addfile(member)
                    add_blanked_marker(dst, digests)
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                tmp.unlink()
    return out


