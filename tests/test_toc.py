"""Tables of contents (eStargz, zstd:chunked) from a hostile registry: bounded, and refused in words.

The registry here is a loopback HTTP server honouring byte ranges, standing
for one serving an image whose layer annotations and footers were written to
make a reader allocate: a zstd frame that inflates far past the size the
annotation declares, a footer pointing the table of contents at the start of
a large blob.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import struct
import threading
import tracemalloc

import pytest
import zstandard

from dockerviz.errors import ArchiveError
from dockerviz.model import toc as T
from dockerviz.sources.registry_http import RegistryClient, RegistryOptions
from dockerviz.sources.registry_layers import TocLayer


class RangeRegistry:
    """Serves one blob at /v2/repo/blobs/DIGEST with Range support; `ranges` lists what was asked."""

    def __init__(self, blob: bytes):
        self.blob = blob
        self.digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        self.ranges: list[tuple[int, int]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
                start, end = (int(m.group(1)), int(m.group(2)) + 1) if m else (0, len(owner.blob))
                owner.ranges.append((start, end))
                body = owner.blob[start:end]
                self.send_response(206 if m else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def layer(self, kind: str, annotations: dict) -> TocLayer:
        client = RegistryClient(f"127.0.0.1:{self.port}", "127.0.0.1", "repo", RegistryOptions.coerce(None))
        desc = {"digest": self.digest, "size": len(self.blob), "annotations": annotations}
        return TocLayer(client, "repo", desc, kind, "layer 0")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zstd_chunked_toc_that_inflates_past_its_declared_size_is_refused_within_memory():
    inflated = 64 << 20
    frame = zstandard.ZstdCompressor().compress(bytes(inflated))  # the frame header says 64 MiB
    reg = RangeRegistry(b"\0" * 4096 + frame)
    try:
        layer = reg.layer("zstd:chunked", {
            T.ZSTD_CHUNKED_CHECKSUM: "sha256:" + hashlib.sha256(frame).hexdigest(),
            T.ZSTD_CHUNKED_POSITION: f"4096:{len(frame)}:{1 << 20}:1"})  # ... and the annotation 1 MiB

        def read():
            with pytest.raises(ArchiveError) as err:
                layer()
            assert "table of contents" in str(err.value)

        assert _peak(read) < inflated // 4
    finally:
        reg.close()


def test_an_estargz_footer_pointing_far_before_its_end_is_refused_before_the_range_is_fetched(monkeypatch):
    monkeypatch.setattr(T, "MAX_TOC_BYTES", 1 << 20)
    body = b"\0" * (4 << 20)
    footer = (b"\x1f\x8b\x08\x04" + b"\0" * 6 + struct.pack("<H", 26) + b"SG" + struct.pack("<H", 22)
              + b"%016xSTARGZ" % 0 + b"\x01\x00\x00\xff\xff" + b"\0" * 8)
    assert len(footer) == T.ESTARGZ_FOOTER
    reg = RangeRegistry(body + footer)
    try:
        layer = reg.layer("estargz", {T.ESTARGZ_TOC_DIGEST: "sha256:" + "0" * 64})
        with pytest.raises(ArchiveError) as err:
            layer()
        assert "table of contents" in str(err.value)
        assert all(end - start <= T.ESTARGZ_FOOTER for start, end in reg.ranges), reg.ranges
    finally:
        reg.close()


@pytest.mark.parametrize("entry", [
    {"type": "reg", "name": "a", "size": 1e999},
    {"type": "reg", "name": "a", "size": -1},
    {"type": "reg", "name": "a", "size": 1, "uid": -1},
    {"type": "dir", "name": "d", "gid": -7},
    {"type": "reg", "name": "a", "mode": float("nan")},
], ids=["infinite-size", "negative-size", "negative-uid", "negative-gid", "nan-mode"])
def test_toc_numbers_a_tar_header_could_not_hold_are_refused(entry):
    toc = json.loads(json.dumps({"version": 1, "entries": [entry]}))
    with pytest.raises(ArchiveError) as err:
        T.content_from_toc(toc, what="layer 3")
    assert "layer 3" in str(err.value)


def test_toc_entries_read_as_their_tar_headers_would():
    toc = {"version": 1, "entries": [
        {"type": "dir", "name": "etc/", "mode": 0o755},
        {"type": "reg", "name": "etc/app.conf", "size": 12, "mode": 0o644, "uid": 1000, "gid": 1000},
        {"type": "chunk", "name": "etc/app.conf", "offset": 6, "size": 6},
        {"type": "symlink", "name": "etc/link", "linkName": "app.conf"},
    ]}
    content = T.content_from_toc(toc)
    by_path = {e.path: e for e in content.entries}
    assert set(by_path) == {"etc", "etc/app.conf", "etc/link"}
    f = by_path["etc/app.conf"]
    assert (f.size, f.mode, f.uid, f.gid) == (12, 0o644, 1000, 1000)
    assert by_path["etc/link"].link == "app.conf"
