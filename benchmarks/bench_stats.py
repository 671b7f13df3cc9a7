"""Live stats of many containers: dockerviz's sampler against `docker stats`.

    python benchmarks/bench_stats.py [--containers 50] [--seconds 30] [--json out.json]

Starts N idle containers (FROM-scratch busybox, network none, labelled
dockerviz.managed=1 and dockerviz.bench=1), then runs, at the same time and
for the same duration:

- a child Python process sampling all N through dockerviz's StatsSampler
  (one streaming stats request per container, 1 Hz);
- `docker stats --format '{{json .}}' <ids>` (the CLI's own streaming).

For each it reports CPU seconds (user + system, from wait4 on the child, so
interpreter start-up and imports count for dockerviz too; the sampling-only
part is shown separately), peak RSS, and the time from launch until every
container had a first sample: for dockerviz the first sample that carries a
CPU % (two daemon readings), for the CLI the first screen listing all N.
The containers are removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMAGE = "dockerviz-test/busybox"
LABELS = {"dockerviz.managed": "1", "dockerviz.bench": "1", "dockerviz.session": str(os.getpid())}


# ---- the dockerviz side (runs in a child process) ---------------------------------------------


def worker(ids: list[str], seconds: float) -> None:
    t_launch = float(os.environ.get("BENCH_T0", time.time()))
    sys.path.insert(0, ROOT)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    from dockerviz.containers.sampler import StatsSampler

    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    t_start = time.time()
    sampler = StatsSampler(ids, interval=1.0, keep=3600).start()
    ru2 = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(seconds)
    first_cpu = sampler.first_sample_seconds(with_cpu=True)
    first_any = sampler.first_sample_seconds(with_cpu=False)
    count = sampler.count()
    sampler.stop()
    ru3 = resource.getrusage(resource.RUSAGE_SELF)

    def cpu(a, b):
        return (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)

    # wall-clock times: the launch stamp comes from the parent process
    offset = time.time() - time.monotonic()

    def wall(rel):
        return None if rel is None else offset + sampler.started_at + rel

    print(json.dumps({
        "samples": count,
        "raw_samples": sum(t.raw_count for t in sampler.targets),
        "errors": [t.error for t in sampler.targets if t.error],
        "import_cpu_s": cpu(ru0, ru1),
        "setup_cpu_s": cpu(ru1, ru2),  # inspect each container, open the streams
        "sampling_cpu_s": cpu(ru2, ru3),
        # from the StatsSampler call (inspects included) / from the process launch
        "first_any_s": None if first_any is None else wall(first_any) - t_start,
        "first_full_s": None if first_cpu is None else wall(first_cpu) - t_start,
        "launch_to_first_full_s": None if first_cpu is None else wall(first_cpu) - t_launch,
    }))


# ---- the parent ------------------------------------------------------------------------------


def ensure_image(client):
    try:
        return client.images.get(IMAGE)
    except Exception:
        pass
    busybox = shutil.which("busybox") or "/bin/busybox"
    buf = io.BytesIO()
    dockerfile = b'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("busybox", open(busybox, "rb").read())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    for _ in client.api.build(fileobj=buf, custom_context=True, tag=IMAGE, network_mode="none", decode=True, rm=True):
        pass
    return client.images.get(IMAGE)


def wait4(proc):
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024.0}


def proc_usage(pid) -> dict | None:
    """CPU seconds (all threads) and peak RSS of a live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        return {"cpu_s": cpu, "peak_rss_mb": hwm / 1024.0}
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def stop(proc) -> dict:
    """Ctrl-C, then SIGTERM, then SIGKILL; the child's rusage whichever ends it."""
    for sig, grace in ((signal.SIGINT, 3.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, None)):
        proc.send_signal(sig)
        deadline = time.time() + (grace or 10.0)
        while time.time() < deadline:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024.0,
                        "ended_by": signal.Signals(sig).name}
            time.sleep(0.05)
    raise RuntimeError(f"pid {proc.pid} survived SIGKILL")


