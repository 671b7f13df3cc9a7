"""Synthetic layers and image archives, written with tarfile, for model tests.

A layer is described as a list of tuples:
  ("file", path, size[, mode])   ("dir", path)   ("symlink", path, target)
  ("hardlink", path, target)     ("whiteout", path)   ("opaque", dir)
  ("raw", TarInfo, data)         for anything odd
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile


def layer_tar(spec, *, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for item in spec:
            kind = item[0]
            if kind == "raw":
                tar.addfile(item[1], io.BytesIO(item[2]) if item[2] is not None else None)
                continue
            path = item[1]
            if kind == "whiteout":
                parent, _, base = path.rpartition("/")
                path = (parent + "/" if parent else "") + ".wh." + base
                kind = "file"
                item = ("file", path, 0)
            elif kind == "opaque":
                path = path.rstrip("/") + "/.wh..wh..opq"
                kind = "file"
                item = ("file", path, 0)
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            if kind == "file":
                info.size = item[2]
                info.mode = item[3] if len(item) > 3 else 0o644
                tar.addfile(info, io.BytesIO(b"x" * info.size))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = item[2] if len(item) > 2 else 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = item[2]
                info.mode = 0o777
                tar.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = item[2]
                info.mode = 0o644
                tar.addfile(info)
            else:
                raise ValueError(kind)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(layers: list[bytes], history=None) -> dict:
    diff_ids = [_sha(l) for l in layers]
    if history is None:
        history = [{"created_by": f"step {i}"} for i in range(len(layers))]
    return {"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    tar.addfile(info, io.BytesIO(data))


def legacy_archive(layers: list[bytes], history=None, *, tags=("synthetic:latest",), link_repeats=True) -> bytes:
    """A `docker save` archive as Engine <= 24 writes it (repeated layers as symlinks)."""
    config = json.dumps(config_for(layers, history)).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    buf = io.BytesIO()
    names = []
    first_dir: dict[str, str] = {}
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i, data in enumerate(layers):
            d = hashlib.sha256(f"v1-{i}".encode() + data).hexdigest()
            names.append(f"{d}/layer.tar")
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
            digest = _sha(data)
            if link_repeats and digest in first_dir:
                link = tarfile.TarInfo(f"{d}/layer.tar")
                link.type = tarfile.SYMTYPE
                link.linkname = f"../{first_dir[digest]}/layer.tar"
                tar.addfile(link)
            else:
                first_dir[digest] = d
                _add(tar, f"{d}/layer.tar", data)
        _add(tar, config_name, config)
        _add(tar, "manifest.json",
             json.dumps([{"Config": config_name, "RepoTags": list(tags), "Layers": names}]).encode())
    return buf.getvalue()


def oci_files(layers: list[bytes], history=None, *, compress=None) -> dict[str, bytes]:
    """The files of an OCI layout; compress is None, 'gzip' or 'zstd' for every layer."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    config = json.dumps(config_for(layers, history)).encode()
    layer_descs = []
    for data in layers:
        if compress == "gzip":
            blob = gzip.compress(data, mtime=0)
            media = "application/vnd.oci.image.layer.v1.tar+gzip"
        elif compress == "zstd":
            import zstandard

            blob = zstandard.ZstdCompressor().compress(data)
            media = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob = data
            media = "application/vnd.oci.image.layer.v1.tar"
        files["blobs/sha256/" + hashlib.sha256(blob).hexdigest()] = blob
        layer_descs.append({"mediaType": media, "digest": _sha(blob), "size": len(blob)})
    files["blobs/sha256/" + hashlib.sha256(config).hexdigest()] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": layer_descs}).encode()
    files["blobs/sha256/" + hashlib.sha256(manifest).hexdigest()] = manifest
    attestation = json.dumps({"schemaVersion": 2, "config": {"digest": _sha(b"{}")}, "layers": []}).encode()
    files["blobs/sha256/" + hashlib.sha256(attestation).hexdigest()] = attestation
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(attestation),
         "size": len(attestation), "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest), "size": len(manifest),
         "annotations": {"io.containerd.image.name": "synthetic:latest"}},
    ]}).encode()
    return files


def oci_archive(layers: list[bytes], history=None, *, compress=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(oci_files(layers, history, compress=compress).items()):
            _add(tar, name, data)
    return buf.getvalue()


def write_oci_layout(root, layers: list[bytes], history=None, *, compress=None) -> str:
    for name, data in oci_files(layers, history, compress=compress).items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return str(root)


def write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)
