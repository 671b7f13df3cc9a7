"""`dockerviz tour`: open the tour notebook in JupyterLab, live or on recorded data.

The notebooks ship with the repository (`notebooks/`, next to the package in
a checkout installed with `pip install -e .`). The tour copies them into a
folder of your own (default ~/dockerviz-tour; your edits there are kept on the
next run unless you pass --fresh), says whether a Docker daemon answers, and
starts JupyterLab on the first notebook:

* live: every cell builds, runs and measures on your daemon (containers are
  named dockerviz-demo-*, removed at the end of each notebook);
* offline: no daemon answered (or --offline), so the notebooks show data
  recorded on a real engine, and every view says so, with the date.

`dockerviz tour --run` executes the tour in the terminal instead (no browser)
and saves the executed copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .errors import DockervizError

TOUR = "01-images-and-containers.ipynb"
RECORDINGS = "recordings"
TOUR_RECORDING = "recordings/tour"
NOTEBOOKS_ENV = "DOCKERVIZ_NOTEBOOKS"
DEFAULT_DIR = Path("~/dockerviz-tour")

__all__ = ["main", "register", "find_notebooks", "prepare_workspace", "lab_command"]


def find_notebooks() -> Path:
    """The folder holding the shipped notebooks."""
    candidates = []
    if os.environ.get(NOTEBOOKS_ENV):
        candidates.append(Path(os.environ[NOTEBOOKS_ENV]).expanduser())
    package = Path(__file__).resolve().parent
    candidates.append(package.parent / "notebooks")  # a repository checkout (pip install -e .)
    candidates.append(package / "notebooks")  # packaged inside dockerviz
    candidates.append(Path(sys.prefix) / "share" / "dockerviz" / "notebooks")  # installed as shared data
    for c in candidates:
        if (c / TOUR).is_file():
            return c
    raise DockervizError(
        "The tour notebooks were not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). They ship with the repository: clone it and run `pip install -e .` there, "
        f"or point {NOTEBOOKS_ENV} at its notebooks/ folder."
    )


def prepare_workspace(source: Path, target: Path, *, fresh: bool = False) -> list[str]:
    """Copy the notebooks (NN-*.ipynb) into target; existing copies are kept unless fresh.
    Returns what was copied. Copies are marked trusted so their stored outputs render.
    The recordings they replay offline (recordings/) are always the shipped ones."""
    target.mkdir(parents=True, exist_ok=True)
    if (source / RECORDINGS).is_dir():
        shutil.copytree(source / RECORDINGS, target / RECORDINGS, dirs_exist_ok=True)
    for extra in (".dockerignore",):
        if (source / extra).is_file():
            shutil.copyfile(source / extra, target / extra)
    copied = []
    for nb in sorted(source.glob("[0-9][0-9]-*.ipynb")):
        dest = target / nb.name
        if dest.exists() and not fresh:
            continue
        shutil.copyfile(nb, dest)
        _trust(dest)
        copied.append(nb.name)
    return copied


def _trust(path: Path) -> None:
    try:
        import nbformat
        from nbformat.sign import NotebookNotary

        nb = nbformat.read(path, as_version=4)
        NotebookNotary().sign(nb)
    except Exception:  # trust only decides how stored outputs render; never fatal
        pass


def _mode(requested: str) -> tuple[str, str]:
    """(mode, sentence for the terminal)."""
    from . import engine
    from .recorder import Recording

    recording = Recording(find_notebooks() / TOUR_RECORDING, "replay" if requested == "offline" else requested)
    if recording.live:
        return "live", f"A Docker daemon answers at {engine.describe_host()}: the tour runs LIVE on it."
    why = "--offline was given" if requested == "offline" else f"no Docker daemon answered at {engine.describe_host()}"
    return "offline", f"OFFLINE ({why}): the tour shows data {recording.note.removesuffix(', not live')}; every view says so."


def _mode_environment(env, mode: str, requested: str):
    """Tell the notebooks' kernels the mode through DOCKERVIZ_RECORDING (env is changed in place)."""
    from .recorder import MODE_ENV

    if mode == "offline":
        env[MODE_ENV] = "replay"
    elif requested == "live":
        env[MODE_ENV] = "live"
    else:
        env.pop(MODE_ENV, None)  # each notebook checks again when it starts
    return env


