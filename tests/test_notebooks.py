"""The notebooks under nbval, live and offline, and their stored outputs.

- live: the daemon of the `docker_client` fixture (so under CI=true a missing
  daemon fails the test instead of skipping it), DOCKERVIZ_RECORDING=live so a
  kernel that cannot reach it fails loudly rather than falling back;
- offline: DOCKER_HOST at a socket nothing listens on, the mode left to the
  notebooks' own detection, as on Binder;
- stored outputs: a fresh offline run must read the same as what is committed
  (stream text, text/plain and text/html, after notebooks/sanitize.cfg).

In both nbval runs every cell runs; cells marked `# NBVAL_CHECK_OUTPUT` must
print what the committed (offline) notebook shows, so live and recorded runs
tell the same story; the assert cells check the real numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"
NAMES = ["01-images-and-containers.ipynb", "02-building-images.ipynb", "03-layers-and-diffs.ipynb",
         "04-resource-usage.ipynb", "05-sharing-state-and-scale.ipynb"]
TIMEOUT = 600  # seconds for one whole run of the five notebooks


def _nbval(env: dict) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           "--nbval-sanitize-with", str(SANITIZE.relative_to(REPO)), "--nbval-cell-timeout", "300",
           str(NOTEBOOKS.relative_to(REPO)) + "/"]
    return subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT)


def _report(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-12000:]}"


def _clean_env(base: dict) -> dict:
    env = dict(base)
    for k in ("DOCKERVIZ_RECORDING", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        env.pop(k, None)
    return env


def test_notebooks_are_all_here():
    found = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    assert found == NAMES
    assert SANITIZE.is_file()


def test_notebooks_live(docker_engine, docker_client):
    env = _clean_env(os.environ)
    if docker_engine.base_url:
        env["DOCKER_HOST"] = docker_engine.base_url
    env["DOCKERVIZ_RECORDING"] = "live"
    # chapter 5's arm64 image: Debian's busybox-static:arm64 (fetched by the test support once)
    from support.producers import arm64_busybox

    env["DOCKERVIZ_ARM64_BUSYBOX"] = str(arm64_busybox())
    dangling = {i.id for i in docker_client.images.list(filters={"dangling": True})}
    tagged_before = _tour_image_ids(docker_client)
    proc = _nbval(env)
    assert proc.returncode == 0, _report(proc)
    assert " passed" in proc.stdout and " failed" not in proc.stdout, _report(proc)
    # nothing the notebooks made is left running
    left = docker_client.containers.list(all=True, filters={"name": "dockerviz-demo-", "label": "dockerviz.managed=1"})
    assert [c.name for c in left] == []
    # chapter 5 left no volume and no registry-named tag behind (its lab cell, checked against the
    # recording, says that every piece was there: registry, Podman, arm64 busybox, binfmt)
    assert docker_client.volumes.list(filters={"label": "dockerviz.managed=1", "name": "dockerviz-demo-"}) == []
    assert not [r for i in docker_client.api.images() for r in (i.get("RepoTags") or []) + (i.get("RepoDigests") or [])
                if r.startswith("127.0.0.1:")]
    # and rebuilding the tour's tags left no untagged images behind
    new = {i.id for i in docker_client.images.list(filters={"dangling": True})} - dangling
    ours = _made_by_the_tour(docker_client, new, tagged_before | _tour_image_ids(docker_client))
    assert not ours, f"untagged images left by the notebooks: {sorted(ours)}"


TOUR_TAGS = ("dockerviz-demo/", "dockerviz-sample:")


def _tour_image_ids(client) -> set[str]:
    return {i.id for i in client.images.list() if any(t.startswith(TOUR_TAGS) for t in i.tags)}


def _made_by_the_tour(client, candidates: set[str], tour_ids: set[str]) -> set[str]:
    """The untagged images among `candidates` that the notebooks made: once tagged by them, built on
    the sample image's layers, or a step of a build whose chain reaches one of their images. Other
    suites on a shared daemon leave untagged images of their own; those are not the tour's."""
    sample = client.images.get("dockerviz-sample:latest").attrs["RootFS"]["Layers"]
    ours = set()
    for iid in candidates:
        try:
            attrs = client.images.get(iid).attrs
        except Exception:  # removed meanwhile: nothing left behind
            continue
        parent, seen = attrs.get("Parent") or "", 0
        while parent and parent not in tour_ids and seen < 200:
            try:
                parent = client.images.get(parent).attrs.get("Parent") or ""
            except Exception:
                parent = ""
            seen += 1
        if iid in tour_ids or attrs["RootFS"]["Layers"][:len(sample)] == sample or parent in tour_ids:
            ours.add(iid)
    return ours


