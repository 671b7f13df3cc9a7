"""Reading an image from a registry: `dockerviz analyze registry://…` against `skopeo copy` + `dive`.

    python benchmarks/bench_registry.py [--image dockerviz-test/debian-app:latest] [--repeat 3]

1. Starts the test suite's registry (Debian's docker-registry on 127.0.0.1,
   TLS from a CA made here, an htpasswd user: tests/support/registry.py) and
   pushes IMAGE into it with skopeo, once per layer compression: gzip, zstd and
   zstd:chunked; dive's eStargz image too, when ../shared/fixtures holds it.
2. For each, in one run, interleaved, `--repeat` times (median reported):
   - dockerviz cold: `python -m dockerviz analyze registry://… --json F`
     with an empty cache folder;
   - dockerviz warm: the same, the cache filled by the cold run;
   - the peer: `skopeo copy docker://… dir:DIR` (the download), plus
     `dive docker-archive://FILE --json` on a docker-archive of the same
     image (dive reads images from a daemon or an archive only, not from a
     registry or skopeo's dir: folder, and skopeo writes no docker-archive of
     zstd layers: the archive is made once, by skopeo, from the gzip copy).
   Bytes are counted at the registry (`http.response.written` of the
   requests each tool made, by User-Agent), against the compressed layer bytes
   the manifest lists.
3. Checks that dockerviz gives dive's numbers (size, inefficient bytes,
   efficiency) for every compression.

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
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

COMPRESSIONS = ("gzip", "zstd", "zstd:chunked", "estargz")  # estargz: made by tests/support/estargz.py


def log(msg: str) -> None:
    print(f"[bench-registry] {msg}", file=sys.stderr, flush=True)


def run(cmd, env=None) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return wall


def numbers(data: dict) -> tuple:
    img = data["image"]
    return (img["sizeBytes"], img["inefficientBytes"], round(img["efficiencyScore"], 9))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default="dockerviz-test/debian-app:latest")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import docker
    from support import SHARED_FIXTURES, images
    from support.registry import PASSWORD, USER, Registry

    client = docker.from_env()
    name = args.image.split(":")[0]
    if name.startswith(images.PREFIX + "/"):
        images.build(client, name)
    tmp = Path(tempfile.mkdtemp(prefix="dockerviz-bench-registry-"))
    reg = Registry(tmp / "registry")
    try:
        config = reg.login_config(tmp / "docker-config")
        env = {**os.environ, "PYTHONPATH": ROOT, "DOCKER_CONFIG": str(config), "DOCKERVIZ_REGISTRY_CA": str(reg.ca)}
        targets = []
        for comp in COMPRESSIONS:
            repo = "bench/" + comp.replace(":", "-")
            log(f"pushing {args.image} as {repo}:1 ({comp})")
            reg.skopeo_fresh(f"docker-daemon:{args.image}", f"{repo}:1", comp)
            targets.append((comp, f"{repo}:1"))
        estargz = SHARED_FIXTURES / "dive-peer-images" / "test-oci-estargz-image.tar"
        if estargz.is_file():
            reg.skopeo(f"oci-archive:{estargz}", "bench/dive-estargz:1", "--preserve-digests")
            targets.append(("eStargz (dive's)", "bench/dive-estargz:1"))

        # dive reads an image from a daemon or an archive, not from a registry or skopeo's dir: folder, and
        # skopeo writes no docker-archive of zstd layers: dive reads the same image (same diff ids) from a
        # docker-archive skopeo made of the gzip copy, or of the eStargz image itself
        src_auth = ["--src-cert-dir", str(reg.certs), "--src-creds", f"{USER}:{PASSWORD}"]
        archive_of = {}
        for comp, target in targets:
            if comp in ("gzip", "eStargz (dive's)"):
                archive = tmp / f"{comp.split()[0]}.tar"
                run(["skopeo", "copy", "-q", *src_auth, f"docker://{reg.host}/{target}", f"docker-archive:{archive}"])
                archive_of[target] = archive
        for comp, target in targets:
            archive_of.setdefault(target, archive_of[targets[0][1]])

        rows = []
        for comp, target in targets:
            repo, tag = target.split(":")
            manifest, msize = reg.manifest(repo, tag)
            layer_bytes = sum(d["size"] for d in manifest["layers"])
            csize = manifest["config"]["size"]
            ref = f"registry://{reg.host}/{target}"
            times = {"cold": [], "warm": [], "skopeo": [], "dive": []}
            got = {}
            for i in range(args.repeat):
                cache = tmp / f"cache-{comp}-{i}".replace(":", "-").replace(" ", "")
                out = tmp / "dv.json"
                mark = reg.mark()
                cmd = [sys.executable, "-m", "dockerviz", "analyze", ref, "--json", str(out), "-q"]
                times["cold"].append(run(cmd, {**env, "DOCKERVIZ_CACHE_DIR": str(cache)}))
                got["cold"] = reg.written(mark)
                dv = json.loads(out.read_text())
                mark = reg.mark()
                times["warm"].append(run(cmd, {**env, "DOCKERVIZ_CACHE_DIR": str(cache)}))
                got["warm"] = reg.written(mark)
                shutil.rmtree(cache, ignore_errors=True)

                folder = tmp / "copy"
                shutil.rmtree(folder, ignore_errors=True)
                mark = reg.mark()
                times["skopeo"].append(run(["skopeo", "copy", "-q", *src_auth, f"docker://{reg.host}/{target}",
                                            f"dir:{folder}"]))
                got["skopeo"] = reg.written(mark, agent="skopeo")
                dive_json = tmp / "dive.json"
                dive_json.unlink(missing_ok=True)  # dive does not truncate an existing file
                times["dive"].append(run(["dive", f"docker-archive://{archive_of[target]}", "--json",
                                          str(dive_json)], {**os.environ, "CI": "true"}))
                dive = json.loads(dive_json.read_text())
            same = numbers(dv) == numbers(dive)
            med = {k: statistics.median(v) for k, v in times.items()}
            peer = med["skopeo"] + med["dive"]
            rows.append((comp, layer_bytes, msize + csize, got, med, peer, same, numbers(dv), numbers(dive)))

        print(f"\nregistry benchmark: {args.image} (median of {args.repeat}), bytes counted at the registry\n")
        print(f"{'layers as':<18} {'layer B':>11} {'cold B':>11} {'cold/layers':>11} {'warm B':>8} "
              f"{'man+cfg B':>9} {'skopeo B':>11} {'cold s':>7} {'warm s':>7} {'skopeo+dive s':>13} "
              f"{'cold/peer':>9} {'warm/peer':>9}  dive's numbers")
        for comp, layer_bytes, meta, got, med, peer, same, mine, theirs in rows:
            print(f"{comp:<18} {layer_bytes:>11} {got['cold']:>11} {(got['cold'] - meta) / layer_bytes:>11.4f} "
                  f"{got['warm']:>8} {meta:>9} {got['skopeo']:>11} {med['cold']:>7.2f} {med['warm']:>7.2f} "
                  f"{peer:>13.2f} {med['cold'] / peer:>9.3f} {med['warm'] / peer:>9.3f}  "
                  f"{'same' if same else f'DIFFERENT {mine} vs {theirs}'}")
        print("\ncold/layers: layer bytes downloaded over the compressed layer bytes (manifest and config left out);"
              "\nwarm B includes only the index/manifest and config; skopeo B: what `skopeo copy` downloaded.")
        return 0 if all(r[6] for r in rows) else 1
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
