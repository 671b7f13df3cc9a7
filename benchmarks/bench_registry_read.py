"""One file's bytes from a registry image: `img.read(path)` against `skopeo copy` + tarfile.

    python benchmarks/bench_registry_read.py [--image dockerviz-test/debian-app:latest] [--repeat 5]
        [--file /usr/lib/os-release]

1. Starts the test suite's registry (tests/support/registry.py: Debian's
   docker-registry on 127.0.0.1, TLS, an htpasswd user) and pushes IMAGE with
   skopeo, gzip and zstd layers.
2. For each, `--repeat` times, interleaved (median reported):
   - dockerviz: the image analysed (its layers from a warm cache, untimed),
     then the first `img.read(FILE)` timed: it opens the source again (the
     manifest) and streams the one layer blob that holds the file, keeping
     only that file and hashing the whole blob;
   - the peer: `skopeo copy docker://… oci:DIR` (every layer, to disk), then
     Python's tarfile reading the member from the layer blob that holds it.
   Both give the same bytes (checked). Bytes are counted at the registry
   (`http.response.written` by User-Agent).

A benchmark, not a test: nothing fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def log(msg: str) -> None:
    print(f"[bench-registry-read] {msg}", file=sys.stderr, flush=True)


def peer_read(reg, target: str, layer: int, path: str, folder: Path, src_auth: list) -> tuple[float, bytes]:
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(["skopeo", "copy", "-q", *src_auth, f"docker://{reg.host}/{target}", f"oci:{folder}:x"],
                   check=True, capture_output=True, timeout=600)
    index = json.loads((folder / "index.json").read_text())
    blobs = folder / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    blob = blobs / manifest["layers"][layer]["digest"].split(":")[1]
    import zstandard

    with open(blob, "rb") as raw:
        head = raw.read(4)
        raw.seek(0)
        f = zstandard.ZstdDecompressor().stream_reader(raw) if head == b"\x28\xb5\x2f\xfd" else raw
        with tarfile.open(fileobj=f, mode="r|*") as tar:
            data = b""
            for member in tar:
                if member.name.lstrip("./") == path.lstrip("/") and member.isfile():
                    data = tar.extractfile(member).read()
    return time.perf_counter() - t0, data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default="dockerviz-test/debian-app:latest")
    ap.add_argument("--file", default="/usr/lib/os-release")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    import docker
    from support import images
    from support.registry import PASSWORD, USER, Registry

    import dockerviz
    from dockerviz.cache import LayerCache

    client = docker.from_env()
    name = args.image.split(":")[0]
    if name.startswith(images.PREFIX + "/"):
        images.build(client, name)
    tmp = Path(tempfile.mkdtemp(prefix="dockerviz-bench-registry-read-"))
    reg = Registry(tmp / "registry")
    try:
        config = reg.login_config(tmp / "docker-config")
        opts = {"ca_file": str(reg.ca), "docker_config": str(config / "config.json")}
        src_auth = ["--src-cert-dir", str(reg.certs), "--src-creds", f"{USER}:{PASSWORD}"]
        cache = LayerCache(tmp / "cache")
        for comp in ("gzip", "zstd"):
            target = f"bench/read-{comp}:1"
            log(f"pushing {args.image} as {target}")
            reg.skopeo_fresh(f"docker-daemon:{args.image}", target, comp)
            ref = f"registry://{reg.host}/{target}"
            layer = dockerviz.analyze(ref, cache=cache, registry=opts).locate(args.file, None)[0]
            blob = reg.manifest(*target.split(":"))[0]["layers"][layer]
            ours, peer, sent_ours, sent_peer = [], [], [], []
            for _ in range(args.repeat):
                img = dockerviz.analyze(ref, cache=cache, registry=opts)
                mark = reg.mark()
                t0 = time.perf_counter()
                data = img.read(args.file)
                ours.append(time.perf_counter() - t0)
                sent_ours.append(reg.written(mark))
                img.reader.close()
                mark = reg.mark()
                wall, want = peer_read(reg, target, layer, args.file, tmp / "oci", src_auth)
                peer.append(wall)
                sent_peer.append(reg.written(mark, agent="skopeo"))
                assert data == want, "dockerviz and the peer read different bytes"
            a, b = statistics.median(ours), statistics.median(peer)
            print(f"{comp}: {args.file} ({len(data)} B, layer {layer} blob {blob['size']} B): dockerviz "
                  f"{a * 1000:.0f} ms, {statistics.median(sent_ours)} B sent; skopeo copy + tarfile "
                  f"{b * 1000:.0f} ms, {statistics.median(sent_peer)} B sent; ratio {a / b:.2f}x "
                  f"(median of {args.repeat}: {', '.join(f'{t * 1000:.0f}' for t in ours)} ms)")
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
