"""The hostile corpus: a few hundred archives and OCI layouts made the way an attacker makes them.

`build(root)` writes every case under `root` and returns their descriptions:
{"name", "family", "path", "expect" ("refuse" / "accept" / "either"), "heavy",
"timeout", "want_files"/"not_files" (paths the analysis must / must not show)}.
Families follow what strangers' images were seen to do: numbers beyond what
consumers hold, broken compressed data, JSON of the wrong shape, deep nesting,
names that break output, filesystem oddities in layouts, declared sizes that
are not there, bombs, and integrity attacks (forged diff ids, truncation).
"""

from __future__ import annotations

import gzip
import json
import os
import zlib

from . import build as B

HONEST_FILES = {"app/honest-file": b"honest\n", "etc/os-release": b"ID=hostile\n"}


def honest_layers():
    return [B.plain_layer({"etc/os-release": b"ID=hostile\n", "bin/sh": b"#!sh\n"}),
            B.plain_layer({"app/honest-file": b"honest\n"})]


class Corpus:
    def __init__(self, root: str):
        self.root = root
        self.cases: list[dict] = []
        os.makedirs(root, exist_ok=True)

    def add(self, family: str, name: str, data: bytes | None = None, *, expect="either", heavy=False, timeout=30,
            layout: dict | None = None, path: str | None = None, suffix=".tar", **extra) -> None:
        safe = f"{family}-{name}".replace("/", "_")
        if path is None:
            if layout is not None:
                path = B.write_layout(os.path.join(self.root, safe), layout)
            else:
                path = os.path.join(self.root, safe + suffix)
                with open(path, "wb") as f:
                    f.write(data)
        self.cases.append({"name": safe, "family": family, "path": path, "expect": expect, "heavy": heavy,
                           "timeout": timeout, **extra})

    def legacy_layer(self, family, name, layer: bytes, expect="either", **kw):
        """One hostile layer over the honest base, with a correct diff id (so the parse itself is tested)."""
        self.add(family, name, B.legacy([honest_layers()[0], layer]), expect=expect, **kw)

    def oci(self, family, name, *, compress=None, layers=None, mutate=None, expect="either", as_layout=False,
            raw=None, **kw):
        blobs, index, manifest, cfg = B.oci_parts(layers or honest_layers(), compress=compress)
        if mutate is not None:
            mutate(blobs, index, manifest, cfg)
        files = B.oci_pack(blobs, index, manifest, cfg, **(raw or {}))
        if as_layout:
            self.add(family, name, layout=files, expect=expect, **kw)
        else:
            self.add(family, name, B.oci_archive(files), expect=expect, **kw)


# -- families ------------------------------------------------------------------------------------


