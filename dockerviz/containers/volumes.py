"""Named volumes dockerviz creates: data that outlives the containers that write it.

A volume made by `dockerviz.volume()` carries the labels of every container
dockerviz makes (`dockerviz.managed=1`, `dockerviz.session=<pid>`) and is
removed when the object is closed, at the end of a `with` block, or when the
interpreter exits (after the containers, which may still use it).
"""

from __future__ import annotations

import atexit
import threading

from .. import engine as _engine
from ..errors import DockervizError
from .lifecycle import cleanup as _cleanup_containers
from .lifecycle import managed_labels

__all__ = ["Volume", "create_volume"]

_owned: dict = {}  # volume name -> Engine
_lock = threading.Lock()
_atexit = False


def _register(name: str, eng) -> None:
    global _atexit
    with _lock:
        _owned[name] = eng
        if not _atexit:
            atexit.register(_remove_all)
            _atexit = True


def _remove_all() -> None:
    with _lock:
        owned = dict(_owned)
    for eng in set(owned.values()):
        try:
            _cleanup_containers(engine=eng)  # a volume in use cannot be removed
        except Exception:
            pass
    for name, eng in owned.items():
        try:
            _remove(name, eng)
        except Exception:
            pass


def _remove(name: str, eng) -> None:
    from docker.errors import NotFound

    client = eng.client()
    try:
        with _engine.translated(name, kind="volume", engine=eng):
            try:
                client.api.remove_volume(name, force=True)
            except NotFound:
                pass
    finally:
        client.close()
    with _lock:
        _owned.pop(name, None)


class Volume:
    """A named volume on an engine. `mount(path)` is the `volumes=` option of dockerviz.run()
    that mounts it there; `remove()` (or close(), or the end of a `with` block) deletes it and
    its data."""

    def __init__(self, name: str, eng, info: dict):
        self.name = name
        self.engine = eng
        self.info = info
        self.removed = False

    @property
    def labels(self) -> dict:
        return dict(self.info.get("Labels") or {})

    def mount(self, path: str, mode: str = "rw") -> dict:
        """{name: {"bind": path, "mode": mode}}: pass it as dockerviz.run(..., volumes=...)."""
        return {self.name: {"bind": path, "mode": mode}}

    def remove(self) -> None:
        if not self.removed:
            _remove(self.name, self.engine)
            self.removed = True

    def close(self) -> None:
        self.remove()

    def __enter__(self) -> "Volume":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def summary(self) -> dict:
        return {"name": self.name, "driver": self.info.get("Driver"), "mountpoint": self.info.get("Mountpoint"),
                "engine": self.engine.name, "removed": self.removed}

    def __repr__(self) -> str:
        return f"<Volume {self.name} on {self.engine.name}{', removed' if self.removed else ''}>"


def create_volume(name: str | None = None, *, engine=None) -> Volume:
    """A new named volume (a generated name when none is given), labelled as dockerviz's."""
    eng = _engine.as_engine(engine)
    client = eng.client()
    try:
        if name:
            with _engine.translated(name, kind="volume", engine=eng):
                existing = [v for v in (client.api.volumes(filters={"name": name}).get("Volumes") or [])
                            if v.get("Name") == name]
            if existing:
                raise DockervizError(f"A volume named {name!r} exists already on {eng.describe()}: "
                                     "give another name, or none for a generated one.")
        with _engine.translated(name or "a new volume", kind="volume", engine=eng):
            info = client.api.create_volume(name=name, labels=managed_labels())
    finally:
        client.close()
    _register(info["Name"], eng)
    return Volume(info["Name"], eng, info)
