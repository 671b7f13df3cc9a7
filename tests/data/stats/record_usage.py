"""Re-record usage_two_containers.json and container_snapshot.json from a local daemon.

Usage: python tests/data/stats/record_usage.py   (needs the dockerviz-test/busybox image)

Two containers of one image for about 6 s: a busy loop, and one holding a 64 MiB
anonymous buffer under a 128 MiB limit; then the snapshot of a container that
wrote a file and deleted another. Files for replay tests and offline demos.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(HERE))))

from dockerviz.containers import api  # noqa: E402

IMAGE = "dockerviz-test/busybox"

if __name__ == "__main__":
    with api.run(IMAGE, ["sh", "-c", "while :; do :; done"], network_mode="none", name="busy-loop") as busy, \
         api.run(IMAGE, ["sh", "-c", "dd if=/dev/zero bs=64M count=1 | sleep 1000"], network_mode="none",
                 mem_limit="128m", name="holds-64mib") as mem:
        with api.monitor([busy, mem], keep=100) as mon:
            time.sleep(6.5)
        mon.save(os.path.join(HERE, "usage_two_containers.json"))
    with api.run(IMAGE, ["sh", "-c", "mkdir -p /srv/data && echo hello > /srv/data/note; rm /bin/true; sleep 1000"],
                 network_mode="none", name="wrote-files") as view:
        time.sleep(1)
        view.save(os.path.join(HERE, "container_snapshot.json"))
    print("wrote usage_two_containers.json, container_snapshot.json")