def run(n: int, seconds: float) -> dict:
    import docker

    client = docker.from_env(version="1.41", timeout=120)
    ensure_image(client)
    containers = []
    try:
        t = time.time()
        for i in range(n):
            containers.append(
                client.containers.run(IMAGE, ["sleep", "100000"], detach=True, network_mode="none",
                                      labels=LABELS, name=f"dockerviz-bench-{os.getpid()}-{i}")
            )
        ids = [c.id for c in containers]
        print(f"started {n} containers in {time.time() - t:.1f} s", file=sys.stderr)
        time.sleep(2)

        # docker stats, reading its output to time the first full screen
        t0 = time.time()
        cli = subprocess.Popen(
            ["docker", "stats", "--format", "{{json .}}", *ids],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            # a shell without job control starts background jobs with SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        seen: set[str] = set()
        cli_first = {}
        short = {i[:12] for i in ids}
        id_re = re.compile(rb'"ID":"([0-9a-f]{12})')

        def read_cli():
            for line in cli.stdout:
                for m in id_re.finditer(line):
                    seen.add(m.group(1).decode())
                if "t" not in cli_first and short <= seen:
                    cli_first["t"] = time.time() - t0

        reader = threading.Thread(target=read_cli, daemon=True)
        reader.start()

        env = dict(os.environ, BENCH_T0=repr(time.time()))
        dvz = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", "--seconds", str(seconds), *ids],
            stdout=subprocess.PIPE, env=env,
        )
        out = dvz.stdout.read()
        dvz_usage = wait4(dvz)
        dvz_result = json.loads(out.decode().strip().splitlines()[-1])

        # the CLI ran as long as the worker did (it was started first)
        remaining = seconds - (time.time() - t0)
        if remaining > 0:
            time.sleep(remaining)
        at_mark = proc_usage(cli.pid)  # CPU and peak RSS at the end of the run...
        cli_usage = stop(cli)  # ...not counting however long it takes to die
        if at_mark:
            cli_usage.update(at_mark)
        reader.join(2)

        result = {
            "containers": n,
            "seconds": seconds,
            "dockerviz": {
                **dvz_usage,
                "sampling_cpu_s": dvz_result["sampling_cpu_s"],
                "import_cpu_s": dvz_result["import_cpu_s"],
                "samples": dvz_result["samples"],
                "raw_samples": dvz_result["raw_samples"],
                "errors": dvz_result["errors"],
                "setup_cpu_s": dvz_result["setup_cpu_s"],
                "first_any_s": dvz_result["first_any_s"],
                "first_full_s": dvz_result["first_full_s"],
                "launch_to_first_full_s": dvz_result["launch_to_first_full_s"],
            },
            "docker_stats": {**cli_usage, "first_full_s": cli_first.get("t")},
        }
        result["cpu_ratio"] = result["dockerviz"]["cpu_s"] / result["docker_stats"]["cpu_s"]
        return result
    finally:
        for c in containers:
            try:
                c.remove(force=True)
            except Exception:
                pass
        client.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--containers", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("ids", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.ids, args.seconds)
    r = run(args.containers, args.seconds)
    d, c = r["dockerviz"], r["docker_stats"]
    print(f"{r['containers']} containers, {r['seconds']:.0f} s, same run")
    print(f"{'':14}{'CPU s':>8}{'peak RSS MB':>13}{'first full sample s':>21}")
    print(f"{'dockerviz':14}{d['cpu_s']:8.2f}{d['peak_rss_mb']:13.1f}{d['launch_to_first_full_s'] or float('nan'):21.2f}")
    print(f"{'docker stats':14}{c['cpu_s']:8.2f}{c['peak_rss_mb']:13.1f}{c['first_full_s'] or float('nan'):21.2f}")
    print(f"dockerviz CPU / docker stats CPU = {r['cpu_ratio']:.2f}  "
          f"(dockerviz: {d['import_cpu_s']:.2f} s imports, {d['setup_cpu_s']:.2f} s setup, "
          f"{d['sampling_cpu_s']:.2f} s sampling; {d['samples']} samples kept of {d['raw_samples']}; from the sampler call: "
          f"first sample of all {d['first_any_s']:.2f} s, with CPU % {d['first_full_s']:.2f} s)")
    if d["errors"]:
        print("errors:", d["errors"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
