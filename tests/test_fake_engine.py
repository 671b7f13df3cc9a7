"""The interactive classes without a daemon: the build runner, the daemon source, a container view
and the stats sampler, against tests/support/fake_engine.py answering with tests/data/fake_engine.json
(answers recorded from the real daemon; re-record with `python tests/support/fake_engine.py`).

Each test checks what dockerviz made of the answers against the recorded answers themselves."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest
from support import fake_engine
from support.fake_engine import FAKE_CONTAINER, SCENARIO_IMAGE, FakeEngine

import dockerviz


@pytest.fixture(scope="module")
def canned():
    return fake_engine.load()


@pytest.fixture
def fake(canned):
    with FakeEngine(canned) as engine:
        yield engine
    assert engine.misses == [], "requests the recording has no answer for"


def _answers(canned, method, pattern):
    found = [v for k, v in canned.items() if k.startswith(method + " ") and pattern in k]
    assert len(found) == 1, (pattern, list(canned))
    return found[0]


def test_build_runner_reads_the_recorded_build_stream(fake, canned, tmp_path):
    context = fake_engine.write_context(tmp_path / "ctx")
    result = dockerviz.build(str(context), tag=SCENARIO_IMAGE, builder="classic", engine=fake.url)
    stream = [json.loads(m) for m in _answers(canned, "POST", "/build")[0]["stream"]]
    said_id = next(m["aux"]["ID"] for m in stream if "aux" in m)
    steps = [m["stream"] for m in stream if m.get("stream", "").startswith("Step ")]
    assert result.succeeded and result.builder == "classic"
    assert result.image_id == said_id
    assert [s.instruction for s in result.step_list()] == [s.split(" : ", 1)[1].strip() for s in steps]
    assert len(result.step_list()) == len(fake_engine.DOCKERFILE.splitlines()) == 3


def test_daemon_source_reads_the_recorded_save_stream(fake, canned):
    img = dockerviz.analyze(SCENARIO_IMAGE, path="save-stream", cache=False, engine=fake.url)
    archive = fake_engine.body_bytes(_answers(canned, "GET", "/get")[0])
    names = set()
    with tarfile.open(fileobj=io.BytesIO(archive)) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer)) as inner:
                names |= {m.name.rstrip("/") for m in inner.getmembers()}
    assert img.path == "save-stream" and len(img.contents) == len(manifest[0]["Layers"]) == 2
    seen = {e.path.lstrip("/") for layer in img.contents for e in layer.entries}
    assert seen == names and {"hello.txt", "data/a.txt"} <= seen
    assert img.id == json.loads(_answers(canned, "GET", f"/images/{SCENARIO_IMAGE}/json")[0]["body"])["Id"]


def test_container_view_from_the_recorded_inspect(fake, canned):
    view = dockerviz.container(FAKE_CONTAINER, engine=fake.url)
    info = json.loads(_answers(canned, "GET", f"/containers/{FAKE_CONTAINER}/json")[0]["body"])
    assert view.id == info["Id"] and view.name == FAKE_CONTAINER
    assert view.state == info["State"]["Status"] == "running"
    assert view.image == info["Config"]["Image"] and view.recorded is None
    assert FAKE_CONTAINER in view.describe()


def test_sampler_computes_cpu_from_the_recorded_stats(fake, canned):
    view = dockerviz.container(FAKE_CONTAINER, engine=fake.url)
    messages = [json.loads(m) for m in _answers(canned, "GET", "/stats")[0]["stream"]]
    with dockerviz.monitor([view], interval=0.5, engine=fake.url) as mon:
        deadline = time.monotonic() + 10
        while len(mon.rows()) < len(messages) - 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    rows = mon.rows()
    assert len(rows) >= 1
    # CPU % as `docker stats` computes it, from the recorded counters of two consecutive samples
    expected = []
    for prev, cur in zip(messages, messages[1:]):
        cpu = cur["cpu_stats"]["cpu_usage"]["total_usage"] - prev["cpu_stats"]["cpu_usage"]["total_usage"]
        system = cur["cpu_stats"]["system_cpu_usage"] - prev["cpu_stats"]["system_cpu_usage"]
        expected.append(cpu / system * cur["cpu_stats"]["online_cpus"] * 100.0)
    got = [r[2] for r in rows if r[2] == r[2]]
    assert got and all(any(abs(g - e) < 0.01 for e in expected) for g in got), (got, expected)
