"""`dockerviz diff A B`: what changed from image A to image B, from the shell.

What container-diff reports for the file, history/layer and metadata types,
from the same model as `dockerviz.compare()`: layers shared or not, paths
added, removed and changed in the final filesystems, config differences
(secret-looking values masked unless --show-secrets). Plain text, or JSON
with every row. No pandas, widgets or plotting on this path.
"""

from __future__ import annotations

import sys

from .cli_options import write_json
from .humanize import SafeWriter, fmt_bytes, safe_text
from .progress import StderrProgress

KINDS = ("layer", "file", "config")
PACKAGE_KINDS = ("apt", "dpkg", "pip", "python", "npm", "apk")  # container-diff's analyser names, and ours
TEXT_ROWS = 40  # file rows printed in the text report (all of them go to --json)
_MARK = {"added": "+", "removed": "-", "changed": "~", "rewritten": "~", "same": "=", "shared": "=",
         "only in A": "A", "only in B": "B"}


def register(sub) -> None:
    d = sub.add_parser("diff", help="compare two images: layers, files, config",
                       description="A and B are image names or ids in the daemon, `docker save` archives, OCI "
                                   "layout directories or registry://HOST/REPO:TAG references. B is the newer one: 'added' means in B, not in A.")
    d.add_argument("a", help="the older image")
    d.add_argument("b", help="the newer image")
    d.add_argument("--type", default="layer,file,config",
                   help="what to compare, comma-separated: layer, file, config, and packages by manager: "
                        "apt, pip, npm, apk (default: layer,file,config)")
    d.add_argument("--file", metavar="PATH", help="only this path: a unified diff of its contents (or what else "
                                                  "changed: mode, owner, link)")
    d.add_argument("--json", metavar="FILE", help="write every row as JSON; '-' = stdout")
    d.add_argument("--show-secrets", action="store_true",
                   help="show values of Env variables and labels whose names look secret (masked by default)")
    d.add_argument("--path", default="auto", help="how daemon images are read (as for analyze)")
    d.add_argument("--no-cache", action="store_true", help="do not read or write the layer cache")
    from .cli_options import add_engine_arguments, add_limit_option, add_registry_arguments

    add_registry_arguments(d)
    add_engine_arguments(d)
    d.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    add_limit_option(d)
    d.set_defaults(func=run)


def _kinds(text: str) -> list[str]:
    from .errors import DockervizError

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS and k not in PACKAGE_KINDS]
    if unknown or not kinds:
        raise DockervizError(f"--type takes {', '.join(KINDS + PACKAGE_KINDS)} (comma-separated), not {text!r}.")
    return kinds


def run(args) -> int:
    import gc

    from .analysis import analyze
    from .cli_options import limit_options, registry_options
    from .model.diff import CONFIG_DIFF_COLUMNS, FILE_DIFF_COLUMNS, compare_images
    from .model.packages import DIFF_COLUMNS, TYPE_NAMES

    gc.disable()  # a short-lived process building acyclic data
    kinds = _kinds(args.type)
    cache = False if args.no_cache else None
    images = [analyze(src, path=args.path, cache=cache, progress=None if args.quiet else StderrProgress(),
                      limits=limit_options(args), registry=registry_options(args))
              for src in (args.a, args.b)]
    cmp = compare_images(*images, show_secrets=args.show_secrets)
    if args.file:
        return _file(cmp, args)
    summary = cmp.summary()
    data = {"a": {"name": images[0].name, "id": images[0].id, "source": images[0].source},
            "b": {"name": images[1].name, "id": images[1].id, "source": images[1].source},
            "summary": summary}
    if "layer" in kinds:
        data["layers"] = cmp.layer_rows()
    if "file" in kinds:
        data["files"] = [dict(zip(FILE_DIFF_COLUMNS, r)) for r in cmp.file_rows()]
    if "config" in kinds:
        data["config"] = [dict(zip(CONFIG_DIFF_COLUMNS, (r[c] for c in CONFIG_DIFF_COLUMNS)))
                          for r in cmp.config_rows() if r["change"] != "same"]
    managers = {TYPE_NAMES[k] for k in kinds if k in PACKAGE_KINDS}
    if managers:
        data["packages"] = [dict(zip(DIFF_COLUMNS, r)) for r in cmp.package_rows(managers)]
    if args.json:
        write_json(data, args.json)
        if args.json == "-":
            return 0
    _print(data, sys.stdout)
    return 0


