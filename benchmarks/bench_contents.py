"""Package inventories and file contents: what they cost on the ~500 MB benchmark image.

    python benchmarks/bench_contents.py [--repeat 5]

1. Builds (or reuses) dockerviz-test/bench-analyze (see bench_analyze.py).
2. Cold analysis (`python -m dockerviz analyze IMAGE --json F --no-cache`, one
   process per run, interleaved, median of --repeat) with the package
   databases kept and parsed (the default) against headers only
   (DOCKERVIZ_PACKAGES=off), through the local store (tar-split) and a
   `docker save` archive. Prints the ratios of wall and of CPU time (user +
   system, from wait4: steady when other work shares the machine); the goal
   is at most 1.2x.
3. One file's contents, timed in this process: the first read of a freshly
   analysed image (which opens its source: for the local store an inspect and
   the layer's directory; for an archive its index and the layer's member
   headers) and a read of another file after it, from the local store and from
   the archive (its layers analysed from it, so the header walk's data offsets
   are known; and its layers found in a cache a local-store read filled, where
   a layer's headers are walked once). Goals: under 50 ms (local store) and
   under 100 ms (archive).

A benchmark, not a test: nothing fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_analyze as BA  # noqa: E402  (its image, its timing helper)

FILES = ["/opt/py/numpy/version.py", "/usr/lib/os-release", "/data/small/07/f420.txt", "/opt/py/pandas/__init__.py"]


def timed_cpu(cmd, env) -> tuple[float, float]:
    """(wall seconds, user + system CPU seconds) of one child: CPU time is what the work costs, whatever
    else the machine is running; wall time is what a user waits."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=BA.ROOT)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


def cold_runs(image: str, archive: str, repeat: int, tmp: str) -> dict:
    env = BA.child_env()
    runs: dict = {}
    plans = [(f"{label} {what}", [sys.executable, "-m", "dockerviz", "analyze", src, "--json",
                                  os.path.join(tmp, "out.json"), "--no-cache", "-q"] + extra, off)
             for label, src, extra in (("local store", image, ["--path", "tar-split"]), ("archive", archive, []))
             for what, off in (("headers only", True), ("with packages", False))]
    for cmd_env in plans:  # once untimed: page cache and bytecode warm for every variant alike
        subprocess.run(cmd_env[1], env=dict(env, DOCKERVIZ_PACKAGES="off" if cmd_env[2] else "on"), check=True,
                       stdout=subprocess.DEVNULL)
    for _ in range(repeat):
        for name, cmd, off in plans:
            runs.setdefault(name, []).append(timed_cpu(cmd, dict(env, DOCKERVIZ_PACKAGES="off" if off else "on")))
    with open(os.path.join(tmp, "out.json")) as f:
        json.load(f)
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}


def read_times(source: str, path: str, repeat: int) -> tuple[float, float, int]:
    """(median first read ms on a fresh image, median later read ms, bytes) for one source."""
    import dockerviz

    first, later = [], []
    size = 0
    for i in range(repeat):
        img = dockerviz.analyze(source, path=path, progress=lambda p: None)  # layers from the cache: warm
        t0 = time.perf_counter()
        data = img.read(FILES[i % len(FILES)])
        first.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        size = len(img.read(FILES[(i + 1) % len(FILES)]))
        later.append((time.perf_counter() - t0) * 1000)
        assert data
        img.reader.close()
    return statistics.median(first), statistics.median(later), size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reads-only", action="store_true", help="skip the cold analyses")
    args = ap.parse_args(argv)
    os.makedirs(BA.WORK, exist_ok=True)
    client = BA.engine_client()
    BA.build_image(client)
    image = BA.TAG
    with tempfile.TemporaryDirectory(prefix="dockerviz-bench-contents-", dir=BA.WORK) as tmp:
        archive = os.path.join(tmp, "image.tar")
        from support import images

        images.save_archive(client, image, archive)
        client.close()
        cold = {} if args.reads_only else cold_runs(image, archive, args.repeat, tmp)
        print({k: (round(w, 3), round(c, 3)) for k, (w, c) in cold.items()}, flush=True)
        os.environ["DOCKERVIZ_CACHE_DIR"] = os.path.join(tmp, "cache-local")
        local = read_times(image, "tar-split", args.repeat)
        os.environ["DOCKERVIZ_CACHE_DIR"] = os.path.join(tmp, "cache-archive")
        arch = read_times(archive, "auto", args.repeat)
        # the archive's layers found in a cache a local-store read filled: no data offsets, headers walked once
        os.environ["DOCKERVIZ_CACHE_DIR"] = os.path.join(tmp, "cache-local")
        arch_walk = read_times(archive, "auto", args.repeat)
        import dockerviz

        img = dockerviz.analyze(image, progress=lambda p: None)
        counts = img.packages.groupby("manager").size().to_dict()
    print()
    print(f"Image {image}; median of {args.repeat} rounds. Packages found: {counts}")
    print(f"{'cold analysis':44s} {'wall s':>7s} {'x headers':>10s} {'CPU s':>7s} {'x headers':>10s}")
    for src in ("local store", "archive") if cold else ():
        base_w, base_c = cold[f"{src} headers only"]
        for what in ("headers only", "with packages"):
            wall, cpu = cold[f"{src} {what}"]
            print(f"{src + ', ' + what:44s} {wall:7.2f} {wall / base_w:10.3f} {cpu:7.2f} {cpu / base_c:10.3f}")
    print(f"{'one file':44s} {'first ms':>9s} {'next ms':>8s}")
    for name, (f, n, _size) in (("local store (tar-split image, diff dir)", local),
                                ("archive (docker save), data offsets known", arch),
                                ("archive, layers cached by a local read", arch_walk)):
        print(f"{name:44s} {f:9.1f} {n:8.2f}")


if __name__ == "__main__":
    main()
