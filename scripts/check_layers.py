"""Check perps-tracker's import graph: no circle, and no import that climbs a layer.

    python scripts/check_layers.py        # prints the layers and any violation; exit 1 if one

Every `import` and `from ... import` of every module is read (those inside functions too: a
lazy import is still a dependency). Layers, top to bottom; a module may import its own layer
and the layers below, never one above; storage and exchanges are siblings that do not import
each other, nor the dataset (capture's Parquet files, at their level):

    cli → render → services → config → storage | dataset | exchanges → model → errors
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "perps_tracker"

# (layer, rank, module prefixes); a lower rank is higher up.
LAYERS = [
    ("cli", 0, ("perps_tracker.cli", "perps_tracker.__main__")),
    ("render", 1, ("perps_tracker.render",)),
    ("services", 2, ("perps_tracker.services",)),
    ("config", 3, ("perps_tracker.config",)),
    ("storage", 4, ("perps_tracker.storage",)),
    ("dataset", 4, ("perps_tracker.dataset",)),
    ("exchanges", 4, ("perps_tracker.exchanges",)),
    ("model", 5, ("perps_tracker.model",)),
    ("errors", 6, ("perps_tracker.errors", "perps_tracker")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[str, int]:
    for name, rank, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes if p != PACKAGE):
            return name, rank
    return "errors", 6  # the package root (its version) is at the bottom


def imports(path: Path, module: str) -> set[str]:
    """The perps_tracker modules `path` imports (absolute or relative, at any depth in the file)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from pkg import module` names a module when such a file exists
                candidate = f"{base}.{alias.name}"
                found.add(candidate if known(candidate) else base)
    found.discard(module)
    return found


def known(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    files = sorted((ROOT / PACKAGE).rglob("*.py"))
    return {module_name(f): imports(f, module_name(f)) for f in files if "migrations" not in f.parts}


def upward(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(edges.items()):
        name, rank = layer_of(module)
        for target in sorted(targets):
            tname, trank = layer_of(target)
            if trank < rank or (trank == rank and tname != name):
                problems.append(f"{module} ({name}) imports {target} ({tname})")
    return problems


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    edges = graph()
    bad = upward(edges)
    rings = circles(edges)
    for name, rank, _ in LAYERS:
        members = sorted(m for m in edges if layer_of(m)[0] == name)
        print(f"{rank} {name:<9} {len(members):>3} modules")
    for problem in bad:
        print(f"upward import: {problem}")
    for ring in rings:
        print(f"import circle: {' ↔ '.join(ring)}")
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports: "
          f"{len(bad)} upward, {len(rings)} circles")
    return 1 if bad or rings else 0


if __name__ == "__main__":
    sys.exit(main())
