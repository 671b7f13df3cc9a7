"""`dockerviz analyze --json` imports only what it uses: counted module by module, in a fresh interpreter.

On small images start-up is most of the CLI's time, so every module on this
path is listed below. The child runs with `python -S` and gets site-packages
on its path by hand: no .pth file preloads anything, so what is counted is
exactly what dockerviz imports. A module outside the list fails the test with
its name and the module that imported it. Add one to the list only when the
JSON path cannot work without it; import everything else where it is used.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from support import images

REPO = Path(__file__).resolve().parents[1]

# Interpreter start-up under -S loads these; listed so the sets below are what dockerviz adds.
_STDLIB_COMMON = {
    "__future__", "_json", "_locale", "_sre", "_stat", "_struct", "argparse", "array", "collections.abc", "copyreg",
    "enum", "errno", "gc", "genericpath", "gettext", "json", "json.decoder", "json.encoder", "json.scanner", "locale",
    "mmap", "os", "os.path", "posixpath", "re", "re._casefix", "re._compiler", "re._constants", "re._parser", "stat",
    "struct", "warnings", "zlib", "contextlib", "contextvars", "_contextvars",
    "hashlib", "_hashlib", "_blake2",  # layers are verified against their digests as they are read
}
_DOCKERVIZ_ARCHIVE = {
    "dockerviz", "dockerviz.analysis", "dockerviz.cache", "dockerviz.cli", "dockerviz.errors", "dockerviz.humanize",
    "dockerviz.model", "dockerviz.model.compression", "dockerviz.model.dive_accounting", "dockerviz.model.entries",
    "dockerviz.model.gc_pause", "dockerviz.model.image", "dockerviz.model.layer", "dockerviz.model.merge",
    "dockerviz.model.record", "dockerviz.model.tarheaders", "dockerviz.parallel", "dockerviz.progress",
    "dockerviz.sources", "dockerviz.sources.archive", "dockerviz.sources.base", "dockerviz.sources.oci",
    "dockerviz.sources.slices", "dockerviz.sources.choose", "dockerviz.sources.transports", "dockerviz.model.limits", "dockerviz.model.jsondoc",
    "dockerviz.model.digest", "dockerviz.model.packages", "dockerviz.model.contents", "dockerviz.contents",
    "dockerviz.cli_options", "dockerviz.sources.archive_file",
}
# writing a cache entry (tempfile.mkstemp, then os.replace)
_CACHE_WRITE = {"tempfile", "random", "_random", "bisect", "_bisect", "_sha512", "math", "shutil", "fnmatch", "bz2",
                "_bz2", "lzma", "_lzma", "_compression", "weakref", "_weakrefset"}
# a daemon image through its local store: the socket, the store's files, legacy layer ids
_DAEMON = {
    "dockerviz.engine", "dockerviz.contexts", "dockerviz.sources.daemon", "dockerviz.sources.legacy_ids", "dockerviz.engine_socket",
    "dockerviz.sources.local_store", "dockerviz.sources.overlay2_diff", "dockerviz.sources.files", "dockerviz.sources.tar_split",
    "socket", "_socket", "select", "selectors", "math", "binascii",
}
# never on the JSON path: heavy, or a sign that a source or a library is imported eagerly
FORBIDDEN = {"pandas", "numpy", "ipywidgets", "anywidget", "matplotlib", "IPython", "docker", "requests", "urllib3",
             "dataclasses", "typing", "inspect", "subprocess", "threading", "platform", "asyncio", "datetime",
             "dockerviz.containers", "dockerviz.building", "dockerviz.views", "dockerviz.tour", "dockerviz.cli_diff"}

PROBE = r"""
import json, sys
sys.path[:0] = [sys.argv[1]]
sys.path.extend(json.loads(sys.argv[2]))
importer = {}

class Who:
    # Notes which module asked for each import; finds nothing itself.
    def find_spec(self, name, path=None, target=None):
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename.startswith("<frozen"):
            f = f.f_back
        importer.setdefault(name, f.f_globals.get("__name__", "?") if f is not None else "?")
        return None

