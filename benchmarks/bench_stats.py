"""Live stats of many containers: dockerviz's sampler against `docker stats`.

    python benchmarks/bench_stats.py [--containers 10,50,200] [--seconds 30] [--repeat 3] [--json out.json]

For each N, starts N idle containers (FROM-scratch busybox, network none, labelled
dockerviz.managed=1 and dockerviz.bench=1), then runs, at the same time and
for the same duration:

- a child Python process sampling all N through dockerviz's StatsSampler
  (one streaming stats request per container, 1 Hz; on a local daemon the
  sampler's socket path, without docker-py);
- `docker stats --format '{{json .}}' <ids>` (the CLI's own streaming).

For each it reports CPU seconds (user + system, from wait4 on the child, so
interpreter start-up and imports count for dockerviz too; the sampling-only
part is shown separately), peak RSS, and the time from launch until every
container had a first sample: for dockerviz the first sample that carries a
CPU % (two daemon readings), for the CLI the first screen listing all N.
Each N is run --repeat times (both tools side by side every time); the
table prints medians, the targets (CPU seconds at most 1.0x `docker stats`,
first full sample within 1.5 s of the sampler call) and the ratios. The
containers are removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import statistics
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


# The child is this code alone (python -c), so its CPU seconds are the interpreter's start-up, dockerviz's
# imports and the sampling, not this benchmark's own imports.
WORKER = r"""
import json, os, resource, sys, time
t_launch = float(os.environ["BENCH_T0"])
seconds, ids = float(sys.argv[1]), sys.argv[2:]
sys.path.insert(0, os.environ["BENCH_ROOT"])
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
cpu = lambda a, b: (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)
offset = time.time() - time.monotonic()  # the launch stamp is wall-clock time, from the parent
wall = lambda rel: None if rel is None else offset + sampler.started_at + rel
print(json.dumps({
    "transport": sampler.transport,
    "samples": count,
    "raw_samples": sum(t.raw_count for t in sampler.targets),
    "errors": [t.error for t in sampler.targets if t.error],
    "startup_cpu_s": ru0.ru_utime + ru0.ru_stime,  # the interpreter, before any dockerviz code
    "import_cpu_s": cpu(ru0, ru1),
    "setup_cpu_s": cpu(ru1, ru2),  # inspect each container, open the streams
    "sampling_cpu_s": cpu(ru2, ru3),
    "first_any_s": None if first_any is None else wall(first_any) - t_start,
    "first_full_s": None if first_cpu is None else wall(first_cpu) - t_start,
    "launch_to_first_full_s": None if first_cpu is None else wall(first_cpu) - t_launch,
}))
"""


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
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        deadline = time.time() + (grace or 10.0)
        while time.time() < deadline:
            try:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (it ended by itself): the /proc reading stands
                return {"cpu_s": float("nan"), "peak_rss_mb": float("nan"), "ended_by": "itself"}
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024.0,
                        "ended_by": signal.Signals(sig).name}
            time.sleep(0.05)
    raise RuntimeError(f"pid {proc.pid} survived SIGKILL")


def start_containers(client, n: int, first: int = 0) -> list:
    t = time.time()
    out = [client.containers.run(IMAGE, ["sleep", "100000"], detach=True, network_mode="none", labels=LABELS,
                                 name=f"dockerviz-bench-{os.getpid()}-{i}") for i in range(first, n)]
    print(f"started {n - first} containers in {time.time() - t:.1f} s ({n} running)", file=sys.stderr)
    return out


def run(ids: list, seconds: float) -> dict:
    n = len(ids)
    time.sleep(2)

    # docker stats, reading its output to time the first full screen
    t0 = time.time()
    cli = subprocess.Popen(
        ["docker", "stats", "--format", "{{json .}}", *ids],
        stdout=subprocess.PIPE, stderr=open(os.path.join("/tmp", f"bench-stats-cli-{os.getpid()}.err"), "wb"),
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

    env = dict(os.environ, BENCH_T0=repr(time.time()), BENCH_ROOT=ROOT)

    dvz = subprocess.Popen([sys.executable, "-c", WORKER, str(seconds), *ids], stdout=subprocess.PIPE, env=env)
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
            "startup_cpu_s": dvz_result["startup_cpu_s"],
            "transport": dvz_result["transport"],
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


def median(runs, *keys):
    vals = []
    for r in runs:
        v = r
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            vals.append(v)
    return statistics.median(vals) if vals else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--containers", default="10,50,200", help="comma-separated sizes of the monitor")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    sys.path.insert(0, ROOT)
    from dockerviz import engine

    client = engine.client(timeout=120)  # the negotiated API version, as dockerviz itself uses
    ensure_image(client)
    sizes = sorted({int(x) for x in args.containers.split(",") if x.strip()})
    results: dict = {}
    containers: list = []
    try:
        for n in sizes:
            containers += start_containers(client, n, len(containers))
            ids = [c.id for c in containers[:n]]
            for i in range(args.repeat):
                r = run(ids, args.seconds)
                results.setdefault(n, []).append(r)
                d, c = r["dockerviz"], r["docker_stats"]
                print(f"[bench] {n} containers, round {i + 1}: CPU s {d['cpu_s']:.2f} vs {c['cpu_s']:.2f} "
                      f"(x{r['cpu_ratio']:.2f}); first full sample {d['first_full_s'] or float('nan'):.2f} s "
                      f"vs {c['first_full_s'] or float('nan'):.2f} s; load {os.getloadavg()[0]:.1f}; errors {d['errors'][:2]}",
                      file=sys.stderr)
    finally:
        for c in containers:
            try:
                c.remove(force=True)
            except Exception:
                pass
        client.close()

    load = os.getloadavg()
    print(f"\nmedians of {args.repeat} rounds of {args.seconds:.0f} s per size; dockerviz and `docker stats` side by "
          f"side in each round; load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"({os.cpu_count()} cores)")
    print(f"{'containers':>10} {'row':<38} {'dockerviz':>10} {'docker stats':>13} {'ratio':>7} {'target':>16}")
    for n in sizes:
        runs = results[n]
        rows = [
            ("CPU s, whole process", median(runs, "dockerviz", "cpu_s"), median(runs, "docker_stats", "cpu_s"),
             "<= 1.0x" if n == 50 else ""),
            ("  of which interpreter start-up", median(runs, "dockerviz", "startup_cpu_s"), None, ""),
            ("  of which dockerviz imports", median(runs, "dockerviz", "import_cpu_s"), None, ""),
            ("  of which sampling", median(runs, "dockerviz", "sampling_cpu_s"), None, ""),
            ("  of which setup (inspect, open)", median(runs, "dockerviz", "setup_cpu_s"), None, ""),
            ("first full sample s, from the call", median(runs, "dockerviz", "first_full_s"),
             median(runs, "docker_stats", "first_full_s"), "<= 1.5 s" if n == 50 else ""),
            ("first full sample s, from launch", median(runs, "dockerviz", "launch_to_first_full_s"),
             median(runs, "docker_stats", "first_full_s"), ""),
            ("peak RSS MB", median(runs, "dockerviz", "peak_rss_mb"), median(runs, "docker_stats", "peak_rss_mb"), ""),
        ]
        for name, ours, theirs, target in rows:
            ratio = f"{ours / theirs:7.2f}" if theirs else f"{'':7}"
            theirs_txt = f"{theirs:13.2f}" if theirs is not None else f"{'':13}"
            met = ""
            if target.startswith("<= 1.0x"):
                met = "  met" if ours <= theirs else "  NOT met"
            elif target.startswith("<= 1.5 s"):
                met = "  met" if ours <= 1.5 else "  NOT met"
            print(f"{n:>10} {name:<38} {ours:10.2f} {theirs_txt} {ratio} {target:>9}{met}")
        errors = [e for r in runs for e in r["dockerviz"]["errors"]]
        if errors:
            print(f"{n:>10} errors: {errors[:3]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(k): v for k, v in results.items()}, f, indent=1)


if __name__ == "__main__":
    main()
