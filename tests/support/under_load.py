"""Run the test suite while CPU hogs keep the machine's cores busy; exit with the suite's exit code.

    python tests/support/under_load.py [--hogs N] [--pytest] [ARGS...]

By default the whole test command runs (`bash tests/run.sh ARGS...`); with
--pytest, `python -m pytest -q ARGS...` runs instead (for a few modules, once
the test command has set the machine up). Beside it run N busy loops (default
2, one per core of the CI machine), each `sh -c 'while :; do :; done'`. When
the suite ends the hogs are stopped and the CPU time they got is printed, to
show that the suite really ran on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOG = ["sh", "-c", "while :; do :; done"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hogs", type=int, default=2, help="busy loops beside the suite (default 2)")
    parser.add_argument("--pytest", action="store_true", help="run python -m pytest -q instead of tests/run.sh")
    args, rest = parser.parse_known_args(argv)
    command = ([sys.executable, "-m", "pytest", "-q", *rest] if args.pytest
               else ["bash", str(REPO_ROOT / "tests" / "run.sh"), *rest])
    hogs = [subprocess.Popen(HOG, stdin=subprocess.DEVNULL) for _ in range(args.hogs)]
    started = time.monotonic()
    print(f"under_load: {len(hogs)} busy loops (pids {', '.join(str(h.pid) for h in hogs)}) beside: "
          f"{' '.join(command)}", flush=True)
    try:
        rc = subprocess.call(command, cwd=REPO_ROOT)
    except KeyboardInterrupt:
        rc = 130
    finally:
        wall = time.monotonic() - started
        used = []
        for h in hogs:
            try:
                used.append(cpu_seconds(h.pid))
            except (OSError, IndexError, ValueError):
                used.append(float("nan"))
            h.send_signal(signal.SIGKILL)
            h.wait()
    print(f"under_load: suite exit code {rc}; {wall:.0f} s; the busy loops got "
          f"{', '.join(f'{u:.0f}' for u in used)} s of CPU ({sum(used) / wall:.2f} cores on average)", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
