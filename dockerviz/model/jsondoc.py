"""JSON documents an image carries (index, manifests, configs, manifest.json), checked before use.

`load` bounds the document's size and nesting; `field` reads one field and
checks its type, so no code below ever meets a list where it expects a dict.
`check_config` checks, once, every field of an image config that dockerviz
reads. A wrong type is an ArchiveError naming the document and the field.
"""

from __future__ import annotations

import json

from ..errors import ArchiveError
from . import limits as _limits

_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", bool: "true or false",
          type(None): "null", float: "a number"}


def _kind(value) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def load(data: bytes, what: str):
    """Parse a JSON document read from an image, within limit json_bytes and without deep recursion."""
    if len(data) > _limits.current().json_bytes:
        raise _limits.exceeded("json_bytes", f"The {what} is {len(data)} bytes; that size")
    try:
        return json.loads(data)
    except RecursionError:
        raise ArchiveError(f"The {what} nests deeper than any image document does; it is not valid image "
                           "metadata.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(
            f"The {what} is not valid JSON ({exc}). The archive is corrupt or was not written by `docker save`."
        ) from None


_MISSING = object()


def field(doc, key: str, expect, what: str, *, default=_MISSING, items=None):
    """doc[key], checked to be of type `expect` (and each item of `items` type, for lists and dict values).

    A missing key or null gives `default` when one is given, else an error.
    """
    if not isinstance(doc, dict):
        raise ArchiveError(f"The {what} is {_kind(doc)} where an object was expected.")
    value = doc.get(key)
    if value is None:
        if default is not _MISSING:
            return default
        raise ArchiveError(f"The {what} has no {key!r} field.")
    if not isinstance(value, expect) or (expect is int and isinstance(value, bool)):
        want = " or ".join(_NAMES.get(t, t.__name__) for t in (expect if isinstance(expect, tuple) else (expect,)))
        raise ArchiveError(f"The {what} has a {key!r} field that is {_kind(value)}, not {want}.")
    if items is not None:
        values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for item in values:
            if not isinstance(item, items) or (items is int and isinstance(item, bool)):
                raise ArchiveError(f"The {what} has a {key!r} field holding {_kind(item)}, where every item must "
                                   f"be {_NAMES.get(items, getattr(items, '__name__', 'valid'))}.")
    return value


def check_config(config, what: str) -> dict:
    """Every field of an image config that dockerviz reads, checked by type; the config itself."""
    where = f"image config of {what}"
    if not isinstance(config, dict):
        raise ArchiveError(f"The {where} is {_kind(config)}, not an object.")
    rootfs = field(config, "rootfs", dict, where)
    field(rootfs, "diff_ids", list, f"rootfs of the {where}", items=str)
    for i, h in enumerate(field(config, "history", list, where, default=[])):
        step = f"history step {i} of the {where}"
        if not isinstance(h, dict):
            raise ArchiveError(f"The {step} is {_kind(h)}, not an object.")
        for key in ("created_by", "created", "comment", "author"):
            field(h, key, str, step, default="")
        field(h, "empty_layer", bool, step, default=False)
    for name in ("config", "container_config"):
        inner = field(config, name, dict, where, default={})
        part = f"{name} of the {where}"
        field(inner, "Env", list, part, default=[], items=str)
        field(inner, "Labels", dict, part, default={}, items=str)
        for key in ("Cmd", "Entrypoint", "Shell", "OnBuild"):
            field(inner, key, (list, str), part, default=None)
            value = inner.get(key)
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise ArchiveError(f"The {part} has a {key!r} list holding something other than strings.")
        for key in ("User", "WorkingDir", "StopSignal"):
            field(inner, key, str, part, default="")
        for key in ("ExposedPorts", "Volumes"):
            field(inner, key, dict, part, default={})
    for key in ("architecture", "os", "created", "author", "variant"):
        field(config, key, str, where, default="")
    return config


__all__ = ["load", "field", "check_config"]
