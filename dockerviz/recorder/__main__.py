"""python -m dockerviz.recorder record [FOLDER|NOTEBOOK...]: record notebooks on the daemon at hand.

Each notebook runs from its own folder with DOCKERVIZ_RECORDING=record, so its
`dockerviz.recording(...)` line writes the recording it names. The default is
the notebooks/ folder of this checkout (every NN-*.ipynb in it).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .session import MODE_ENV


def _notebooks(args: list[str]) -> list[Path]:
    if not args:
        args = [str(Path(__file__).resolve().parents[2] / "notebooks")]
    found: list[Path] = []
    for a in args:
        p = Path(a)
        found += sorted(p.glob("[0-9][0-9]-*.ipynb")) if p.is_dir() else [p]
    return found


def record(paths: list[Path], timeout: int = 600) -> None:
    import nbformat
    from nbclient import NotebookClient

    if not paths:
        raise SystemExit("No notebooks to record.")
    saved = os.environ.get(MODE_ENV)
    os.environ[MODE_ENV] = "record"
    try:
        for p in paths:
            started = time.monotonic()
            nb = nbformat.read(p, as_version=4)
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(p.parent)}}).execute()
            print(f"recorded {p} in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        if saved is None:
            os.environ.pop(MODE_ENV, None)
        else:
            os.environ[MODE_ENV] = saved


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["record"]:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    record(_notebooks(argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
