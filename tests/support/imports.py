"""The import graph of a package, read with ast (nothing is imported), and the layer rules.

Every `import` and `from ... import` counts, at module level or inside a function: a
lazy import is still a dependency, and a cycle through one is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_files(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _imported(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom, known) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".")
        if not is_pkg:
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]


def import_graph(package_dir: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> modules of the package it imports, module -> top-level names of other packages it imports)."""
    files = module_files(package_dir)
    root = package_dir.name
    inner: dict[str, set[str]] = {}
    outer: dict[str, set[str]] = {}
    for module, (path, is_pkg) in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        mine, theirs = set(), set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported(module, is_pkg, node, files):
                if name == root or name.startswith(root + "."):
                    while name not in files and "." in name:
                        name = name.rsplit(".", 1)[0]
                    if name != module:
                        mine.add(name)
                elif name:
                    theirs.add(name.split(".")[0])
        inner[module], outer[module] = mine, theirs
    return inner, outer


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_of(module: str, root: str) -> str:
    """'model', 'sources', 'building', 'containers', 'views' for modules in those packages, else the module's own name."""
    rest = module[len(root) + 1:] if module != root else ""
    return rest.split(".")[0] if rest else root


def violations(inner, outer, rules: dict[str, set[str]], widget_libs: set[str], root: str) -> list[str]:
    """Breaches of `rules` (layer -> layers it may import) and of 'only views/ imports widget libraries'."""
    out = []
    for module in sorted(inner):
        layer = layer_of(module, root)
        allowed = rules.get(layer)
        if allowed is not None:
            for dep in sorted(inner[module]):
                dep_layer = layer_of(dep, root)
                if dep_layer != layer and dep_layer not in allowed:
                    out.append(f"{module} imports {dep} ({layer}/ may import only {', '.join(sorted(allowed))})")
        if layer != "views":
            for lib in sorted(outer[module] & widget_libs):
                out.append(f"{module} imports {lib} (only {root}.views may import widget code)")
    return out


# docker-py's APIClient internals the engine adapter wraps (streams docker-py lacks or hides)
DOCKER_PY_PRIVATE = {"_post", "_get", "_put", "_delete", "_url", "_stream_helper", "_raise_for_status", "_result",
                     "_get_raw_response_socket", "_read_from_socket", "_multiplexed_buffer_helper",
                     "_multiplexed_response_stream_helper", "_stream_raw_result", "_attach_websocket"}


def daemon_talk_outside(package_dir: Path, adapter: set[str]) -> list[str]:
    """Where a module outside `adapter` calls docker-py's private methods, reads a response's raw
    socket or opens a socket itself."""
    out = []
    for module, (path, _) in module_files(package_dir).items():
        if module in adapter:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name in DOCKER_PY_PRIVATE:
                    out.append((node.lineno, node.col_offset, f"{module}:{node.lineno} calls docker-py's private {name}"))
                elif name in ("socket", "create_connection") and isinstance(node.func.value, ast.Name) \
                        and node.func.value.id == "socket":
                    out.append((node.lineno, node.col_offset, f"{module}:{node.lineno} opens a socket"))
            elif isinstance(node, ast.Attribute) and node.attr == "_fp" and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "raw":
                out.append((node.lineno, node.col_offset, f"{module}:{node.lineno} reads a response's raw socket (raw._fp)"))
    return [text for _, _, text in sorted(out)]