def numbers(c: Corpus) -> None:
    bad_size_fields = {
        "octal-prefix": b"0o000000012", "underscore": b"0000000001_0", "plus": b"+0000000012",
        "minus": b"-0000000012", "hex": b"0x0000000a\0\0", "digit-9": b"00000000019\0",
        "negative-base256": b"\xff" * 12, "base256-beyond-63-bits": b"\x80" + (1 << 80).to_bytes(11, "big"),
        "base256-max": b"\xbf" + b"\xff" * 11, "letters": b"abcdefghijk\0",
    }
    for name, field in bad_size_fields.items():
        layer = B.tar(B.member("f", b"x" * 10, fields={"size": field}))
        c.legacy_layer("numbers", f"size-{name}", layer, expect="refuse")
    ok_size_fields = {"space-padded": b"00000000012 ", "nul-padded": b"12\0\0\0\0\0\0\0\0\0\0",
                      "leading-spaces": b"         12\0"}
    for name, field in ok_size_fields.items():
        layer = B.tar(B.member("f", b"x" * 10, fields={"size": field}))
        c.legacy_layer("numbers", f"size-{name}", layer, expect="accept", want_files=["/f"])
    for which in ("uid", "gid", "mode"):
        for name, field in {"base256-huge": b"\x80" + b"\xff" * 7, "negative": b"\xff" * 8, "letters": b"zzzzzzz\0",
                            "prefix": b"0o00012\0"}.items():
            layer = B.tar(B.member("f", b"x", fields={which: field}))
            c.legacy_layer("numbers", f"{which}-{name}", layer, expect="refuse")
    pax_cases = {
        "size-negative-file": ("f", b"0", {"size": "-4997"}), "size-negative-dir": ("d", b"5", {"size": "-4997"}),
        "size-underscore": ("f", b"0", {"size": "1_0"}), "size-hex": ("f", b"0", {"size": "0x10"}),
        "size-plus": ("f", b"0", {"size": "+10"}), "size-space": ("f", b"0", {"size": " 10"}),
        "size-huge": ("f", b"0", {"size": str(1 << 70)}), "size-20-digits": ("f", b"0", {"size": "9" * 20}),
        "size-empty": ("f", b"0", {"size": ""}), "uid-huge": ("f", b"0", {"uid": str(1 << 70)}),
        "uid-negative": ("f", b"0", {"uid": "-1"}), "gid-float": ("f", b"0", {"gid": "1.5"}),
        "uid-beyond-32-bits": ("f", b"0", {"uid": str(1 << 33)}),
    }
    for name, (path, typeflag, pax) in pax_cases.items():
        layer = B.tar(B.member(path, b"x" * 10 if typeflag == b"0" else b"", typeflag=typeflag, pax=pax))
        c.legacy_layer("numbers", f"pax-{name}", layer, expect="refuse")
    broken_records = {"no-length": b"path=x\n", "length-letters": b"ab path=x\n", "length-zero": b"0 path=x\n",
                      "length-overrun": b"99 path=x\n", "no-equals": b"9 pathx\n\n", "length-negative": b"-9 path=x\n",
                      "length-underscore": b"1_1 path=x\n"}
    for name, raw in broken_records.items():
        layer = B.tar(B.member("f", b"x", raw_pax=raw))
        c.legacy_layer("numbers", f"pax-record-{name}", layer, expect="refuse")
    # the same numbers in a gzip layer of an OCI archive
    for name in ("size-negative-file", "uid-huge", "size-underscore"):
        path, typeflag, pax = pax_cases[name]
        layer = B.tar(B.member(path, b"x" * 10, typeflag=typeflag, pax=pax))
        c.oci("numbers", f"oci-gzip-pax-{name}", compress="gzip", layers=[honest_layers()[0], layer], expect="refuse")


def _flip(data: bytes, at: int) -> bytes:
    at = at % len(data)
    return data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:]


