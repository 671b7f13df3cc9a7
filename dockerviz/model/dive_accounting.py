"""Waste accounting computed exactly as dive 0.13.1 computes it.

dive builds one tree per layer from the tar headers (opaque markers dropped,
directories implied by a path get an empty payload), visits each layer's
leaves, and for every path sums sizes across layers. A whiteout leaf weighs
the total size of what it deletes only when that was a directory in the stack
of lower layers. Efficiency = sum of per-path minimum sizes / sum of per-path
cumulative sizes; a path seen two or more times is "inefficient" and all its
copies count as wasted bytes. These numbers are kept for compatibility (CI
gates written for dive keep working); `merge` holds the exact accounting.
"""

from __future__ import annotations

from . import entries as E
from .layer import LayerContent
from .record import Record


class _Node:
    __slots__ = ("children", "size", "is_dir")

    def __init__(self, size: int = 0, is_dir: bool = False):
        self.children: dict[str, _Node] = {}
        self.size = size
        self.is_dir = is_dir


def _sort_key(name: str) -> bytes:
    # Go sorts strings by bytes; keep its visiting order for non-UTF-8 names too.
    return name.encode("utf-8", "surrogateescape")


def _layer_tree(content: LayerContent) -> _Node:
    root = _Node()
    items = [(e.path, e.size, e.kind == E.DIR) for e in content.entries]
    for target in content.whiteouts:
        parent, _, base = target.rpartition("/")
        items.append(((parent + "/" if parent else "") + E.WHITEOUT_PREFIX + base, 0, False))
    for path, size, is_dir in items:
        node = root
        for name in path.split("/"):
            child = node.children.get(name)
            if child is None:
                child = node.children[name] = _Node()
            node = child
        node.size = size
        node.is_dir = is_dir
    return root


def _copy(node: _Node) -> _Node:
    root = _Node(node.size, node.is_dir)
    stack = [(node, root)]  # iteration, not recursion: an image's paths may be thousands deep
    while stack:
        src, dst = stack.pop()
        for k, v in src.children.items():
            new = dst.children[k] = _Node(v.size, v.is_dir)
            if v.children:
                stack.append((v, new))
    return root


def _postorder(root: _Node):
    """(node, path parts) below and including root, children (by dive's order) before their parent."""
    stack = [(root, [], False)]
    while stack:
        node, parts, expanded = stack.pop()
        if expanded or not node.children:
            yield node, parts
            continue
        stack.append((node, parts, True))
        for name in sorted(node.children, key=_sort_key, reverse=True):
            stack.append((node.children[name], parts + [name], False))


def _stack(lower: _Node, upper: _Node) -> None:
    """dive's FileTree.Stack: graft upper onto lower, children before parents."""

    for node, path in _postorder(upper):
        if not path:
            continue
        name = path[-1]
        if name.startswith(E.WHITEOUT_PREFIX):
            target = path[:-1] + [name[len(E.WHITEOUT_PREFIX):]]
            parent = _get(lower, target[:-1])
            if parent is not None:
                parent.children.pop(target[-1], None)
            continue
        cur = lower
        for part in path:
            nxt = cur.children.get(part)
            if nxt is None:
                nxt = cur.children[part] = _Node()
            cur = nxt
        cur.size = node.size
        cur.is_dir = node.is_dir


def _get(root: _Node, parts: list[str]) -> _Node | None:
    node = root
    for part in parts:
        if part == "":
            continue
        node = node.children.get(part)
        if node is None:
            return None
    return node


def _subtree_size(node: _Node) -> int:
    total = node.size
    stack = list(node.children.values())
    while stack:
        n = stack.pop()
        total += n.size
        stack.extend(n.children.values())
    return total


class InefficientPath(Record):
    __slots__ = _fields = ("path", "count", "size")

    def __init__(self, path: str, count: int, size: int):
        self.path = path  # '/'-rooted, as dive prints it
        self.count = count
        self.size = size


class DiveAccounting(Record):
    __slots__ = _fields = ("efficiency", "inefficient_bytes", "inefficient", "layer_sizes", "size_bytes",
                           "user_size_bytes")

    def __init__(self, efficiency: float, inefficient_bytes: int, inefficient: list, layer_sizes: list,
                 size_bytes: int, user_size_bytes: int):
        self.efficiency = efficiency
        self.inefficient_bytes = inefficient_bytes
        self.inefficient = inefficient  # InefficientPath, largest first
        self.layer_sizes = layer_sizes  # dive's per-layer sizeBytes
        self.size_bytes = size_bytes
        self.user_size_bytes = user_size_bytes

    @property
    def wasted_user_percent(self) -> float:
        if self.user_size_bytes == 0:
            return 0.0 if self.inefficient_bytes == 0 else float("inf")
        return self.inefficient_bytes / self.user_size_bytes


