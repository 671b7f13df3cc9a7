"""Run the notebooks offline: store their outputs, or check the stored ones.

    python notebooks/execute.py            # run every notebook offline, write outputs and widget state in place
    python notebooks/execute.py --check    # run them offline in memory; exit 1 if the stored outputs differ
    python notebooks/execute.py --check 01-images-and-containers.ipynb   # one notebook

Offline means DOCKER_HOST points at a socket nothing listens on, so the
notebooks fall back to the recorded data by themselves (as on Binder). The
comparison looks at what people read: stream text, text/plain and text/html of
every code cell, after the substitutions of sanitize.cfg (the same file nbval
uses). Widget views and images are not compared.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import difflib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SANITIZE = HERE / "sanitize.cfg"
COMPARED_MIMES = ("text/plain", "text/html")


def notebooks(names=()) -> list[Path]:
    if names:
        return [HERE / n if not os.path.isabs(n) else Path(n) for n in names]
    return sorted(HERE.glob("[0-9][0-9]-*.ipynb"))


def sanitizers(path: Path = SANITIZE) -> list[tuple[re.Pattern, str]]:
    """The (regex, replacement) pairs of an nbval sanitize file, in file order."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def sanitize(text: str, rules) -> str:
    for regex, replace in rules:
        text = regex.sub(replace, text)
    return text


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def readable_outputs(nb, rules) -> list[list[str]]:
    """Per code cell, the sanitised texts people read (streams, text/plain, text/html, errors)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                text = sanitize(_text(out.get("text", "")), rules)
                label = f"[{out.get('name')}] "
                if texts and texts[-1].startswith(label):  # one text: the kernel cuts a stream where it likes
                    texts[-1] += text
                else:
                    texts.append(label + text)
            elif kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                for mime in COMPARED_MIMES:
                    if mime in data:
                        texts.append(f"[{mime}] " + sanitize(_text(data[mime]), rules))
            elif kind == "error":
                texts.append(f"[error] {out.get('ename')}: {sanitize(str(out.get('evalue')), rules)}")
        cells.append(texts)
    return cells


def compare(stored, fresh, rules, name: str = "notebook") -> list[str]:
    """Human-readable differences between two notebooks' readable outputs ([] when they match)."""
    problems = []
    a, b = readable_outputs(stored, rules), readable_outputs(fresh, rules)
    if len(a) != len(b):
        return [f"{name}: {len(a)} code cells stored, {len(b)} in the fresh run"]
    sources = [c.source for c in fresh.cells if c.cell_type == "code"]
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            diff = "\n".join(difflib.unified_diff("\n".join(x).splitlines(), "\n".join(y).splitlines(),
                                                  "stored", "fresh", lineterm="", n=1))
            head = sources[i].splitlines()[0] if sources[i] else ""
            problems.append(f"{name}, code cell {i + 1} ({head[:60]!r}):\n{diff[:4000]}")
    return problems


@contextlib.contextmanager
def offline_environment():
    """DOCKER_HOST at a socket nothing listens on, DOCKERVIZ_RECORDING unset (auto), for this block."""
    saved = {k: os.environ.get(k) for k in ("DOCKER_HOST", "DOCKERVIZ_RECORDING", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY")}
    with tempfile.TemporaryDirectory(prefix="dockerviz-offline-") as tmp:
        os.environ["DOCKER_HOST"] = f"unix://{tmp}/nothing-listens-here.sock"
        for k in ("DOCKERVIZ_RECORDING", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY"):
            os.environ.pop(k, None)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def execute(path: Path, timeout: int = 300):
    """The notebook at path, executed (offline if the environment says so), with widget state."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def main(argv=None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare a fresh offline run with the stored outputs")
    parser.add_argument("notebooks", nargs="*", help="notebook file names (default: every NN-*.ipynb here)")
    args = parser.parse_args(argv)
    rules = sanitizers()
    failed = []
    with offline_environment():
        for path in notebooks(args.notebooks):
            started = time.monotonic()
            try:
                fresh = execute(path)
            except Exception as exc:  # a failing cell: report it, go on with the others
                failed.append(f"{path.name} did not run to the end:\n{str(exc)[-6000:]}")
                print(f"{path.name}: FAILED ({time.monotonic() - started:.1f} s)", flush=True)
                continue
            took = time.monotonic() - started
            if args.check:
                problems = compare(nbformat.read(path, as_version=4), fresh, rules, path.name)
                failed += problems
                print(f"{path.name}: {'DIFFERS' if problems else 'matches'} ({took:.1f} s)", flush=True)
            else:
                nbformat.write(fresh, path)
                print(f"{path.name}: executed offline and saved ({took:.1f} s)", flush=True)
    for p in failed:
        print("\n" + p)
    if failed:
        if args.check:
            print("\nIf the differences are expected, run `python notebooks/execute.py` and commit the notebooks.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
