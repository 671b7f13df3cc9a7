"""The save stream parsed as it arrives equals the same archive read from a file.

The stream reader skips file data without copying it and walks uncompressed
layers on the stream itself; these tests cut the stream at awkward places
(chunks of 1, 3, 511 bytes, random sizes) and give it both as an iterable of
chunks (docker-py) and as a `readinto` source (the daemon's socket).
"""

import random
import tarfile

import pytest
from support.synth import layer_tar, legacy_archive, oci_archive, write

import dockerviz
from dockerviz.errors import ArchiveError
from dockerviz.model import tarheaders as th
from dockerviz.sources import streaming
from dockerviz.sources.streaming import ChunkReader, record_from_stream

SMALL = 16_384  # members below this are kept whole (1 MiB in use; lowered so the tests stay quick)
BIG = 20_000  # makes a layer larger than SMALL: parsed while it streams, not kept


@pytest.fixture(autouse=True)
def small_members(monkeypatch):
    monkeypatch.setattr(streaming, "SMALL", SMALL)


def _blob(name: str, size: int, seed: int) -> tuple:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o640
    info.mtime = 1700000000
    return ("raw", info, random.Random(seed).randbytes(size))  # incompressible: stays big under gzip/zstd


LAYERS = [
    layer_tar([("dir", "usr"), _blob("usr/big.bin", BIG, 1), ("file", "usr/a", 700), ("dir", "gone"),
               ("file", "gone/x", 50), ("symlink", "usr/l", "a")]),
    layer_tar([("whiteout", "gone"), _blob("usr/big.bin", BIG + 11, 2), ("hardlink", "usr/b", "usr/a"),
               ("opaque", "usr"), ("file", "usr/" + "n" * 150, 3)]),
    layer_tar([("file", "small", 10)]),  # below SMALL: kept whole, parsed from memory
]
HISTORY = [{"created_by": "one"}, {"created_by": "two"}, {"created_by": "three"}]


def _chunks(data: bytes, sizes) -> list[bytes]:
    out, pos = [], 0
    for n in sizes:
        if pos >= len(data):
            break
        out.append(data[pos:pos + n])
        pos += n
    if pos < len(data):
        out.append(data[pos:])
    return out


