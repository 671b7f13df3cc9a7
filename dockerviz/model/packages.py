"""Package databases inside layers: which files they are, what they list, and how versions order.

While a layer's headers are read, the few small files that package managers
keep their inventories in are kept (bounded by name pattern, per-file size,
count and total bytes per layer) and parsed here into records:

    (manager, location, name, version, installed size in bytes or -1)

`location` tells apart several trees of one manager (the site-packages a
Python distribution sits in, the node_modules folder of an npm package); it
is "" for dpkg and apk. The records are stored with the layer (and cached
with it by diff id); an image's inventory is then a merge of the database
files visible after each layer, which `inventory` computes.

Managers: dpkg (/var/lib/dpkg/status, /var/lib/dpkg/status.d/* as distroless
images keep it), apk (/lib/apk/db/installed), Python (NAME-VERSION.dist-info/METADATA
and *.egg-info/PKG-INFO in any folder, *.egg-info files in site-/dist-packages),
npm (node_modules/[@scope/]name/package.json). rpm is not read: its database is
Berkeley DB, NDB or SQLite holding rpm header blobs, and no well-kept
pure-Python reader of it exists.
Pure code: no I/O.
"""

from __future__ import annotations

import json
import os
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Iterable

DPKG = "dpkg"
APK = "apk"
PYTHON = "python"
NPM = "npm"
MANAGERS = (DPKG, APK, PYTHON, NPM)
# what `dockerviz diff --type` calls them (container-diff's analyser names)
TYPE_NAMES = {"apt": DPKG, "dpkg": DPKG, "apk": APK, "pip": PYTHON, "python": PYTHON, "npm": NPM}

# False: headers only (DOCKERVIZ_PACKAGES=off: the benchmark's baseline)
CAPTURE = os.environ.get("DOCKERVIZ_PACKAGES", "").strip().lower() not in ("off", "0", "false", "no")
MAX_DB_BYTES = 32 << 20  # a dpkg status file of a very large image is ~10 MB
MAX_SMALL_BYTES = 1 << 20  # one METADATA / package.json / status.d file
MAX_HEAD_BYTES = 256 << 10  # of a METADATA file only the headers matter: they come first
MAX_FILES_PER_LAYER = 50_000
MAX_BYTES_PER_LAYER = 128 << 20

_SITE_DIRS = ("site-packages", "dist-packages")
_SUFFIXES = (b"/status", b"/installed", b"/METADATA", b"/PKG-INFO", b"/package.json", b".egg-info")
_SUFFIXES_STR = tuple(s.decode() for s in _SUFFIXES)
_NPM_RE = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json$")


def manager_of(path: str) -> str | None:
    """The manager whose database `path` (normalised, no leading slash) is, else None."""
    if not path.endswith(_SUFFIXES_STR) and "status.d/" not in path:
        return None
    if path == "var/lib/dpkg/status":
        return DPKG
    if path.startswith("var/lib/dpkg/status.d/") and path.count("/") == 4 and not path.endswith(".md5sums"):
        return DPKG
    if path == "lib/apk/db/installed":
        return APK
    if path.endswith("/METADATA"):
        # any folder on a sys.path: site-packages, dist-packages, a `pip install --target` tree
        parent = path[: -len("/METADATA")]
        if parent.endswith(".dist-info") and "-" in parent.rpartition("/")[2]:
            return PYTHON
        return None
    if path.endswith("/PKG-INFO"):
        parent = path[: -len("/PKG-INFO")]
        if parent.endswith(".egg-info") and "/" in parent:
            return PYTHON
        return None
    if path.endswith(".egg-info") and _in_site_dir(path):
        return PYTHON  # a file: Debian's python3-* packages install their PKG-INFO so
    if path.endswith("/package.json") and _NPM_RE.search(path):
        return NPM
    return None


def _in_site_dir(dist_path: str) -> bool:
    return dist_path.rpartition("/")[0].rpartition("/")[2] in _SITE_DIRS


def wanted_raw(name: bytes) -> bool:
    """A cheap first test on a raw member name (most names fail on the suffix)."""
    stripped = name.rstrip(b"/")
    return stripped.endswith(_SUFFIXES) or b"status.d/" in stripped


def read_limit(manager: str, path: str) -> int:
    """How many bytes of a database file to keep."""
    if manager in (DPKG, APK) and not path.startswith("var/lib/dpkg/status.d/"):
        return MAX_DB_BYTES
    if manager == PYTHON:
        return MAX_HEAD_BYTES
    return MAX_SMALL_BYTES


