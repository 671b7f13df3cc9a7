"""Layer analysis speed and memory: `dockerviz analyze --json` against `dive --json`, small images to large.

    python benchmarks/bench_analyze.py [--repeat 3] [--entries 500000] [--no-synthetic]
                                       [--small-repeat 15] [--scale 10000,100000,500000,1000000]
                                       [--only small,large,scale]

0. Small images, whole processes, --small-repeat rounds interleaved: dive's
   test archive (../shared/fixtures/dive-test-image) and a ~5 MB image in the
   daemon (FROM the busybox test image), dockerviz cold (no cache) and warm,
   next to dive, `python -c pass` and `python -S -c pass` (what the
   interpreter alone costs on this machine).

1. Builds dockerviz-test/bench-analyze reproducibly, with no registry: the
   Debian minbase root of the test images (debootstrap, `docker import`), a
   COPY of a `pip install --target` tree of pinned numpy, pandas and
   matplotlib wheels (from PyPI, cached under /var/tmp), a layer deleting
   directories, a layer appending to many files, a layer of 20k small files, a
   `chmod -R` layer, ENV and CMD steps. Inputs are hashed into a label; an
   image with the same label is reused.
2. Times, interleaved and `--repeat` times each (median reported), every run a
   separate process with its wall time and peak RSS (wait4 rusage):
   dive --json; `python -m dockerviz analyze IMAGE --json F` cold through
   every path (each forced with --path, each with an empty cache folder);
   auto cold; warm (auto, cache filled). Prints ratios to dive.
3. Checks that every run gives dive's numbers (size, inefficient bytes,
   efficiency), and that the CLI's JSON path imports no pandas, ipywidgets,
   matplotlib or docker-py on the fast path.
4. Bytes per entry: synthetic `docker save` archives of --entries entries and
   of a fifth of that are analysed in child processes; RSS growth / entries is
   reported for the layer model alone and with the merge and dive accountings
   computed (equal figures at both sizes: memory grows linearly).

5. Scale curve: synthetic archives of --scale entries, `dockerviz analyze
   --json --no-cache` as whole processes: wall time and peak RSS, per entry.
6. A summary: every target of the issue with its measured ratio.

A benchmark, not a test: nothing fails on time. "cold" means no dockerviz cache;
the OS page cache is warm for every tool alike (each is run once before timing).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

TAG = "dockerviz-test/bench-analyze:latest"
LABEL = "dockerviz.bench.inputs"
WORK = os.environ.get("DOCKERVIZ_BENCH_DIR", "/var/tmp/dockerviz-bench")
CONTEXT_MTIME = 1_700_000_000
PINS = [  # the tree COPY'd into the image; exact versions keep the layer the same
    "numpy==1.26.4", "pandas==2.2.3", "matplotlib==3.9.2", "contourpy==1.3.0", "cycler==0.12.1",
    "fonttools==4.54.1", "kiwisolver==1.4.7", "packaging==24.1", "pillow==10.4.0", "pyparsing==3.1.4",
    "python-dateutil==2.9.0.post0", "pytz==2024.2", "tzdata==2024.2", "six==1.16.0",
]
DOCKERFILE = """\
FROM {base}
ENV PYTHONPATH=/opt/py LANG=C.UTF-8
COPY pytree /opt/py
RUN rm -rf /opt/py/pandas/tests /opt/py/matplotlib/tests /usr/share/doc /usr/share/locale
RUN find /opt/py/matplotlib /opt/py/numpy /etc -type f \\( -name '*.py' -o -name '*.conf' \\) | \\
    while read -r f; do echo '# appended by the benchmark' >> "$f"; done
RUN mkdir -p /data/small && cd /data/small && for d in $(seq -w 0 19); do mkdir "$d"; \\
    for i in $(seq -w 0 999); do echo "small file $d/$i" > "$d/f$i.txt"; done; done
