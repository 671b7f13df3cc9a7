"""Helpers for dockerviz's own test suite: a Docker Engine to talk to, the test
images built locally without a registry, and dive (the peer tool) to compare with.

The suite runs on a bare Debian machine as root (`bash tests/run.sh` installs
what is missing), so nothing here may assume a preinstalled tool or image.
"""

import os
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"

# Every container and image the suite creates carries this label, so leftovers
# can be found (and only those removed) with a label filter.
TEST_LABEL = "dockerviz.test"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(why: str):
    """Something a test needs is missing here: under CI=true the test fails, elsewhere it is skipped."""
    import pytest

    if in_ci():
        pytest.fail(f"cannot run under CI=true: {why}", pytrace=False)
    pytest.skip(why)


def stop_process(proc, timeout: float = 10) -> None:
    """Terminate a service process the tests started, killing it when it does not stop in time."""
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
