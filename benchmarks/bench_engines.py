"""Several engines: images_overview against `docker system df -v`, and what a connection costs per transport.

    python benchmarks/bench_engines.py [--repeat 3]

1. images_overview() of the engine the environment names, interleaved with
   `docker system df -v --format json` on the same daemon (`--repeat` times,
   medians), and the ratio; then every image's SIZE / SHARED SIZE / UNIQUE SIZE /
   CONTAINERS compared with the daemon's /system/df (mismatches listed).
2. Engine.client() (negotiation included) and a first and a second `GET /_ping` over the
   local socket, TCP+TLS (a second dockerd started here) and SSH (an sshd started
   here, to the local daemon): medians, and ratios to the socket.

A benchmark, not a test: nothing fails on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import dockerviz  # noqa: E402
from support.remote import SSHServer, TLSDaemon  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def overview(repeat: int) -> None:
    ov_times, df_times = [], []
    for _ in range(repeat):
        ov_times.append(timed(lambda: dockerviz.images_overview()))
        df_times.append(timed(lambda: subprocess.run(["docker", "system", "df", "-v", "--format", "json"],
                                                     capture_output=True, check=True)))
    ov, df = statistics.median(ov_times), statistics.median(df_times)
    result = dockerviz.images_overview()
    print(f"images_overview: {len(result.images)} images, {len(result.layers)} layers; "
          f"{ov:.2f} s against `docker system df -v` {df:.2f} s (ratio {ov / df:.2f})")
    c = dockerviz.Engine().client(timeout=300)
    oracle = c.api.df()
    c.close()
    mine = result.images.set_index("id")
    # a daemon others use changes between the two reads (containers come and go): differences are listed
    bad = []
    for im in oracle["Images"]:
        if im["Id"] in mine.index:
            row = mine.loc[im["Id"]]
            got, want = (row.size_bytes, row.shared_bytes, row.containers), (im["Size"], im["SharedSize"],
                                                                             im["Containers"])
            if got != want:
                bad.append(f"{row.image} {got} against {want}")
    print(f"  /system/df agreement: {len(oracle['Images']) - len(bad)} of {len(oracle['Images'])} images "
          f"exact (size, shared, containers){'; differ: ' + ', '.join(bad) if bad else ''}")


def connections(repeat: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dvb-", dir="/tmp"))
    tls = TLSDaemon(folder / "tls")
    ssh = SSHServer(folder / "ssh")
    try:
        engines = {
            "socket": dockerviz.Engine(name="socket"),
            "tcp+tls": dockerviz.Engine(tls.host, cert_path=str(tls.cert_path), name="tls"),
            "ssh": dockerviz.Engine(ssh.host, name="ssh"),
        }
        home = os.environ.get("HOME")
        results = {}
        for label, eng in engines.items():
            if label == "ssh":
                os.environ["HOME"] = str(ssh.home)
            try:
                connect, first, later = [], [], []
                for _ in range(repeat):
                    t = time.perf_counter()
                    c = eng.client()
                    connect.append(time.perf_counter() - t)
                    first.append(timed(lambda: c.api.ping()))  # ssh: a new channel, `docker system dial-stdio`
                    later.append(timed(lambda: c.api.ping()))
                    c.close()
                results[label] = tuple(statistics.median(x) for x in (connect, first, later))
            finally:
                if home is not None:
                    os.environ["HOME"] = home
        base = results["socket"]
        for label, (connect, first, later) in results.items():
            print(f"{label:8} Engine.client() {connect * 1000:7.1f} ms ({connect / base[0]:5.1f}x), "
                  f"first GET /_ping {first * 1000:6.1f} ms ({first / base[1]:5.1f}x), "
                  f"next {later * 1000:6.1f} ms ({later / base[2]:4.1f}x)")
    finally:
        tls.stop()
        ssh.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    overview(args.repeat)
    connections(args.repeat)


if __name__ == "__main__":
    main()