sys.meta_path.insert(0, Who())
before = set(sys.modules)
from dockerviz.cli import main
rc = main(json.loads(sys.argv[3]))
new = sorted(set(sys.modules) - before)
sys.stdout.write("\n" + json.dumps({"rc": rc, "new": new, "importer": {m: importer.get(m, "?") for m in new}}))
"""


def imports_of(argv: list, env: dict) -> tuple[set, dict]:
    paths = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p)]
    env = dict(os.environ, **env)
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-S", "-c", PROBE, str(REPO), json.dumps(paths), json.dumps(argv)],
                         capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, out.stderr[-3000:]
    return set(result["new"]), result["importer"]


def check(new: set, importer: dict, allowed: set) -> None:
    forbidden = sorted(new & FORBIDDEN)
    extra = sorted(new - allowed - FORBIDDEN)
    named = lambda ms: ", ".join(f"{m} (imported by {importer.get(m, '?')})" for m in ms)  # noqa: E731
    assert not forbidden, f"`dockerviz analyze --json` imported {named(forbidden)}: import it where it is used"
    assert not extra, (f"`dockerviz analyze --json` imported {len(extra)} module(s) more than the "
                       f"{len(allowed)} it may: {named(extra)}. Import them lazily, or list them in "
                       f"{Path(__file__).name} if the JSON path needs them.")


@pytest.fixture(scope="module")
def plain_archive(tmp_path_factory) -> Path:
    """The bundled sample image as an uncompressed `docker save` archive."""
    from dockerviz.samples import sample_archive

    path = tmp_path_factory.mktemp("startup") / "sample.tar"
    with gzip.open(sample_archive(), "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def test_archive_json_path_without_cache(plain_archive, tmp_path):
    new, who = imports_of(["analyze", str(plain_archive), "--json", str(tmp_path / "o.json"), "-q", "--no-cache"],
                          {"DOCKERVIZ_CACHE_DIR": str(tmp_path / "cache")})
    check(new, who, _STDLIB_COMMON | _DOCKERVIZ_ARCHIVE)
    assert json.loads((tmp_path / "o.json").read_text())["layer"]


def test_archive_json_path_cold_then_warm_cache(plain_archive, tmp_path):
    env = {"DOCKERVIZ_CACHE_DIR": str(tmp_path / "cache")}
    argv = ["analyze", str(plain_archive), "--json", str(tmp_path / "o.json"), "-q"]
    cold, who = imports_of(argv, env)
    check(cold, who, _STDLIB_COMMON | _DOCKERVIZ_ARCHIVE | _CACHE_WRITE)
    warm, who = imports_of(argv, env)
    check(warm, who, _STDLIB_COMMON | _DOCKERVIZ_ARCHIVE)  # reads only: no tempfile
    assert warm < cold


def test_daemon_image_json_path(test_images, tmp_path):
    tag = images.t("busybox")
    env = {"DOCKERVIZ_CACHE_DIR": str(tmp_path / "cache")}
    argv = ["analyze", tag, "--json", str(tmp_path / "o.json"), "-q"]
    imports_of(argv, env)  # fills the cache
    new, who = imports_of(argv, env)
    check(new, who, _STDLIB_COMMON | _DOCKERVIZ_ARCHIVE | _DAEMON)
    assert json.loads((tmp_path / "o.json").read_text())["image"]["sizeBytes"] > 0


def test_the_check_names_a_module_imported_eagerly():
    with pytest.raises(AssertionError, match=r"typing \(imported by dockerviz\.model\.layer\)"):
        check({"dockerviz.cli", "typing"}, {"typing": "dockerviz.model.layer"}, _DOCKERVIZ_ARCHIVE)
    with pytest.raises(AssertionError, match=r"dockerviz\.sources\.registry \(imported by dockerviz\.sources\)"):
        check({"dockerviz.cli", "dockerviz.sources.registry"}, {"dockerviz.sources.registry": "dockerviz.sources"},
              _DOCKERVIZ_ARCHIVE)


def test_local_socket_path_quoting_agrees_with_urllib():
    from urllib.parse import quote

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dockerviz.engine_socket import quote_path

    @settings(max_examples=300, deadline=None)
    @given(st.text())
    def agree(text):
        assert quote_path(text) == quote(text, safe="/:@")

    agree()
    assert quote_path("dockerviz-test/busybox:latest") == "dockerviz-test/busybox:latest"
    assert quote_path("a b?c#d") == "a%20b%3Fc%23d"
