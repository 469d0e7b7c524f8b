"""Folders by layer (docs/architecture.md, "Layers"): every import in kiosk/ points down or sideways, never up,
and the package import graph has no cycle.

Every `import` and `from ... import` counts, wherever it is: at the top, inside a function, under
TYPE_CHECKING. A package not in LAYERS fails the test, so a new folder is placed on purpose.
"""
from __future__ import annotations

import ast
from pathlib import Path

import kiosk

ROOT = Path(kiosk.__file__).parent

# Lowest first; a module may import its own layer and any lower one.
LAYERS: dict[str, int] = {
    "drivers": 0,
    "kiosk": 1, "kiosk.types": 1, "kiosk.event_model": 1, "kiosk.config": 1, "kiosk.data": 1,
    "kiosk.runtime": 1, "kiosk.logs": 1,
    "kiosk.face": 2, "kiosk.thermal": 2, "kiosk.store": 2, "kiosk.hardware": 2,
    "kiosk.recognition": 3, "kiosk.models": 3,
    "kiosk.access": 4,
    "kiosk.mqtt": 5, "kiosk.web": 5, "kiosk.sim": 5, "kiosk.actions": 5, "kiosk.backup": 5,
    "kiosk.service": 6,
    "kiosk.commands": 7, "kiosk.cli": 7, "kiosk.__main__": 7,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """The entry of LAYERS a module belongs to: its longest listed prefix (`kiosk` itself only for the package)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS and (prefix != "kiosk" or module == "kiosk"):
            return prefix
    raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/foundation/test_layers.py")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every kiosk or drivers import in a file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] in ("kiosk", "drivers")]


def _all_imports() -> list[tuple[str, int, str]]:
    return [(_module_name(path), line, target)
            for path in sorted(ROOT.rglob("*.py")) for line, target in _imports(path)]


def test_no_import_points_up() -> None:
    upward = []
    for module, line, target in _all_imports():
        if LAYERS[_unit(target)] > LAYERS[_unit(module)]:
            upward.append(f"{module} (line {line}) imports {target}: "
                          f"layer {LAYERS[_unit(module)]} -> {LAYERS[_unit(target)]}")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def test_package_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for module, line, target in _all_imports():
        a, b = _unit(module), _unit(target)
        if a != b and b != "kiosk":   # `from kiosk import __version__` is the package's own root
            graph.setdefault(a, set()).add(b)
            where.setdefault((a, b), f"{module} (line {line}) imports {target}")
    state: dict[str, int] = {}   # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
                steps = [where[(x, y)] for x, y in zip(cycle, cycle[1:], strict=False) if (x, y) in where]
                raise AssertionError("import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(steps))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_every_module_has_a_layer() -> None:
    for path in ROOT.rglob("*.py"):
        _unit(_module_name(path))