def _file(cmp, args) -> int:
    d = cmp.file_diff(args.file)
    if args.json:
        write_json({"a": cmp.a.name, "b": cmp.b.name, "file": d.to_dict()}, args.json)
        if args.json == "-":
            return 0
    lines = [f"{d.path}: {d.change}\n"] + [f"  {name}: {old} -> {new}\n" for name, old, new in d.attributes]
    # the diff is the file's own bytes: an escape in it is shown, never sent to the terminal as one
    sys.stdout.write(safe_text("".join(lines) + d.diff, keep="\n\t"))
    return 0


def _print(data: dict, out) -> None:
    out = SafeWriter(out)
    s = {k: safe_text(v) if isinstance(v, str) else v for k, v in data["summary"].items()}
    out.write(f"A  {s['name_a']}  ({s['id_a'][:19]})  {fmt_bytes(s['size_a'])} in {s['layers_a']} layers\n")
    delta = s["size_delta"]
    out.write(f"B  {s['name_b']}  ({s['id_b'][:19]})  {fmt_bytes(s['size_b'])} in {s['layers_b']} layers  "
              f"({'+' if delta >= 0 else '-'}{fmt_bytes(abs(delta))})\n")
    if "layers" in data:
        out.write(f"\nLayers: {s['shared_layers']} shared ({fmt_bytes(s['shared_bytes'])}), "
                  f"{s['layers_a'] - s['shared_layers']} only in A ({fmt_bytes(s['only_a_bytes'])}), "
                  f"{s['layers_b'] - s['shared_layers']} only in B ({fmt_bytes(s['only_b_bytes'])})\n")
        for r in data["layers"]:
            ia = "-" if r["index_a"] is None else r["index_a"]
            ib = "-" if r["index_b"] is None else r["index_b"]
            cmd = safe_text((r["created_by_b"] or r["created_by_a"] or "").replace("\n", " "))
            out.write(f"  {_MARK.get(r['status'], '?')} {r['status']:<9} A:{ia!s:>3} B:{ib!s:>3} "
                      f"{fmt_bytes(r['size_bytes']):>10}  {cmd[:70]}\n")
    if "files" in data:
        files = data["files"]
        out.write(f"\nFiles: {s['added']} added, {s['removed']} removed, {s['changed']} changed"
                  + (f", {s['rewritten']} rewritten (same facts, written again)" if s["rewritten"] else "") + "\n")
        for r in files[:TEXT_ROWS]:
            if r["change"] == "added":
                size = fmt_bytes(r["size_b"])
            elif r["change"] == "removed":
                size = fmt_bytes(r["size_a"])
            else:
                size = f"{fmt_bytes(r['size_a'])} -> {fmt_bytes(r['size_b'])}"
            what = f"  ({r['what']})" if r["what"] else ""
            out.write(f"  {_MARK.get(r['change'], '?')} {safe_text(r['path'])}  {size}{safe_text(what)}\n")
        if len(files) > TEXT_ROWS:
            out.write(f"  ... {len(files) - TEXT_ROWS} more (all of them with --json)\n")
    if "packages" in data:
        rows = data["packages"]
        out.write(f"\nPackages: {len(rows)} differences\n")
        mark = {"added": "+", "removed": "-", "upgraded": "^", "downgraded": "v", "changed": "~"}
        for r in rows:
            where = f"  ({r['location']})" if r["location"] else ""
            out.write(f"  {mark.get(r['change'], '?')} {r['manager']:<6} {r['name']}  "
                      f"{r['version_a'] or '-'} -> {r['version_b'] or '-'}  {r['change']}{where}\n")
    if "config" in data:
        rows = data["config"]
        out.write(f"\nConfig: {len(rows)} differences\n")
        for r in rows:
            key = safe_text(f"{r['field']} {r['key']}".strip())
            va = safe_text(r["a"]) if r["a"] is not None else "(unset)"
            vb = safe_text(r["b"]) if r["b"] is not None else "(unset)"
            out.write(f"  {_MARK.get(r['change'], '?')} {key}: {va} -> {vb}\n")