def compressed(c: Corpus) -> None:
    layers = [B.plain_layer({f"d/f{i}": os.urandom(64) for i in range(200)}), honest_layers()[1]]
    for kind in ("gzip", "zstd"):
        blobs, index, manifest, cfg = B.oci_parts(layers, compress=kind)
        first = manifest["layers"][0]["digest"]
        blob = blobs[first]
        damages = {f"flip-{p}": _flip(blob, p) for p in (4, 12, 30, len(blob) // 3, len(blob) // 2, -9, -5, -2)}
        damages.update({f"cut-{p}": blob[:p] for p in (3, 11, 40, len(blob) // 2, len(blob) - 4, len(blob) - 1)})
        damages["trailing-garbage"] = blob + b"garbage!" * 10
        damages["doubled"] = blob + blob
        for name, bad in damages.items():
            for keep_digest in (False, True):
                def mutate(b, i, m, cf, bad=bad, keep=keep_digest, first=first):
                    if keep:  # the descriptor names the damaged bytes: only the content can tell
                        del b[first]
                        b[B.sha(bad)] = bad
                        m["layers"][0]["digest"], m["layers"][0]["size"] = B.sha(bad), len(bad)
                    else:
                        b[first] = bad
                # the gzip MTIME / zstd frame descriptor, the deflate end's padding bits: may still decode the same
                header_only = name in ("flip-4", "flip--9")
                c.oci("compressed", f"{kind}-layer-{name}-{'renamed' if keep_digest else 'inplace'}",
                      compress=kind, layers=layers, mutate=mutate, expect="either" if header_only else "refuse")
    honest = B.legacy(honest_layers())
    for kind, pack in (("gzip", lambda d: gzip.compress(d, mtime=0)), ("zstd", _zstd)):
        outer = pack(honest)
        c.add("compressed", f"outer-{kind}-ok", outer, expect="accept", suffix=".tar." + kind[:2],
              want_files=["/app/honest-file"])
        for p in (5, 20, len(outer) // 2, -6, -3):
            c.add("compressed", f"outer-{kind}-flip-{p}", _flip(outer, p), expect="either" if p == 5 else "refuse",
                  suffix=".tar.x")
        for p in (8, len(outer) // 2, len(outer) - 5):
            c.add("compressed", f"outer-{kind}-cut-{p}", outer[:p], expect="refuse", suffix=".tar.x")


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


WRONG = {"string": "x", "number": 7, "list": [], "object": {}, "true": True, "null": None, "list-of-int": [1],
         "list-of-str": ["x"], "nested-list": [[]], "float": 1.5}


def json_shapes(c: Corpus) -> None:
    def setter(path, value):
        def mutate(blobs, index, manifest, cfg):
            doc = {"index": index, "manifest": manifest, "config": cfg}[path[0]]
            for key in path[1:-1]:
                doc = doc[key]
            doc[path[-1]] = value
        return mutate

    targets = {
        ("index", "manifests"): ["string", "number", "list", "object", "true", "null", "list-of-int", "list-of-str",
                                 "nested-list"],
        ("index", "manifests", 0, "digest"): ["number", "list", "object", "null", "true", "float"],
        ("index", "manifests", 0, "annotations"): ["list", "string", "number"],
        ("index", "manifests", 0, "platform"): ["list", "string", "number"],
        ("index", "manifests", 0, "size"): ["string", "list", "float"],
        ("index", "manifests", 0, "mediaType"): ["number", "list"],
        ("manifest", "layers"): ["string", "number", "object", "null", "list-of-int", "list-of-str", "nested-list"],
        ("manifest", "config"): ["string", "number", "list", "null", "true"],
        ("manifest", "config", "digest"): ["number", "list", "null", "object"],
        ("manifest", "layers", 0, "digest"): ["number", "list", "null", "object"],
        ("manifest", "layers", 0, "size"): ["string", "list", "float"],
        ("manifest", "mediaType"): ["number", "list", "object"],
        ("config", "rootfs"): ["string", "number", "list", "null"],
        ("config", "rootfs", "diff_ids"): ["string", "number", "object", "null", "list-of-int"],
        ("config", "history"): ["string", "number", "object", "list-of-int", "list-of-str"],
        ("config", "config"): ["string", "number", "list"],
        ("config", "config", "Env"): ["string", "number", "object", "list-of-int"],
        ("config", "config", "Labels"): ["list", "string", "number"],
        ("config", "config", "Cmd"): ["number", "object", "list-of-int"],
        ("config", "os"): ["number", "list"],
        ("config", "architecture"): ["number", "object"],
    }
    for path, kinds in targets.items():
        for kind in kinds:
            name = "-".join(str(p) for p in path) + "-" + kind
            c.oci("json", name, mutate=setter(path, WRONG[kind]), expect="refuse")
    bad_history = {"created_by-number": [{"created_by": 1}, {}], "empty_layer-string": [{"empty_layer": "yes"}, {}],
                   "comment-list": [{"comment": []}, {}]}
    for name, history in bad_history.items():
        c.oci("json", f"config-history-{name}", mutate=setter(("config", "history"), history), expect="refuse")
    c.oci("json", "config-labels-value-number", mutate=setter(("config", "config", "Labels"), {"a": 1}),
          expect="refuse")
    c.oci("json", "config-not-json", raw={"raw_config": b"{not json"}, expect="refuse")
    c.oci("json", "config-not-utf8", raw={"raw_config": b'{"a": "\xff"}'}, expect="refuse")
    c.oci("json", "manifest-not-json", raw={"raw_manifest": b"[1,"}, expect="refuse")
    c.oci("json", "index-empty", raw={"raw_index": b""}, expect="refuse")
    c.oci("json", "config-lone-surrogate-history", raw={"raw_config": json.dumps(
        B.config_for(honest_layers(), history=[{"created_by": "a\ud800b"}, {"created_by": "\udcff"}])).encode()},
        expect="accept")
    # manifest.json of a legacy archive
    layers = honest_layers()
    cfg = json.dumps(B.config_for(layers)).encode()
    cname = B.sha(cfg).split(":")[1] + ".json"
    good = {"Config": cname, "RepoTags": ["hostile:latest"], "Layers": [f"{i}/layer.tar" for i in range(2)]}
    names = [f"{i}/layer.tar" for i in range(2)]
    for key in ("RepoTags", "Config", "Layers"):
        for kind in ("string", "number", "true", "list-of-int", "object", "null", "nested-list"):
            if key == "RepoTags" and kind in ("null",):
                continue
            m = dict(good)
            m[key] = WRONG[kind]
            c.add("json", f"manifest.json-{key}-{kind}", B.legacy(layers, names=names, manifest=[m]), expect="refuse")
    for kind in ("string", "number", "object", "true", "list-of-int", "list-of-str", "list"):
        c.add("json", f"manifest.json-top-{kind}", B.legacy(layers, names=names, manifest=WRONG[kind]),
              expect="refuse")
    m = dict(good, Config="missing.json")
    c.add("json", "manifest.json-config-missing", B.legacy(layers, names=names, manifest=[m]), expect="refuse")
    c.add("json", "legacy-config-diff_ids-number",
          B.legacy(layers, names=names, config={**B.config_for(layers), "rootfs": {"diff_ids": 5}}), expect="refuse")


def nesting(c: Corpus) -> None:
    for depth in (1000, 100_000):
        deep = b"[" * depth + b"]" * depth
        c.oci("nesting", f"config-json-depth-{depth}", raw={"raw_config": b'{"rootfs": ' + deep + b"}"},
              expect="refuse")
        c.oci("nesting", f"manifest-json-depth-{depth}", raw={"raw_manifest": deep}, expect="refuse")
        c.add("nesting", f"manifest.json-depth-{depth}", B.legacy(honest_layers(), manifest=deep), expect="refuse")
        c.oci("nesting", f"index-json-depth-{depth}", raw={"raw_index": b'{"manifests": ' + deep + b"}"},
              expect="refuse")
    for depth in (1100, 3000, 4000, 5000, 10_000):
        path = "/".join(["d"] * depth) + "/leaf"
        layer = B.tar(B.member(path, b"x", pax={"path": path}))
        expect = "accept" if depth < 4095 else "refuse"
        c.legacy_layer("nesting", f"path-depth-{depth}", layer, expect=expect, render=depth in (1100, 4000))
        if depth in (1100, 3000):
            wh = "/".join(["d"] * (depth // 2)) + "/.wh.d"
            c.add("nesting", f"path-depth-{depth}-whiteout",
                  B.legacy([honest_layers()[0], layer, B.tar(B.member(wh, b"", pax={"path": wh}))]), expect="accept")
            opq = "/".join(["d"] * (depth - 1)) + "/.wh..wh..opq"
            c.add("nesting", f"path-depth-{depth}-opaque",
                  B.legacy([honest_layers()[0], layer, B.tar(B.member(opq, b"", pax={"path": opq}))]),
                  expect="accept")


NAMES = {
    "esc-title": "\x1b]0;pwned\x07title", "esc-clear": "clear\x1b[2Jscreen", "esc-color": "\x1b[31mred",
    "bel-bs": "a\x07b\x08c", "newline": "two\nlines", "cr": "over\rwrite", "mathtext": "$\\badcmd$",
    "mathtext-pair": "$x$ and $\\frac{1}{2}$", "dollar-one": "cost$5", "markup": "<script>alert(1)</script>&amp;",
    "bidi": "abc\u202edcba", "nul-like": "\u0000x"[1:] + "\x7f\x9b", "long": "L" * 3000,
    "quotes": "\"'`\\", "percent": "%s%n%x{0}",
}


def names(c: Corpus) -> None:
    for key, text in NAMES.items():
        path = f"app/{text}".replace("\0", "")
        layer = B.tar(B.member(path, b"data", pax={"path": path}))
        history = [{"created_by": f"RUN {text}"}, {"created_by": f"COPY {text} /app", "comment": text}]
        layers = [honest_layers()[0], layer]
        c.add("names", f"name-{key}", B.legacy(layers, config=B.config_for(layers, history=history),
                                               tags=(f"hostile:{key}", text[:50])), expect="accept",
              render=key in ("mathtext", "mathtext-pair", "esc-title", "markup", "bidi"))
    for key, raw in {"latin1": b"caf\xe9", "lone-continuation": b"\x80\x81", "overlong": b"\xc0\xaf",
                     "surrogate-utf8": b"\xed\xa0\x80"}.items():
        layer = B.tar(B.member(b"app/" + raw, b"data"), B.member(b"app/link-" + raw, typeflag=b"2",
                                                                   linkname=b"target-" + raw))
        c.legacy_layer("names", f"bytes-{key}", layer, expect="accept", render=key == "latin1")
    layer = B.tar(B.member("app/link", typeflag=b"2", linkname=b"\x1b]0;x\x07"))
    c.legacy_layer("names", "symlink-target-escape", layer, expect="accept")
    for key, name in {"dotdot": "../../etc/passwd", "absolute": "/etc/passwd", "wh-empty": "app/.wh.",
                      "wh-dotdot": "app/.wh..."}.items():
        c.legacy_layer("names", f"member-{key}", B.tar(B.member(name, b"x", pax={"path": name})), expect="refuse")
    c.legacy_layer("names", "hardlink-escape", B.tar(B.member("a", typeflag=b"1", linkname=b"../../x")),
                   expect="refuse")


def layouts(c: Corpus) -> None:
    blobs, index, manifest, cfg = B.oci_parts(honest_layers())
    files = B.oci_pack(blobs, index, manifest, cfg)
    first = "blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]
    config = "blobs/sha256/" + [k for k, v in files.items() if k.startswith("blobs/") and v.startswith(b'{"arch')][0] \
        .rsplit("/", 1)[1]

    def variant(name, target, make, expect="refuse"):
        root = os.path.join(c.root, f"layout-{name}")
        B.write_layout(root, {k: v for k, v in files.items() if k != target})
        make(os.path.join(root, target), root)
        c.add("layout", name, path=root, expect=expect)

    for what, target in (("layer", first), ("config", config), ("index", "index.json")):
        variant(f"{what}-directory", target, lambda p, r: os.makedirs(p))
        variant(f"{what}-fifo", target, lambda p, r: os.mkfifo(p))
        variant(f"{what}-dev-zero", target, lambda p, r: os.symlink("/dev/zero", p))
        variant(f"{what}-symlink-loop", target, lambda p, r: (os.symlink(p + ".b", p), os.symlink(p, p + ".b")))
        variant(f"{what}-symlink-outside", target, lambda p, r: os.symlink("/etc/passwd", p))
        variant(f"{what}-missing", target, lambda p, r: None)
    variant("layer-symlink-to-index", first, lambda p, r: os.symlink(os.path.join(r, "index.json"), p))
    c.add("layout", "honest", layout=files, expect="accept", want_files=["/app/honest-file"])


def memory(c: Corpus) -> None:
    for kind, flag in (("pax", b"x"), ("longname", b"L"), ("global-pax", b"g")):
        for size in (3 << 30, 8 << 30, (2 << 20)):
            layer = B.header(b"meta", typeflag=flag, size=size) + B.pad(b"12 path=abc\n")
            c.legacy_layer("memory", f"declared-{kind}-{size}", layer, expect="refuse")
    for size in (3 << 30, 5 << 30):
        layer = B.header(b"big-file", size=size) + bytes(1024)
        c.legacy_layer("memory", f"declared-file-{size}", layer, expect="refuse")
    # members whose declared size is there, sparse on disk: documents read whole
    honest = B.legacy(honest_layers())
    for doc, size in (("manifest.json", 4 << 30), ("config.json", 3 << 30)):
        path = os.path.join(c.root, f"memory-sparse-{doc}.tar")
        with open(path, "wb") as f:
            if doc == "manifest.json":
                f.write(B.header(b"manifest.json", size=size))
            else:
                f.write(raw_outer(honest)[:-1024])  # the honest members, then a huge one
                f.write(B.header(b"manifest.json", size=size))
            f.seek(size + 512, 1)
            f.write(B.END)
        c.add("memory", f"sparse-{doc}", path=path, expect="refuse", heavy=True, timeout=300,
              surfaces=HEAVY_SURFACES)
    blobs, index, manifest, cfg = B.oci_parts(honest_layers())
    files = B.oci_pack(blobs, index, manifest, cfg)
    root = B.write_layout(os.path.join(c.root, "memory-layout-sparse-config"), files)
    cpath = os.path.join(root, "blobs/sha256", manifest["layers"][0]["digest"].split(":")[1])
    for name, data in files.items():
        if name.startswith("blobs/") and data.startswith(b'{"arch'):
            with open(os.path.join(root, name), "r+b") as f:
                f.truncate(6 << 30)
    c.add("memory", "layout-sparse-config", path=root, expect="refuse")
    del cpath
    c.legacy_layer("memory", "many-small-pax", B.tar(*[B.member(f"f{i}", b"", pax={"comment": "c" * 4000})
                                                      for i in range(2000)]), expect="accept")


def raw_outer(archive: bytes) -> bytes:
    """The same members without tarfile's record padding: two end blocks right after the last member."""
    import io
    import tarfile

    out = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else b""
            typeflag = {tarfile.DIRTYPE: b"5", tarfile.SYMTYPE: b"2"}.get(m.type, b"0")
            out.append(B.member(m.name, data, typeflag=typeflag, linkname=m.linkname.encode()))
    return B.tar(*out)


def integrity(c: Corpus) -> None:
    honest = honest_layers()
    evil = B.plain_layer({"app/EVIL-INJECTED": b"evil\n"})
    c.add("integrity", "forged-diff-id", B.legacy([honest[0], evil], diff_ids=[B.sha(honest[0]), B.sha(honest[1])]),
          expect="refuse", not_files=["/app/EVIL-INJECTED"])
    c.oci("integrity", "oci-forged-diff-id", layers=[honest[0], evil],
          mutate=lambda b, i, m, cf: cf["rootfs"].__setitem__("diff_ids", [B.sha(honest[0]), B.sha(honest[1])]),
          expect="refuse")
    files = {f"f{i:04d}": b"z" * 100 for i in range(1000)}
    full = B.plain_layer(files)
    import zstandard

    frames = [zstandard.ZstdCompressor().compress(full[i:i + len(full) // 10 + 1])
              for i in range(0, len(full), len(full) // 10 + 1)]
    for keep in (6, 9):
        cut = b"".join(frames[:keep])

        def mutate(b, i, m, cf, cut=cut):
            d = m["layers"][0]["digest"]
            del b[d]
            b[B.sha(cut)] = cut
            m["layers"][0].update(digest=B.sha(cut), size=len(cut))
        c.oci("integrity", f"zstd-frames-{keep}-of-10", layers=[full], compress="zstd", mutate=mutate,
              expect="refuse")
    members = [B.member(f"f{i:02d}", b"y" * 600) for i in range(20)]
    c.add("integrity", "tar-cut-at-member", B.legacy([B.tar(*members[:10], end=False)]), expect="refuse")
    c.add("integrity", "tar-without-end-blocks", B.legacy([B.tar(*members, end=False)]), expect="refuse")
    c.add("integrity", "tar-one-end-block", B.legacy([B.tar(*members, end=False) + bytes(512)]), expect="accept")
    c.oci("integrity", "descriptor-size-disagrees",
          mutate=lambda b, i, m, cf: m["layers"][1].__setitem__("size", m["layers"][1]["size"] + 512),
          expect="refuse")
    # outer archive oddities
    lay = honest_layers()
    names = ["a/layer.tar", "b/layer.tar"]
    loop = B.legacy(lay[:1], names=["a/layer.tar"],
                    manifest=[{"Config": "c.json", "Layers": ["a/layer.tar", "b/layer.tar"]}],
                    extra_members=[("b/layer.tar", ("symlink", "../c/layer.tar")),
                                   ("c/layer.tar", ("symlink", "../b/layer.tar"))])
    c.add("integrity", "outer-symlink-loop", loop, expect="refuse", message="loop")
    del names
    c.add("integrity", "outer-symlink-absolute",
          B.legacy(lay[:1], names=["a/layer.tar"], manifest=[{"Config": "c.json", "Layers": ["x/layer.tar"]}],
                   extra_members=[("x/layer.tar", ("symlink", "/etc/passwd"))]), expect="refuse")
    c.add("integrity", "outer-truncated-at-member", raw_outer(B.legacy(lay))[:-1024], expect="refuse")
    c.add("integrity", "outer-empty", b"", expect="refuse")
    c.add("integrity", "outer-zeros", bytes(10240), expect="refuse")
    c.add("integrity", "outer-random", os.urandom(4096), expect="refuse")
    c.add("integrity", "outer-member-absolute", B.outer_tar([("/manifest.json", b"[]")]), expect="refuse")
    c.add("integrity", "outer-member-dotdot", B.outer_tar([("../manifest.json", b"[]")]), expect="refuse")
    # PAX sparse 1.0 read under its real name; old GNU sparse refused
    sparse_map = B.pad(b"1\n0\n5\n")
    sparse = B.tar(B.member("GNUSparseFile.0/real", sparse_map + B.pad(b"hello"),
                            pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "app/real",
                                 "GNU.sparse.realsize": "5"}))
    c.legacy_layer("integrity", "pax-sparse-1.0", sparse, expect="accept", want_files=["/app/real"],
                   not_files=["/GNUSparseFile.0/real"])
    c.legacy_layer("integrity", "gnu-sparse-old", B.tar(B.member("old", b"x", typeflag=b"S")), expect="refuse")
    c.add("integrity", "layer-count-beyond-limit",
          B.legacy([B.END], names=["l/layer.tar"], diff_ids=[B.sha(B.END)] * 20000,
                   manifest=[{"Config": "X", "Layers": ["l/layer.tar"] * 20000}]), expect="refuse")
    c.add("integrity", "same-member-500-diff-ids",
          B.legacy([lay[1]], names=["l/layer.tar"], diff_ids=[B.sha(lay[1])] + [B.sha(bytes([i % 256, i // 256]))
                                                                                 for i in range(499)],
                   manifest=[{"Config": "X", "Layers": ["l/layer.tar"] * 500}]), expect="refuse")


HEAVY_SURFACES = ("api", "cli-json", "stream")


def bombs(c: Corpus) -> None:
    """Heavy: each inflates or fans out to gigabytes unless refused early."""
    gig = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    one_gib = b"".join(gig.compress(zeros) for _ in range(1024)) + gig.flush()  # one gzip member of 1 GiB
    head = gzip.compress(B.header(b"bomb", size=20 << 30), mtime=0)
    tail = gzip.compress(B.END, mtime=0)
    layer = head + one_gib * 20 + tail
    blobs, index, manifest, cfg = B.oci_parts(honest_layers())
    diff = "sha256:" + "0" * 64  # never reached: the ratio stops it first
    blobs[B.sha(layer)] = layer
    manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": B.sha(layer),
                               "size": len(layer)})
    cfg["rootfs"]["diff_ids"].append(diff)
    cfg["history"].append({"created_by": "bomb"})
    c.add("bombs", "gzip-layer-20GB-one-file", B.oci_archive(B.oci_pack(blobs, index, manifest, cfg)),
          expect="refuse", heavy=True, timeout=300, surfaces=HEAVY_SURFACES)
    outer = gzip.compress(B.header(b"filler", size=10 << 30), mtime=0) + one_gib * 10 + tail
    c.add("bombs", "gzip-outer-10GB", outer, expect="refuse", heavy=True, timeout=300, suffix=".tar.gz",
          surfaces=HEAVY_SURFACES)
    import zstandard

    zc = zstandard.ZstdCompressor(level=3)
    zbomb = zc.compress(B.header(b"bomb", size=8 << 30)) + zc.compress(bytes(64 << 20)) * 128
    c.oci("bombs", "zstd-layer-8GB", layers=[honest_layers()[0]], compress="zstd",
          mutate=lambda b, i, m, cf: (b.__setitem__(B.sha(zbomb), zbomb),
                                      m["layers"].append({"mediaType": "x", "digest": B.sha(zbomb),
                                                          "size": len(zbomb)}),
                                      cf["rootfs"]["diff_ids"].append(diff)),
          expect="refuse", heavy=True, timeout=300, surfaces=HEAVY_SURFACES)
    fan = B.plain_layer({f"d{i // 1000}/f{i}": b"" for i in range(20_000)})
    d = B.sha(fan)
    c.add("bombs", "fan-out-one-diff-id-500-times",
          B.legacy([fan], names=["l/layer.tar"], diff_ids=[d] * 500,
                   manifest=[{"Config": "X", "Layers": ["l/layer.tar"] * 500}]), expect="refuse", heavy=True,
          timeout=300, surfaces=HEAVY_SURFACES)
    many = [B.plain_layer({f"l{k}/d{i // 1000}/f{i}": b"" for i in range(50_000)}) for k in range(10)]
    c.add("bombs", "500k-entries-in-10-layers", B.legacy(many), expect="accept", heavy=True, timeout=600,
          surfaces=("api", "cli-json"))


def build(root: str, *, heavy: bool = False) -> list[dict]:
    c = Corpus(root)
    for family in (numbers, compressed, json_shapes, nesting, names, layouts, memory, integrity):
        family(c)
    if heavy:
        bombs(c)
    return c.cases
