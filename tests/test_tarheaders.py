"""The header walker against tarfile, and on damaged input."""

import io
import random
import tarfile

import pytest

from dockerviz.errors import ArchiveError
from dockerviz.model import tarheaders as th


def _random_tar(seed: int, fmt) -> bytes:
    rng = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for i in range(200):
            depth = rng.randint(1, 6)
            name = "/".join("d" * rng.randint(1, 40) + str(rng.randint(0, 9)) for _ in range(depth)) + f"-{i}"
            info = tarfile.TarInfo(name)
            kind = rng.choice(["file", "file", "dir", "sym", "link"])
            info.uid = rng.choice([0, 1000, 70000])
            info.gid = rng.choice([0, 1000, 2**21 + 5]) if fmt != tarfile.USTAR_FORMAT else 1000
            info.mode = rng.choice([0o644, 0o755, 0o4755, 0o1777])
            if kind == "file":
                info.size = rng.randint(0, 3000)
                tar.addfile(info, io.BytesIO(b"a" * info.size))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = "t/" * rng.randint(1, 70) + "x"
                tar.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_walker_agrees_with_tarfile(fmt):
    data = _random_tar(7, fmt)
    expected = [(m.name, m.size if m.isreg() else m.size, m.mode, m.uid, m.gid, m.linkname)
                for m in tarfile.open(fileobj=io.BytesIO(data))]
    got = [(h.name.decode().rstrip("/"), h.size, h.mode, h.uid, h.gid, h.linkname.decode())
           for h in th.iter_headers(th.open_stream(data))]
    assert got == expected
    assert any(len(n) > 100 for n, *_ in got)  # long names really were exercised


def test_non_utf8_and_unseekable_stream():
    info = tarfile.TarInfo("caf\xe9")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
        tar.addfile(tarfile.TarInfo("next"), io.BytesIO(b""))

    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._b = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self._b.read(min(len(b), 100))
            b[: len(chunk)] = chunk
            return len(chunk)

    names = [h.name for h in th.iter_headers(th.ByteStream(Pipe(buf.getvalue())))]
    assert names == [b"caf\xe9", b"next"]


def test_truncated_inside_data_is_an_archive_error():
    data = _random_tar(1, tarfile.PAX_FORMAT)
    cut = data[: len(data) // 2 + 7]
    with pytest.raises(ArchiveError, match="truncated"):
        list(th.iter_headers(th.open_stream(cut)))


def test_garbage_is_a_checksum_error():
    with pytest.raises(ArchiveError, match="checksum"):
        list(th.iter_headers(th.open_stream(b"this is not a tar archive".ljust(1024, b"!"))))
