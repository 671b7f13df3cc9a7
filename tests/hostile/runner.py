"""Runs hostile cases through every surface, each case in a forked child with bounded memory and time.

    python -m hostile.runner CASES.json RESULTS.json HONEST_ARCHIVE OUT_DIR

The parent imports dockerviz, pandas and matplotlib once; each case runs in a
child forked from it (so one case cannot disturb the next) under RLIMIT_AS,
and is killed when it overruns its time limit. Per case the result holds, for
every surface, "ok", "refused: <message>" (a DockervizError), "CRASH
<traceback>" (anything else) or "UNSAFE <what>" (raw control characters
printed), plus the child's wall time and peak RSS (wait4's ru_maxrss).
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import sys
import time
import traceback

ADDRESS_SPACE = 4 << 30  # as the attack was run: a case that needs more is a failure either way


def _unsafe(data: bytes) -> str | None:
    """Raw control characters (other than newline) in what was printed; None when there are none."""
    for i, b in enumerate(data):
        if (b < 0x20 and b != 0x0A) or b == 0x7F:
            return f"raw control byte {b:#04x} at {i}: {data[max(0, i - 30):i + 10]!r}"
    text = data.decode("utf-8", "replace")
    for i, ch in enumerate(text):
        if 0x80 <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069:
            return f"raw control character U+{ord(ch):04X} at {i}"
    return None


def _cli(argv) -> str:
    from dockerviz import cli

    out, err = io.BytesIO(), io.BytesIO()
    real = sys.stdout, sys.stderr
    wrappers = [io.TextIOWrapper(b, encoding="utf-8", errors="strict", write_through=True) for b in (out, err)]
    sys.stdout, sys.stderr = wrappers
    try:
        rc = cli.main(argv)
    finally:
        sys.stdout, sys.stderr = real
        for w in wrappers:
            w.flush()
            w.detach()
    for stream, data in (("stdout", out.getvalue()), ("stderr", err.getvalue())):
        bad = _unsafe(data)
        if bad:
            return f"UNSAFE {stream}: {bad}"
    if rc == 2:
        return "refused: " + err.getvalue().decode("utf-8", "replace")[-300:]
    if rc not in (0, 1):
        return f"CRASH exit code {rc}"
    if argv[-1] == "-":
        json.loads(out.getvalue())
    return "ok"


def _stream(path: str) -> None:
    """The save-stream parser, fed the archive (decompressed when compressed) chunk by chunk."""
    from dockerviz.model.compression import decompressed
    from dockerviz.sources.streaming import ChunkReader, record_from_stream

    with open(path, "rb") as f:
        _, inner = decompressed(f, what=f"archive {path}")
        chunks = iter(lambda: inner.read(1 << 16), b"")
        record = record_from_stream(ChunkReader(chunks), reference=path, where=f"the save stream of {path}",
                                    source_kind="daemon", path="save-stream")
    for ref in record.layers:
        ref.read()


def _api(case: dict, honest, out_dir: str) -> None:
    import dockerviz
    from dockerviz.model import entries as E
    from dockerviz.views import figures

    img = dockerviz.analyze(case["path"], progress=lambda p: None)
    paths = {E.display_path(p) for p in img.merged.final}
    for want in case.get("want_files", []):
        if want not in paths:
            raise AssertionError(f"WRONG: {want} missing from the analysis")
    for bad in case.get("not_files", []):
        if bad in paths:
            raise AssertionError(f"WRONG: {bad} shown by the analysis")
    tables = (img.layers, img.files, img.waste)
    assert all(len(t) >= 0 for t in tables)
    for i in range(min(len(img.contents), 3)):
        img.changes(i)
    json.dumps(img.to_dive_json(file_lists=True))
    if img.size_bytes < 0 or any(c.disk_bytes < 0 for c in img.contents):
        raise AssertionError("WRONG: a negative size")
    ex = dockerviz.layers(img)
    ex.step_rows(), ex.tree_state(), ex.waste_rows(), ex.summary()
    for layer in range(min(len(img.contents), 3)):
        ex.select(layer)
        ex.children("/")
        ex.tree_state()
    render = case.get("render")  # figures cost ~0.5 s each: drawn for the cases whose text or shape they test
    if render:
        for fig in (figures.layer_sizes(img), figures.top_directories(img), figures.waste_by_layer(img)):
            figures.png_base64(fig, dpi=40)
        report = os.path.join(out_dir, "explorer.html")
        ex.to_html(report)
        os.unlink(report)
    for a, b in ((honest, img), (img, honest)):
        diff = dockerviz.compare(a, b)
        diff.summary(), diff.files_page(), diff.layer_rows(), diff.config_rows()
        if render and a is honest:
            report = os.path.join(out_dir, "diff.html")
            diff.to_html(report)
            os.unlink(report)


def run_case(case: dict, honest_path: str, out_dir: str) -> dict:
    from dockerviz.errors import DockervizError

    results: dict = {}

    def surface(name, fn):
        try:
            value = fn()
            results[name] = value if isinstance(value, str) else "ok"
        except DockervizError as exc:
            results[name] = f"refused: {type(exc).__name__}: {str(exc)[:300]}"
        except AssertionError as exc:
            results[name] = str(exc)
        except BaseException:  # noqa: BLE001 - exactly what this test hunts
            results[name] = "CRASH " + traceback.format_exc()[-3000:]

    path = case["path"]
    import dockerviz

    honest = dockerviz.analyze(honest_path, progress=lambda p: None, cache=False)  # nothing cached before the case
    only = case.get("surfaces")  # bombs: the surfaces that read differently, not every view of one refusal
    runs = {"api": lambda: _api(case, honest, out_dir),
            "cli-text": lambda: _cli(["analyze", path, "-q"]),
            "cli-json": lambda: _cli(["analyze", path, "-q", "--json", "-"]),
            "cli-diff": lambda: _cli(["diff", honest_path, path, "-q"]),
            "cli-diff-json": lambda: _cli(["diff", path, honest_path, "-q", "--json", "-"]),
            "stream": lambda: _stream(path)}
    for name, fn in runs.items():
        if (only is None or name in only) and (name != "stream" or os.path.isfile(path)):
            surface(name, fn)
    return results


def main(argv) -> int:
    cases_path, results_path, honest_path, out_dir = argv
    with open(cases_path) as f:
        cases = json.load(f)
    import matplotlib

    matplotlib.use("Agg")
    import pandas  # noqa: F401  - imported once, before the forks

    import dockerviz
    from dockerviz.views import figures, image_diff, layer_explorer, report  # noqa: F401

    dockerviz.analyze(honest_path, progress=lambda p: None)  # warm: imports done, honest image cached
    results = []
    cache_root = os.environ.get("DOCKERVIZ_CACHE_DIR") or os.path.join(out_dir, "..", "cache")
    for case in cases:
        r, w = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
                # a cache of its own: a layer another case cached must not hide this case's flaw
                os.environ["DOCKERVIZ_CACHE_DIR"] = os.path.join(cache_root, str(os.getpid()))
                data = json.dumps(run_case(case, honest_path, out_dir)).encode()
                with os.fdopen(w, "wb") as out:
                    out.write(data)
            except BaseException:  # noqa: BLE001
                code = 3
            os._exit(code)
        os.close(w)
        timed_out = False
        chunks = []
        os.set_blocking(r, False)
        while True:
            try:
                chunk = os.read(r, 1 << 16)
                if chunk:
                    chunks.append(chunk)
            except BlockingIOError:
                chunk = None
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - started > case["timeout"]:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                timed_out = True
                break
            if chunk is None:
                time.sleep(0.005)
        while True:
            try:
                chunk = os.read(r, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        shutil.rmtree(os.path.join(cache_root, str(pid)), ignore_errors=True)
        elapsed = time.monotonic() - started
        try:
            surfaces = json.loads(b"".join(chunks)) if chunks else {}
        except ValueError:
            surfaces = {}
        if os.environ.get("HOSTILE_VERBOSE"):
            marks = " ".join(f"{k}={v.split(' ', 1)[0][:8]}" for k, v in surfaces.items())
            print(f"{elapsed:6.2f}s {usage.ru_maxrss // 1024:5d}MB {case['name']}: {marks}"
                  + (" TIMEOUT" if timed_out else ""), file=sys.stderr, flush=True)
        results.append({"name": case["name"], "family": case["family"], "expect": case["expect"],
                        "heavy": case["heavy"], "seconds": round(elapsed, 3), "timed_out": timed_out,
                        "status": status, "max_rss": usage.ru_maxrss * 1024, "surfaces": surfaces,
                        "message": case.get("message")})
    with open(results_path, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
