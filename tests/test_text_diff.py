"""Text diffs of file contents against GNU diff and patch: lines end at a newline only, and a diff of
any two files within the size read is made in bounded work (the side pane and `diff --file` wait on it)."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from dockerviz.model.contents import unified


def _hunks(text: str) -> list[str]:
    """The lines of a unified diff after its two header lines."""
    return text.splitlines(keepends=True)[2:]


def _gnu(tmp_path, old: bytes, new: bytes) -> str:
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    return subprocess.run(["diff", "-u", str(tmp_path / "old"), str(tmp_path / "new")], capture_output=True).stdout \
        .decode("utf-8")


def test_form_feeds_and_carriage_returns_do_not_end_lines(tmp_path):
    """Source files and changelogs hold form feeds (page breaks); diff -u ends lines at "\\n" only."""
    old = b"intro\n\x0c\nsection one\r\nkept\rinside\nold line\nlast\x1c\n"
    new = b"intro\n\x0c\nsection one\r\nkept\rinside\nnew line\nlast\x1c\n"
    text, cut = unified(old, new, "a", "b")
    assert not cut
    gnu = _gnu(tmp_path, old, new)
    assert _hunks(text) == gnu.splitlines(keepends=True)[2:]
    assert "No newline" not in text


def test_no_newline_at_the_end_is_marked_as_diff_marks_it(tmp_path):
    old, new = b"a\nb\nc", b"a\nb\nd\n"
    text, _ = unified(old, new, "a", "b")
    assert _hunks(text) == _gnu(tmp_path, old, new).splitlines(keepends=True)[2:]


PROBE = r"""
import random, sys
from dockerviz.model.contents import unified
random.seed(7)
n = int(sys.argv[1])
common = [f"common {i}\n" for i in range(n)]
old = "".join(c + f"old {random.random()}\n" for c in common).encode()
new = "".join(c + f"new {random.random()}\n" for c in common).encode()
open(sys.argv[2], "wb").write(old)
open(sys.argv[3], "wb").write(new)
text, cut = unified(old, new, "a/f", "b/f")
sys.stdout.write(("cut\n" if cut else "whole\n") + text)
"""


def test_a_diff_where_every_other_line_changed_is_made_in_bounded_work(tmp_path):
    """10,000 changed lines between 10,000 kept ones (~400 kB): a line matcher that recurses on its
    first match does quadratic work here (minutes); the diff must come back, and be one `patch` applies."""
    old, new = tmp_path / "old", tmp_path / "new"
    proc = subprocess.run([sys.executable, "-c", PROBE, "10000", str(old), str(new)], capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    head, _, text = proc.stdout.decode().partition("\n")
    if head == "whole":
        (tmp_path / "d.patch").write_text(text)
        subprocess.run(["patch", "-s", str(old), str(tmp_path / "d.patch")], check=True)
        assert old.read_bytes() == new.read_bytes()
    else:
        assert text.count("\n") >= 5000  # cut to DIFF_LINES: the lines shown are still diff lines
        assert all(line[:1] in (" ", "-", "+", "@", "\\") for line in text.splitlines()[2:])


def test_small_edits_in_a_large_file_equal_diff_u(tmp_path):
    random.seed(3)
    lines = [f"line {i} {random.getrandbits(40):x}\n" for i in range(50000)]
    changed = list(lines)
    for i in random.sample(range(50000), 40):
        changed[i] = f"edited {i}\n"
    del changed[100:110]
    changed.insert(2000, "inserted\n")
    old, new = "".join(lines).encode(), "".join(changed).encode()
    text, cut = unified(old, new, "a", "b")
    assert not cut
    assert _hunks(text) == _gnu(tmp_path, old, new).splitlines(keepends=True)[2:]


@pytest.mark.parametrize("work", [0, None], ids=["anchored", "difflib"])
def test_every_diff_applies_with_patch(tmp_path, monkeypatch, work):
    """Random edits of files with many repeated lines, through both ways of making a diff (the anchored
    one is what a diff past DIFF_WORK gets): `patch` turns the old file into the new one with each."""
    from dockerviz.model import contents as C

    if work is not None:
        monkeypatch.setattr(C, "DIFF_WORK", work)
    rng = random.Random(11)
    for _ in range(60):
        pool = [f"l{k}\n" for k in range(rng.randint(1, 12))]
        a = [rng.choice(pool) for _ in range(rng.randint(0, 40))]
        b = list(a)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if op < 0.3 and b:
                del b[rng.randrange(len(b))]
            elif op < 0.6:
                b.insert(rng.randint(0, len(b)), rng.choice(pool + ["new\n"]))
            elif b:
                b[rng.randrange(len(b))] = f"x{rng.random()}\n"
        old, new = "".join(a).encode(), "".join(b).encode()
        if rng.random() < 0.2:
            new = new.rstrip(b"\n")
        text, _ = unified(old, new, "a/f", "b/f")
        (tmp_path / "f").write_bytes(old)
        if old == new:
            assert text == ""
            continue
        (tmp_path / "d.patch").write_text(text)
        subprocess.run(["patch", "-s", str(tmp_path / "f"), str(tmp_path / "d.patch")], check=True)
        assert (tmp_path / "f").read_bytes() == new, text
