"""A `docker save` archive on disk (plain, gzip- or zstd-compressed): indexed in place when plain,
parsed as a stream when compressed."""

from __future__ import annotations

import os
import stat

from ..errors import SourceError
from ..model.compression import sniff
from .archive import HeldFiles, TarStore, candidates_in_store, record_from_store, spool_stream
from .base import ImageRecord


class ArchiveSource(HeldFiles):
    """A `docker save` archive on disk (plain, gzip- or zstd-compressed)."""

    kind = "archive"

    def __init__(self, path: str | os.PathLike, *, want: str | None = None, path_name: str = "archive",
                 platform: str | None = None):
        self.path = os.fspath(path)
        self.want = want
        self.platform = platform
        self.path_name = path_name

    def __enter__(self) -> ImageRecord:
        return self.open()

    def _open_fd(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise SourceError(f"No such archive: {self.path}. Create one with `docker save -o {self.path} IMAGE`.") from None
        except OSError as exc:
            raise SourceError(f"Cannot open {self.path}: {exc.strerror}.") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SourceError(f"{self.path} is not a regular file; pass the file `docker save` wrote.")
        return fd

    def _open_compressed(self, kind: str) -> ImageRecord:
        """A compressed archive has no random access: parse it as a stream, as a daemon's save stream is
        parsed; only if it holds something unusual, decompress it into a bounded unlinked temporary file."""
        from ..model.compression import decompressed
        from .streaming import ChunkReader, Unusual, record_from_stream

        with open(self.path, "rb") as raw:
            _, inflated = decompressed(raw, what=f"archive {self.path}")
            reader = ChunkReader(inflated)
            try:
                return record_from_stream(reader, reference=self.path, where=self.path, source_kind=self.kind,
                                          path=self.path_name, want=self.want)
            except Unusual:
                pass
        with open(self.path, "rb") as raw:
            _, inflated = decompressed(raw, what=f"archive {self.path}")
            self._spool = spool_stream(iter(lambda: inflated.read(1 << 20), b""), what=f"archive {self.path}")
        self._fd = os.dup(self._spool.fileno())
        store = TarStore(self._fd, self.path)
        return record_from_store(store, reference=self.path, source_kind=self.kind, path=self.path_name,
                                 want=self.want)

    def candidates(self) -> list:
        """The images the archive holds (choose.Candidates)."""
        self._fd = self._open_fd()
        try:
            return candidates_in_store(TarStore(self._fd, self.path))
        finally:
            self.close()

    def open(self) -> ImageRecord:
        self._fd = self._open_fd()
        try:
            kind = sniff(os.pread(self._fd, 4, 0))
            if kind != "tar":
                os.close(self._fd)
                self._fd = None
                return self._open_compressed(kind)
            store = TarStore(self._fd, self.path)
            return record_from_store(store, reference=self.path, source_kind=self.kind, path=self.path_name,
                                     want=self.want, platform=self.platform)
        except BaseException:
            self.close()
            raise
