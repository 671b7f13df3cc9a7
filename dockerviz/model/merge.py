"""Stacking layers into a filesystem, recording what each layer changed and hid.

The rules are the OCI image-spec's: an opaque marker hides every lower child
of its directory and applies before the layer's own entries; a whiteout
deletes its target and the target's subtree from the layers below; an entry
replaces what was at its path (a file replacing a directory hides the whole
directory). Every regular file that ends up invisible is recorded with the
layer that wrote it and the layer that hid it: that is the exact accounting.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import entries as E
from .layer import LayerContent
from .record import Record

# How a lower object came to be hidden.
OVERWRITTEN = "overwritten"
DELETED = "deleted"
OPAQUE = "opaque"
REPLACED = "replaced"


class Change:
    """One row of a layer's change list."""

    __slots__ = ("path", "kind", "change", "size", "mode", "uid", "gid", "link", "prev_kind", "prev_size",
                 "prev_mode", "removed_entries", "via")

    def __init__(self, path, kind, change, size, mode, uid, gid, link, prev_kind=None, prev_size=None,
                 prev_mode=None, removed_entries=0, via=""):
        self.path = path
        self.kind = kind
        self.change = change  # added / modified / removed
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.link = link
        self.prev_kind = prev_kind
        self.prev_size = prev_size
        self.prev_mode = prev_mode
        self.removed_entries = removed_entries  # for removals: objects in the hidden subtree
        self.via = via  # for removals: deleted / opaque / replaced

    def __repr__(self):
        return f"Change({self.change} {self.path!r} {self.kind} {self.size})"


def _row(item) -> Change:
    if isinstance(item, Change):
        return item
    if isinstance(item, E.Entry):  # added
        return Change(item.path, item.kind, E.ADDED, item.size, item.mode, item.uid, item.gid, item.link)
    entry, prev = item
    return Change(entry.path, entry.kind, E.MODIFIED, entry.size, entry.mode, entry.uid, entry.gid, entry.link,
                  prev_kind=prev.kind, prev_size=prev.size, prev_mode=prev.mode)


class LayerChanges:
    """Per-layer change lists, kept compact and turned into Change rows on first look.

    Merging records an added entry as itself and a modified one as an (entry,
    previous entry) pair; most callers only need the counts, and building a
    row object per entry costs more than the merge.
    """

    def __init__(self, raw: list, counts: list):
        self._raw = raw
        self._rows: dict[int, list] = {}
        self.counts = counts  # per layer: {added, modified, removed}

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, layer: int) -> list:
        if layer < 0:
            layer += len(self._raw)
        rows = self._rows.get(layer)
        if rows is None:
            rows = self._rows[layer] = [_row(item) for item in self._raw[layer]]
        return rows

    def __iter__(self):
        return (self[i] for i in range(len(self._raw)))


class Hidden(Record):
    """Regular-file bytes a lower layer stored that the final filesystem cannot see."""

    __slots__ = _fields = ("path", "size", "written_by", "hidden_by", "how")

    def __init__(self, path: str, size: int, written_by: int, hidden_by: int, how: str):
        self.path = path
        self.size = size
        self.written_by = written_by
        self.hidden_by = hidden_by
        self.how = how


class FinalFS(Mapping):
    """The final filesystem: path -> (layer index, Entry).

    Two dicts underneath (path -> Entry, path -> layer): a (layer, Entry)
    tuple per path would cost 64 bytes, the second dict about 30.
    """

    __slots__ = ("entries", "layers")

    def __init__(self, entries: dict, layers: dict):
        self.entries = entries
        self.layers = layers

    def __getitem__(self, path: str) -> tuple:
        return self.layers[path], self.entries[path]

    def get(self, path: str, default=None):
        entry = self.entries.get(path)
        return default if entry is None else (self.layers[path], entry)

    def __contains__(self, path) -> bool:
        return path in self.entries

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def keys(self):
        return self.entries.keys()

    def items(self):
        layers = self.layers
        return ((p, (layers[p], e)) for p, e in self.entries.items())


class MergeResult(Record):
    """final: path -> (layer index, Entry); changes[layer] -> list[Change], changes.counts[layer] -> counts;
    hidden: list[Hidden]."""

    __slots__ = _fields = ("final", "changes", "hidden", "stored_file_bytes", "visible_file_bytes")

    def __init__(self, final: FinalFS, changes: LayerChanges, hidden: list, stored_file_bytes: int = 0,
                 visible_file_bytes: int = 0):
        self.final = final
        self.changes = changes
        self.hidden = hidden
        self.stored_file_bytes = stored_file_bytes
        self.visible_file_bytes = visible_file_bytes

    @property
    def reclaimable_bytes(self) -> int:
        return self.stored_file_bytes - self.visible_file_bytes


class _State:
    __slots__ = ("fs", "at", "children", "hidden_at")

    def __init__(self):
        self.fs: dict = {}  # path -> Entry
        self.at: dict = {}  # path -> layer that wrote it
        self.children: dict = {}  # dir path -> {child path: None}
        self.hidden_at: dict = {}  # (layer, path) -> (hider, how)


def _unlink_child(state: _State, path: str) -> None:
    kids = state.children.get(E.parent_of(path))
    if kids is not None:
        kids.pop(path, None)


