"""eStargz layers made here, as stargz-snapshotter's estargz writer lays them out (no such tool is packaged
for Debian 12; dive's own eStargz image is one small layer).

A layer is one gzip member per tar entry, then one holding the tar's end-of-archive
blocks, then one holding a tar of `stargz.index.json` (the table of contents:
every entry's name, type, size, mode, owner, link target and the offset of its
gzip member), then the 51-byte footer: an empty gzip member whose extra field
"SG" says "%016x" of the TOC member's offset + "STARGZ". The manifest annotates
the layer with the TOC's digest (`containerd.io/snapshot/stargz/toc.digest`).

`estargz_layout` turns an OCI layout with uncompressed layers (skopeo's
`--dest-oci-accept-uncompressed-layers`) into one with eStargz layers, their
diff ids (the sha256 of the whole uncompressed stream, TOC included) written
into a new config.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
import zlib
from pathlib import Path

TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest"
UNCOMPRESSED_SIZE = "io.containers.estargz.uncompressed-size"
_TYPES = {tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
          tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}


def _member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def footer(toc_offset: int) -> bytes:
    sub = f"{toc_offset:016x}STARGZ".encode()
    extra = b"SG" + struct.pack("<H", len(sub)) + sub
    header = b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\0\xff" + struct.pack("<H", len(extra)) + extra
    return header + b"\x01\x00\x00\xff\xff" + struct.pack("<II", zlib.crc32(b""), 0)  # an empty stored block


def to_estargz(tar_bytes: bytes) -> tuple[bytes, bytes, bytes]:
    """(blob, uncompressed bytes, TOC JSON) of one layer tar."""
    out = bytearray()
    plain = bytearray()
    entries = []
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as src:
        for info in src:
            data = src.extractfile(info).read() if info.isreg() else b""
            chunk = info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
            if data:
                chunk += data + b"\0" * (-len(data) % 512)
            entry = {"name": info.name.rstrip("/"), "type": _TYPES.get(info.type, "reg"), "mode": info.mode,
                     "uid": info.uid, "gid": info.gid, "offset": len(out)}
            if info.isreg():
                entry["size"] = info.size
                entry["digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
            if info.issym() or info.islnk():
                entry["linkName"] = info.linkname
            if info.ischr() or info.isblk():
                entry["devMajor"], entry["devMinor"] = info.devmajor, info.devminor
            entries.append(entry)
            out += _member(chunk)
            plain += chunk
    end = b"\0" * 1024
    out += _member(end)
    plain += end
    toc = json.dumps({"version": 1, "entries": entries}, indent="\t").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("stargz.index.json")
        info.size = len(toc)
        t.addfile(info, io.BytesIO(toc))
    toc_offset = len(out)
    out += _member(buf.getvalue())
    plain += buf.getvalue()
    out += footer(toc_offset)
    return bytes(out), bytes(plain), toc


def _put(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def estargz_layout(layout: Path, ref: str = "x") -> None:
    """Rewrite the image `ref` of an OCI layout with uncompressed layers into eStargz layers, in place."""
    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    desc = next(d for d in index["manifests"]
                if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref)
    manifest = json.loads((blobs / desc["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    diff_ids, layers = [], []
    for layer in manifest["layers"]:
        blob, plain, toc = to_estargz((blobs / layer["digest"].split(":")[1]).read_bytes())
        digest, size = _put(blobs, blob)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size,
                       "annotations": {TOC_DIGEST: "sha256:" + hashlib.sha256(toc).hexdigest(),
                                       UNCOMPRESSED_SIZE: str(len(plain))}})
        diff_ids.append("sha256:" + hashlib.sha256(plain).hexdigest())
    config["rootfs"]["diff_ids"] = diff_ids
    cdigest, csize = _put(blobs, json.dumps(config, separators=(",", ":")).encode())
    manifest["config"].update(digest=cdigest, size=csize)
    manifest["layers"] = layers
    mdigest, msize = _put(blobs, json.dumps(manifest, separators=(",", ":")).encode())
    desc.update(digest=mdigest, size=msize)
    (layout / "index.json").write_text(json.dumps(index))
