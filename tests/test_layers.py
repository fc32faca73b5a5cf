"""The package is layered: no module imports, directly or through others, a module that imports it.

Every `import` counts, at the top of a module or inside a function (only `if TYPE_CHECKING:`
blocks, which never run, are left out). `python tests/test_layers.py` prints the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tinygrad_edu

PACKAGE = Path(tinygrad_edu.__file__).parent
NAME = PACKAGE.name


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    skipped = {
        id(node)
        for guard in ast.walk(tree)
        if isinstance(guard, ast.If) and "TYPE_CHECKING" in ast.unparse(guard.test)
        for statement in guard.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .y import z
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from package import submodule` imports the submodule; `from module import name` the module.
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names)
    return {name for name in found if name in modules and name != this}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) for name, path in paths.items()}


def layers(graph: dict[str, set[str]]) -> list[list[str]]:
    """Modules in layers, each importing only from the layers below it; what is left is on a cycle."""
    placed: set[str] = set()
    result = []
    while len(placed) < len(graph):
        layer = sorted(m for m, deps in graph.items() if m not in placed and deps <= placed)
        if not layer:
            break
        result.append(layer)
        placed.update(layer)
    return result


def test_no_import_cycle_anywhere_in_the_package() -> None:
    graph = import_graph()
    placed = {m for layer in layers(graph) for m in layer}
    on_cycles = {m: sorted(graph[m] - placed) for m in graph if m not in placed}
    assert not on_cycles, f"modules on an import cycle, with the imports still unresolved: {on_cycles}"


def test_the_core_imports_nothing_above_it() -> None:
    graph = import_graph()
    core = {
        f"{NAME}.{m}"
        for m in (
            "errors",
            "grad_mode",
            "dtypes",
            "versions",
            "autograd",
            "ops",
            "derived",
            "inplace",
            "interop",
            "tensor",
        )
    }
    for module in core:
        assert graph[module] <= core, f"{module} imports {sorted(graph[module] - core)}"


if __name__ == "__main__":
    for depth, layer in enumerate(layers(import_graph())):
        print(depth, " ".join(m.removeprefix(f"{NAME}.") for m in layer))
