"""Re-record the stats samples in this folder from a local engine.

Usage:
  python tests/data/stats/record_stats.py                 Docker (cgroup1_*.json)
  DOCKER_HOST=unix:///path/podman.sock python tests/data/stats/record_stats.py
                                                           Podman (podman_*.json)
Needs an image named dockerviz-test/busybox (for Podman: `podman load -i` of
its `docker save` archive; tests/support/podman.py starts such a service).

Each output file is {"source": ..., "samples": [raw stats JSON, ...]}: consecutive
samples of one `GET /containers/{id}/stats?stream=1` response, unmodified
(Docker streams one a second, Podman one every 5 seconds).
"""

import json
import os
import time

import docker

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "dockerviz-test/busybox"

# (blkio stays empty on this host's storage, even for O_DIRECT writes, so the
# block I/O maths is checked on the hand-written cgroup v2 and podman samples.)
SCENARIOS = {
    # one busy loop: about 100 % of one CPU (on Podman the docker CLI's formula reads ~200 %)
    "busy": dict(command=["sh", "-c", "while :; do :; done"]),
    # 64 MiB anonymous buffer held by dd blocked on a pipe nobody reads, 128 MiB limit
    "mem64": dict(command=["sh", "-c", "dd if=/dev/zero bs=64M count=1 | sleep 1000"], mem_limit="128m"),
}


def record(client, path, options, source, n=3, settle=2.0, after_exit=True):
    c = client.containers.run(IMAGE, detach=True, network_mode="none",
                              labels={"dockerviz.managed": "1"}, **options)
    try:
        time.sleep(settle)
        samples = []
        for raw in client.api.stats(c.id, stream=True, decode=True):
            samples.append(raw)
            if len(samples) == n:
                break
        if after_exit:  # and what a stream says once the container has gone
            c.kill()
            c.wait()
            for raw in client.api.stats(c.id, stream=True, decode=True):
                samples.append(raw)
                break
        with open(path, "w") as f:
            json.dump({"source": source, "options": dict(options), "samples": samples}, f, indent=1, sort_keys=True)
    finally:
        c.remove(force=True)


if __name__ == "__main__":
    client = docker.from_env(version="1.41", timeout=None)
    info = client.version()
    podman = any(c.get("Name") == "Podman Engine" for c in info.get("Components") or ())
    if podman:
        prefix, source = "podman", f"Podman {info['Version']} Docker-compatible API, cgroup v1"
    else:
        prefix, source = "cgroup1", f"Docker Engine {info['Version']} (API {info['ApiVersion']}), cgroup v1"
    for name, options in SCENARIOS.items():
        path = os.path.join(HERE, f"{prefix}_{name}.json")
        record(client, path, options, f"{source}, {info.get('KernelVersion', '')}", after_exit=not podman,
               settle=1.0 if podman else 2.0)
        print("wrote", path)
