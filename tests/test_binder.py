"""Binder: a fresh virtual environment from binder/requirements.txt alone runs every notebook offline.

As repo2docker does: `pip install -r binder/requirements.txt` from the
repository root (its last line, `.`, installs dockerviz itself, not in
editable mode), then binder/start in front of the command. The notebooks run
from a copy outside the repository, so only what the requirements installed
can be imported, with no daemon (DOCKER_HOST at a socket nothing listens on);
their outputs must read like the committed ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 600


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_binder_files_are_as_repo2docker_wants():
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert reqs[-1] == "."
    assert all("==" in r for r in reqs[:-1]), "every requirement is pinned"
    start = (BINDER / "start").read_text()
    assert start.startswith("#!") and os.access(BINDER / "start", os.X_OK)
    assert start.rstrip().splitlines()[-1] == 'exec "$@"'


def test_binder_start_selects_offline_without_a_daemon(offline_env):
    env = dict(offline_env)
    env.pop("DOCKERVIZ_RECORDING", None)
    proc = _run(["bash", str(BINDER / "start"), "sh", "-c", 'echo "mode=$DOCKERVIZ_RECORDING"'], env=env, cwd=REPO,
                timeout=60)
    assert proc.returncode == 0, proc.stdout
    assert "mode=replay" in proc.stdout


def test_fresh_venv_from_binder_requirements_runs_every_notebook_offline(tmp_path, offline_env):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_REQUIRE", "VIRTUAL_ENV"))}
    proc = _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                 "--progress-bar", "off", "-r", str(BINDER / "requirements.txt")],
                cwd=REPO, env=clean, timeout=INSTALL_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-8000:]

    work = tmp_path / "work"
    shutil.copytree(REPO / "notebooks", work / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = {k: v for k, v in offline_env.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DOCKERVIZ_"))}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(env_dir)
    env["JUPYTER_PATH"] = str(env_dir / "share" / "jupyter")  # the venv's kernel, whatever else is installed

    where = _run(["bash", str(BINDER / "start"), "python", "-c",
                  "import os, dockerviz; print(dockerviz.__file__); print('mode', os.environ.get('DOCKERVIZ_RECORDING'))"],
                 cwd=work, env=env, timeout=120)
    assert where.returncode == 0, where.stdout
    assert str(env_dir) in where.stdout and "mode replay" in where.stdout, where.stdout

    proc = _run(["bash", str(BINDER / "start"), "python", str(work / "notebooks" / "execute.py"), "--check"],
                cwd=work, env=env, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-12000:]
    assert proc.stdout.count("matches") == len(list((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))), proc.stdout
