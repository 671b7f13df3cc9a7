"""Reading one layer from a registry: the blob streamed once and verified, or just its table of contents.

A whole blob is parsed while it arrives (nothing written to disk): its bytes
are hashed as they come (the blob digest), decompressed, hashed again (the
diff id) and walked for tar headers. Both digests must match the manifest and
config before the content is returned, so nothing unverified reaches the
cache. eStargz and zstd:chunked layers are read by HTTP range requests: the
footer, then the table of contents, checked against the digest the manifest
annotates; their content is cached under that digest, not the diff id
(which only a full read could prove).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import zlib
from typing import BinaryIO, cast

from ..errors import (
    ArchiveError,
    IntegrityError,
    RegistryError,
    RegistryUnavailableError,
)
from ..model import tarheaders as th
from ..model import toc as T
from ..model.compression import open_layer_stream
from ..model.digest import HashingReader, check
from ..model.layer import LayerContent, read_layer


class _Response(io.RawIOBase):
    """An HTTP response body, cut one byte past what its descriptor promises (so a longer one shows
    without being read to its end), whose network errors surface as RegistryUnavailableError."""

    def __init__(self, resp: http.client.HTTPResponse, where: str, limit: int):
        self._resp = resp
        self._where = where
        self._left = limit + 1

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(b)[: self._left]
        try:
            n = self._resp.readinto(view) or 0
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryUnavailableError(f"The download from {self._where} broke off ({exc}). Try again.") from None
        self._left -= n
        return n


class BlobLayer:
    """LayerRef.reader for a layer read whole from its blob, verified as sources.base verifies any blob."""

    fork_safe = False  # one connection, held by this process

    def __init__(self, client, repo: str, desc: dict, diff_id: str, what: str):
        self.client = client
        self.repo = repo
        self.digest = desc.get("digest", "")
        self.size = int(desc.get("size") or 0)
        self.diff_id = diff_id
        self.what = what

    def __call__(self) -> LayerContent:
        return self._streamed(lambda buffered, raw: read_layer(
            buffered, what=self.what, diff_id=self.diff_id, blob_digest=self.digest, blob_size=self.size))

    def fetch(self, path: str, n: int) -> bytes:
        """Up to n bytes of the regular file `path`: a second pass over the blob keeping only that file.

        Nothing is written to disk and at most n bytes of the file are held; the whole blob is hashed
        as it passes and the bytes are returned only once it matches the manifest's digest.
        """
        from .files import MemberNotFound, member_in_stream

        def keep(buffered, raw):
            found = member_in_stream(open_layer_stream(buffered, what=self.what), path, n, self.what)
            raw.drain()
            check(self.digest, raw.digest(), f"blob of the {self.what} (the registry's copy is corrupt or was "
                  "altered since it was analysed)", kind="digest")
            return found

        found = self._streamed(keep)
        if found is None:
            raise MemberNotFound(f"The {self.what} in the registry holds no regular file /{path}; "
                                 "the image was changed since it was analysed: analyse it again.")
        return found

    def _streamed(self, consume):
        """consume(buffered blob, hashing reader) over one GET of the blob; a blob whose bytes do not
        hash to its digest is refused as that, whatever the decompressor made of it."""
        client = self.client
        resp = client.request("GET", f"/v2/{self.repo}/blobs/{self.digest}", what=f"blob of {self.what}")
        raw = HashingReader(_Response(resp, client.host, self.size))
        try:
            try:
                return consume(cast(BinaryIO, io.BufferedReader(raw, 1 << 16)), raw)
            except IntegrityError:
                raise
            except ArchiveError:
                # a blob that does not hash to its digest says more than the decompressor's complaint
                raw.drain()
                check(self.digest, raw.digest(), f"blob of the {self.what} (the registry's copy is corrupt "
                      "or was altered)", kind="digest")
                raise
        except BaseException:
            resp.close()
            client.close()  # a half-read response leaves its connection unusable
            raise
        finally:
            client.downloaded += raw.count


class TocLayer:
    """LayerRef.reader for an eStargz or zstd:chunked layer: footer and table of contents only."""

    fork_safe = False

    def __init__(self, client, repo: str, desc: dict, kind: str, what: str):
        self.client = client
        self.repo = repo
        self.desc = desc
        self.digest = desc.get("digest", "")
        self.size = int(desc.get("size") or 0)
        self.annotations = desc.get("annotations") or {}
        self.kind = kind
        self.what = what
        self.fallback: BlobLayer | None = None  # set by the source: used when the registry ignores ranges

    @property
    def cache_key(self) -> str | None:
        """The digest the table of contents is checked against (the key its content is cached under)."""
        if self.kind == "estargz":
            return self.annotations.get(T.ESTARGZ_TOC_DIGEST)
        return self.annotations.get(T.ZSTD_CHUNKED_CHECKSUM) or self.annotations.get(T.ZSTD_CHUNKED_CHECKSUM_OLD)

    def _range(self, start: int, end: int) -> bytes | None:
        """Bytes [start, end) of the blob; None when the registry answers without honouring the range."""
        if not 0 <= start < end <= self.size:
            raise ArchiveError(f"The table of contents of the {self.what} lies outside its blob "
                               f"({start}-{end} of {self.size} bytes).")
        client = self.client
        resp = client.request("GET", f"/v2/{self.repo}/blobs/{self.digest}",
                              headers={"Range": f"bytes={start}-{end - 1}"}, what=f"blob of {self.what}",
                              ok=(200, 206))
        if resp.status != 206:
            resp.close()
            client.close()
            return None
        data = client.read_body(resp, limit=end - start, what=f"range of the {self.what}")
        if len(data) != end - start:
            raise ArchiveError(f"The registry sent {len(data)} bytes for a range of {end - start} of the {self.what}.")
        return data

    def __call__(self) -> LayerContent:
        try:
            toc = self._estargz() if self.kind == "estargz" else self._zstd_chunked()
        except _NoRanges:
            if self.fallback is None:
                raise RegistryError(f"The registry {self.client.host} does not serve byte ranges.") from None
            return self.fallback()
        return T.content_from_toc(toc, what=self.what)

    def _checked(self, data: bytes, what: str) -> None:
        want = self.cache_key
        if want:
            check(want, "sha256:" + hashlib.sha256(data).hexdigest(), f"{what} of the {self.what}",
                  kind="digest the manifest annotates")

    def _estargz(self) -> dict:
        footer = self._range(self.size - T.ESTARGZ_FOOTER, self.size)
        if footer is None:
            raise _NoRanges
        member = self._range(*T.estargz_toc_span(footer, self.size, self.what))
        if member is None:
            raise _NoRanges
        try:
            tar = _bounded_gunzip(member, T.MAX_TOC_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"The eStargz table of contents of the {self.what} is not gzip ({exc}).") from None
        stream = th.ByteStream(io.BytesIO(tar))
        for h in th.iter_headers(stream, what=f"eStargz TOC of the {self.what}"):
            if h.name.rstrip(b"/") in (b"stargz.index.json", b"./stargz.index.json"):
                data = tar[h.offset: h.offset + h.size]
                self._checked(data, "stargz.index.json")
                return _json(data, self.what)
            stream.skip(h.data_blocks)
        raise ArchiveError(f"The eStargz table of contents of the {self.what} holds no stargz.index.json.")

    def _zstd_chunked(self) -> dict:
        footer = None
        ann = self.annotations
        if not (ann.get(T.ZSTD_CHUNKED_POSITION) or ann.get(T.ZSTD_CHUNKED_POSITION_OLD)):
            footer = self._range(self.size - T.ZSTD_CHUNKED_FOOTER, self.size)
            if footer is None:
                raise _NoRanges
        offset, length, ulength = T.zstd_chunked_position(ann, footer, self.what)
        frame = self._range(offset, offset + length)
        if frame is None:
            raise _NoRanges
        self._checked(frame, "zstd:chunked manifest")
        return _json(T.zstd_chunked_toc(frame, ulength, self.what), self.what)


class _NoRanges(Exception):
    pass


def _bounded_gunzip(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit:
        raise ArchiveError(f"A table of contents decompresses to more than {limit} bytes; refused.")
    return out


def _json(data: bytes, what: str):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"The table of contents of the {what} is not valid JSON ({exc}).") from None


__all__ = ["BlobLayer", "TocLayer"]
