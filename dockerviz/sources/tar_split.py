"""Reading a layer from the headers the daemon keeps for it: layerdb/<chainID>/tar-split.json.gz.

The file holds JSON lines: type 2 = raw tar bytes with the file data cut out,
type 1 = {name, size} where a file's data was. Those raw bytes are the layer
tar's headers exactly as `docker save` would stream them; a fast reader cuts
them out a piece of text at a time, and anything unusual goes through the
same header walker the archives use.
"""

from __future__ import annotations

import json
import re
import zlib
from array import array
from binascii import a2b_base64 as _b64
from itertools import accumulate, repeat
from operator import add, getitem, mod, mul, neg, sub

from ..engine_socket import LocalUnavailable
from ..errors import ArchiveError
from ..model import entries as E
from ..model import tarheaders as th
from ..model.layer import ContentBuilder, LayerContent, content_from_headers, set_offsets


class _SplitStream:
    """The layer tar as tar-split recorded it: raw bytes, with holes where file data was.

    Supports what the header walker needs (pos, read, skip). Reads never
    cross a hole (headers and extended headers are always raw bytes); skips
    step over raw padding and holes alike.
    """

    def __init__(self, raw: bytes, holes: list):
        self._raw = raw
        self._holes = holes  # [(raw offset, size)], in order
        self._hi = 0
        self._hole_left = holes[0][1] if holes else 0
        self._r = 0
        self.pos = 0
        self.limit = None

    def read(self, n: int) -> bytes:
        data = self._raw[self._r: self._r + n]
        self._r += len(data)
        self.pos += len(data)
        return data

    def skip(self, n: int) -> bool:
        holes = self._holes
        nholes = len(holes)
        while n > 0:
            # holes behind the raw position were empty (directories, links): pass them
            while self._hi < nholes and (holes[self._hi][0] < self._r or
                                         (holes[self._hi][0] == self._r and self._hole_left == 0)):
                self._next_hole()
            if self._hi < nholes and holes[self._hi][0] == self._r:
                take = min(n, self._hole_left)
                self._hole_left -= take
            else:
                stop = holes[self._hi][0] if self._hi < nholes else len(self._raw)
                take = min(n, stop - self._r)
                if take <= 0:
                    return False
                self._r += take
            self.pos += take
            n -= take
        return True

    def _next_hole(self) -> None:
        self._hi += 1
        self._hole_left = self._holes[self._hi][1] if self._hi < len(self._holes) else 0


_TYPE2 = b'{"type":2,"payload":"'
_TYPE1 = b'{"type":1,'
_BLOCK = 512
_USTAR = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"
_NUL = b"\0"
_HEADER_ONLY = {th.LNKTYPE, th.SYMTYPE, th.DIRTYPE, th.CHRTYPE, th.BLKTYPE, th.FIFOTYPE}
_META = {th.GNU_LONGNAME, th.GNU_LONGLINK, th.PAX_HEADER, th.PAX_GLOBAL}


def _octal(field: bytes) -> int:
    if field[0] & 0x80:
        raise ValueError("base-256")
    if field[-1] == 0:
        try:
            return int(field[:-1], 8)  # the usual zero-padded digits and a NUL
        except ValueError:
            pass
    return int(field.split(_NUL, 1)[0].strip() or b"0", 8)


def _plain_header(block: bytes) -> th.TarHeader:
    """The common case: one ustar block, octal numbers, no extended header before it."""
    typeflag = block[156:157]
    magic = block[257:265]
    if typeflag in _META or (magic != _USTAR and magic != _GNU_MAGIC):
        raise ValueError("not a plain ustar header")
    name = block[:100].split(_NUL, 1)[0]
    if magic == _USTAR:
        prefix = block[345:500].split(_NUL, 1)[0]
        if prefix:
            name = prefix + b"/" + name
    devmajor = devminor = 0
    if typeflag == th.CHRTYPE or typeflag == th.BLKTYPE:
        devmajor = _octal(block[329:337])
        devminor = _octal(block[337:345])
    return th.TarHeader(name, typeflag, _octal(block[124:136]), _octal(block[100:108]) & 0o7777,
                        _octal(block[108:116]), _octal(block[116:124]), block[157:257].split(_NUL, 1)[0], 0,
                        devmajor, devminor)


