"""The structural figures of docs/architecture.md, read from the source (no import of facesafe).

- no import cycle between modules of src/facesafe (module level; ``TYPE_CHECKING``
  blocks and function bodies left out);
- no function longer than 80 lines;
- at most 10 imports of facesafe's own modules inside functions, each with a
  comment saying why (import cost, an optional extra) on its line or the one above.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "facesafe"
MAX_LINES = 80
MAX_INNER_IMPORTS = 10


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: tuple[str, ...]

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        text = path.read_text()
        modules[name] = Module(name, path, ast.parse(text), tuple(text.splitlines()))
    return modules


MODULES = _modules()


def _targets(module: Module, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The facesafe modules an import statement runs: ``from pkg import sub`` runs ``pkg.sub``, ``from pkg import name`` runs ``pkg``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    if node.level:
        base = module.name.split(".")
        if not module.is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    found = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]
    return [t for t in found if t in MODULES and t != module.name]


def _module_level_imports(body: list[ast.stmt]):
    for statement in body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            yield statement
        elif isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            continue
        elif isinstance(statement, (ast.If, ast.Try)):
            yield from _module_level_imports(statement.body)
            yield from _module_level_imports(statement.orelse)
            for handler in getattr(statement, "handlers", []):
                yield from _module_level_imports(handler.body)
            yield from _module_level_imports(getattr(statement, "finalbody", []))


def _functions():
    for module in MODULES.values():
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield module, node


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_source_is_read():
    assert len(MODULES) > 30 and "facesafe._anonymize" in MODULES and "facesafe._redact._methods" in MODULES
    assert sum(1 for _ in _functions()) > 300


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    edges = {name: {t for node in _module_level_imports(m.tree.body) for t in _targets(m, node)} for name, m in MODULES.items()}
    assert sum(map(len, edges.values())) > 50  # the graph was built
    assert _cycles(edges) == []


# _datasets landed before the shared runner it now moves onto; until that rework lands its
# anonymize_dataset (96 lines) and its in-function imports are reported as an expected failure,
# while every other module must already hold the figures.
IN_REWORK = "facesafe/_datasets/"


def _hold_outside_rework(offenders: list[str], what: str) -> None:
    assert [o for o in offenders if not o.startswith(IN_REWORK)] == []
    if offenders:
        pytest.xfail(f"{what} in {IN_REWORK} (being moved onto the shared runner): {offenders}")


def test_no_function_over_80_lines():
    long = [
        f"{m.path.relative_to(PACKAGE.parent)}:{f.lineno} {f.name} ({f.end_lineno - f.lineno + 1} lines)"
        for m, f in _functions()
        if f.end_lineno - f.lineno + 1 > MAX_LINES
    ]
    _hold_outside_rework(long, "functions over 80 lines")


def _inner_imports() -> list[tuple[Module, ast.Import | ast.ImportFrom]]:
    found = []
    for module, function in _functions():
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and _targets(module, node):
                found.append((module, node))
    return found


def test_few_in_function_imports_of_facesafe_modules_each_with_its_reason():
    inner = _inner_imports()
    where = [f"{m.path.relative_to(PACKAGE.parent)}:{node.lineno}" for m, node in inner]
    unexplained = [
        f"{m.path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for m, node in inner
        if "#" not in m.lines[node.lineno - 1] and not m.lines[node.lineno - 2].strip().startswith("#")
    ]
    _hold_outside_rework(unexplained, "in-function imports without a reason")
    assert len([w for w in where if not w.startswith(IN_REWORK)]) <= MAX_INNER_IMPORTS, where
    if len(where) > MAX_INNER_IMPORTS:
        pytest.xfail(f"{len(where)} in-function imports, {len(where) - MAX_INNER_IMPORTS} over, in {IN_REWORK}")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from ._io import load_image  # here: cost\n", 1),
        ("import numpy\n\ndef f():\n    import cv2\n", 0),
        ("def f():\n    x = 1\n", 0),
    ],
)
def test_in_function_imports_are_counted(source, expected):
    module = Module("facesafe._probe", PACKAGE / "_probe.py", ast.parse(source), tuple(source.splitlines()))
    count = sum(
        1
        for node in ast.walk(module.tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for sub in ast.walk(node)
        if isinstance(sub, (ast.Import, ast.ImportFrom)) and _targets(module, sub)
    )
    assert count == expected
