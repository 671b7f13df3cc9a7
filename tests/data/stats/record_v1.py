"""Re-record the cgroup v1 stats samples in this folder from a local daemon.

Usage: python tests/data/stats/record_v1.py   (needs the dockerviz-test/busybox image)

Each output file is {"source": ..., "samples": [raw stats JSON, ...]}: consecutive
samples of one `GET /containers/{id}/stats?stream=1` response, unmodified.
"""

import json
import os
import time

import docker

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = "dockerviz-test/busybox"

# (blkio stays empty on this host's storage, even for O_DIRECT writes, so the
# block I/O maths is checked on the cgroup v2 and podman samples instead.)
SCENARIOS = {
    # one busy loop: about 100 % of one CPU
    "cgroup1_busy.json": dict(command=["sh", "-c", "while :; do :; done"]),
    # 64 MiB anonymous buffer held by dd blocked on a pipe nobody reads, 128 MiB limit
    "cgroup1_mem64.json": dict(
        command=["sh", "-c", "dd if=/dev/zero bs=64M count=1 | sleep 1000"], mem_limit="128m"
    ),
}


def record(client, name, options, n=3, settle=2.0):
    c = client.containers.run(IMAGE, detach=True, network_mode="none",
                              labels={"dockerviz.managed": "1"}, **options)
    try:
        time.sleep(settle)
        samples = []
        for raw in client.api.stats(c.id, stream=True, decode=True):
            samples.append(raw)
            if len(samples) == n:
                break
        # and what a stream says once the container has gone
        c.kill()
        c.wait()
        for raw in client.api.stats(c.id, stream=True, decode=True):
            samples.append(raw)
            break
        info = client.version()
        doc = {
            "source": f"Docker Engine {info['Version']} (API {info['ApiVersion']}), cgroup v1, "
                      f"{info.get('KernelVersion', '')}",
            "options": {k: v for k, v in options.items()},
            "samples": samples,
        }
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
    finally:
        c.remove(force=True)


if __name__ == "__main__":
    client = docker.from_env(version="1.41", timeout=None)
    for name, options in SCENARIOS.items():
        record(client, name, options)
        print("wrote", name)