def _full_header(seg: bytes, what: str) -> th.TarHeader:
    """Anything else (PAX and GNU extensions, base-256 numbers): the general walker on this segment."""
    stream = _SplitStream(seg, [(len(seg), 1 << 62)])
    for h in th.iter_headers(stream, what=what):
        return h
    raise ValueError("no header in a tar-split segment")


def _gz_lines(path: str, chunk: int = 1 << 15):
    """The lines of a gzip file, decompressed a little at a time.

    tar-split files compress about 60:1 (tar padding), so the compressed input
    is fed in small pieces to keep the decompressed text in memory small.
    """
    d = zlib.decompressobj(31)
    tail = b""
    with open(path, "rb") as f:
        while True:
            raw = f.read(chunk)
            data = d.decompress(raw) if raw else d.flush()
            if data:
                lines = (tail + data).split(b"\n")
                tail = lines.pop()
                yield from lines
            if not raw:
                break
    if not d.eof:
        raise EOFError("the file ends inside the gzip stream")
    if tail:
        yield tail


def _member_header(pending: list, prev_pad: int, what: str) -> th.TarHeader:
    """The header a type-1 entry stands for, from the base64 payloads of the type-2 lines before it.

    In the common case (one payload holding just the padding and a plain
    header) only the base64 text of the last 512 bytes is decoded: the
    padding is most of the bytes.
    """
    if len(pending) == 1:
        text = pending[0]
        nbytes = len(text) // 4 * 3 - text.count(b"=", -2)
        if nbytes - prev_pad == _BLOCK:
            start = (nbytes - _BLOCK) // 3  # whole base64 quanta before the header
            block = _b64(text[start * 4:])[(nbytes - _BLOCK) - start * 3:]
            try:
                return _plain_header(block)
            except ValueError:
                pass
    seg = b"".join(_b64(t) for t in pending)
    return _full_header(seg[prev_pad:], what)