def test_notebooks_offline(offline_env):
    proc = _nbval(_clean_env(offline_env))
    assert proc.returncode == 0, _report(proc)
    assert " passed" in proc.stdout and " failed" not in proc.stdout, _report(proc)


def test_stored_outputs_match_a_fresh_offline_run(offline_env):
    proc = subprocess.run([sys.executable, str(NOTEBOOKS / "execute.py"), "--check"], cwd=REPO,
                          env=_clean_env(offline_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, _report(proc)
    assert proc.stdout.count("matches") == len(NAMES), _report(proc)


def test_committed_notebooks_are_executed_offline_with_widget_state():
    import nbformat

    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.get("execution_count") for c in code), f"{name}: not fully executed"
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], f"{name}: stored errors"
        first = "".join(o.get("data", {}).get("text/plain", "") for o in code[0].outputs)
        assert "OFFLINE" in first and "recorded" in first, f"{name}: not executed in offline mode"
        state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        assert state.get("state"), f"{name}: no widget state saved"
        views = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for c in code for o in c.outputs
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert views and all(v in state["state"] for v in views), f"{name}: a widget's state is missing"


def test_the_notebooks_use_only_the_public_api_and_the_recording_line():
    import ast

    import nbformat

    import dockerviz

    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))  # magics
        imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(str(m).startswith("dockerviz") for m in modules), f"{name}: imports from inside dockerviz"
        assert "dockerviz" in imported
        used = {n.attr for n in ast.walk(tree)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "dockerviz"}
        assert used <= set(dir(dockerviz)), f"{name}: {used - set(dir(dockerviz))}"
        assert 'dockerviz.recording("recordings/' in nb.cells[1].source or \
               'dockerviz.recording("recordings/' in [c for c in nb.cells if c.cell_type == "code"][0].source


def test_recorded_mode_needs_no_daemon_and_says_when(offline, monkeypatch):
    import dockerviz

    monkeypatch.delenv("DOCKERVIZ_RECORDING", raising=False)
    with dockerviz.recording(NOTEBOOKS / "recordings" / "tour") as rec:
        assert rec.mode == "replay"
        assert "OFFLINE" in rec.describe() and "recorded" in rec.describe()
        a = dockerviz.run("dockerviz-demo/tour:1", name="dockerviz-demo-tour-a", network_mode="none")
        assert a.recorded == rec.note and a.state == "running"
        bundle = a._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert "Recorded data" in bundle["text/html"] and rec.note in bundle["text/html"]
        assert bundle["text/plain"].startswith("[recorded data:")
        mon = dockerviz.monitor([a, "dockerviz-demo-tour-b"])
        assert mon.recorded and len(mon.rows()) > 0
        build = dockerviz.build(dockerfile="unused offline", tag="dockerviz-demo/tour:1")
        assert build.succeeded and "Recorded data" in build._repr_mimebundle_()["text/html"]


def test_build_results_round_trip_through_json():
    from dockerviz.building.result import BuildResult
    from dockerviz.errors import BuildError
    from dockerviz.recorder.builds import build_document, build_from_document

    r = BuildResult(tags=["x:1"], builder="classic")
    r._step("a", step=1, instruction="FROM scratch", status="done", started=10.0, completed=10.5)
    r._step("b", step=2, instruction="RUN false", status="failed", started=10.5, completed=11.0)
    r._log_text("boom <script>\n", stderr=True, step=2, when=11.0)
    r._finish("failed", BuildError("step 2 failed", step=2, instruction="RUN false", exit_code=1, log_tail=["boom"]))
    doc = json.loads(json.dumps(build_document(r, dockerfile_text="FROM scratch\nRUN false\n")))
    back = build_from_document(doc, recorded="a note")
    assert back.status == "failed" and back.tags == ["x:1"] and back.builder == "classic"
    assert back.steps[["step", "instruction", "status"]].values.tolist() == [[1, "FROM scratch", "done"],
                                                                         [2, "RUN false", "failed"]]
    assert back.error.exit_code == 1 and back.error.step == 2 and back.error.log_tail == ["boom"]
    assert back.error.result is back and back.recorded == "a note"
    assert "boom <script>" in back.log
    assert back.seconds == pytest.approx(r.seconds)


