"""dockerviz's dive-compatible numbers against dive 0.13.1 itself.

For each test image, from the daemon and from its `docker save` archive:
`python -m dockerviz analyze SOURCE --json F` must give dive's per-layer sizes,
efficiency score (to 1e-9), inefficient bytes and inefficient files. dive's own
test archive must give the numbers its test suite expects, CI rules included.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO_ROOT, images
from support.dive import run_dive, summarize

CLI_TIMEOUT = 900
IMAGES = [*images.PARITY_IMAGES, *images.DEBIAN_IMAGES]


def _id(tag: str) -> str:
    return tag.split("/", 1)[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dockerviz", *args],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        timeout=CLI_TIMEOUT,
    )


def dockerviz_export(source, tmp_path) -> dict:
    out = tmp_path / "dockerviz.json"
    r = run_cli("analyze", str(source), "--json", str(out))
    assert r.returncode == 0, f"dockerviz analyze {source} exited {r.returncode}:\n{r.stdout[-3000:]}"
    with open(out, encoding="utf-8", errors="surrogateescape") as f:
        return json.load(f)


def assert_same_numbers(ours: dict, theirs: dict) -> None:
    assert ours["layerSizeBytes"] == theirs["layerSizeBytes"]
    assert ours["sizeBytes"] == theirs["sizeBytes"]
    assert ours["inefficientBytes"] == theirs["inefficientBytes"]
    assert ours["efficiencyScore"] == pytest.approx(theirs["efficiencyScore"], rel=0, abs=1e-9)
    assert ours["inefficientFiles"] == theirs["inefficientFiles"]


@pytest.mark.parametrize("tag", IMAGES, ids=_id)
def test_same_as_dive_from_daemon(test_images, tag, tmp_path):
    theirs = summarize(run_dive(tag))
    ours = summarize(dockerviz_export(tag, tmp_path))
    assert_same_numbers(ours, theirs)


@pytest.mark.parametrize("tag", IMAGES, ids=_id)
def test_same_as_dive_from_archive(saved_archive, tag, tmp_path):
    archive = saved_archive(tag)
    theirs = summarize(run_dive(archive))
    ours = summarize(dockerviz_export(archive, tmp_path))
    assert_same_numbers(ours, theirs)


# --- dive's own test image --------------------------------------------------------


@pytest.fixture(scope="module")
def dive_fixture(shared_fixtures):
    folder = shared_fixtures / "dive-test-image"
    expected = json.loads((folder / "expected.json").read_text())
    return folder / "test-docker-image.tar", expected


def _expected_numbers(expected: dict) -> dict:
    return {
        "layerSizeBytes": expected["layerSizeBytes"],
        "sizeBytes": expected["sizeBytes"],
        "inefficientBytes": expected["inefficientBytes"],
        "efficiencyScore": expected["efficiencyScore"],
        "inefficientFiles": sorted((f["file"], f["count"], f["sizeBytes"]) for f in expected["inefficientFiles"]),
    }


def test_dive_fixture_expected_by_dive_itself(dive_fixture):
    archive, expected = dive_fixture
    assert_same_numbers(summarize(run_dive(archive)), _expected_numbers(expected))


def test_dive_fixture_numbers(dive_fixture, tmp_path):
    """Every number dive's own tests expect of its fixture, from `dockerviz analyze --json`."""
    archive, expected = dive_fixture
    export = dockerviz_export(archive, tmp_path)
    assert_same_numbers(summarize(export), _expected_numbers(expected))
    image = export["image"]
    assert image["userSizeBytes"] == expected["userSizeBytes"]
    assert image["wastedUserPercent"] == pytest.approx(expected["wastedUserPercent"], rel=0, abs=1e-12)
    assert len(export["layer"]) == expected["layers"]
    # dive's file count: every entry of every layer tar, whiteouts included
    import dockerviz

    img = dockerviz.analyze(str(archive), cache=False)
    assert sum(len(c.entries) + len(c.whiteouts) for c in img.contents) == expected["files"]


CI_KEYS = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")


def test_dive_fixture_ci_rules(dive_fixture):
    archive, expected = dive_fixture
    assert expected["ciRules"], "expected.json lists no CI rule cases"
    problems = []
    for rule in expected["ciRules"]:
        args = ["analyze", str(archive), "--ci"]
        args += ["--lowest-efficiency", str(rule["lowestEfficiency"])]
        args += ["--highest-wasted-bytes", str(rule["highestWastedBytes"])]
        args += ["--highest-user-wasted-percent", str(rule["highestUserWastedPercent"])]
        r = run_cli(*args)
        fails = rule["fails"]
        if (r.returncode != 0) != bool(fails):
            problems.append(f"{rule}: exit status {r.returncode}, expected {'non-zero' if fails else '0'}:\n{r.stdout[-2000:]}")
            continue
        missing = [k for k in fails if k not in r.stdout]
        if missing:
            problems.append(f"{rule}: output does not name failing rule(s) {missing}:\n{r.stdout[-2000:]}")
    assert not problems, "\n\n".join(problems)


def test_a_repeated_layer_in_an_engine25_archive_counts_as_dive_reads_it(saved_archive, tmp_path):
    """Engine 25+ `docker save` lists a repeated layer's blob twice instead of linking to it; dive then
    reads the repeat in full (a link it reads as empty). parity-names repeats one layer exactly."""
    import shutil

    from support.engine29 import as_engine25_save

    with open(saved_archive(images.t("parity-names")), "rb") as legacy, as_engine25_save(legacy) as rewritten:
        rewritten.seek(0)
        archive = tmp_path / "engine25.tar"
        with open(archive, "wb") as out:
            shutil.copyfileobj(rewritten, out)
    theirs = summarize(run_dive(archive))
    ours = summarize(dockerviz_export(archive, tmp_path))
    assert_same_numbers(ours, theirs)
    # an engine that links the repeat (Engine < 25) gets dive's empty reading of the link instead
    import tarfile

    saved = saved_archive(images.t("parity-names"))
    with tarfile.open(saved) as tar:
        links = any(m.issym() and m.name.endswith("layer.tar") for m in tar)
    if links:
        assert summarize(run_dive(saved))["layerSizeBytes"] != theirs["layerSizeBytes"]