class Collector:
    """Keeps the package-database files of one layer within the bounds, then parses them."""

    __slots__ = ("files", "bytes", "skipped")

    def __init__(self):
        self.files: dict[str, list] = {}
        self.bytes = 0
        self.skipped = 0  # files over the bounds: their layer's inventory says so

    def want(self, path: str, size: int) -> int:
        """Bytes to read of `path` (0: not a database file, or over a bound)."""
        manager = manager_of(path)
        if manager is None:
            return 0
        limit = read_limit(manager, path)
        if manager in (DPKG, APK) and size > limit or len(self.files) >= MAX_FILES_PER_LAYER \
                or self.bytes + min(size, limit) > MAX_BYTES_PER_LAYER:
            self.skipped += 1
            return 0
        return max(1, min(size, limit))

    def add(self, path: str, data: bytes) -> None:
        manager = manager_of(path)
        if manager is None:
            return
        self.bytes += len(data)
        self.files[path] = parse(manager, path, data)

    def result(self) -> dict:
        return self.files


def collect(entries, read: Callable[[str, int], bytes | None]) -> dict:
    """The parsed databases among a layer's entries, reading each wanted file through read(path, n)."""
    c = Collector()
    for e in entries:
        if e.kind != "file":
            continue
        path = e.path
        if not path.endswith(_SUFFIXES_STR) and "status.d/" not in path:
            continue
        n = c.want(path, e.size)
        if n:
            data = read(path, n) if e.size else b""
            if data is not None:
                c.add(path, data)
    return c.result()


# -- parsers ---------------------------------------------------------------------------


def parse(manager: str, path: str, data: bytes) -> list:
    """[(name, version, size)] from one database file; [] when it lists nothing usable."""
    try:
        if manager == DPKG:
            return _parse_dpkg(data)
        if manager == APK:
            return _parse_apk(data)
        if manager == PYTHON:
            return _parse_metadata(data)
        if manager == NPM:
            return _parse_package_json(data)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return []
    return []


def _stanzas(text: str) -> Iterable[dict]:
    fields: dict = {}
    key = None
    for line in text.split("\n"):
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
            continue
        if line[0] in " \t":
            if key is not None:
                fields[key] += "\n" + line.strip()
            continue
        k, sep, v = line.partition(":")
        if not sep:
            continue
        key = k.strip().lower()
        fields[key] = v.strip()
    if fields:
        yield fields


# dpkg's states in which a package's files are on disk (dpkg-query lists them; "ii" and the half states)
_DPKG_PRESENT = {"installed", "half-installed", "unpacked", "half-configured", "triggers-awaited",
                 "triggers-pending"}


def _parse_dpkg(data: bytes) -> list:
    out = []
    for f in _stanzas(data.decode("utf-8", "replace")):
        name = f.get("package")
        status = f.get("status", "install ok installed").split()
        if not name or (status and status[-1] not in _DPKG_PRESENT):
            continue
        size = _count(f.get("installed-size", ""))
        out.append((name, f.get("version", ""), size * 1024 if size >= 0 else -1))
    return out


