"""The command line: light imports on the JSON path, clear errors, CI exit codes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dockerviz
from dockerviz.errors import DaemonUnavailableError, ImageNotFoundError
from dockerviz.samples import sample_archive

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None, timeout=120, cwd=REPO):
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "dockerviz", *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=cwd)


def main_in_fresh_process(argv: list) -> dict:
    """Run dockerviz.cli.main(argv) in a new interpreter: {"rc", "heavy": widget/plot/table modules it loaded}."""
    probe = (
        "import sys, json\n"
        "from dockerviz.cli import main\n"
        f"rc = main({argv!r})\n"
        "heavy = sorted(m for m in ('ipywidgets', 'matplotlib', 'pandas', 'anywidget') if m in sys.modules)\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert out.stdout.strip(), out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_json_path_imports_no_widget_or_plot_library(tmp_path):
    result = main_in_fresh_process(["analyze", str(sample_archive()), "--json", str(tmp_path / "o.json"), "-q",
                                    "--no-cache"])
    assert result == {"rc": 0, "heavy": []}
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["image"]["reclaimableBytes"] > 0
    assert [l["index"] for l in data["layer"]] == list(range(len(data["layer"])))


def test_sample_archive_report_shows_what_dive_misses():
    img = dockerviz.analyze(sample_archive(), cache=False)
    # The sample deletes a 256 KiB download in a later step: dive does not count a
    # deleted directory's contents, the exact accounting does.
    assert img.reclaimable_bytes >= 262144
    assert img.inefficient_bytes < 262144
    waste = img.waste
    assert "/tmp/download/dataset.bin" in set(waste["path"])
    row = waste[waste["path"] == "/tmp/download/dataset.bin"].iloc[0]
    assert row["how"] == "deleted" and row["hidden_by"] > row["written_by"]


def test_no_daemon_is_reported_quickly_with_what_to_do(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"}
    start = time.monotonic()
    proc = run_cli("analyze", "busybox:latest", env=env, timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2
    assert "DOCKER_HOST" in proc.stderr and "dockerd" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 15  # generous: interpreter start-up included; the connect itself is bounded at 5 s


def test_no_daemon_python_api(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(DaemonUnavailableError, match="DOCKER_HOST"):
        dockerviz.analyze("some/image:tag", cache=False)


def test_unknown_image(docker_client):
    with pytest.raises(ImageNotFoundError, match="docker images"):
        dockerviz.analyze("dockerviz-test/does-not-exist:never", cache=False)


def test_json_to_a_path_that_cannot_be_written_is_a_clear_error(tmp_path):
    target = tmp_path / "no-such-folder" / "out.json"
    r = run_cli("analyze", sample_archive(), "--json", str(target), "-q", "--no-cache")
    assert r.returncode != 0 and not target.exists()
    assert f"--json {target}: cannot be written" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_ci_rules_and_bad_thresholds():
    ok = run_cli("analyze", sample_archive(), "--ci", "-q", "--no-cache", "--lowest-efficiency", "0.5")
    assert ok.returncode == 0, ok.stderr
    assert "PASS: lowestEfficiency" in ok.stdout
    fail = run_cli("analyze", sample_archive(), "--ci", "-q", "--no-cache", "--highest-wasted-bytes", "100")
    assert fail.returncode == 1
    assert "FAIL: highestWastedBytes" in fail.stdout
    bad = run_cli("analyze", sample_archive(), "--ci", "-q", "--no-cache", "--lowest-efficiency", "90")
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr


DIVE_CI = """\
# as dive documents it
rules:
  # If the efficiency is measured below X%, mark as failed.
  lowestEfficiency: 0.5
  highestWastedBytes: "100"   # bytes
  highestUserWastedPercent: disabled