def _sizes(kind: str, total: int):
    if kind == "random":
        rng = random.Random(7)
        return [rng.choice((1, 2, 511, 512, 513, 4096, 70_000)) for _ in range(total)]
    return [int(kind)] * (total // int(kind) + 1)


class _Socketish:
    """A `readinto` source handing out at most the next planned chunk, like recv_into."""

    def __init__(self, chunks):
        self._chunks = list(chunks)

    def readinto(self, buf) -> int:
        while self._chunks:
            chunk = self._chunks.pop(0)
            if len(chunk) > len(buf):
                self._chunks.insert(0, chunk[len(buf):])
                chunk = chunk[:len(buf)]
            buf[:len(chunk)] = chunk
            return len(chunk)
        return 0


def _contents(record) -> list:
    return [(c.entries, c.whiteouts, c.opaque_dirs, c.tar_bytes) for c in (ref.read() for ref in record.layers)]


@pytest.mark.parametrize("compress", [None, "gzip", "zstd"])
@pytest.mark.parametrize("cut", ["1", "3", "511", "random"])
@pytest.mark.parametrize("as_socket", [False, True])
def test_stream_equals_file(tmp_path, compress, cut, as_socket):
    data = legacy_archive(LAYERS, HISTORY) if compress is None else oci_archive(LAYERS, HISTORY, compress=compress)
    assert all(len(layer) > SMALL for layer in LAYERS[:2]) and len(LAYERS[2]) < SMALL
    from_file = dockerviz.analyze(write(tmp_path / "image.tar", data), cache=False)
    chunks = _chunks(data, _sizes(cut, len(data)))
    source = _Socketish(chunks) if as_socket else iter(chunks)
    seen = []
    reader = ChunkReader(source, on_bytes=seen.append, scratch=4096)
    record = record_from_stream(reader, reference="synthetic", where="test stream", source_kind="daemon",
                                path="save-stream")
    assert _contents(record) == [(c.entries, c.whiteouts, c.opaque_dirs, c.tar_bytes) for c in from_file.contents]
    assert [e.path for e in record.layers[0].read().entries if e.size == BIG] == ["usr/big.bin"]
    # progress grew to the archive's end marker (the zero padding after it is left unread)
    assert seen == sorted(seen) and len(data) - 10240 <= seen[-1] <= len(data)
    assert reader.tail == data[:seen[-1]][-streaming.TAIL:]


def test_stream_cut_inside_a_streamed_layer_is_an_archive_error():
    data = legacy_archive(LAYERS, HISTORY)
    cut = data[: data.index(b"usr/a\0") + 600]  # inside the first layer, after its big file
    with pytest.raises(ArchiveError, match="truncated"):
        record_from_stream(ChunkReader(_Socketish(_chunks(cut, [4096] * 1000))), reference="x", where="test stream",
                           source_kind="daemon", path="save-stream")


def test_chunk_reader_skip_peek_read_across_chunks():
    data = bytes(range(256)) * 40
    for as_socket in (False, True):
        chunks = _chunks(data, [1, 5, 700, 3, 2000, 4096])
        r = ChunkReader(_Socketish(chunks) if as_socket else iter(chunks), scratch=1024)
        assert r.peek(10) == data[:10]
        assert r.read(4) == data[:4]
        assert r.skip(1500) == 1500
        assert r.peek(700) == data[1504:2204]
        assert r.read(3) == data[1504:1507]
        assert r.skip(3000) == 3000
        rest = r.read()
        assert rest == data[4507:]
        assert r.skip(10) == 0 and r.read(5) == b"" and r.peek(5) == b""


def test_byte_stream_skips_through_the_readers_skip():
    data = bytes(range(256)) * 8
    r = ChunkReader(iter(_chunks(data, [100] * 30)))
    s = th.ByteStream(r, limit=1500)
    assert s.read(10) == data[:10]
    assert s.skip(1000) and s.pos == 1010
    assert s.read(1000) == data[1010:1500]  # stops at the limit
    assert not s.skip(1)


def test_checksum_matches_the_definition():
    rng = random.Random(3)
    for _ in range(200):
        block = bytearray(rng.randbytes(512))
        signed = rng.random() < 0.3
        block[148:156] = b" " * 8
        if signed:
            total = sum((b - 256 if b > 127 else b) for b in block)
        else:
            total = sum(block)
        if total < 0:
            continue  # not representable in the octal field
        block[148:156] = b"%06o\0 " % total
        assert th._checksum_ok(bytes(block))
        block[rng.randrange(0, 148)] ^= 1 << rng.randrange(8)
        assert not th._checksum_ok(bytes(block))


# -- against the real daemon ------------------------------------------------------------


def _facts(img) -> tuple:
    return (img.id, img.diff_ids, [(c.entries, c.whiteouts, c.opaque_dirs, c.tar_bytes) for c in img.contents],
            img.reclaimable_bytes, img.dive.efficiency, img.dive.inefficient_bytes)


@pytest.fixture
def remote_daemon(monkeypatch, tmp_path):
    """The real daemon behind a TCP proxy: no local socket, so dockerviz streams through docker-py."""
    from support import proxy

    proc, host = proxy.start("tcp")
    monkeypatch.setenv("DOCKER_HOST", host)
    yield host
    proxy.stop(proc)


def test_save_stream_through_docker_py_equals_local_socket(test_images, monkeypatch, remote_daemon):
    from support import images

    from dockerviz import engine_socket as local_api
    from dockerviz.sources import daemon

    tag = images.PARITY_LINKS.tag
    assert local_api.local_socket() is None  # a TCP daemon: the local socket reader is not used
    via_docker_py = dockerviz.analyze(tag, path="save-stream", cache=False)
    assert via_docker_py.path == "save-stream"
    monkeypatch.delenv("DOCKER_HOST")
    via_socket = dockerviz.analyze(tag, path="save-stream", cache=False)
    assert _facts(via_docker_py) == _facts(via_socket)

    # Something the in-stream parse does not expect: the stream is read again, spooled to a file.
    monkeypatch.setenv("DOCKER_HOST", remote_daemon)
    spooled = []
    real_spool = daemon.DaemonSource._save_spooled

    def spool(self, client, image_id):
        spooled.append(image_id)
        return real_spool(self, client, image_id)

    def unusual(*a, **k):
        raise streaming.Unusual("test: a member the stream parse does not handle")

    monkeypatch.setattr(streaming, "record_from_stream", unusual)  # daemon imports it when it saves
    monkeypatch.setattr(daemon.DaemonSource, "_save_spooled", spool)
    via_spool = dockerviz.analyze(tag, path="save-stream", cache=False)
    assert spooled and _facts(via_spool) == _facts(via_socket)


def test_waiting_for_the_daemons_first_byte_is_reported(tmp_path):
    """A daemon may prepare a whole export before answering: api_stream ticks meanwhile, and the
    progress line says what is going on."""
    import socket
    import threading
    import time as _time

    from dockerviz.analysis import Progress
    from dockerviz.engine_socket import api_stream
    from dockerviz.progress import describe

    path = str(tmp_path / "d.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    ticks = []
    two_ticks = threading.Event()
    answered = []

    def tick():
        ticks.append(_time.monotonic())
        if len(ticks) == 2:
            two_ticks.set()

    def serve():
        while True:  # the version negotiation (/_ping, /v1.52/version), then the export
            conn, _ = srv.accept()
            request = conn.recv(4096)
            if b"/_ping" in request or b"/version" in request:
                body = b"OK" if b"/_ping" in request else b'{"ApiVersion":"1.52","MinAPIVersion":"1.44"}'
                conn.sendall(b"HTTP/1.0 200 OK\r\nApi-Version: 1.52\r\n\r\n" + body)
                conn.close()
                continue
            assert request.startswith(b"GET /v1.52/images/x/get ")
            two_ticks.wait(60)  # "preparing the export" until the client has said twice that it waits
            answered.append(len(ticks))
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/x-tar\r\n\r\nhello")
            conn.close()
            return

    t = threading.Thread(target=serve)
    t.start()
    body = api_stream(path, "/images/x/get", on_wait=tick)
    data = ChunkReader(body).read()
    body.close()
    t.join()
    srv.close()
    assert data == b"hello"
    assert answered == [2]
    assert len(ticks) <= 3  # ticking stops once the answer starts (one more if it was due as the bytes came)
    p = Progress(None)
    p.phase = "waiting"
    assert describe(p).startswith("waiting for the daemon to export the image (")
    # then the bytes of the export, against the size the daemon gave for the image
    p.phase, p.bytes, p.export_bytes = "exporting", 250_000_000, 500_000_000
    assert describe(p) == "exporting: 250.0 MB of about 500.0 MB"
    import ipywidgets

    from dockerviz.views.progress import NotebookProgress

    bar = NotebookProgress()
    bar.bar, bar.label = ipywidgets.IntProgress(), ipywidgets.Label()
    bar(p)
    assert (bar.bar.value, bar.bar.max) == (250_000_000, 500_000_000)
    assert bar.label.value == "exporting: 250.0 MB of about 500.0 MB"
