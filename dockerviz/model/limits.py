"""Bounds on everything an image declares: lengths, depths, counts and ratios.

Images come from strangers, so every length read from one is checked against
a limit before anything is allocated or waited for. The defaults are far
above what real images need; raise one with `dockerviz.analyze(...,
limits={"json_bytes": 256 << 20})`, the CLI's `--limit json_bytes=256MiB`, or
the environment (`DOCKERVIZ_LIMITS="json_bytes=256MiB,path_depth=8192"`).
Hitting one raises LimitError (an ArchiveError) naming the limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re

from ..errors import DockervizError, LimitError
from .record import FrozenRecord


class Limits(FrozenRecord):
    """A frozen set of limits (a plain class, not a dataclass: this module is on the CLI's start-up path)."""

    __slots__ = _fields = ("pax_bytes", "long_name_bytes", "json_bytes", "member_bytes", "path_depth", "path_bytes",
                           "image_entries", "layer_count", "ratio", "ratio_floor", "spool_bytes")
    pax_bytes: int
    long_name_bytes: int
    json_bytes: int
    member_bytes: int
    path_depth: int
    path_bytes: int
    image_entries: int
    layer_count: int
    ratio: int
    ratio_floor: int
    spool_bytes: int

    def __init__(self, *,
                 pax_bytes: int = 1 << 20,  # one PAX extended header (all its records)
                 long_name_bytes: int = 64 << 10,  # a GNU long name or long link target
                 json_bytes: int = 64 << 20,  # a manifest, index or config read whole
                 member_bytes: int = 64 << 20,  # any other member or blob read whole into memory
                 path_depth: int = 4096,  # components of one path
                 path_bytes: int = 64 << 10,  # bytes of one path
                 image_entries: int = 5_000_000,  # entries over all layers, a layer listed twice counted twice
                 layer_count: int = 10_000,  # layers in one manifest
                 ratio: int = 200,  # decompressed / compressed bytes, once past ratio_floor
                 ratio_floor: int = 256 << 20,  # bytes a stream may inflate to before the ratio applies
                 spool_bytes: int = 32 << 30):  # decompressed bytes spooled to a temporary file
        self._freeze(locals())  # change one with with_changes()

    def with_changes(self, changes: dict) -> "Limits":
        fixed = {f: getattr(self, f) for f in self._fields}
        for key, value in changes.items():
            if key not in fixed:
                raise DockervizError(f"Unknown limit {key!r}; the limits are: {', '.join(sorted(self._fields))}.")
            fixed[key] = _number(value, key)
        return Limits(**fixed)


_UNITS = {"": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 10**6, "mb": 10**6, "mib": 1 << 20,
          "g": 10**9, "gb": 10**9, "gib": 1 << 30, "t": 10**12, "tb": 10**12, "tib": 1 << 40}


def _number(value, key: str) -> int:
    if isinstance(value, bool):
        raise DockervizError(f"Limit {key} takes a positive number, not {value!r}.")
    if isinstance(value, int):
        n = value
    else:
        m = re.fullmatch(r"\s*([0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _UNITS:
            raise DockervizError(f"Limit {key} takes a number such as 1000, 64MiB or 2GB, not {value!r}.")
        n = int(m.group(1)) * _UNITS[unit]
    if n <= 0:
        raise DockervizError(f"Limit {key} must be positive, not {value!r}.")
    return n


def parse(text: str) -> dict:
    """'a=1,b=2MiB' -> {'a': '1', 'b': '2MiB'}."""
    out = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise DockervizError(f"A limit is written NAME=VALUE (e.g. json_bytes=256MiB), not {part.strip()!r}.")
        out[key.strip()] = value.strip()
    return out


def _from_env() -> Limits:
    return Limits().with_changes(parse(os.environ.get("DOCKERVIZ_LIMITS", "")))


_current: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("dockerviz_limits", default=None)


def current() -> Limits:
    found = _current.get()
    if found is None:
        found = _from_env()
        _current.set(found)
    return found


@contextlib.contextmanager
def using(changes=None):
    """Run a block under the current limits changed by `changes` (a dict, "NAME=VALUE,..." as the CLI
    takes them, a Limits, or None)."""
    if changes is None:
        yield current()
        return
    if isinstance(changes, str):
        changes = parse(changes)
    if not isinstance(changes, (dict, Limits)):
        raise DockervizError(f"limits= takes a dict such as {{'json_bytes': '256MiB'}}, a string such as "
                             f"'json_bytes=256MiB', or a Limits; not {type(changes).__name__}.")
    limits = changes if isinstance(changes, Limits) else current().with_changes(changes)
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def exceeded(name: str, what: str, value=None) -> LimitError:
    """The error for `what` going past limit `name`."""
    limit = getattr(current(), name)
    got = f" ({value})" if value is not None else ""
    return LimitError(
        f"{what}{got} is over dockerviz's limit {name}={limit}. Real images stay far below it, so the image is "
        f"probably hostile or damaged; if you trust it, raise the limit (`--limit {name}=N`, "
        f"`analyze(..., limits={{'{name}': N}})` or DOCKERVIZ_LIMITS).", limit=name)


__all__ = ["Limits", "current", "using", "parse", "exceeded"]
