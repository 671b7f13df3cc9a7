"""The `dockerviz` command line. Its JSON path imports neither ipywidgets, matplotlib nor pandas."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .cli_options import (
    add_engine_arguments,
    add_limit_option,
    add_registry_arguments,
    apply_engine_arguments,
    limit_options,
    registry_options,
    write_json,
)
from .errors import DockervizError
from .humanize import SafeWriter, safe_text
from .humanize import fmt_bytes as _human
from .progress import StderrProgress


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, sized without importing shutil.

    argparse makes a formatter for every add_argument (to check metavars), and
    the stock one imports shutil for the terminal width each time: bz2, lzma
    and fnmatch come with it, a few milliseconds of every `dockerviz analyze`.
    """

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


def _columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _default_source() -> str:
    from .samples import sample_source

    return sample_source()


def _print_report(img, out) -> None:
    out = SafeWriter(out)
    out.write(f"Image      {safe_text(img.name)}  ({safe_text(img.id[:19])})\n")
    out.write(f"Source     {img.source} via {img.path}\n")
    out.write(f"Size       {_human(img.size_bytes)} in {len(img.contents)} layers, {len(img.steps)} steps\n")
    out.write(f"Efficiency {img.efficiency:.4%}   inefficient {_human(img.inefficient_bytes)} (dive-compatible)\n")
    out.write(f"Reclaimable {_human(img.reclaimable_bytes)} (file bytes stored but hidden in the final filesystem)\n\n")
    out.write(f"{'step':>4} {'layer':>5} {'size':>10} {'+':>6} {'~':>6} {'-':>6}  command\n")
    counts = {}
    for s in img.steps:
        if s.layer is None:
            out.write(f"{s.index:>4} {'':>5} {'':>10} {'':>6} {'':>6} {'':>6}  {safe_text(s.created_by)[:80]}\n")
            continue
        c = counts.setdefault(s.layer, img.change_counts(s.layer))
        out.write(f"{s.index:>4} {s.layer:>5} {_human(img.contents[s.layer].disk_bytes):>10} "
                  f"{c['added']:>6} {c['modified']:>6} {c['removed']:>6}  {safe_text(s.created_by)[:80]}\n")


def _analyze(args) -> int:
    import gc

    from .analysis import analyze

    gc.disable()  # one short-lived process building acyclic data: collections would only cost time

    source = args.source or _default_source()
    cache = False if args.no_cache else None
    progress = None if args.quiet else StderrProgress()
    img = analyze(source, path=args.path, cache=cache, progress=progress, image=args.image, platform=args.platform,
                  limits=limit_options(args), registry=registry_options(args))
    if img.chosen and not args.quiet:
        sys.stderr.write(f"dockerviz: {safe_text(img.chosen)}\n")
    if args.json:
        data = img.to_dive_json(file_lists=args.file_lists)
        if args.packages:
            data["packages"] = _package_json(img)
        write_json(data, args.json)
    if not args.json or args.json != "-":
        if not args.ci or not args.json:
            _print_report(img, sys.stdout)
            if args.packages:
                _print_packages(img, sys.stdout)
    if args.ci:
        from .model.ci_rules import evaluate

        rules = _ci_config(args.ci_config)
        results = evaluate(
            img.efficiency, img.inefficient_bytes, img.wasted_user_percent,
            lowest_efficiency=_first(args.lowest_efficiency, rules.get("lowestEfficiency")),
            highest_wasted_bytes=_first(args.highest_wasted_bytes, rules.get("highestWastedBytes")),
            highest_user_wasted_percent=_first(args.highest_user_wasted_percent, rules.get("highestUserWastedPercent")))
        out = SafeWriter(sys.stderr if args.json == "-" else sys.stdout)
        out.write("\nCI rules:\n")
        for r in results:
            label = {"pass": "PASS", "fail": "FAIL", "disabled": "SKIP"}[r.status]
            out.write(f"  {label}: {r.key}" + (f": {r.message}" if r.message else "") + "\n")
        failed = [r for r in results if r.status == "fail"]
        out.write(f"Result:{'FAIL' if failed else 'PASS'} [Total:{len(results)}] "
                  f"[Passed:{sum(r.status == 'pass' for r in results)}] [Failed:{len(failed)}] "
                  f"[Skipped:{sum(r.status == 'disabled' for r in results)}]\n")
        return 1 if failed else 0
    return 0


def _images(args) -> int:
    from .sources import list_images

    rows = [c.row() for c in list_images(args.source)]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    out = SafeWriter(sys.stdout)
    out.write(f"{'kind':<12} {'platform':<16} {'size':>10}  {'digest':<19}  ref\n")
    for r in rows:
        size = _human(r["size"]) if r["size"] is not None else "?"
        ref = r["ref"] or (f"(attests {r['attests'][:19]})" if r["attests"] else "")
        out.write(f"{r['kind']:<12} {r['platform'] or '-':<16} {size:>10}  {r['digest'][:19]:<19}  {ref}\n")
    return 0


def _package_json(img) -> dict:
    from .model.packages import CHANGE_COLUMNS, PACKAGE_COLUMNS

    return {"complete": img.packages_known,
            "packages": [dict(zip(PACKAGE_COLUMNS, r)) for r in img.package_rows()],
            "layers": [{"layer": i, "changes": [dict(zip(CHANGE_COLUMNS, r)) for r in img.package_change_rows(i)]}
                       for i in range(len(img.contents))]}