def _count(text: str) -> int:
    """A size field as a number, or -1 when it is not one (a single odd field must not lose the database)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else -1


def _parse_apk(data: bytes) -> list:
    out = []
    name = version = None
    size = -1
    for line in data.decode("utf-8", "replace").split("\n") + [""]:
        if not line.strip():
            if name:
                out.append((name, version or "", size))
            name = version = None
            size = -1
            continue
        k, _, v = line.partition(":")
        if k == "P":
            name = v.strip()
        elif k == "V":
            version = v.strip()
        elif k == "I":
            size = _count(v)
    return out


def _parse_metadata(data: bytes) -> list:
    text = data.decode("utf-8", "replace")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    name = version = None
    for line in head.splitlines():
        k, sep, v = line.partition(":")
        if not sep:
            continue
        k = k.strip().lower()
        if k == "name" and name is None:
            name = v.strip()
        elif k == "version" and version is None:
            version = v.strip()
    return [(name, version or "", -1)] if name else []


def _parse_package_json(data: bytes) -> list:
    obj = json.loads(data.decode("utf-8", "replace"))
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return []
    version = obj.get("version")
    return [(obj["name"], version if isinstance(version, str) else "", -1)]


def location_of(manager: str, path: str) -> str:
    """Where a record's tree is: the site-packages of a Python distribution, an npm package's node_modules."""
    if manager == PYTHON:
        dist = path.rpartition("/")[0] if not path.endswith(".egg-info") else path
        return "/" + dist.rpartition("/")[0]
    if manager == NPM:
        folder = path.rpartition("/")[0]  # node_modules/[@scope/]name
        parent = folder.rpartition("/")[0]
        if parent.rpartition("/")[2].startswith("@"):
            parent = parent.rpartition("/")[0]
        return "/" + parent
    return ""


# -- an image's inventory, layer by layer ----------------------------------------------------


def _hidden(path: str, whiteouts, opaque) -> bool:
    for w in whiteouts:
        if path == w or path.startswith(w + "/"):
            return True
    return any(path.startswith(o + "/") for o in opaque)


def inventory(contents) -> list[dict]:
    """The packages visible after each layer: [{(manager, location, name): (version, size, db path)}].

    A database file counts while it is visible: a later layer's whiteout or
    opaque directory hides it, a later copy of the same path replaces it, and
    a layer that writes the path as anything the collector did not keep (a
    file over the bounds, a link) drops it.
    """
    visible: dict[str, tuple] = {}  # db path -> (layer, records)
    out = []
    for i, c in enumerate(contents):
        files = getattr(c, "packages", None) or {}
        if visible and (c.whiteouts or c.opaque_dirs):
            for p in [p for p in visible if _hidden(p, c.whiteouts, c.opaque_dirs)]:
                del visible[p]
        if visible:
            for e in c.entries:
                if e.path in visible and e.path not in files:
                    del visible[e.path]
        for path, records in files.items():
            visible[path] = (i, records)
        state: dict = {}
        for path, (_layer, records) in visible.items():
            manager = manager_of(path)
            if manager is None:
                continue
            loc = location_of(manager, path)
            for name, version, size in records:
                state[(manager, loc, name)] = (version, size, path)
        out.append(state)
    return out


PACKAGE_COLUMNS = ["manager", "name", "version", "location", "installed_by", "changed_by", "size_bytes"]
CHANGE_COLUMNS = ["manager", "name", "location", "change", "version", "prev_version", "size_bytes"]
DIFF_COLUMNS = ["manager", "name", "location", "change", "version_a", "version_b", "size_a", "size_b"]

INSTALLED = "installed"
REMOVED = "removed"
UPGRADED = "upgraded"
DOWNGRADED = "downgraded"
ADDED = "added"
REINSTALLED = "changed"  # same version, different build (another compare key)


def history(states: list[dict]) -> dict:
    """{key: (installed_by, changed_by)} for the packages of the last state.

    installed_by: the layer from which the package has been present without a
    break; changed_by: the last layer that installed it or changed its version.
    """
    out: dict = {}
    n = len(states)
    if not n:
        return out
    for key in states[-1]:
        installed = n - 1
        while installed > 0 and key in states[installed - 1]:
            installed -= 1
        changed = installed
        for i in range(installed + 1, n):
            if states[i][key][0] != states[i - 1][key][0]:
                changed = i
        out[key] = (installed, changed)
    return out


def classify(manager: str, old: str | None, new: str | None) -> str | None:
    """added / removed / upgraded / downgraded / None (same), by the manager's version order."""
    if old is None and new is None:
        return None
    if old is None:
        return ADDED
    if new is None:
        return REMOVED
    if old == new:
        return None
    c = compare_versions(manager, old, new)
    if c < 0:
        return UPGRADED
    if c > 0:
        return DOWNGRADED
    return REINSTALLED


def changes_between(before: dict, after: dict) -> list[tuple]:
    """[(key, change, old, new)] for every package that differs, sorted by key."""
    out = []
    for key in sorted(set(before) | set(after)):
        old = before.get(key)
        new = after.get(key)
        change = classify(key[0], old[0] if old else None, new[0] if new else None)
        if change is not None:
            out.append((key, change, old, new))
    return out


# -- version order ------------------------------------------------------------------------


def _number(digits: str) -> tuple[int, str]:
    """A sort key ordering ASCII digit strings of any length by value (int() refuses past 4300 digits)."""
    digits = digits.lstrip("0")
    return len(digits), digits


def _cmp(x, y) -> int:
    return (x > y) - (x < y)


def compare_versions(manager: str, a: str, b: str) -> int:
    """-1, 0, 1 as the manager orders versions a and b."""
    if manager == DPKG:
        return dpkg_compare(a, b)
    if manager == PYTHON:
        return pep440_compare(a, b)
    if manager == APK:
        return apk_compare(a, b)
    if manager == NPM:
        return semver_compare(a, b)
    return _cmp(a, b)