def _remove_subtree(state: _State, path: str, hider: int, how: str) -> tuple[int, int]:
    """Remove path and everything under it; returns (objects removed, file bytes)."""
    count = 0
    nbytes = 0
    stack = [path]
    while stack:
        p = stack.pop()
        entry = state.fs.pop(p, None)
        if entry is not None:
            layer = state.at.pop(p)
            count += 1
            if entry.kind == E.FILE:
                nbytes += entry.size
            state.hidden_at[(layer, p)] = (hider, how)
        kids = state.children.pop(p, None)
        if kids:
            stack.extend(kids)
    _unlink_child(state, path)
    return count, nbytes


def _removal_row(path: str, entry: E.Entry, count: int, nbytes: int, via: str) -> Change:
    return Change(path, entry.kind, E.REMOVED, nbytes, entry.mode, entry.uid, entry.gid, entry.link,
                  prev_kind=entry.kind, prev_size=nbytes, prev_mode=entry.mode,
                  removed_entries=count, via=via)


def _clear_non_dir_ancestors(state: _State, path: str, layer: int, rows: list) -> None:
    """A path can only live under directories: hide any lower file in the way."""
    parent = E.parent_of(path)
    while parent:
        held = state.fs.get(parent)
        if held is None:
            parent = E.parent_of(parent)
            continue
        if held.kind != E.DIR:
            count, nbytes = _remove_subtree(state, parent, layer, REPLACED)
            rows.append(_removal_row(parent, held, count, nbytes, REPLACED))
        return


def merge(layers: list[LayerContent]) -> MergeResult:
    state = _State()
    all_changes: list[list] = []
    all_counts: list[dict] = []
    stored = 0
    hardlinks: list[dict[str, list[str]]] = []  # per layer: target -> [link paths]
    fs = state.fs
    at = state.at
    hidden_at = state.hidden_at
    children = state.children
    DIR, FILE, HARDLINK = E.DIR, E.FILE, E.HARDLINK

    for idx, content in enumerate(layers):
        rows: list = []

        for d in content.opaque_dirs:
            for child in list(children.get(d, ())):
                held = fs.get(child)
                count, nbytes = _remove_subtree(state, child, idx, OPAQUE)
                if held is not None:
                    rows.append(_removal_row(child, held, count, nbytes, OPAQUE))

        for target in content.whiteouts:
            held = fs.get(target)
            if held is None:
                # Deleting what no lower layer has (or an implied directory).
                if target in children:
                    count, nbytes = _remove_subtree(state, target, idx, DELETED)
                    rows.append(Change(target, DIR, E.REMOVED, nbytes, 0, 0, 0, "", prev_kind=DIR,
                                       prev_size=nbytes, removed_entries=count, via=DELETED))
                continue
            count, nbytes = _remove_subtree(state, target, idx, DELETED)
            rows.append(_removal_row(target, held, count, nbytes, DELETED))

        links: dict[str, list[str]] = {}
        added = modified = 0
        for entry in content.entries:
            path = entry.path
            kind = entry.kind
            if kind == FILE:
                stored += entry.size
            elif kind == HARDLINK:
                links.setdefault(entry.link, []).append(path)
            parent, _, _ = path.rpartition("/")
            if parent:
                held_parent = fs.get(parent)
                if held_parent is None or held_parent.kind != DIR:
                    _clear_non_dir_ancestors(state, path, idx, rows)
            prev_entry = fs.get(path)
            if prev_entry is None:
                rows.append(entry)
                added += 1
                kids = children.get(parent)
                if kids is None:
                    children[parent] = {path: None}
                else:
                    kids[path] = None
            else:
                prev_layer = at[path]
                if prev_entry.kind == DIR and kind != DIR:
                    # A directory replaced by a non-directory takes its subtree with it.
                    for child in list(children.get(path, ())):
                        _remove_subtree(state, child, idx, REPLACED)
                if prev_layer != idx:
                    hidden_at[(prev_layer, path)] = (idx, OVERWRITTEN)
                rows.append((entry, prev_entry))
                modified += 1
            fs[path] = entry
            at[path] = idx
        hardlinks.append(links)
        all_changes.append(rows)
        all_counts.append({E.ADDED: added, E.MODIFIED: modified, E.REMOVED: len(rows) - added - modified})

    hidden, visible = _account(layers, state, hardlinks)
    return MergeResult(final=FinalFS(fs, at), changes=LayerChanges(all_changes, all_counts), hidden=hidden,
                       stored_file_bytes=stored, visible_file_bytes=visible)


def _account(layers, state: _State, hardlinks) -> tuple[list[Hidden], int]:
    """Split stored file bytes into visible and hidden, hard links counted once.

    The bytes of a file are visible while any path of its hard-link group (the
    file and the links to it written in the same layer) is still visible.
    """
    at = state.at
    hidden: list[Hidden] = []
    visible = 0
    for idx, content in enumerate(layers):
        links = hardlinks[idx]
        for entry in content.entries:
            if entry.kind != E.FILE:
                continue
            members = [entry.path]
            if links:
                members.extend(links.get(entry.path, ()))
            seen = False
            for m in members:
                if at.get(m) == idx:
                    seen = True
                    break
            if seen:
                visible += entry.size
                continue
            if entry.size == 0:
                continue
            hider, how = max((state.hidden_at.get((idx, m), (-1, "")) for m in members), key=lambda t: t[0])
            hidden.append(Hidden(entry.path, entry.size, idx, hider, how))
    return hidden, visible