def _print_packages(img, out) -> None:
    rows = img.package_rows()
    by_manager: dict = {}
    for r in rows:
        by_manager[r[0]] = by_manager.get(r[0], 0) + 1
    counts = ", ".join(f"{n} {m}" for m, n in sorted(by_manager.items())) or "none found"
    out.write(f"\nPackages: {counts}" + ("" if img.packages_known else
                                          " (some layers were read without their package databases)") + "\n")
    out.write(f"  {'manager':<7} {'name':<32} {'version':<28} {'installed':>9} {'changed':>7}  location\n")
    for manager, name, version, loc, installed, changed, _size in rows:
        out.write(f"  {manager:<7} {name[:32]:<32} {version[:28]:<28} {installed:>9} {changed:>7}  {loc}\n")


def _cat(args) -> int:
    from .analysis import analyze

    img = analyze(args.source, path=args.path, cache=False if args.no_cache else None,
                  progress=None if args.quiet else StderrProgress())
    data = img.read(args.file, args.layer, max_bytes=args.max_bytes)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def _first(*values):
    return next((v for v in values if v is not None), None)


def _ci_config(path: str | None) -> dict:
    """Rules from dive's CI config file: the one named, else ./.dive-ci when there is one (as dive does)."""
    from .model.ci_rules import RuleConfigError, read_ci_config

    named = path is not None
    path = path or ".dive-ci"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        if named:
            raise RuleConfigError(f"The CI config file {path} does not exist.") from None
        return {}
    except OSError as exc:
        raise RuleConfigError(f"The CI config file {path} cannot be read: {exc.strerror}.") from None
    return read_ci_config(text, path)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command` "analyze", only what parsing that command needs.

    The other commands' modules are not imported for `dockerviz analyze`: the
    CLI's JSON path is what CI gates run on small images, where start-up is
    most of the time.
    """
    parser = argparse.ArgumentParser(prog="dockerviz", description="See inside Docker images: layers, waste, diffs.",
                                     formatter_class=_Formatter)
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="analyse an image's layers and waste", formatter_class=_Formatter,
                       description="SOURCE is an image name or id in the daemon, a `docker save` archive, "
                                   "an OCI layout directory, or registry://HOST[:PORT]/REPO[:TAG|@DIGEST] (read "
                                   "from the registry without pulling; skopeo's docker-daemon:, docker-archive:, "
                                   "oci: and oci-archive: prefixes work too). Without SOURCE: a bundled sample image.")
    a.add_argument("source", nargs="?", help="image reference, archive path or OCI layout directory")
    a.add_argument("--json", metavar="FILE", help="write dive's export JSON (plus dockerviz's fields); '-' = stdout")
    a.add_argument("--file-lists", action="store_true", help="include each layer's file list in the JSON")
    a.add_argument("--ci", action="store_true", help="evaluate dive's CI rules; exit 1 when one fails")
    a.add_argument("--lowest-efficiency", metavar="X", help="CI: fail when efficiency < X (default 0.9)")
    a.add_argument("--highest-wasted-bytes", metavar="N", help="CI: fail when wasted bytes > N (default disabled)")
    a.add_argument("--highest-user-wasted-percent", metavar="P",
                   help="CI: fail when wasted / user bytes > P (fraction; default 0.1)")
    a.add_argument("--ci-config", metavar="FILE",
                   help="CI: read the rules from dive's config file (default: ./.dive-ci when present); "
                        "the rule options above override it")
    a.add_argument("--path", default="auto",
                   help="force how layers are read: auto (default: the fastest that works), tar-split, "
                        "overlay2-diff, save-stream, archive, oci-layout, registry")
    a.add_argument("--no-cache", action="store_true", help="do not read or write the layer cache")
    a.add_argument("--packages", action="store_true",
                   help="list the packages (dpkg, apk, Python, npm) with the layers that installed and last "
                        "changed them; in --json, a 'packages' key")
    add_registry_arguments(a)
    add_engine_arguments(a)
    a.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    a.add_argument("--image", metavar="REF",
                   help="in an archive or layout holding several images: the tag, ref name or digest to read "
                        "(see `dockerviz images SOURCE`)")
    a.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                   help="the platform to read from a multi-platform source (default: this host's, else the first)")
    add_limit_option(a)
    a.set_defaults(func=_analyze)
    if command == "analyze":
        return parser

    i = sub.add_parser("images", help="list the images a source holds: refs, digests, platforms, attestations",
                       description="SOURCE is an archive, an OCI layout directory or an image in the daemon.")
    i.add_argument("source", help="archive path, OCI layout directory or image reference")
    i.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    add_engine_arguments(i)
    i.set_defaults(func=_images)
    from .model.contents import READ_CAP

    c = sub.add_parser("cat", help="write one file of an image to stdout",
                       description="Reads the file in place (nothing is extracted) as it is in the final "
                                   "filesystem, or after layer N with --layer N.")
    c.add_argument("source", help="image reference, archive path or OCI layout directory")
    c.add_argument("file", metavar="PATH", help="the path inside the image, e.g. /etc/os-release")
    c.add_argument("--layer", type=int, default=None, help="the file as it is after layer N (0 = base; -1 = top)")
    c.add_argument("--max-bytes", type=int, default=READ_CAP, help=f"refuse larger files (default {READ_CAP})")
    c.add_argument("--path", default="auto", help="how daemon images are read (as for analyze)")
    c.add_argument("--no-cache", action="store_true", help="do not read or write the layer cache")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    add_engine_arguments(c)
    c.set_defaults(func=_cat)

    from .cli_diff import register as register_diff
    from .tour import register as register_tour

    register_diff(sub)
    register_tour(sub)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        apply_engine_arguments(args)
        return args.func(args)
    except DockervizError as exc:
        sys.stderr.write(f"dockerviz: error: {safe_text(exc, keep=chr(10))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("dockerviz: interrupted\n")
        return 130
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