def lab_command(workspace: Path, notebook: str, *, port: int | None = None, browser: bool = True) -> list[str]:
    """The command that starts JupyterLab (or, without it, Jupyter Notebook) on the notebook."""
    import importlib.util

    # default_url: the URL printed (and opened) is the notebook's, not the launcher's
    if importlib.util.find_spec("jupyterlab") is not None:
        cmd = [sys.executable, "-m", "jupyterlab", f"--LabApp.default_url=/lab/tree/{notebook}"]
    elif importlib.util.find_spec("notebook") is not None:
        cmd = [sys.executable, "-m", "notebook", f"--JupyterNotebookApp.default_url=/notebooks/{notebook}"]
    else:
        raise DockervizError(
            "JupyterLab is not installed in this environment: `pip install jupyterlab`, then run `dockerviz tour` "
            "again (or `dockerviz tour --run` to run the tour in the terminal)."
        )
    cmd += [f"--ServerApp.root_dir={workspace}", notebook]
    if port:
        cmd.append(f"--ServerApp.port={port}")
    if not browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def _run_headless(path: Path, out) -> int:
    """Execute the notebook in place, printing each cell's text as it goes."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True, record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    started = time.monotonic()
    status = 0
    with client.setup_kernel():
        for n, index in enumerate(code, 1):
            cell = nb.cells[index]
            t0 = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                out.write(f"cell {n}/{len(code)} FAILED:\n{exc}\n")
                status = 1
                break
            out.write(f"cell {n}/{len(code)} ok ({time.monotonic() - t0:.1f} s)\n")
            for o in cell.outputs:
                text = o.get("text") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain")
                if text:
                    out.write("    " + str(text).rstrip().replace("\n", "\n    ") + "\n")
            out.flush()
        client.set_widgets_metadata()
    nbformat.write(nb, path)
    out.write(f"{'ran' if not status else 'stopped'} after {time.monotonic() - started:.1f} s; "
              f"executed copy saved to {path}\n")
    return status


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--offline", action="store_true", help="show the recorded data even if a daemon answers")
    mode.add_argument("--live", action="store_true", help="run live; fail if no Docker daemon answers")
    parser.add_argument("--dir", metavar="DIR", default=None,
                        help=f"where to put your copy of the notebooks (default: {DEFAULT_DIR})")
    parser.add_argument("--fresh", action="store_true", help="replace your copies with the shipped notebooks")
    parser.add_argument("--port", type=int, default=None, help="JupyterLab's port (default: Jupyter's choice)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser; JupyterLab prints its URL")
    parser.add_argument("--run", action="store_true",
                        help="run the tour in the terminal (no JupyterLab) and save the executed copy")
    parser.add_argument("--dry-run", action="store_true", help="prepare the folder, print the command, start nothing")
    return parser


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(
        prog="dockerviz tour",
        description="Open the tour notebook (images against containers) in JupyterLab: live when a Docker "
                    "daemon answers, on recorded data otherwise."))


def run(args, out=None) -> int:
    """Do what the parsed arguments say (see build_parser)."""
    out = out or sys.stdout
    requested = "offline" if args.offline else ("live" if args.live else "auto")
    source = find_notebooks()
    workspace = Path(args.dir).expanduser() if args.dir else DEFAULT_DIR.expanduser()
    mode, sentence = _mode(requested)
    copied = prepare_workspace(source, workspace.resolve(), fresh=args.fresh)
    workspace = workspace.resolve()
    out.write(sentence + "\n")
    kept = "" if copied else " (your existing copies, kept; --fresh replaces them)"
    out.write(f"Notebooks: {workspace}{kept}\n")
    if args.run:
        _mode_environment(os.environ, mode, requested)  # the kernel inherits it
        out.write(f"Running {TOUR} in the terminal...\n")
        return _run_headless(workspace / TOUR, out)
    env = _mode_environment(dict(os.environ), mode, requested)
    cmd = lab_command(workspace, TOUR, port=args.port, browser=not args.no_browser)
    if args.dry_run:
        out.write(" ".join(cmd) + "\n")
        return 0
    out.write(f"Starting JupyterLab on {TOUR} (Ctrl-C twice to stop)...\n")
    out.flush()
    if os.name == "posix" and not getattr(args, "no_exec", False):
        # JupyterLab takes this process's place: signals reach it directly, nothing is left orphaned
        os.chdir(workspace)
        os.execve(cmd[0], cmd, env)
    try:
        return subprocess.call(cmd, cwd=workspace, env=env)
    except KeyboardInterrupt:
        return 130


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `tour` subcommand to the `dockerviz` command's subparsers (func=run)."""
    p = subparsers.add_parser("tour", help="open the tour notebook in JupyterLab (live, or recorded data)",
                              description=build_parser().description)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def main(argv=None) -> int:
    """`dockerviz tour [options]`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except DockervizError as exc:
        sys.stderr.write(f"dockerviz tour: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