RUN chmod -R g+w /opt/py/numpy /opt/py/numpy.libs /opt/py/pandas /opt/py/matplotlib
ENV BENCH=1
CMD ["bash"]
"""


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# -- the image ---------------------------------------------------------------------


def pip_tree() -> str:
    key = hashlib.sha256(("\n".join(PINS) + f"\n{sys.version_info[:2]}").encode()).hexdigest()[:16]
    out = os.path.join(WORK, f"pytree-{key}")
    if os.path.isdir(out):
        return out
    part = out + ".part"
    shutil.rmtree(part, ignore_errors=True)
    log(f"pip install --target {part} ({len(PINS)} pinned wheels from PyPI)")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-compile", "--only-binary=:all:", "--target", part, *PINS], check=True)
    os.replace(part, out)
    return out


def context_tar(tree: str, dockerfile: str) -> str:
    """The build context as a tar file with fixed mtimes and owners (same inputs, same COPY layer)."""
    path = os.path.join(WORK, "context.tar")
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(info, data=None):
            info.mtime = CONTEXT_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, data)

        df = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(df)
        info.mode = 0o644
        add(info, io.BytesIO(df))
        for dirpath, dirnames, filenames in os.walk(tree):
            dirnames.sort()
            rel = os.path.relpath(dirpath, tree)
            arc = "pytree" if rel == "." else "pytree/" + rel
            add(tar.gettarinfo(dirpath, arc))
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                info = tar.gettarinfo(full, arc + "/" + name)
                if info.isreg():
                    with open(full, "rb") as f:
                        add(info, f)
                else:
                    add(info)
    return path


def build_image(client) -> str:
    from support import images

    base = images.build(client, images.SPECS[images.t("debian")])
    tree = pip_tree()
    dockerfile = DOCKERFILE.format(base=images.t("debian"))
    h = hashlib.sha256(f"{dockerfile}\nbase {base.id}\n{os.path.basename(tree)}".encode()).hexdigest()
    try:
        img = client.images.get(TAG)
        if (img.labels or {}).get(LABEL) == h:
            log(f"reusing {TAG} ({img.short_id})")
            return img.id
    except Exception:
        pass
    ctx = context_tar(tree, dockerfile)
    log(f"building {TAG} (context {os.path.getsize(ctx) / 1e6:.0f} MB)")
    t0 = time.monotonic()
    image_id = None
    with open(ctx, "rb") as f:
        for msg in client.api.build(fileobj=f, custom_context=True, tag=TAG, network_mode="none", rm=True,
                                    forcerm=True, pull=False, decode=True, labels={LABEL: h}):
            if "error" in msg:
                raise SystemExit(f"build failed: {msg['error']}")
            if isinstance(msg.get("aux"), dict) and "ID" in msg["aux"]:
                image_id = msg["aux"]["ID"]
    os.unlink(ctx)
    log(f"built {TAG} in {time.monotonic() - t0:.0f} s")
    return image_id


# -- timing ----------------------------------------------------------------------------


def timed(cmd, env=None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stderr tail) of one child process.

    The RSS comes from /usr/bin/time (GNU time's wait4): taken from this
    process directly, a child's maxrss would include this (large) process,
    whose memory the child shares between fork and exec.
    """
    wrapped = (["/usr/bin/time", "-f", "DVZ-RSS-KB %M", *cmd] if os.access("/usr/bin/time", os.X_OK) else cmd)
    t0 = time.perf_counter()
    p = subprocess.Popen(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    text = err.decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{text[-3000:]}")
    rss = usage.ru_maxrss * 1024
    for line in text.splitlines():
        if line.startswith("DVZ-RSS-KB "):
            rss = int(line.split()[1]) * 1024
    return wall, rss, text[-500:]


def dockerviz_cmd(image, out, path):
    return [sys.executable, "-m", "dockerviz", "analyze", image, "--json", out, "--path", path, "-q"]


# The save-stream path with hashing and verification switched off: the reference the cost of
# verification is measured against (the benchmark's own patch; dockerviz itself has no such switch).
UNVERIFIED = r"""
import sys
import dockerviz.sources.streaming as S
class _Null:
    def update(self, data): pass
    def hexdigest(self): return "0" * 64
class _Hashlib:
    @staticmethod
    def sha256(): return _Null()
S.hashlib = _Hashlib
S.verify = lambda *a, **k: None
from dockerviz.cli import main
sys.exit(main(sys.argv[1:]))
"""


def unverified_cmd(image, out, path):
    return [sys.executable, "-c", UNVERIFIED, "analyze", image, "--json", out, "--path", path, "-q"]


def numbers(data: dict) -> tuple:
    img = data["image"]
    return (img["sizeBytes"], img["inefficientBytes"], round(img["efficiencyScore"], 9),
            [l["sizeBytes"] for l in data["layer"]])


def entries_of(image) -> int:
    from dockerviz.analysis import analyze

    img = analyze(image, cache=False)
    return sum(len(c) for c in img.contents)


def child_env() -> dict:
    """The environment of timed children: bytecode cached (in a folder of the benchmark's, not the
    source tree) as in any installed package, even where PYTHONDONTWRITEBYTECODE is set."""
    env = dict(os.environ)
    env.pop("CI", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(WORK, "pycache")
    return env


def run_timings(image: str, repeat: int, tmp: str) -> dict:
    env = child_env()
    runs = {}
    outs = {}

    def cold(path):
        def go():
            cache = tempfile.mkdtemp(dir=tmp, prefix="cache-")
            out = os.path.join(tmp, f"cold-{path}.json")
            r = timed(dockerviz_cmd(image, out, path), env=dict(env, DOCKERVIZ_CACHE_DIR=cache))
            outs[f"cold {path}"] = out
            shutil.rmtree(cache, ignore_errors=True)
            return r
        return go

    warm_cache = os.path.join(tmp, "warm-cache")

    def warm(path):
        def go():
            out = os.path.join(tmp, f"warm-{path}.json")
            r = timed(dockerviz_cmd(image, out, path), env=dict(env, DOCKERVIZ_CACHE_DIR=warm_cache))
            outs[f"warm {path}"] = out
            return r
        return go

    def cold_unverified():
        cache = tempfile.mkdtemp(dir=tmp, prefix="cache-")
        out = os.path.join(tmp, "cold-unverified.json")
        r = timed(unverified_cmd(image, out, "save-stream"), env=dict(env, DOCKERVIZ_CACHE_DIR=cache))
        shutil.rmtree(cache, ignore_errors=True)
        return r

    def dive():
        out = os.path.join(tmp, "dive.json")
        r = timed(["dive", image, "--json", out], env=env)
        outs["dive"] = out
        return r

    def docker_save():
        client = engine_client()
        t0 = time.perf_counter()
        n = 0
        for chunk in client.api.get_image(image, chunk_size=1 << 20):
            n += len(chunk)
        client.close()
        return time.perf_counter() - t0, 0, ""

    cases = [("dive --json", dive), ("docker save alone (reference)", docker_save)]
    for p in ("tar-split", "overlay2-diff", "save-stream", "auto"):
        cases.append((f"dockerviz cold --path {p}", cold(p)))
    cases.append((UNVERIFIED_NAME, cold_unverified))
    cases.append(("dockerviz warm --path auto (cache hit)", warm("auto")))
    cases.append(("dockerviz warm --path save-stream (cache hit)", warm("save-stream")))

    # fill the warm cache, and run everything once so every tool sees a warm page cache
    log("warm-up round (not timed)")
    for _, fn in cases:
        fn()
    for i in range(repeat):
        order = cases if i % 2 == 0 else list(reversed(cases))
        for name, fn in order:
            wall, rss, _ = fn()
            runs.setdefault(name, []).append((wall, rss))
            log(f"round {i + 1}: {name:46s} {wall:6.2f} s  {rss / 1e6:6.1f} MB")
    return runs, outs


UNVERIFIED_NAME = "save-stream, no hashing (reference)"


def engine_client():
    from dockerviz import engine

    return engine.client(timeout=None)


def import_check(image: str, tmp: str) -> list:
    code = ("import sys\nfrom dockerviz.cli import main\n"
            f"main(['analyze', {image!r}, '--json', {os.path.join(tmp, 'imports.json')!r}, '-q'])\n"
            "sys.stderr.write(' '.join(m for m in ('pandas', 'ipywidgets', 'matplotlib', 'docker', 'numpy', 'IPython')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=dict(child_env(), DOCKERVIZ_CACHE_DIR=os.path.join(tmp, "warm-cache")))
    return out.stderr.split()


# -- bytes per entry ---------------------------------------------------------------------

MEMORY_CHILD = r"""
import gc, json, os, resource, sys, time
sys.path.insert(0, sys.argv[2])
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
from dockerviz.analysis import analyze
import dockerviz.model.image, dockerviz.model.merge, dockerviz.model.dive_accounting, dockerviz.sources
gc.collect()
base = rss()
t0 = time.perf_counter()
img = analyze(sys.argv[1], cache=False)
t_read = time.perf_counter() - t0
gc.collect()
model = rss()
n = sum(len(c) for c in img.contents)
t0 = time.perf_counter()
img.merged; img.dive
t_acc = time.perf_counter() - t0
gc.collect()
full = rss()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"entries": n, "model": model - base, "full": full - base, "peak": peak - base,
                  "read_s": t_read, "accounting_s": t_acc}))
"""


def synthetic_archive(path: str, entries: int, layers: int = 5, max_size: int = 65536) -> None:
    """A legacy `docker save` archive of `layers` layers and `entries` entries in all, written sparse.

    Paths look like a Python tree (about 45 bytes), file sizes vary (100 B to 64 kB),
    one directory per 200 files; file data are holes, never written.
    """
    import random

    rng = random.Random(1234)
    per = entries // layers

    def header(name: str, size: int, kind: bytes, mode: int) -> bytes:
        t = tarfile.TarInfo(name)
        t.size = size
        t.type = kind
        t.mode = mode
        t.mtime = CONTEXT_MTIME
        return t.tobuf(format=tarfile.USTAR_FORMAT)

    with open(path, "wb") as out:
        diff_ids = []
        layer_names = []
        for li in range(layers):
            start = out.tell()
            out.write(b"\0" * 512)  # the outer header, rewritten below
            written = 0
            d = None
            while written < per:
                i = written
                if i % 200 == 0:
                    d = f"usr/lib/python3/dist-packages/pkg{li}{i // 200:05d}"
                    out.write(header(d + "/", 0, tarfile.DIRTYPE, 0o755))
                    written += 1
                    continue
                size = int(rng.lognormvariate(7.5, 1.2)) % max_size + 100
                name = f"{d}/module_{i:06d}.py"
                out.write(header(name, size, tarfile.REGTYPE, rng.choice((0o644, 0o755))))
                out.seek(out.tell() + (size + 511) // 512 * 512)
                written += 1
            out.write(b"\0" * 1024)
            end = out.tell()
            size = end - start - 512
            out.flush()
            h = hashlib.sha256()  # the layer's real diff id: dockerviz checks it (the holes read as zeros)
            with open(path, "rb") as back:
                back.seek(start + 512)
                left = size
                while left:
                    chunk = back.read(min(left, 4 << 20))
                    h.update(chunk)
                    left -= len(chunk)
            out.seek(start)
            name = f"{li:064x}/layer.tar"
            out.write(header(name, size, tarfile.REGTYPE, 0o644))
            out.seek(end)
            diff_ids.append("sha256:" + h.hexdigest())
            layer_names.append(name)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": diff_ids},
                             "history": [{"created_by": f"layer {i}"} for i in range(layers)]}).encode()
        cid = hashlib.sha256(config).hexdigest()
        manifest = json.dumps([{"Config": f"{cid}.json", "RepoTags": ["synthetic:latest"],
                                "Layers": layer_names}]).encode()
        for name, data in ((f"{cid}.json", config), ("manifest.json", manifest)):
            out.write(header(name, len(data), tarfile.REGTYPE, 0o644))
            out.write(data + b"\0" * (-len(data) % 512))
        out.write(b"\0" * 1024)


def bytes_per_entry(entries: int, tmp: str) -> dict:
    path = os.path.join(tmp, "synthetic.tar")
    log(f"writing a synthetic archive of {entries} entries")
    synthetic_archive(path, entries)
    r = subprocess.run([sys.executable, "-c", MEMORY_CHILD, path, ROOT], capture_output=True, text=True,
                       check=True, env=child_env())
    os.unlink(path)
    return json.loads(r.stdout)


# -- small images ---------------------------------------------------------------------------

SMALL_TAG = "dockerviz-test/bench-small:latest"
DIVE_ARCHIVE = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "dive-test-image", "test-docker-image.tar")
if not os.path.isfile(DIVE_ARCHIVE):
    DIVE_ARCHIVE = "/work/shared/fixtures/dive-test-image/test-docker-image.tar"


def small_image(client) -> str:
    """About 5 MB in the daemon: the busybox test image, a 4 MB file, 200 small files, some deleted."""
    from support import images

    spec = images.ImageSpec(
        tag=SMALL_TAG, covers="benchmark: a ~5 MB image", base=images.BUSYBOX.tag, layers=4,
        dockerfile=(f"FROM {images.BUSYBOX.tag}\n"
                    "RUN head -c 4000000 /dev/zero > /blob\n"
                    "RUN mkdir -p /etc/app && for i in $(seq 1 200); do echo $i > /etc/app/f$i; done\n"
                    "RUN rm /etc/app/f1*\n"))
    images.build(client, images.BUSYBOX)
    return images.build(client, spec).id


def small_timings(repeat: int, tmp: str, daemon_image: str | None) -> dict:
    env = child_env()
    py = sys.executable
    cases = [("python -c pass", [py, "-c", "pass"], None), ("python -S -c pass", [py, "-S", "-c", "pass"], None)]
    targets = []
    if os.path.isfile(DIVE_ARCHIVE):
        targets.append(("dive's test archive", DIVE_ARCHIVE, ["dive", "--source", "docker-archive", DIVE_ARCHIVE]))
    if daemon_image:
        targets.append(("5 MB daemon image", SMALL_TAG, ["dive", SMALL_TAG]))
    warm_cache = os.path.join(tmp, "small-warm")
    for label, src, dive_cmd in targets:
        out = os.path.join(tmp, "small.json")
        cases.append((f"{label}: dive", dive_cmd + ["--json", os.path.join(tmp, "small-dive.json")], None))
        cold = os.path.join(tmp, "small-cold")
        cases.append((f"{label}: dockerviz cold", [py, "-m", "dockerviz", "analyze", src, "--json", out, "-q"], cold))
        cases.append((f"{label}: dockerviz warm", [py, "-m", "dockerviz", "analyze", src, "--json", out, "-q"],
                      warm_cache))
    runs: dict = {}
    for i in range(repeat + 1):  # the first round warms the page cache and fills the warm cache
        order = cases if i % 2 == 0 else list(reversed(cases))
        for name, cmd, cache in order:
            if cache and cache != warm_cache:
                shutil.rmtree(cache, ignore_errors=True)
            wall, rss, _ = timed(cmd, env=dict(env, DOCKERVIZ_CACHE_DIR=cache or os.path.join(tmp, "unused")))
            if i:
                runs.setdefault(name, []).append((wall, rss))
    return {k: (statistics.median(w for w, _ in v), max(r for _, r in v)) for k, v in runs.items()}


# -- the scale curve ---------------------------------------------------------------------------


def scale_curve(sizes: list, tmp: str) -> list:
    env = child_env()
    out = []
    for n in sizes:
        path = os.path.join(tmp, f"scale-{n}.tar")
        log(f"scale: writing a synthetic archive of {n} entries")
        synthetic_archive(path, n, max_size=1024)  # small files: the curve is of entries, not of bytes hashed
        json_out = os.path.join(tmp, "scale.json")
        cmd = [sys.executable, "-m", "dockerviz", "analyze", path, "--json", json_out, "-q", "--no-cache"]
        timed(cmd, env=env)  # page cache
        wall, rss, _ = timed(cmd, env=env)
        base_wall, base_rss, _ = timed([sys.executable, "-c", "pass"], env=env)
        with open(json_out) as f:
            layers = json.load(f)["layer"]
        os.unlink(path)
        out.append({"entries": n, "wall": wall, "rss": rss, "base_wall": base_wall, "base_rss": base_rss,
                    "layers": len(layers)})
        log(f"scale: {n} entries: {wall:.2f} s, {rss / 1e6:.0f} MB")
    return out


def print_scale(curve: list) -> None:
    print("\nScale curve: synthetic `docker save` archives (5 layers, files of 100 B to 1.1 kB), "
          "`dockerviz analyze --json --no-cache`, whole process")
    print(f"{'entries':>9} {'wall s':>8} {'us/entry':>9} {'peak RSS MB':>12} {'B/entry':>8} "
          f"{'marginal us/entry':>18} {'marginal B/entry':>17}")
    prev = None
    for c in curve:
        n = c["entries"]
        marginal = ""
        if prev is not None:
            dn = n - prev["entries"]
            marginal = f"{(c['wall'] - prev['wall']) / dn * 1e6:18.1f} {(c['rss'] - prev['rss']) / dn:17.0f}"
        print(f"{n:>9} {c['wall']:8.2f} {(c['wall'] - c['base_wall']) / n * 1e6:9.1f} {c['rss'] / 1e6:12.0f} "
              f"{(c['rss'] - c['base_rss']) / n:8.0f} {marginal}")
        prev = c
    print("(us/entry and B/entry: less the interpreter's own `python -c pass`; marginal: between this size "
          "and the one above it)")
    if len(curve) >= 2:
        first, last = curve[0], curve[-1]
        grow_t = ((last["wall"] - last["base_wall"]) / last["entries"]) / max(
            1e-9, (first["wall"] - first["base_wall"]) / first["entries"])
        print(f"time per entry at {last['entries']} / at {first['entries']}: {grow_t:.2f} (1.00 = linear)")


# -- main ------------------------------------------------------------------------------------


def print_small(small: dict) -> list:
    """The small-image table; returns summary rows (name, measured ratio, target)."""
    print("\nSmall images, whole processes (median wall, max peak RSS):")
    print(f"{'run':48s} {'wall ms':>8s} {'x dive':>7s} {'RSS MB':>7s}")
    summary = []
    for name, (wall, rss) in small.items():
        label = name.split(":")[0]
        peer = small.get(f"{label}: dive")
        ratio = f"{wall / peer[0]:7.2f}" if peer and ":" in name else f"{'':7s}"
        print(f"{name:48s} {wall * 1000:8.1f} {ratio} {rss / 1e6:7.1f}")
        if peer and name.endswith("dockerviz cold"):
            summary.append((f"{label}, whole CLI process (cold)", wall / peer[0], 1.5))
        if peer and name.endswith("dockerviz warm"):
            summary.append((f"{label}, whole CLI process (warm)", wall / peer[0], 1.5))
    base = small.get("python -c pass")
    if base:
        print(f"(the interpreter alone: `python -c pass` {base[0] * 1000:.1f} ms, "
              f"`python -S -c pass` {small['python -S -c pass'][0] * 1000:.1f} ms: site-packages' .pth files "
              "run at every start)")
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds (median reported)")
    ap.add_argument("--small-repeat", type=int, default=15, help="timed rounds of the small images")
    ap.add_argument("--entries", type=int, default=500_000, help="entries of the synthetic archive")
    ap.add_argument("--scale", default="10000,100000,500000,1000000", help="entries of the scale curve")
    ap.add_argument("--no-synthetic", action="store_true", help="skip the bytes-per-entry measurement")
    ap.add_argument("--only", default="small,large,scale", help="which parts to run")
    ap.add_argument("--image", help="analyse this image instead of building the benchmark image")
    args = ap.parse_args(argv)
    parts = set(args.only.split(","))
    os.makedirs(WORK, exist_ok=True)
    summary: list = []
    client = engine_client()
    with tempfile.TemporaryDirectory(prefix="dockerviz-bench-", dir=WORK) as tmp:
        if "small" in parts:
            small_image(client)
            summary += print_small(small_timings(args.small_repeat, tmp, SMALL_TAG))
        if "large" in parts:
            summary += large(args, client, tmp)
        if "scale" in parts:
            print_scale(scale_curve([int(x) for x in args.scale.split(",") if x], tmp))
    client.close()
    if summary:
        print(f"\nTargets (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        for name, ratio, target in summary:
            print(f"  {name:52s} {ratio:7.3f}x   target <= {target}x   {'met' if ratio <= target else 'NOT met'}")


def large(args, client, tmp) -> list:
    """The ~500 MB benchmark image through every path; returns summary rows."""
    image = args.image or TAG
    if not args.image:
        build_image(client)
    inspect = client.api.inspect_image(image)
    n_entries = entries_of(image)
    log(f"{image}: {inspect['Size'] / 1e6:.0f} MB, {len(inspect['RootFS']['Layers'])} layers, {n_entries} entries")

    runs, outs = run_timings(image, args.repeat, tmp)
    dive_numbers = numbers(json.load(open(outs["dive"])))
    agree = {name: numbers(json.load(open(out))) == dive_numbers for name, out in outs.items()}
    paths = {name: json.load(open(out))["image"].get("path") for name, out in outs.items() if name != "dive"}
    imported = import_check(image, tmp)
    memory = [] if args.no_synthetic else [bytes_per_entry(n, tmp) for n in (args.entries // 5, args.entries)]

    med = {k: (statistics.median(w for w, _ in v), max(r for _, r in v)) for k, v in runs.items()}
    dive_wall, dive_rss = med["dive --json"]
    print()
    print(f"Image {image}: {inspect['Size'] / 1e6:.0f} MB, {len(inspect['RootFS']['Layers'])} layers, "
          f"{n_entries} entries. Median of {args.repeat} rounds; peak RSS = max over rounds.")
    print(f"{'run':48s} {'wall s':>7s} {'x dive':>7s} {'RSS MB':>7s} {'x dive':>7s}  path / agrees with dive")
    for name, (wall, rss) in med.items():
        key = {"dive --json": "dive"}.get(name)
        if name.startswith("dockerviz"):
            key = ("cold " if " cold " in name else "warm ") + name.split("--path ")[1].split()[0]
        note = ""
        if key in outs:
            note = ("" if key == "dive" else f"{paths.get(key)}, ") + ("same numbers" if agree[key] else "DIFFERENT")
        rss_txt = f"{rss / 1e6:7.1f} {rss / dive_rss:7.2f}" if rss else f"{'':7s} {'':7s}"
        print(f"{name:48s} {wall:7.2f} {wall / dive_wall:7.3f} {rss_txt}  {note}")
    verified, plain = med["dockerviz cold --path save-stream"][0], med[UNVERIFIED_NAME][0]
    print(f"verification (sha256 of every layer as it streams, checked against its diff id) on the cold "
          f"save-stream path: {verified:.2f} s against {plain:.2f} s without hashing = {verified / plain:.3f}x")
    print(f"modules imported by `dockerviz analyze --json` (warm): "
          f"{' '.join(imported) or 'none of pandas, ipywidgets, matplotlib, docker, numpy, IPython'}")
    for m in memory:
        n = m["entries"]
        print(f"synthetic archive, {n:>7} entries: layer model {m['model'] / n:.0f} B/entry "
              f"(read in {m['read_s']:.1f} s); with merge + dive accounting {m['full'] / n:.0f} B/entry "
              f"(+{m['accounting_s']:.1f} s); peak {m['peak'] / n:.0f} B/entry")
    cold, warm = med["dockerviz cold --path auto"], med["dockerviz warm --path auto (cache hit)"]
    return [("benchmark image, cold analysis (local store)", cold[0] / dive_wall, 0.05),
            ("benchmark image, warm analysis", warm[0] / dive_wall, 0.03),
            ("benchmark image, peak RSS (cold)", cold[1] / dive_rss, 0.6)]


if __name__ == "__main__":
    main()
