"""dockerviz.recording(): a notebook recorded live replays offline to the same outputs.

The end-to-end test writes a notebook from scratch (build, run, monitor and the
recording line), executes it on the test daemon with DOCKERVIZ_RECORDING=record,
then executes the same file again with DOCKER_HOST pointing at a socket
nothing listens on, and compares what a reader sees: stream text and
text/plain of every cell, and the HTML of the build and container views
without the recorded banner and the times. The unit tests need no daemon.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
from support.engine import offline_environ, pointing_nowhere

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "notebooks"))

import execute  # noqa: E402  (notebooks/execute.py: the sanitising rules and the runner)

TAG = "dockerviz-test/recording-scratch:1"
NAME = f"dockerviz-test-recording-{os.getpid()}"

CELLS = [
    "import dockerviz\n\ndockerviz.sample_image()\nrec = dockerviz.recording('recordings/scratch')\nprint(rec.mode)",
    # 1. build
    "result = dockerviz.build(dockerfile='FROM dockerviz-sample:latest\\nRUN echo built > /app/built.txt\\n',"
    f" tag={TAG!r}, network_mode='none')\nprint(result.status, len(result.steps), 'steps')",
    # 2. run
    f"c = dockerviz.run({TAG!r}, name={NAME!r}, network_mode='none')\nprint(c.name, c.state)\nc",
    # a container method
    "print(c.exec('cat /app/built.txt && echo changed > /app/data/new.txt'), end='')\n"
    "print([d['path'] for d in c.diff(refresh=True)])",
    # 3. monitor
    "usage = dockerviz.monitor([c], seconds=3)\nprint(len(usage.containers), 'container', usage.samples['container'].unique().tolist())",
    "c.remove()\nprint(c.state)",
]


def _notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _run(path: Path, env: dict):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return execute.execute(path, timeout=300)
    finally:
        os.environ.clear()
        os.environ.update(saved)


# the banner, and the views' own "recorded" marks beside the state they show
_BANNER = re.compile(r'<div class="dockerviz-recorded-banner".*?</div>|(?: &middot; )?<i style="[^"]*">recorded [^<]*</i>', re.S)
_TIMES = re.compile(r"\b\d+(\.\d+)?\s?(ms|s|min|h)\b|up( \d+[dhms])+|\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?( UTC|Z)?")


def _seen(nb) -> list[list[str]]:
    """Per cell: stream text and text/plain (sanitised as nbval does), and the cell's HTML
    without the banner and the times."""
    rules = execute.sanitizers()
    cells = []
    for cell in nb.cells:
        texts = []
        streams = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        texts.append(execute.sanitize(streams, rules))  # one text: the kernel may cut it differently each run
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/plain" in data:
                plain = "".join(data["text/plain"])
                texts.append(execute.sanitize(re.sub(r"^\[recorded data: [^\]]*\] ", "", plain), rules))
            if "text/html" in data:
                texts.append(_TIMES.sub("T", _BANNER.sub("", "".join(data["text/html"]))))
            if out.get("output_type") == "error":
                texts.append(f"error {out.get('ename')}: {out.get('evalue')}")
        cells.append(texts)
    return cells


def test_a_notebook_recorded_live_replays_offline_to_the_same_outputs(docker_engine, docker_client, tmp_path):
    path = _notebook(tmp_path / "scratch.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERVIZ_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if docker_engine.base_url:
        env["DOCKER_HOST"] = docker_engine.base_url
    try:
        live = _run(path, {**env, "DOCKERVIZ_RECORDING": "record"})
    finally:
        for c in docker_client.containers.list(all=True, filters={"name": NAME}):
            c.remove(force=True)
    doc = json.loads((tmp_path / "recordings" / "scratch" / "recording.json").read_text())
    assert doc["format"] == "dockerviz.recording" and doc["version"] == 1
    calls = [c["call"] for c in doc["calls"]]
    assert calls[:2] == ["build", "run"] and "monitor" in calls and "container.exec" in calls
    offline = _run(path, offline_environ(env, tmp_path))
    assert "".join(live.cells[0].outputs[0]["text"]) == "record\n"
    assert "".join(offline.cells[0].outputs[0]["text"]) == "replay\n"
    seen_live, seen_offline = _seen(live), _seen(offline)
    for i in range(1, len(CELLS)):
        diff = "\n".join(difflib.unified_diff("\n".join(seen_live[i]).replace(">", ">\n").splitlines(),
                                              "\n".join(seen_offline[i]).replace(">", ">\n").splitlines(),
                                              "live", "offline", lineterm="", n=1))
        assert not diff, f"cell {i} ({CELLS[i].splitlines()[0]}):\n{diff}"
    assert "built" in "".join(seen_offline[3]) and "/app/data/new.txt" in "".join(seen_offline[3])
    # offline, the views say they are recorded, with the date
    replayed = "".join("".join(o.get("data", {}).get("text/html", "")) for o in offline.cells[2].outputs)
    assert "Recorded data" in replayed and time.strftime("%Y-%m-%d", time.gmtime(doc["recorded_at"])) in replayed
    docker_client.images.remove(TAG, force=True)


# ---- without a daemon ---------------------------------------------------------------------------


def _write(folder: Path, calls: list, version: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recording.json").write_text(json.dumps({
        "format": "dockerviz.recording", "version": version, "recorded_at": 1764625200.0, "dockerviz": "0.1.0",
        "engine": {"version": "20.10.24", "api_version": "1.41", "os": "linux", "arch": "amd64"}, "calls": calls}))
    return folder


STATE = {"inspect": {"Id": "c" * 64, "Name": "/web", "Image": "sha256:" + "a" * 64,
                     "Config": {"Image": "web:1", "Env": ["PATH=/bin", "API_TOKEN=s3cr3t"]},
                     "State": {"Status": "running", "StartedAt": "2025-12-01T21:39:00Z"}},
         "state": "running", "sizes": {"size_rw": 5, "size_root_fs": 10, "image_size": 5}, "diff": [],
         "image": {"id": "sha256:" + "a" * 64, "reference": "web:1", "tags": ["web:1"], "history": []}}


def test_replay_needs_no_daemon_and_names_a_call_it_has_no_answer_for(tmp_path):
    import dockerviz

    paused = json.loads(json.dumps(STATE))
    paused["inspect"]["State"]["Status"] = "paused"
    folder = _write(tmp_path / "rec", [
        {"call": "run", "match": {"image": "web:1", "name": "web", "start": True}, "at": 1764625201.0, "answer": STATE},
        {"call": "container.pause", "match": {"container": "web"}, "at": 1764625202.0,
         "answer": {"result": None, "state": paused}},
    ])
    with pointing_nowhere(tmp_path):
        with dockerviz.recording(folder) as rec:
            assert rec.mode == "replay" and "OFFLINE" in repr(rec)
            web = dockerviz.run("web:1", name="web")
            assert web.state == "running" and web.recorded == rec.note and "2025-12-01 21:40 UTC" in rec.note
            assert web.pause() is web and web.state == "paused"
            assert web.allowed_actions() == set()
            with pytest.raises(dockerviz.RecordingError, match=r"container\.stop\(container='web', timeout=1\)"):
                web.stop(timeout=1)
            with pytest.raises(dockerviz.RecordingError, match=r"build\(tags=\['other:1'\]\).*no build call"):
                dockerviz.build(dockerfile="FROM scratch\n", tag="other:1")
            with pytest.raises(dockerviz.RecordingError, match=r"run\(image='web:1', name='db'"):
                dockerviz.run("web:1", name="db")
        # the block is over: the calls are live again, and there is no daemon
        with pytest.raises(dockerviz.DaemonUnavailableError):
            dockerviz.run("web:1", name="web")


def test_the_format_version_is_checked(tmp_path):
    import dockerviz

    with pointing_nowhere(tmp_path):
        with pytest.raises(dockerviz.RecordingError, match="version 2, written by a newer dockerviz"):
            dockerviz.recording(_write(tmp_path / "new", [], version=2), mode="replay")
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "recording.json").write_text('{"format": "dockerviz.usage", "version": 1}')
        with pytest.raises(dockerviz.RecordingError, match="not a dockerviz recording"):
            dockerviz.recording(tmp_path / "other", mode="replay")
        with pytest.raises(dockerviz.RecordingError, match="No recording in .*DOCKERVIZ_RECORDING=record"):
            dockerviz.recording(tmp_path / "missing")
        with pytest.raises(dockerviz.DockervizError, match="not 'sometimes'"):
            dockerviz.recording(tmp_path / "missing", mode="sometimes")
        with pytest.raises(dockerviz.DaemonUnavailableError, match="needs a Docker daemon"):
            dockerviz.recording(tmp_path / "missing", mode="record")


def test_what_a_recording_writes_masks_secrets_and_escapes_when_shown(tmp_path):
    from dockerviz.recorder.containers import masked

    hostile = json.loads(json.dumps(STATE))
    hostile["diff"] = [{"path": "/<img src=x onerror=alert(1)>", "kind": "added"}]
    assert masked(hostile)["inspect"]["Config"]["Env"][1].startswith("API_TOKEN=\u2022")
    import dockerviz

    folder = _write(tmp_path / "rec", [{"call": "run", "match": {"image": "web:1", "name": "web", "start": True},
                                         "at": 1764625201.0, "answer": masked(hostile)}])
    with pointing_nowhere(tmp_path), dockerviz.recording(folder):
        web = dockerviz.run("web:1", name="web")
        shown = web._repr_mimebundle_()["text/html"]
    assert "<img src=x" not in shown and "&lt;img src=x" in shown
    assert "s3cr3t" not in json.dumps(masked(hostile))


def test_live_and_recorded_kinds_share_one_interface():
    """ContainerView and UsageMonitor ask their backend, never whether they are recorded; each
    backend kind answers the same calls."""
    import ast
    import inspect as _inspect

    from dockerviz.building.result import BuildResult
    from dockerviz.containers import backend, monitor
    from dockerviz.containers.lifecycle import ContainerView
    from dockerviz.recorder.containers import RecordingContainer, ReplayedContainer

    for cls in (ContainerView, monitor.UsageMonitor, BuildResult):
        tree = ast.parse(_inspect.getsource(cls))
        for node in ast.walk(tree):
            if isinstance(node, (ast.If, ast.IfExp, ast.BoolOp)):
                names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                assert not names & {"recorded", "_recorded", "_snapshot"}, f"{cls.__name__} branches on being recorded"
    for kind in (backend.LiveContainer, backend.SnapshotContainer, RecordingContainer, ReplayedContainer):
        assert issubclass(kind, backend.ContainerBackend)
        assert kind.open is not backend.ContainerBackend.open and kind.perform is not backend.ContainerBackend.perform
    shared = {"rows", "errors", "stop", "wait", "engine_of", "facts", "recorded", "running", "version"}
    for kind in (monitor.LiveSamples, monitor.RecordedSamples):
        assert shared <= set(dir(kind)), kind
