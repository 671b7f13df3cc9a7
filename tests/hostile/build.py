"""Byte-level builders for hostile archives: every header field and document can be set by hand.

tarfile refuses to write most of what an attacker writes (negative sizes, bad
numbers, broken PAX records), so tar members are assembled here block by block.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import tarfile

BLOCK = 512


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _octal(n: int, width: int) -> bytes:
    return f"{n:0{width - 1}o}".encode() + b"\0"


def header(name: bytes, *, typeflag: bytes = b"0", size: int = 0, mode: int = 0o644, uid: int = 0, gid: int = 0,
           linkname: bytes = b"", fields: dict | None = None) -> bytes:
    """One ustar header block; `fields` overrides raw fields by name (size, mode, uid, gid, mtime)."""
    raw = {"mode": _octal(mode, 8), "uid": _octal(uid, 8), "gid": _octal(gid, 8),
           "size": _octal(size, 12) if size < 8 ** 11 else b"\x80" + size.to_bytes(11, "big"),
           "mtime": _octal(1700000000, 12)}
    raw.update(fields or {})
    block = bytearray(BLOCK)
    block[0:100] = name[:100].ljust(100, b"\0")
    block[100:108] = raw["mode"][:8].ljust(8, b"\0")
    block[108:116] = raw["uid"][:8].ljust(8, b"\0")
    block[116:124] = raw["gid"][:8].ljust(8, b"\0")
    block[124:136] = raw["size"][:12].ljust(12, b"\0")
    block[136:148] = raw["mtime"][:12].ljust(12, b"\0")
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[157:257] = linkname[:100].ljust(100, b"\0")
    block[257:265] = b"ustar\x0000"
    block[265:269] = b"root"
    block[297:301] = b"root"
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def pax_records(records: dict) -> bytes:
    out = b""
    for k, v in records.items():
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        body = b" " + k + b"=" + v + b"\n"
        n = len(body) + 1
        while len(str(n)) + len(body) != n:
            n = len(str(n)) + len(body)
        out += str(n).encode() + body
    return out


def member(name, data: bytes = b"", *, typeflag=b"0", pax=None, size=None, raw_pax: bytes | None = None,
           longname: bytes | None = None, **kw) -> bytes:
    """A member: optional PAX header (records or raw bytes), optional GNU long name, header, padded data."""
    name = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    out = b""
    if pax is not None or raw_pax is not None:
        body = raw_pax if raw_pax is not None else pax_records(pax)
        out += header(b"PaxHeader/" + name[:80], typeflag=b"x", size=len(body)) + pad(body)
    if longname is not None:
        out += header(b"././@LongLink", typeflag=b"L", size=len(longname) + 1) + pad(longname + b"\0")
    short = name[:100] if len(name) <= 100 else name[:99]
    out += header(short, typeflag=typeflag, size=len(data) if size is None else size, **kw)
    return out + pad(data)


END = bytes(2 * BLOCK)


def tar(*members: bytes, end: bool = True) -> bytes:
    return b"".join(members) + (END if end else b"")


def plain_layer(files: dict) -> bytes:
    """A well-formed layer of regular files {path: bytes} (directories implied), written by tarfile."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def config_for(layers: list[bytes], *, history=None, extra=None) -> dict:
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin"], "Labels": {"a": "b"}},
           "rootfs": {"type": "layers", "diff_ids": [sha(l) for l in layers]},
           "history": history if history is not None else [{"created_by": f"step {i}"} for i in range(len(layers))]}
    if extra:
        cfg.update(extra)
    return cfg


