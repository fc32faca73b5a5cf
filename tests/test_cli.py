"""The command line as an application on the library (issue 11) and `python -m tinygrad_edu` (issue 10).

- `python -m tinygrad_edu` and the installed `tinygrad-edu` script are the same command: same
  output, same exit status, same errors.
- Nothing in the library imports `tinygrad_edu.cli`, at module level or inside a function, and
  the `cli` package has no import cycle of its own.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_edu

PACKAGE = Path(tinygrad_edu.__file__).parent
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)


def script() -> str:
    exe = Path(sys.executable).parent / "tinygrad-edu"
    found = str(exe) if exe.exists() else shutil.which("tinygrad-edu")
    if found is None:
        pytest.skip("the tinygrad-edu script is not installed (pip install -e . installs it)")
    return found


@pytest.mark.parametrize(
    "argv",
    [
        ["gradcheck", "--sizes", "3", "4", "2", "--batch", "3", "--seed", "2"],  # runs: exit 0
        ["graph", "--seed", "-1"],  # issue 10, item 11: a traceback before, on every subcommand
    ],
    ids=["gradcheck", "bad seed"],
)
def test_python_dash_m_is_the_same_command(argv: list[str]) -> None:
    as_module = run([sys.executable, "-m", "tinygrad_edu", *argv])
    as_script = run([script(), *argv])
    assert (as_module.returncode, as_module.stdout, as_module.stderr) == (
        as_script.returncode,
        as_script.stdout,
        as_script.stderr,
    )
    assert "Traceback" not in as_module.stderr
    if argv[0] == "gradcheck":
        assert as_module.returncode == 0 and "all 4 match finite differences" in as_module.stdout
    else:
        assert as_module.returncode == 2
        assert as_module.stderr.splitlines()[-1] == (
            "tinygrad-edu graph: error: argument --seed: expected an integer >= 0, got -1"
        )


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every `tinygrad_edu...` module that `path` imports, anywhere in the file, with its line."""
    found = []
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found += [(base, node.lineno)] + [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.args[0] if node.args else None, ast.Constant):
            if getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
                found.append((str(node.args[0].value), node.lineno))
    return [(name, line) for name, line in found if name.startswith("tinygrad_edu")]


def test_the_library_never_imports_the_command_line() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py"
        for name, line in imports_of(path)
        if name == "tinygrad_edu.cli" or name.startswith("tinygrad_edu.cli.")
    ]
    assert offenders == []


def test_the_cli_package_has_no_import_cycle() -> None:
    modules = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (PACKAGE / "cli").glob("*.py")
    }
    edges = {m: {name for name, _ in imports_of(p) if name in modules and name != m} for m, p in modules.items()}
    # Kahn's algorithm: whatever cannot be ordered is on a cycle.
    order, ready = [], [m for m in edges if not edges[m]]
    remaining = {m: set(deps) for m, deps in edges.items()}
    while ready:
        done = ready.pop()
        order.append(done)
        for m, deps in remaining.items():
            if done in deps:
                deps.discard(done)
                if not deps and m not in order and m not in ready:
                    ready.append(m)
    assert sorted(order) == sorted(edges), {m: d for m, d in remaining.items() if d}
