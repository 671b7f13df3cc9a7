"""A JupyterLab 4 (and Notebook 7) server for browser tests.

`jupyter_server(root)` starts `jupyter lab` on 127.0.0.1 on a free port with
no token and no password, serving `root` (a temporary folder), waits until it
answers, and kills it (its whole process group: the server and its kernels)
at the end. Settings and workspaces live under `root` too, so a run never
sees another run's theme or layout. Notebook 7 is served by the same server
at /tree and /notebooks/NAME.ipynb when the `notebook` package is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import REPO_ROOT

START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    def __init__(self, root: Path, port: int, proc: subprocess.Popen, log_path: Path):
        self.root = Path(root)
        self.port = port
        self.proc = proc
        self.log_path = log_path
        self.base = f"http://127.0.0.1:{port}"

    def lab_url(self, notebook: str) -> str:
        """The notebook alone in a workspace of its own (a shared one would reopen earlier tabs)."""
        workspace = "".join(c if c.isalnum() else "-" for c in notebook)
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}"

    def tree_url(self) -> str:
        """Notebook 7's file browser."""
        return f"{self.base}/tree"

    def notebook_url(self, notebook: str) -> str:
        return f"{self.base}/notebooks/{notebook}"

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """Write a notebook of code cells (the first puts the repository on sys.path); returns its name."""
        setup = f"import sys\nsys.path.insert(0, {str(REPO_ROOT)!r})"
        nb = {
            "cells": [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
                      for src in [setup, *cells]],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(nb), encoding="utf-8")
        return name

    def shutdown_kernels(self) -> None:
        """End every session (and its kernel) of this server."""
        try:
            with urllib.request.urlopen(f"{self.base}/api/sessions", timeout=10) as r:
                sessions = json.load(r)
        except (urllib.error.URLError, OSError, ValueError):
            return
        for session in sessions:
            req = urllib.request.Request(f"{self.base}/api/sessions/{session['id']}", method="DELETE")
            with contextlib.suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(req, timeout=10).close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _settings(root: Path) -> Path:
    """User settings for the test server: no news fetch, no update check, light theme to start."""
    settings = root / ".jupyter-settings"
    for rel, value in {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
        "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"theme": "JupyterLab Light"},
        # with kernels of other notebooks running, Lab would otherwise ask which kernel to use
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    }.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")
    return settings


@contextlib.contextmanager
def jupyter_server(root, *, timeout: float = START_TIMEOUT, env: dict | None = None):
    """Start JupyterLab serving `root`; yield a JupyterServer; kill it at the end."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = _settings(root)
    workspaces = root / ".jupyter-workspaces"
    workspaces.mkdir(exist_ok=True)
    log_path = root / ".jupyter-server.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
        "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",
        "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
    ]
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    run_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), run_env.get("PYTHONPATH", "")) if p)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=run_env, start_new_session=True)
    server = JupyterServer(root, port, proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log()}")
            try:
                with urllib.request.urlopen(f"{server.base}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{server.log()}")
            time.sleep(0.3)
        yield server
    finally:
        server.stop()