def outer_tar(files: list) -> bytes:
    """[(name, bytes) | (name, ('symlink', target)) | (name, ('dir',))] as a tar, written by tarfile."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if isinstance(data, tuple):
                if data[0] == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = data[1]
                else:
                    info.type = tarfile.DIRTYPE
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def legacy(layers: list[bytes], *, config=None, manifest=None, tags=("hostile:latest",), config_bytes=None,
           diff_ids=None, names=None, extra_members=()) -> bytes:
    """A `docker save` archive (legacy layout); any part replaceable."""
    if config is None:
        config = config_for(layers)
        if diff_ids is not None:
            config["rootfs"]["diff_ids"] = diff_ids
    cbytes = config_bytes if config_bytes is not None else json.dumps(config).encode()
    cname = hashlib.sha256(cbytes).hexdigest() + ".json"
    files = []
    layer_names = names or [f"{hashlib.sha256(str(i).encode() + l).hexdigest()}/layer.tar"
                            for i, l in enumerate(layers)]
    for i, l in enumerate(layers):
        if names is None:
            files.append((layer_names[i].split("/")[0], ("dir",)))
        files.append((layer_names[i], l))
    files.append((cname, cbytes))
    m = manifest if manifest is not None else [{"Config": cname, "RepoTags": list(tags), "Layers": layer_names}]
    if isinstance(m, list):  # "X" stands for the config's real name
        m = [dict(e, Config=cname) if isinstance(e, dict) and e.get("Config") == "X" else e for e in m]
    files.append(("manifest.json", m if isinstance(m, bytes) else json.dumps(m).encode()))
    files.extend(extra_members)
    return outer_tar(files)


def oci_parts(layers: list[bytes], *, compress=None, config=None):
    """(files, index, manifest, config) of an OCI image whose parts a case may break before `oci_pack`."""
    blobs = {}
    descs = []
    for l in layers:
        blob = l
        media = "application/vnd.oci.image.layer.v1.tar"
        if compress == "gzip":
            blob, media = gzip.compress(l, mtime=0), media + "+gzip"
        elif compress == "zstd":
            import zstandard

            blob, media = zstandard.ZstdCompressor().compress(l), media + "+zstd"
        blobs[sha(blob)] = blob
        descs.append({"mediaType": media, "digest": sha(blob), "size": len(blob)})
    cfg = config if config is not None else config_for(layers)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "", "size": 0},
                "layers": descs}
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": "", "size": 0,
                                                "annotations": {"io.containerd.image.name": "hostile:latest"}}]}
    return blobs, index, manifest, cfg


def oci_pack(blobs: dict, index, manifest, cfg, *, raw_config: bytes | None = None,
             raw_manifest: bytes | None = None, raw_index: bytes | None = None) -> dict:
    """The files of an OCI layout: config and manifest hashed and linked in unless already set."""
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    for d, b in blobs.items():
        files["blobs/sha256/" + d.split(":")[1]] = b
    cbytes = raw_config if raw_config is not None else json.dumps(cfg).encode()
    files["blobs/sha256/" + sha(cbytes).split(":")[1]] = cbytes
    manifest = copy.deepcopy(manifest)
    if isinstance(manifest, dict) and isinstance(manifest.get("config"), dict) and manifest["config"].get("digest") == "":
        manifest["config"]["digest"] = sha(cbytes)
        if manifest["config"].get("size") == 0:
            manifest["config"]["size"] = len(cbytes)
    mbytes = raw_manifest if raw_manifest is not None else json.dumps(manifest).encode()
    files["blobs/sha256/" + sha(mbytes).split(":")[1]] = mbytes
    index = copy.deepcopy(index)
    if isinstance(index, dict) and isinstance(index.get("manifests"), list):
        for d in index["manifests"]:
            if isinstance(d, dict) and d.get("digest") == "":
                d["digest"] = sha(mbytes)
                if d.get("size") == 0:
                    d["size"] = len(mbytes)
    files["index.json"] = raw_index if raw_index is not None else json.dumps(index).encode()
    return files


def oci_archive(files: dict) -> bytes:
    return outer_tar(sorted(files.items()))


def write_layout(root: str, files: dict) -> str:
    for name, data in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return root
