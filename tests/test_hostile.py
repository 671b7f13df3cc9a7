"""The hostile corpus (tests/hostile/corpus.py) through every surface: CLI, API, save-stream parser, diff.

Each case runs in a child process forked from a runner (tests/hostile/runner.py)
under a 4 GB address-space limit and its own time limit; two runners share the
cases. A run fails on any exception that is not a DockervizError, any raw
control character printed, any wrong answer the case names (a file shown that
is not in the image, a negative size), any case over its time limit or over
1 GB peak RSS, any refusal of a case that must be accepted (or the reverse),
and any file left behind (in the working folder, the temporary folder, the
report folder, or the corpus itself). The bombs are the `hostile_heavy` mark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hostile import build as B
from hostile import corpus

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RSS_LIMIT = 1 << 30


def _snapshot(root: str) -> dict:
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            out[path] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def run_corpus(tmp, cases: list, workers: int = 2) -> list:
    honest = os.path.join(tmp, "honest.tar")
    with open(honest, "wb") as f:
        f.write(B.legacy(corpus.honest_layers()))
    folders = {k: os.path.join(tmp, k) for k in ("cwd", "out", "tmp", "cache", "mpl")}
    for path in folders.values():
        os.makedirs(path, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]),
               DOCKERVIZ_CACHE_DIR=folders["cache"], MPLCONFIGDIR=folders["mpl"], TMPDIR=folders["tmp"])
    env.pop("DOCKERVIZ_LIMITS", None)
    before = {p: v for c in cases for p, v in _snapshot(os.path.dirname(c["path"])).items()}
    procs = []
    for i in range(workers):
        share = os.path.join(tmp, f"cases-{i}.json")
        with open(share, "w") as f:
            json.dump(cases[i::workers], f)
        procs.append((subprocess.Popen([sys.executable, "-m", "hostile.runner", share, share + ".out", honest,
                                        folders["out"]], cwd=folders["cwd"], env=env), share + ".out"))
    results = []
    for proc, out in procs:
        assert proc.wait(timeout=1800) == 0
        with open(out) as f:
            results.extend(json.load(f))
    for key in ("cwd", "out", "tmp"):
        assert os.listdir(folders[key]) == [], f"files left in the {key} folder: {os.listdir(folders[key])}"
    after = {p: v for c in cases for p, v in _snapshot(os.path.dirname(c["path"])).items()}
    assert after == before, "the corpus itself was changed"
    return results


def problems(results: list) -> list:
    out = []
    for r in results:
        if r["timed_out"]:
            out.append(f"{r['name']}: over its time limit ({r['seconds']} s)")
        if r["max_rss"] > RSS_LIMIT:
            out.append(f"{r['name']}: peak RSS {r['max_rss'] >> 20} MB")
        if not r["surfaces"]:
            out.append(f"{r['name']}: the child died (status {r['status']})")
        for surface, outcome in r["surfaces"].items():
            if outcome.startswith(("CRASH", "UNSAFE", "WRONG")):
                out.append(f"{r['name']} [{surface}]: {outcome[-1500:]}")
        api = r["surfaces"].get("api", "")
        if r["expect"] == "accept" and not api.startswith("ok"):
            out.append(f"{r['name']}: must be accepted, got {api[:300]}")
        if r["expect"] == "refuse" and api.startswith("ok"):
            out.append(f"{r['name']}: must be refused, was accepted")
        if r.get("message") and r["expect"] == "refuse" and r["message"] not in api:
            out.append(f"{r['name']}: the refusal should say {r['message']!r}: {api[:300]}")
    return out


def _report(results: list, label: str) -> None:
    refused = sum(r["surfaces"].get("api", "").startswith("refused") for r in results)
    runs = sum(len(r["surfaces"]) for r in results)
    slowest = max(results, key=lambda r: r["seconds"])
    print(f"\n{label}: {len(results)} cases, {runs} runs: {len(results) - refused} accepted, {refused} refused; "
          f"slowest {slowest['name']} {slowest['seconds']:.2f} s; peak RSS "
          f"{max(r['max_rss'] for r in results) >> 20} MB")


def test_hostile_corpus_no_traceback_no_hang_no_debris(tmp_path):
    cases = [c for c in corpus.build(str(tmp_path / "corpus")) if not c["heavy"]]
    assert len(cases) >= 300
    results = run_corpus(str(tmp_path), cases)
    _report(results, "hostile corpus")
    assert problems(results) == []


@pytest.mark.hostile_heavy
def test_hostile_bombs_refused_early_within_memory(tmp_path):
    cases = [c for c in corpus.build(str(tmp_path / "corpus"), heavy=True) if c["heavy"]]
    results = run_corpus(str(tmp_path), cases)
    _report(results, "hostile bombs")
    assert problems(results) == []
