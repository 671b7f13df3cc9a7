"""Content digests checked as bytes are read: nothing is trusted before it hashes to its name.

`HashingReader` wraps any readable file object and hashes every byte that
passes through it (reads and skips alike, so a header walk that skips file
data still hashes it). `check` compares what was hashed with the digest a
manifest or config named and raises IntegrityError naming the object.
Registry clients, archive readers and the save-stream parser share these.
"""

from __future__ import annotations

import hashlib
import io
import re

from ..errors import ArchiveError, IntegrityError

_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
_LENGTHS = {"sha256": 64, "sha512": 128}


def parse_digest(digest, what: str) -> tuple[str, str]:
    """('sha256', hex) of a digest string; ArchiveError when it is not one dockerviz can check."""
    m = _DIGEST.match(digest) if isinstance(digest, str) else None
    if not m or len(m.group(2)) != _LENGTHS[m.group(1)]:
        raise ArchiveError(f"{what} names a digest {digest!r} that is not 'sha256:<64 hex digits>'.")
    return m.group(1), m.group(2)


def hasher_for(digest: str, what: str):
    alg, _ = parse_digest(digest, what)
    return hashlib.new(alg)


class HashingReader(io.RawIOBase):
    """A non-seekable reader hashing (and counting) everything read or skipped through it."""

    def __init__(self, fileobj, algorithm: str = "sha256"):
        self._f = fileobj
        self.hash = hashlib.new(algorithm)
        self.algorithm = algorithm
        self.count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n if n is not None and n >= 0 else -1)
        if data:
            self.hash.update(data)
            self.count += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self, chunk: int = 1 << 20) -> int:
        """Read (and hash) to the end; how many bytes that was."""
        done = 0
        while True:
            data = self.read(chunk)
            if not data:
                return done
            done += len(data)

    def digest(self) -> str:
        return f"{self.algorithm}:{self.hash.hexdigest()}"


def check(expected: str, actual: str, what: str, *, kind: str = "diff id") -> None:
    """Raise IntegrityError when `actual` (a digest string) is not `expected`."""
    if actual != expected:
        raise IntegrityError(
            f"The {what} does not match its {kind}: the image names {expected}, its bytes hash to {actual}. "
            "The layer was altered or cut short; nothing from it was used or cached. "
            "Re-create the archive (`docker save -o FILE IMAGE`) from an image you trust."
        )


def check_size(expected: int | None, actual: int, what: str) -> None:
    if expected is not None and expected != actual:
        raise IntegrityError(
            f"The {what} is {actual} bytes but its descriptor says {expected}: it is truncated or padded. "
            "Re-create it from an image you trust."
        )


__all__ = ["HashingReader", "check", "check_size", "hasher_for", "parse_digest"]


def checked_bytes(data: bytes, digest: str | None, what: str) -> bytes:
    """`data` when it hashes to `digest` (a document named by its digest: manifest, config); else IntegrityError."""
    if digest is None:
        return data
    alg, _ = parse_digest(digest, f"The descriptor of the {what}")
    check(digest, f"{alg}:{hashlib.new(alg, data).hexdigest()}", what, kind="digest")
    return data