def _split_headers(path: str, what: str):
    """Every header of the layer tar, from tar-split.json.gz, in tar order.

    Each type-1 entry (a member) follows the raw bytes that end with its
    header: the padding of the member before, any extended headers, then the
    header block itself.
    """
    pending: list = []
    prev_pad = 0
    n2 = len(_TYPE2)
    for line in _gz_lines(path):
        if line.startswith(_TYPE2):
            pending.append(line[n2: line.index(b'"', n2)])
            continue
        if not line.startswith(_TYPE1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("type") == 2:
                pending.append((rec.get("payload") or "").encode("ascii"))
                continue
            if rec.get("type") != 1:
                raise ValueError(f"entry type {rec.get('type')!r}")
        h = _member_header(pending, prev_pad, what)
        pending = []
        data_size = 0 if h.typeflag in _HEADER_ONLY else h.size
        prev_pad = -data_size % _BLOCK
        yield h
    rest = b"".join(_b64(t) for t in pending)
    if rest.strip(_NUL):
        raise ValueError("unexpected bytes after the last member")


# The usual shape of a tar-split file, read without a JSON parser: each member
# is one line {"type":2,"payload":"<base64 of the padding before it and its
# header>",...} followed by one {"type":1,...} line; after the last member come
# type-2 lines of zeros. Anything else is left to _split_headers.
_FAST_KIND = {th.REGTYPE: E.FILE, th.AREGTYPE: E.FILE, th.CONTTYPE: E.FILE, th.DIRTYPE: E.DIR,
              th.SYMTYPE: E.SYMLINK, th.FIFOTYPE: E.OTHER}
# One plain ustar (or GNU) header block: the name, numbers, link name and prefix
# as _plain_header reads them, when every number is NUL-terminated. Extended
# headers and device nodes (whose numbers must be checked) do not match.
_PLAIN = re.compile(
    rb"(?=([^\0]{0,100}))(?s:.{100})"          # name, up to its first NUL
    rb"((?s:.{7})\0(?s:.{7})\0(?s:.{7}))\0"      # mode, uid, gid
    rb"((?s:.{11}))\0(?s:.{20})"                 # size; mtime, checksum
    rb"([^LKxg34])"                              # typeflag
    rb"(?=([^\0]{0,100}))(?s:.{100})"            # link name
    rb"(ustar\x0000|ustar  \0)(?s:.{80})"        # magic; owner names, device numbers
    rb"(?=([^\0]{0,155}))(?s:.{167})")           # prefix (ustar only), rest of the block
_PAYLOAD_AT = len(_TYPE2)
_TAIL_CHARS = 688  # base64 characters holding the last 512 bytes of a payload (and up to 4 more)


def _tail_key(pad: int) -> int:
    """ends[i] * 1024 + len(decoded tail) of a payload that holds `pad` bytes of padding then one header."""
    nbytes = pad + _BLOCK
    chars = (nbytes + 2) // 3 * 4
    tail = nbytes - (chars - _TAIL_CHARS) // 4 * 3 if chars > _TAIL_CHARS else nbytes
    return (_PAYLOAD_AT + chars) * 1024 + tail


_TAIL_KEYS = [_tail_key(pad) for pad in range(_BLOCK)]


def _owner(fields: bytes):
    """(mode, uid, gid) from the three NUL-terminated octal fields; None when one is not a plain number."""
    try:
        return int(fields[0:7], 8) & 0o7777, int(fields[8:15], 8), int(fields[16:23], 8)
    except ValueError:
        return None


class _Unusual(Exception):
    """The tar-split file is not of the usual shape: read it with the general reader."""


def _gz_pieces(path: str, chunk: int = 1 << 12):
    """The text of a gzip file, decompressed a piece at a time, each piece cut before a member's first line."""
    d = zlib.decompressobj(31)
    tail = b""
    cut_at = b'\n' + _TYPE2
    with open(path, "rb") as f:
        while True:
            raw = f.read(chunk)
            data = d.decompress(raw) if raw else d.flush()
            if not raw:
                break
            if not data:
                continue
            text = tail + data if tail else data
            cut = text.rfind(cut_at) + 1
            if cut <= 0:
                tail = text
                continue
            tail = text[cut:]
            yield text[:cut]
    if not d.eof:
        raise EOFError("the file ends inside the gzip stream")
    yield tail + data


def _plain_piece(found: list, keys: list, prev_pad: int, owners: dict, entries: list, pos: int, offsets):
    """Entries of a piece whose every header is plain, with a clean name, no prefix and no hard link.

    Appends them (and where each one's data starts in the layer tar, the tar
    being at `pos` before the piece) and returns (the padding after the last
    member, the sum of the size fields, the tar's position after the piece);
    None (nothing appended) when any header is otherwise.
    """
    names, owner_fields, size_fields, typeflags, links, _magics, prefixes = zip(*found)
    n = len(names)
    if prefixes.count(b"") != n:
        return None
    kinds = list(map(_FAST_KIND.get, typeflags))
    if None in kinds:
        return None
    for fields in set(owner_fields).difference(owners):
        owners[fields] = _owner(fields)
    owned = list(map(owners.__getitem__, owner_fields))
    if None in owned:
        return None
    try:
        sizes = list(map(int, size_fields, repeat(8)))
    except ValueError:
        return None
    joined = b"\0" + b"\0".join(names)
    if joined.count(b"\0./") == n:  # every name relative to "." (`docker import`, `tar -C dir .`)
        names = list(map(getitem, names, repeat(slice(2, None))))
        joined = b"\0" + b"\0".join(names)
    joined += b"\0"
    if b"\0\0" in joined or b"\0/" in joined or b"\0." in joined or b"/." in joined or b"//" in joined:
        return None
    is_file = list(map(E.FILE.__eq__, kinds))
    data_sizes = list(map(mul, sizes, is_file))
    pads = list(map(mod, map(neg, data_sizes), repeat(_BLOCK)))
    before = [prev_pad]
    before += pads[:-1]
    if keys != list(map(_TAIL_KEYS.__getitem__, before)):
        return None
    paths = b"\0".join(map(bytes.rstrip, names, repeat(b"/"))).decode("utf-8", "surrogateescape").split("\0")
    SYMLINK = E.SYMLINK
    if SYMLINK in kinds:
        link_texts = [l.decode("utf-8", "surrogateescape") if k is SYMLINK else "" for k, l in zip(kinds, links)]
    else:
        link_texts = repeat("")
    modes, uids, gids = zip(*owned)
    entries.extend(map(E.Entry, paths, kinds, data_sizes, modes, uids, gids, link_texts))
    # each member spans the padding before it, its header block and its data
    ends = list(accumulate(map(add, map(add, before, repeat(_BLOCK)), data_sizes), initial=pos))
    offsets.extend(map(sub, ends[1:], data_sizes))
    return pads[-1], sum(sizes), ends[-1]


def _read_split_fast(path: str, what: str) -> LayerContent:
    """LayerContent of a tar-split file of the usual shape; raises _Unusual for any other.

    Equivalent to content_from_headers(_split_headers(path)): per piece of
    text, the payloads are cut out and the base64 of each header decoded with
    a few calls over the whole piece, the headers matched at once, and only
    what turns out not to be a plain header with a clean name goes through
    the general code.
    """
    builder = ContentBuilder(what)
    entries = builder.entries
    Entry = E.Entry
    add_fields = builder.add_fields
    fast_kind = _FAST_KIND
    tail_keys = _TAIL_KEYS
    header_only = _HEADER_ONLY
    USTAR = _USTAR
    FILE, SYMLINK = E.FILE, E.SYMLINK
    owners: dict = {}  # the mode, uid and gid fields (23 bytes) -> their numbers; a layer has a handful
    tar_bytes = 0
    prev_pad = 0
    pos = 0  # where the layer tar is, after the members read so far
    offsets = array("q")  # where each entry's data starts in the layer tar, as read_layer_stream records
    record = offsets.append
    type1 = _TYPE1
    type2 = _TYPE2
    rest: list = []
    for text in _gz_pieces(path):
        lines = text.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        if rest:
            lines[:0] = rest
        # type-2 lines after the last member of this piece: the end of the tar, or
        # (in the next piece) the start of an unusual member
        i = len(lines)
        while i > 0 and lines[i - 1].startswith(type2):
            i -= 1
        rest = lines[i:]
        del lines[i:]
        evens = lines[0::2]
        odds = lines[1::2]
        n = len(evens)
        if (n != len(odds) or not all(map(bytes.startswith, evens, repeat(type2)))
                or not all(map(bytes.startswith, odds, repeat(type1)))):
            raise _Unusual()
        ends = list(map(bytes.index, evens, repeat(b'"'), repeat(_PAYLOAD_AT)))
        try:
            tails = list(map(_b64, map(getitem, evens, map(slice, map(max, repeat(_PAYLOAD_AT),
                                                                      map(sub, ends, repeat(_TAIL_CHARS))), ends))))
        except ValueError:
            raise _Unusual() from None
        keys = list(map(add, map(mul, ends, repeat(1024)), map(len, tails)))
        blocks = b"".join(map(getitem, tails, repeat(slice(-_BLOCK, None))))
        found = _PLAIN.findall(blocks) if len(blocks) == n * _BLOCK else ()
        whole = len(found) == n  # every block a plain header
        if not whole:
            found = [m.groups() if m is not None else None
                     for m in map(_PLAIN.match, map(getitem, tails, repeat(slice(-_BLOCK, None))))]
        if n and whole:
            done = _plain_piece(found, keys, prev_pad, owners, entries, pos, offsets)
            if done is not None:
                prev_pad, piece_bytes, pos = done
                tar_bytes += piece_bytes
                continue
        i = -1
        for f in found:
            i += 1
            had = len(entries)
            if f is not None and keys[i] == tail_keys[prev_pad]:
                pos += prev_pad + _BLOCK  # the payload: the padding before the member, then its header
                name, ids, size, typeflag, link, magic, prefix = f
                own = owners.get(ids)
                if own is None:
                    own = owners[ids] = _owner(ids)
                try:
                    size = int(size, 8)
                except ValueError:
                    own = None
                if own is not None:
                    if prefix and magic == USTAR:
                        name = prefix + b"/" + name
                    kind = fast_kind.get(typeflag)
                    clean = name[2:] if name[:2] == b"./" else name  # as `docker import` and `tar -C dir .` write
                    if (kind is None or not clean or clean[0] == 0x2F or clean[0] == 0x2E
                            or b"/." in clean or b"//" in clean):
                        add_fields(name, typeflag, size, own[0], own[1], own[2], link)
                        if len(entries) != had:
                            record(pos)
                        data = size if typeflag not in header_only else 0
                        pos += data
                        prev_pad = -data % _BLOCK
                        continue
                    tar_bytes += size
                    if clean[-1] == 0x2F:
                        clean = clean[:-1]
                    mode, uid, gid = own
                    record(pos)
                    if kind is FILE:
                        entries.append(Entry(clean.decode("utf-8", "surrogateescape"), FILE, size, mode, uid, gid, ""))
                        pos += size
                        prev_pad = -size % _BLOCK
                    elif kind is SYMLINK:
                        entries.append(Entry(clean.decode("utf-8", "surrogateescape"), SYMLINK, 0, mode, uid, gid,
                                             link.decode("utf-8", "surrogateescape")))
                        prev_pad = 0
                    else:
                        entries.append(Entry(clean.decode("utf-8", "surrogateescape"), kind, 0, mode, uid, gid, ""))
                        prev_pad = 0
                    continue
                pos -= prev_pad + _BLOCK  # not taken here: counted below
            payload = evens[i][_PAYLOAD_AT: ends[i]]
            h = _member_header([payload], prev_pad, what)
            builder.add(h)
            pos += len(payload) // 4 * 3 - payload[-2:].count(b"=")
            if len(entries) != had:
                record(pos)
            data = 0 if h.typeflag in header_only else h.size
            pos += data
            prev_pad = -data % _BLOCK
    if rest:
        pending = [line[_PAYLOAD_AT: line.index(b'"', _PAYLOAD_AT)] for line in rest]
        if b"".join(_b64(t) for t in pending).strip(_NUL):
            raise ValueError("unexpected bytes after the last member")
    builder.tar_bytes += tar_bytes
    content = builder.finish()
    set_offsets(content, entries, offsets)
    return content


def read_tar_split(path: str, *, what: str = "layer") -> LayerContent:
    """LayerContent from a tar-split.json.gz file, with no layer data read."""
    try:
        try:
            return _read_split_fast(path, what)
        except _Unusual:
            return content_from_headers(_split_headers(path, what), what=what)
    except FileNotFoundError:
        raise LocalUnavailable(f"{path} is missing") from None
    except ArchiveError as exc:
        raise LocalUnavailable(f"{path} holds a damaged header ({exc})") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise LocalUnavailable(f"{path} cannot be read ({type(exc).__name__}: {exc})") from None