def _digit(c: str) -> bool:
    return "0" <= c <= "9"  # dpkg's isdigit(), in the C locale


def _dpkg_order(c: str) -> int:
    if c == "~":
        return -1
    if _digit(c):
        return 0
    if c.isalpha() and c.isascii():
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp (lib/dpkg/version.c): alternate non-digit and digit runs; '~' sorts before all."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not _digit(a[i])) or (j < len(b) and not _digit(b[j])):
            ac = _dpkg_order(a[i]) if i < len(a) else 0
            bc = _dpkg_order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and _digit(a[i]) and j < len(b) and _digit(b[j]):
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and _digit(a[i]):
            return 1
        if j < len(b) and _digit(b[j]):
            return -1
        if first_diff:
            return first_diff
    return 0


def _dpkg_split(v: str) -> tuple[tuple[int, str], str, str]:
    v = v.strip()
    epoch = _number("")
    if ":" in v:
        e, _, rest = v.partition(":")
        if e.isascii() and e.isdigit():
            epoch, v = _number(e), rest
    upstream, sep, revision = v.rpartition("-")
    if not sep:
        upstream, revision = v, ""
    return epoch, upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    """Debian policy 5.6.12: epoch numerically, then upstream version and revision by verrevcmp."""
    ea, ua, ra = _dpkg_split(a)
    eb, ub, rb = _dpkg_split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    r = _verrevcmp(ua, ub) or _verrevcmp(ra, rb)
    return _cmp(r, 0)


def pep440_compare(a: str, b: str) -> int:
    """PEP 440 order via `packaging`; versions it cannot parse sort before all valid ones, by text."""
    from packaging.version import InvalidVersion, Version

    try:
        va = Version(a)
    except (InvalidVersion, ValueError):  # ValueError: a number int() will not read (over 4300 digits)
        va = None
    try:
        vb = Version(b)
    except (InvalidVersion, ValueError):
        vb = None
    if va is not None and vb is not None:
        return _cmp(va, vb)
    if va is None and vb is None:
        return _cmp(a, b)
    return -1 if va is None else 1


_APK_SUFFIX = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "": 0, "cvs": 1, "svn": 2, "git": 3, "hg": 4, "p": 5}
_APK_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*)(?:-r([0-9]+))?$")


def _apk_key(v: str):
    m = _APK_RE.match(v.strip())
    if not m:
        return None
    nums = [_number(x) for x in m.group(1).split(".")]
    letter = m.group(2)
    suffixes = []
    for s in re.findall(r"_([a-z]+)([0-9]*)", m.group(3) or ""):
        suffixes.append((_APK_SUFFIX[s[0]], _number(s[1])))
    return nums, letter, suffixes, _number(m.group(4) or "")


def apk_compare(a: str, b: str) -> int:
    """apk-tools' order: numeric components, a letter, suffixes (_alpha < _beta < _pre < _rc < none < _p), -rN."""
    ka, kb = _apk_key(a), _apk_key(b)
    if ka is None or kb is None:
        return _cmp(a, b)
    na, nb = ka[0], kb[0]
    for x, y in zip(na, nb):
        if x != y:
            return -1 if x < y else 1
    if len(na) != len(nb):
        return -1 if len(na) < len(nb) else 1
    if ka[1] != kb[1]:
        return -1 if ka[1] < kb[1] else 1
    sa, sb = ka[2] + [(0, _number(""))], kb[2] + [(0, _number(""))]
    for x, y in zip(sa, sb):
        if x != y:
            return -1 if x < y else 1
    return _cmp(ka[3], kb[3])


_SEMVER_RE = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def semver_compare(a: str, b: str) -> int:
    """SemVer 2.0.0 precedence (npm's order); build metadata ignored; a pre-release sorts before its release."""
    ma, mb = _SEMVER_RE.match(a.strip()), _SEMVER_RE.match(b.strip())
    if not ma or not mb:
        return _cmp(a, b)
    core_a = tuple(_number(x) for x in ma.groups()[:3])
    core_b = tuple(_number(x) for x in mb.groups()[:3])
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    pa, pb = ma.group(4), mb.group(4)
    if pa == pb:
        return 0
    if pa is None:
        return 1
    if pb is None:
        return -1
    for x, y in zip(pa.split("."), pb.split(".")):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if _number(x) < _number(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    la, lb = len(pa.split(".")), len(pb.split("."))
    return _cmp(la, lb)
