"""Record: a plain value class, with a repr and equality over its `_fields`.

Used instead of dataclasses in the modules `dockerviz analyze` imports:
importing dataclasses (it pulls in inspect, ast, dis, tokenize) and running
@dataclass, which compiles an __init__, __repr__ and __eq__ per class, took
longer than the whole analysis of a small image. Here nothing is generated:
each class writes its own __init__ and names its fields once.
"""

from __future__ import annotations

__all__ = ["Record", "FrozenRecord"]


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _shown: tuple[str, ...] | None = None  # the fields repr shows, when not all of them

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields if self._shown is None or f in self._shown)
        return f"{type(self).__qualname__}({args})"

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # mutable values, as a dataclass with eq and without frozen


class FrozenRecord(Record):
    """A Record whose fields are set once, by _freeze() in __init__; hashable (as a frozen dataclass)."""

    __slots__ = ()

    def _freeze(self, values: dict) -> None:
        for name in self._fields:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__qualname__} is read-only; make a new one to change {name!r}.")

    def __hash__(self) -> int:  # type: ignore[override]  # frozen: hashable, unlike a plain Record
        return hash(tuple(getattr(self, f) for f in self._fields))