def dive_accounting(layers: list[LayerContent], diff_ids: list[str] | None = None) -> DiveAccounting:
    """dive's numbers for these layers.

    `diff_ids` lets dive's reading of repeated layers be reproduced: `docker
    save` stores a layer that repeats an earlier one as a symlink to it, and
    dive reads that link as an empty layer (size 0, no files).
    """
    if diff_ids is not None:
        seen: set[str] = set()
        as_dive_reads = []
        for content, diff_id in zip(layers, diff_ids):
            as_dive_reads.append(LayerContent() if diff_id in seen else content)
            seen.add(diff_id)
        layers = as_dive_reads
    built: dict[int, _Node] = {}

    def tree_of(i: int) -> _Node:
        # Trees cost more than the leaf walk below: build them only for stacking and whiteouts.
        tree = built.get(i)
        if tree is None:
            tree = built[i] = _layer_tree(layers[i])
        return tree
    # Most paths are seen once: one dict for first sightings, [cum, min, count] only for repeats.
    # (Three dicts keyed by every path cost ~130 bytes per entry at the peak.)
    first: dict[str, int] = {}
    repeats: dict[str, list] = {}
    total_cum = 0

    # dive stacks layers 0..idx-1 afresh for every whiteout it meets; the stack
    # is built here once, incrementally, and only as far as a whiteout needs it.
    stacked: _Node | None = None
    stacked_upto = -1

    def lower_stack(idx: int) -> _Node:
        nonlocal stacked, stacked_upto
        if idx == 0:
            return _copy(tree_of(0))  # StackTreeRange(0, -1): layer 0 alone
        if stacked is None:
            stacked = _copy(tree_of(0))
            if layers[0].whiteouts:  # stacking a tree without whiteouts on its own copy changes nothing
                _stack(stacked, tree_of(0))
            stacked_upto = 0
        while stacked_upto < idx - 1:
            stacked_upto += 1
            _stack(stacked, tree_of(stacked_upto))
        return stacked

    def add(key: str, size: int) -> None:
        nonlocal total_cum
        total_cum += size
        rep = repeats.get(key)
        if rep is not None:
            rep[0] += size
            if size < rep[1]:
                rep[1] = size
            rep[2] += 1
            return
        was = first.get(key)
        if was is None:
            first[key] = size
        else:
            repeats[key] = [was + size, min(was, size), 2]

    for idx, content in enumerate(layers):
        if not content.whiteouts:
            # No whiteout, so nothing can stop the visit early and order does not matter:
            # the leaves are the entries that are no other entry's ancestor.
            ancestors: set[str] = set()
            for e in content.entries:
                p = e.path
                i = p.rfind("/")
                while i > 0:
                    q = p[:i]
                    if q in ancestors:
                        break  # its own ancestors went in with it
                    ancestors.add(q)
                    i = p.rfind("/", 0, i)
            for e in content.entries:
                if e.path not in ancestors:
                    add(e.path, e.size)
            continue

        tree = tree_of(idx)
        lower = lower_stack(idx)

        for node, parts in _postorder(tree):
            if not parts or node.children:
                continue
            name = parts[-1]
            if name.startswith(E.WHITEOUT_PREFIX):
                real = parts[:-1] + [name[len(E.WHITEOUT_PREFIX):]]
                prev = _get(lower, real)
                if prev is None:
                    break  # dive stops visiting this layer here
                add("/".join(real), _subtree_size(prev) if prev.is_dir else 0)
            else:
                add("/".join(parts), node.size)

    total_min = sum(first.values()) + sum(rep[1] - first[k] for k, rep in repeats.items())
    efficiency = 1.0 if total_cum == 0 else total_min / total_cum
    bad = [InefficientPath(E.display_path(k), rep[2], rep[0]) for k, rep in repeats.items()]
    bad.sort(key=lambda p: (-p.size, p.path))
    layer_sizes = [c.tar_bytes for c in layers]
    return DiveAccounting(
        efficiency=efficiency,
        inefficient_bytes=sum(p.size for p in bad),
        inefficient=bad,
        layer_sizes=layer_sizes,
        size_bytes=sum(layer_sizes),
        user_size_bytes=sum(layer_sizes[1:]),
    )


DIVE_SHELL_PREFIX = "/bin/sh -c "


def dive_command(created_by: str) -> str:
    """A layer's command as dive 0.13.1 exports it: the history text without a leading `/bin/sh -c `.

    dive keeps the `#(nop) ` marker that follows it (measured: its export of a
    kaniko image reads `#(nop) ADD file:… in / `); the full text is in createdBy.
    """
    return created_by[len(DIVE_SHELL_PREFIX):] if created_by.startswith(DIVE_SHELL_PREFIX) else created_by
