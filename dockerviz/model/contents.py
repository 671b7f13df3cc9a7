"""What a file holds, for people: text or binary (type from its magic, a hex preview), links, diffs.

Pure code over bytes the sources read; nothing touches a disk or a daemon.
"""

from __future__ import annotations

from . import entries as E
from .record import Record

READ_CAP = 16 << 20  # img.read() refuses more unless asked: a file is held in memory whole
PREVIEW_BYTES = 256 << 10  # what a preview or a side pane shows of a file
DIFF_BYTES = 4 << 20  # each side of a text diff
DIFF_LINES = 5000  # lines of a unified diff kept for display
LINE_CHARS = 4000  # a longer line is cut for display
HEX_BYTES = 512

TEXT = "text"
BINARY = "binary"
SYMLINK = "symlink"
DIRECTORY = "directory"
OTHER = "other"
MISSING = "missing"

# (offset, magic, description): the common formats found in images
_MAGIC = [
    (0, b"\x7fELF", "ELF executable or library"),
    (0, b"\x1f\x8b", "gzip compressed data"),
    (0, b"\x28\xb5\x2f\xfd", "zstd compressed data"),
    (0, b"BZh", "bzip2 compressed data"),
    (0, b"\xfd7zXZ\x00", "xz compressed data"),
    (0, b"PK\x03\x04", "Zip archive (also wheel, jar)"),
    (257, b"ustar", "tar archive"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"),
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"GIF8", "GIF image"),
    (0, b"%PDF", "PDF document"),
    (0, b"SQLite format 3\x00", "SQLite database"),
    (0, b"\xca\xfe\xba\xbe", "Java class or Mach-O fat binary"),
    (0, b"!<arch>\n", "ar archive (static library, .deb)"),
    (0, b"\x00asm", "WebAssembly module"),
    (0, b"MZ", "DOS/Windows executable"),
    (0, b"\xed\xab\xee\xdb", "RPM package"),
]


def magic_type(data: bytes) -> str:
    for offset, magic, what in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return what
    if data[:2] == b"#!":
        return "script: " + data[2:80].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if data[:3] in (b"\x00\x00\x00",) and data[4:8] in (b"ftyp",):
        return "MP4 / ISO media"
    if data[:4] in (b"\x03\xf3\r\n", b"\x55\x0d\x0d\x0a", b"\x6f\x0d\x0d\x0a", b"\xa7\x0d\x0d\x0a",
                    b"\xcb\x0d\x0d\x0a"):
        return "Python bytecode"
    return "data"