"""


def test_dive_ci_config_file_drives_the_rules_and_options_override_it(tmp_path):
    (tmp_path / ".dive-ci").write_text(DIVE_CI)
    archive = str(sample_archive())
    found = run_cli("analyze", archive, "--ci", "-q", "--no-cache", cwd=tmp_path)  # ./.dive-ci, as dive reads it
    assert found.returncode == 1, found.stderr
    assert "PASS: lowestEfficiency" in found.stdout and "FAIL: highestWastedBytes" in found.stdout
    assert "SKIP: highestUserWastedPercent" in found.stdout
    overridden = run_cli("analyze", archive, "--ci", "-q", "--no-cache", "--highest-wasted-bytes", "disabled",
                         cwd=tmp_path)
    assert overridden.returncode == 0 and "SKIP: highestWastedBytes" in overridden.stdout
    (tmp_path / "strict.yaml").write_text("rules:\n  lowestEfficiency: 1\n")  # the sample wastes 282 bytes
    named = run_cli("analyze", archive, "--ci", "-q", "--no-cache", "--ci-config", "strict.yaml", cwd=tmp_path)
    assert named.returncode == 1 and "FAIL: lowestEfficiency" in named.stdout
    assert "SKIP: highestWastedBytes" in named.stdout  # dive's default for the rules the file leaves out
    missing = run_cli("analyze", archive, "--ci", "-q", "--no-cache", "--ci-config", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml does not exist" in missing.stderr
    (tmp_path / "bad.yaml").write_text("rules:\n  lowestEfficency: 0.9\n")
    bad = run_cli("analyze", archive, "--ci", "-q", "--no-cache", "--ci-config", "bad.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "line 2" in bad.stderr and "lowestEfficency" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_diff_command_reports_layers_files_and_config_without_pandas(tmp_path):
    """`dockerviz diff A B`: container-diff's file, layer and metadata answers, from two archives."""
    from support.synth import layer_tar, legacy_archive, write

    base = layer_tar([("dir", "etc"), ("file", "etc/conf", 100), ("file", "etc/old", 7)])
    a = write(tmp_path / "a.tar", legacy_archive(
        [base, layer_tar([("file", "app", 50)])], [{"created_by": "base"}, {"created_by": "RUN make app"}],
        tags=("app:1",)))
    b_layers = [base, layer_tar([("file", "app", 60), ("whiteout", "etc/old"), ("file", "etc/new", 5, 0o755)])]
    b = write(tmp_path / "b.tar", legacy_archive(b_layers, [{"created_by": "base"}, {"created_by": "RUN make app v2"}],
                                                 tags=("app:2",)))
    assert main_in_fresh_process(["diff", a, b, "--json", str(tmp_path / "d.json"), "-q", "--no-cache"]) == {
        "rc": 0, "heavy": []}
    data = json.loads((tmp_path / "d.json").read_text())
    assert (data["a"]["name"], data["b"]["name"]) == ("app:1", "app:2")
    assert [(r["status"], r["index_a"], r["index_b"]) for r in data["layers"]] == [
        ("shared", 0, 0), ("only in A", 1, None), ("only in B", None, 1)]
    files = {r["path"]: r for r in data["files"]}
    assert set(files) == {"/app", "/etc/old", "/etc/new"}
    assert (files["/app"]["change"], files["/app"]["size_delta"], files["/app"]["what"]) == ("changed", 10, "size")
    assert files["/etc/old"]["change"] == "removed" and files["/etc/new"]["change"] == "added"
    assert files["/etc/new"]["mode_b"] == 0o755
    assert (data["summary"]["added"], data["summary"]["removed"], data["summary"]["changed"]) == (1, 1, 1)
    text = run_cli("diff", a, b, "-q", "--no-cache", "--type", "file")
    assert text.returncode == 0, text.stderr
    assert "Files: 1 added, 1 removed, 1 changed" in text.stdout and "Layers:" not in text.stdout
    assert "+ /etc/new  5 B" in text.stdout and "~ /app  50 B -> 60 B  (size)" in text.stdout
    bad = run_cli("diff", a, b, "--type", "packages")
    assert bad.returncode == 2 and "--type takes layer, file, config" in bad.stderr


def test_host_option_names_the_daemon_over_docker_host(docker_client, tmp_path):
    from support import images

    want = images.build(docker_client, images.BUSYBOX)
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock", "DOCKER_CONTEXT": "no-such-context"}
    proc = run_cli("analyze", want.id, "-H", "unix:///var/run/docker.sock", "--no-cache", "-q", "--json", "-",
                   env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["image"]["id"] == want.id
    assert [layer["digestId"] for layer in data["layer"]] == want.attrs["RootFS"]["Layers"]
    # and without -H, the DOCKER_HOST given is the one used (so -H was what reached the daemon)
    proc = run_cli("analyze", want.id, "--no-cache", "-q", "--json", "-", env=env, timeout=30)
    assert proc.returncode == 2 and "DOCKER_HOST" in proc.stderr


def test_unknown_context_option_is_a_clear_error(tmp_path):
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "unix:///var/run/docker.sock"}
    proc = run_cli("analyze", "busybox:latest", "--context", "no-such-context", "-q", env=env, timeout=30)
    assert proc.returncode == 2
    assert "no docker context named 'no-such-context'" in proc.stderr and "--context" in proc.stderr
    assert "docker context create" in proc.stderr and "Traceback" not in proc.stderr


def test_host_wins_over_context_which_wins_over_docker_host(tmp_path):
    from argparse import Namespace

    from dockerviz.cli_options import apply_engine_arguments
    from dockerviz.contexts import from_environment

    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://from-env:2375"}
    apply_engine_arguments(Namespace(host="unix:///run/given.sock", context="no-such-context"), env)
    assert from_environment(env).host == "unix:///run/given.sock"  # the unknown context was not even read
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://from-env:2375"}
    apply_engine_arguments(Namespace(host=None, context="default"), env)
    assert from_environment(env).host == "unix:///var/run/docker.sock"
