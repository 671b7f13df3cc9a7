"""Options shared by the CLI's subcommands (dockerviz analyze, dockerviz diff)."""

from __future__ import annotations


def add_limit_option(parser) -> None:
    parser.add_argument("--limit", action="append", metavar="NAME=VALUE",
                        help="raise a bound on untrusted input, e.g. json_bytes=256MiB or path_depth=8192 "
                             "(see the README's 'Limits'); repeatable")


def add_engine_arguments(parser) -> None:
    """-H/--host and --context, as the docker CLI takes them: -H wins over --context, which wins over
    DOCKER_HOST / DOCKER_CONTEXT and `docker context use`."""
    parser.add_argument("-H", "--host", metavar="HOST",
                        help="the daemon to read images from, e.g. unix:///var/run/docker.sock, "
                             "tcp://HOST:2376, ssh://USER@HOST (as `docker -H`; default: DOCKER_HOST, "
                             "else the docker context)")
    parser.add_argument("--context", metavar="NAME",
                        help="the docker context to use (as `docker --context`; overrides DOCKER_HOST "
                             "and `docker context use`)")


def apply_engine_arguments(args, env=None) -> None:
    """Point this process at the engine -H/--context name, so every part of dockerviz that looks for
    the daemon (docker-py, the local socket's fast paths) finds the same one. An unknown context is an
    UnknownContextError naming the contexts there are."""
    import os

    env = os.environ if env is None else env
    host = getattr(args, "host", None)
    context = getattr(args, "context", None)
    if host:
        env["DOCKER_HOST"] = host
    elif context:
        from .contexts import load_context

        load_context(context, "--context", env)
        env.pop("DOCKER_HOST", None)
        env["DOCKER_CONTEXT"] = context


def add_registry_arguments(parser) -> None:
    parser.add_argument("--registry-ca", metavar="FILE",
                        help="trust this CA for registry:// sources (besides /etc/docker/certs.d/HOST:PORT/ca.crt)")
    parser.add_argument("--insecure-registry", metavar="HOST[:PORT]", action="append", default=[],
                        help="skip TLS verification for this registry and allow plain HTTP (repeatable)")


def limit_options(args) -> dict | None:
    """--limit NAME=VALUE options (repeatable, or comma-separated) as a dict for analyze(limits=...)."""
    from .model.limits import parse

    found: dict = {}
    for text in getattr(args, "limit", None) or []:
        found.update(parse(text))
    return found or None


def registry_options(args) -> dict:
    opts: dict = {}
    if args.registry_ca:
        opts["ca_file"] = args.registry_ca
    if args.insecure_registry:
        opts["insecure"] = list(args.insecure_registry)
    return opts


def write_json(data, target: str) -> None:
    """--json TARGET: standard output for "-", else the file; a file that cannot be written is a
    DockervizError naming it (the CLI prints that, not a traceback)."""
    import json
    import sys

    text = json.dumps(data, indent=2)
    if target == "-":
        sys.stdout.write(text + "\n")
        return
    try:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        from .errors import DockervizError

        raise DockervizError(f"--json {target}: cannot be written ({exc.strerror or exc}).") from None
