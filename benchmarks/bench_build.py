"""dockerviz.build() against `docker build` on the same 10-step Dockerfile.

Both use the classic builder (`DOCKER_BUILDKIT=0` for the CLI, builder="classic"
for dockerviz), no cache, network none; 5 runs each, alternating, wall time from
the call to the built image. Prints the median ratio dockerviz / CLI.

    python benchmarks/bench_build.py [--runs 5]

Needs a Docker daemon, the docker CLI on PATH and /bin/busybox (busybox-static).
The images are tagged dockerviz-test/build-bench:* and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
RUN mkdir -p /app/data && echo built > /app/version
RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i >> /app/data/lines; done
COPY payload.bin /app/payload.bin
RUN wc -c /app/payload.bin && md5sum /app/payload.bin > /app/payload.md5
ENV APP_HOME=/app
WORKDIR /app
RUN ls -la /app && cat /app/version
"""

TAG = "dockerviz-test/build-bench"


def make_context(d):
    shutil.copy("/bin/busybox", os.path.join(d, "busybox"))
    with open(os.path.join(d, "payload.bin"), "wb") as f:
        f.write(os.urandom(4 * 1024 * 1024))
    with open(os.path.join(d, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)


BUILT = []  # image ids, removed at the end (a re-used tag leaves the previous image dangling)


def run_cli(d, tag):
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    iid = os.path.join(d, "..", os.path.basename(d) + ".iid")
    t0 = time.perf_counter()
    p = subprocess.run(["docker", "build", "--no-cache", "--network", "none", "--iidfile", iid, "-t", tag, d],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"docker build failed: {p.stderr[-2000:]}")
    with open(iid) as f:
        BUILT.append(f.read().strip())
    os.unlink(iid)
    return dt


def run_dockerviz(d, tag):
    import dockerviz.building as dvb

    t0 = time.perf_counter()
    r = dvb.build(d, tag=tag, nocache=True, builder="classic", network_mode="none")
    dt = time.perf_counter() - t0
    assert r.succeeded and r.builder == "classic" and len(r.step_list()) == 10, r
    BUILT.append(r.image_id)
    return dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    import docker

    client = docker.from_env()
    times = {"dockerviz": [], "cli": []}
    with tempfile.TemporaryDirectory() as d:
        make_context(d)
        run_cli(d, f"{TAG}:warmup")  # warm the page cache and the daemon
        run_dockerviz(d, f"{TAG}:warmup")
        try:
            for i in range(args.runs):
                order = [("cli", run_cli), ("dockerviz", run_dockerviz)]
                if i % 2:
                    order.reverse()
                for name, fn in order:
                    times[name].append(fn(d, f"{TAG}:{name}"))
                    print(f"run {i + 1} {name:9s} {times[name][-1]:.2f} s", flush=True)
        finally:
            for ref in [f"{TAG}:warmup", f"{TAG}:cli", f"{TAG}:dockerviz"] + BUILT:
                try:
                    client.api.remove_image(ref)
                except Exception:
                    pass
            client.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["dockerviz"] / med["cli"]
    print(f"median dockerviz {med['dockerviz']:.2f} s, docker CLI {med['cli']:.2f} s")
    print(f"median ratio dockerviz/CLI = {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