def is_text(data: bytes) -> bool:
    """Text: no NUL byte, and mostly valid UTF-8 (a few invalid bytes are shown replaced, as editors do)."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        pass
    bad = data.decode("utf-8", "replace").count("\ufffd") - data.count("\ufffd".encode())
    return bad <= 8 + len(data) // 100


def hex_preview(data: bytes, limit: int = HEX_BYTES) -> str:
    """`hexdump -C`-style lines of the first `limit` bytes."""
    lines = []
    for off in range(0, min(len(data), limit), 16):
        row = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{off:08x}  {hexes:<47}  |{text}|")
    return "\n".join(lines)


def display_text(data: bytes) -> str:
    """Text for display: invalid UTF-8 replaced, over-long lines cut (the rest of the bytes are kept)."""
    text = data.decode("utf-8", "replace")
    if len(text) > LINE_CHARS and any(len(line) > LINE_CHARS for line in text.split("\n")):
        text = "\n".join(line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + f" \u2026 [{len(line)} characters]"
                         for line in text.split("\n"))
    return text


class FilePreview(Record):
    """One path of an image as seen after one layer: what it is, and (for a file) what it holds.

    kind: text / binary / symlink / directory / other / missing. For text,
    `text` (the first PREVIEW_BYTES, display-safe); for binary, `type` (from
    the magic) and `hex`; for a symlink, `link` (never followed). `truncated`
    says the file is larger than what was read.
    """

    __slots__ = _fields = ("path", "layer", "kind", "size", "mode", "uid", "gid", "link", "type", "text", "hex",
                           "truncated")

    def __init__(self, path: str, layer: int | None, kind: str, size: int = 0, mode: int | None = None,
                 uid: int | None = None, gid: int | None = None, link: str = "", type: str = "", text: str = "",
                 hex: str = "", truncated: bool = False):
        self.path = path
        self.layer = layer
        self.kind = kind
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.link = link
        self.type = type
        self.text = text
        self.hex = hex
        self.truncated = truncated

    def to_dict(self) -> dict:
        return {"path": self.path, "layer": self.layer, "kind": self.kind, "size": self.size, "mode": self.mode,
                "uid": self.uid, "gid": self.gid, "link": self.link, "type": self.type, "text": self.text,
                "hex": self.hex, "truncated": self.truncated}

    def __str__(self) -> str:
        if self.kind == TEXT:
            return self.text
        if self.kind == BINARY:
            return f"binary file, {self.size} bytes, {self.type}\n{self.hex}"
        if self.kind == SYMLINK:
            return f"symbolic link to {self.link}"
        return f"{self.kind}: {self.path}"


def preview_of(path: str, layer, entry, data: bytes | None) -> FilePreview:
    """A FilePreview from the entry (None: not there) and the first bytes read of a regular file."""
    shown = E.display_path(path)
    if entry is None:
        return FilePreview(shown, layer, MISSING)
    base = dict(path=shown, layer=layer, size=entry.size, mode=entry.mode, uid=entry.uid, gid=entry.gid)
    if entry.kind == E.SYMLINK:
        return FilePreview(kind=SYMLINK, link=entry.link.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                           **base)
    if entry.kind == E.DIR:
        return FilePreview(kind=DIRECTORY, **base)
    if entry.kind not in (E.FILE, E.HARDLINK) or data is None:
        return FilePreview(kind=OTHER, **base)
    truncated = len(data) < entry.size
    if is_text(data):
        return FilePreview(kind=TEXT, text=display_text(data), truncated=truncated, **base)
    return FilePreview(kind=BINARY, type=magic_type(data), hex=hex_preview(data), truncated=truncated, **base)


# -- diffs ---------------------------------------------------------------------------------

CONTENT = "content"  # the bytes differ, shown as a unified diff
ATTRIBUTES = "attributes"  # mode, owner or link changed; the bytes are the same
SAME = "same"
ADDED = "added"
REMOVED = "removed"
BINARY_CHANGE = "binary"  # the bytes differ and one side is not text
TYPE_CHANGE = "type"  # a file became a directory, a link...
TOO_LARGE = "too large"


class FileDiff(Record):
    """How one path differs between two versions (a layer and the one below, or two images).

    change: content / attributes / same / added / removed / binary / type /
    too large. `diff` is the unified diff (as `diff -u` prints it, minus the
    timestamps) when the content is text; `attributes` lists what else changed
    ([(name, old, new)]) whatever the content did.
    """

    __slots__ = _fields = ("path", "change", "diff", "attributes", "old_size", "new_size", "old_label", "new_label",
                           "truncated")

    def __init__(self, path: str, change: str, diff: str = "", attributes: list | None = None,
                 old_size: int | None = None, new_size: int | None = None, old_label: str = "", new_label: str = "",
                 truncated: bool = False):
        self.path = path
        self.change = change
        self.diff = diff
        self.attributes = [] if attributes is None else attributes
        self.old_size = old_size
        self.new_size = new_size
        self.old_label = old_label
        self.new_label = new_label
        self.truncated = truncated

    def to_dict(self) -> dict:
        return {"path": self.path, "change": self.change, "diff": self.diff,
                "attributes": [list(map(str, a)) for a in self.attributes], "old_size": self.old_size,
                "new_size": self.new_size, "old_label": self.old_label, "new_label": self.new_label,
                "truncated": self.truncated}

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.change}"]
        lines += [f"  {name}: {old} -> {new}" for name, old, new in self.attributes]
        return "\n".join(lines) + ("\n" + self.diff if self.diff else "")


def _attributes(old, new) -> list:
    out = []
    if old.kind != new.kind:
        out.append(("type", old.kind, new.kind))
    if old.mode != new.mode:
        out.append(("mode", f"{old.mode:04o}", f"{new.mode:04o}"))
    if (old.uid, old.gid) != (new.uid, new.gid):
        out.append(("owner", f"{old.uid}:{old.gid}", f"{new.uid}:{new.gid}"))
    if old.link != new.link and (old.kind == E.SYMLINK or new.kind == E.SYMLINK):
        out.append(("link", old.link, new.link))
    return out


DIFF_WORK = 1_000_000  # line comparisons difflib may make (~2 s); past them the diff is anchored on unique lines


class _OverBudget(Exception):
    pass


def _lines(text: str) -> list[str]:
    """Lines ending at "\n" only, as diff reads them (str.splitlines also ends them at \r, \f, \x1c...)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _grouped_opcodes(a: list[str], b: list[str], context: int) -> list:
    """difflib's grouped opcodes when they come within DIFF_WORK comparisons, else those of a diff
    anchored on the lines that occur once on each side (patience diff): difflib's matcher recurses
    on the first longest match it finds, which is quadratic where many lines changed between many
    kept ones."""
    import difflib  # only for a diff: not on the analysis path
    from collections import Counter

    matcher = difflib.SequenceMatcher(None, a, b)
    in_b = Counter(b)
    if len(b) >= 200:  # difflib's autojunk: a line in over 1% of b is never looked up
        popular = len(b) // 100 + 1
        in_b = Counter({line: k for line, k in in_b.items() if k <= popular})
    cost = [0]  # cost[i]: the comparisons a[:i] leads find_longest_match to (one per occurrence in b)
    for line in a:
        cost.append(cost[-1] + 1 + in_b[line])
    left = [DIFF_WORK]
    find = matcher.find_longest_match

    def bounded(alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(a) if ahi is None else ahi
        bhi = len(b) if bhi is None else bhi
        left[0] -= cost[ahi] - cost[alo] + (bhi - blo)
        if left[0] < 0:
            raise _OverBudget
        return find(alo, ahi, blo, bhi)

    matcher.find_longest_match = bounded  # type: ignore[method-assign]
    try:
        return list(matcher.get_grouped_opcodes(context))
    except _OverBudget:
        return _group(_anchored_opcodes(a, b), context)


def _anchored_opcodes(a: list[str], b: list[str]) -> list[tuple]:
    """Opcodes keeping the longest increasing run of lines unique to both sides, and the equal lines
    next to them; the rest replaced. O(n log n)."""
    import bisect
    from collections import Counter

    count_a, count_b = Counter(a), Counter(b)
    where_b = {line: j for j, line in enumerate(b) if count_b[line] == 1}
    pairs = [(i, where_b[line]) for i, line in enumerate(a) if count_a[line] == 1 and line in where_b]
    tops: list[int] = []  # patience piles: the smallest j ending an increasing run of each length
    top_at: list[int] = []
    before = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        n = bisect.bisect_left(tops, j)
        before[k] = top_at[n - 1] if n else -1
        if n == len(tops):
            tops.append(j)
            top_at.append(k)
        else:
            tops[n], top_at[n] = j, k
    chain = []
    k = top_at[-1] if top_at else -1
    while k >= 0:
        chain.append(pairs[k])
        k = before[k]
    ops: list[tuple] = []
    i = j = 0
    for ai, bj in [*reversed(chain), (len(a), len(b))]:
        while i < ai and j < bj and a[i] == b[j]:  # equal lines after the last anchor
            ops.append(("equal", i, i + 1, j, j + 1))
            i, j = i + 1, j + 1
        ei, ej = ai, bj
        while ei > i and ej > j and a[ei - 1] == b[ej - 1]:  # and before this one
            ei, ej = ei - 1, ej - 1
        if i < ei or j < ej:
            ops.append(("replace" if i < ei and j < ej else "delete" if i < ei else "insert", i, ei, j, ej))
        if ei < ai:
            ops.append(("equal", ei, ai, ej, bj))
        if ai < len(a):
            ops.append(("equal", ai, ai + 1, bj, bj + 1))
        i, j = ai + 1, bj + 1
    merged: list[tuple] = []
    for op in ops:
        if merged and op[0] == "equal" == merged[-1][0] and merged[-1][2] == op[1]:
            merged[-1] = ("equal", merged[-1][1], op[2], merged[-1][3], op[4])
        else:
            merged.append(op)
    return merged


def _group(codes: list[tuple], n: int) -> list[list]:
    """Opcodes in hunks with n lines of context, as difflib's SequenceMatcher.get_grouped_opcodes."""
    if not codes:
        codes = [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)
    groups, group = [], []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > n * 2:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _hunk_range(start: int, length: int) -> str:
    """A hunk's line range as diff -u writes it."""
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _diff_lines(a: list[str], b: list[str], old_label: str, new_label: str):
    groups = _grouped_opcodes(a, b, 3)
    if groups:
        yield f"--- {old_label}\n"
        yield f"+++ {new_label}\n"
    for group in groups:
        first, last = group[0], group[-1]
        yield (f"@@ -{_hunk_range(first[1], last[2] - first[1])} +{_hunk_range(first[3], last[4] - first[3])} "
               "@@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            yield from ("-" + line for line in a[i1:i2])
            yield from ("+" + line for line in b[j1:j2])


def unified(old: bytes, new: bytes, old_label: str, new_label: str) -> tuple[str, bool]:
    """A unified diff with 3 lines of context; (text, cut to DIFF_LINES)."""
    a = _lines(old.decode("utf-8", "replace"))
    b = _lines(new.decode("utf-8", "replace"))
    out = []
    cut = False
    for line in _diff_lines(a, b, old_label, new_label):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
        if len(out) >= DIFF_LINES:
            cut = True
            break
    text = "".join(out)
    return display_text(text.encode("utf-8", "surrogateescape")) if len(text) > LINE_CHARS else text, cut


def diff_of(path: str, old_entry, old_data: bytes | None, new_entry, new_data: bytes | None, *,
            old_label: str, new_label: str) -> FileDiff:
    """The FileDiff of two versions of `path` (entries None when absent; data None when not read)."""
    shown = E.display_path(path)
    labels = dict(old_label=old_label, new_label=new_label)
    if old_entry is None and new_entry is None:
        return FileDiff(shown, SAME, **labels)
    if old_entry is None or new_entry is None:
        change = ADDED if old_entry is None else REMOVED
        text = ""
        if old_data is not None or new_data is not None:
            data = new_data if old_entry is None else old_data
            if data is not None and is_text(data):
                text, _ = unified(b"" if old_entry is None else data, data if old_entry is None else b"",
                                  old_label, new_label)
        return FileDiff(shown, change, text, old_size=old_entry.size if old_entry else None,
                        new_size=new_entry.size if new_entry else None, **labels)
    attrs = _attributes(old_entry, new_entry)
    sizes = dict(old_size=old_entry.size, new_size=new_entry.size)
    regular = (E.FILE, E.HARDLINK)
    if old_entry.kind not in regular or new_entry.kind not in regular:
        if old_entry.kind != new_entry.kind:
            return FileDiff(shown, TYPE_CHANGE, attributes=attrs, **sizes, **labels)
        return FileDiff(shown, ATTRIBUTES if attrs else SAME, attributes=attrs, **sizes, **labels)
    if old_data is None or new_data is None:
        return FileDiff(shown, TOO_LARGE, attributes=attrs, **sizes, **labels)
    if old_data == new_data and old_entry.size == new_entry.size:
        return FileDiff(shown, ATTRIBUTES if attrs else SAME, attributes=attrs, **sizes, **labels)
    if not (is_text(old_data) and is_text(new_data)):
        return FileDiff(shown, BINARY_CHANGE, attributes=attrs, **sizes, **labels)
    text, cut = unified(old_data, new_data, old_label, new_label)
    return FileDiff(shown, CONTENT, text, attrs, truncated=cut, **sizes, **labels)


__all__ = ["FilePreview", "FileDiff", "preview_of", "diff_of", "magic_type", "is_text", "hex_preview", "READ_CAP"]