def test_blanked_archive_analyses_like_the_original(tmp_path):
    """The sample archive, blanked, gives the same analysis (headers are all it reads)."""
    import gzip

    import dockerviz
    from dockerviz.recorder.blank import write_blank_archive
    from dockerviz.samples import SAMPLE_ARCHIVE

    with gzip.open(SAMPLE_ARCHIVE, "rb") as f:
        data = f.read()
    out = write_blank_archive([data[i:i + 65536] for i in range(0, len(data), 65536)], tmp_path / "blank.tar.gz")
    assert out.stat().st_size < SAMPLE_ARCHIVE.stat().st_size / 20
    a, b = dockerviz.analyze(str(SAMPLE_ARCHIVE)), dockerviz.analyze(str(out))
    assert (a.id, a.size_bytes, a.efficiency, a.inefficient_bytes, a.reclaimable_bytes) == \
           (b.id, b.size_bytes, b.efficiency, b.inefficient_bytes, b.reclaimable_bytes)
    assert a.layers.equals(b.layers)
    assert a.waste.equals(b.waste)


RECORDINGS = NOTEBOOKS / "recordings"


def test_recordings_stay_small():
    """Bytes per notebook (recording.json and its blanked archives), and all of them."""
    sizes = {d.name: sum(f.stat().st_size for f in d.iterdir() if f.is_file()) for d in RECORDINGS.iterdir()}
    assert sorted(sizes) == ["builds", "layers", "sharing", "tour", "usage"]
    assert all(0 < n < 250_000 for n in sizes.values()), sizes
    assert sum(sizes.values()) < 600_000, sizes


# ---- dockerviz tour --------------------------------------------------------------------------


def _tour(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dockerviz.tour", *args], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)


def test_tour_offline_prepares_a_workspace_and_opens_the_tour_notebook(offline_env, tmp_path):
    env = _clean_env(offline_env)
    proc = _tour(["--dir", str(tmp_path / "tour"), "--dry-run", "--no-browser", "--port", "8765"], env)
    assert proc.returncode == 0, proc.stdout
    assert "OFFLINE" in proc.stdout and "recorded" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "tour").glob("*.ipynb")) == NAMES
    last = proc.stdout.strip().splitlines()[-1]
    assert "jupyterlab" in last and "--LabApp.default_url=/lab/tree/01-images-and-containers.ipynb" in last
    assert "--no-browser" in last and "--ServerApp.port=8765" in last
    # a second run keeps the user's edits; --fresh replaces them
    mine = tmp_path / "tour" / NAMES[0]
    mine.write_text(mine.read_text().replace("Images and containers: a tour", "My notes"))
    assert _tour(["--dir", str(tmp_path / "tour"), "--dry-run"], env).returncode == 0
    assert "My notes" in mine.read_text()
    assert _tour(["--dir", str(tmp_path / "tour"), "--dry-run", "--fresh"], env).returncode == 0
    assert "My notes" not in mine.read_text()


def test_tour_live_is_refused_without_a_daemon(offline_env, tmp_path):
    proc = _tour(["--dir", str(tmp_path / "tour"), "--live", "--dry-run"], _clean_env(offline_env))
    assert proc.returncode == 2 and "needs a Docker daemon" in proc.stdout


def test_tour_runs_in_the_terminal_offline(offline_env, tmp_path):
    proc = _tour(["--dir", str(tmp_path / "tour"), "--run"], _clean_env(offline_env))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "FAILED" not in proc.stdout and "cell 18/18 ok" in proc.stdout
    assert "image id unchanged: True" in proc.stdout


def test_tour_live_mode_is_chosen_when_a_daemon_answers(docker_engine, docker_client, tmp_path):
    env = _clean_env(os.environ)
    if docker_engine.base_url:
        env["DOCKER_HOST"] = docker_engine.base_url
    proc = _tour(["--dir", str(tmp_path / "tour"), "--dry-run"], env)
    assert proc.returncode == 0 and "LIVE" in proc.stdout, proc.stdout


def test_a_blanked_recording_is_still_checked_against_what_it_names(tmp_path):
    """dockerviz-blanked.json names what each blanked layer hashes to: a layer altered after
    blanking is refused like an altered layer of any archive."""
    import gzip
    import io
    import tarfile

    import dockerviz
    from dockerviz.errors import IntegrityError

    layers = json.loads((RECORDINGS / "layers" / "recording.json").read_text())
    after = next(c for c in layers["calls"] if c["call"] == "analyze" and c["match"]["source"].endswith(":after"))
    src = RECORDINGS / "layers" / after["answer"]["archive"]
    assert dockerviz.analyze(str(src), cache=False).size_bytes > 0
    out = tmp_path / "altered.tar.gz"
    with tarfile.open(src) as tar, gzip.open(out, "wb") as gz, tarfile.open(fileobj=gz, mode="w:") as dst:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isreg() else None
            if data is not None and member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                    file = next((m for m in inner.getmembers() if m.isreg() and m.size), None)
                if file is not None:  # one byte of a (blanked) file's contents
                    data = data[:file.offset_data] + b"\x01" + data[file.offset_data + 1:]
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    with pytest.raises(IntegrityError):
        dockerviz.analyze(str(out), cache=False)
