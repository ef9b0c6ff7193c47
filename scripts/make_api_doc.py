"""Write what is derived from facesafe's one table of public names (``facesafe._PUBLIC``):
docs/api.md (every public name, its signature and docstring, by section) and the
imports at the top of src/facesafe/__init__.py (eager ones, and the lazy ones
under ``TYPE_CHECKING`` for type checkers). A test checks both are up to date.

    .venv/bin/python scripts/make_api_doc.py
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import facesafe
import facesafe.audit

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "api.md"
INIT = ROOT / "src" / "facesafe" / "__init__.py"
_BEGIN = "# --- generated from _PUBLIC by scripts/make_api_doc.py (a test checks it); do not edit ---\n"
_END = "# --- end of generated imports ---\n"
_WIDTH = 120

# What each section says before its names.
INTROS = {
    "Advanced": "Building blocks for checking or extending facesafe; most users never need them.\n",
}


def _groups() -> dict[str, list[str]]:
    """Section -> public names, in the table's order."""
    groups: dict[str, list[str]] = {}
    for section, _, names in facesafe._PUBLIC:
        groups.setdefault(section, []).extend(names)
    return groups


def _import(module: str, names: list[str], indent: str) -> str:
    # isort's order: CONSTANTS, Classes, functions
    ordered = sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    line = f"{indent}from .{module} import {', '.join(ordered)}\n"
    if len(line) <= _WIDTH + 1:
        return line
    body = "".join(f"{indent}    {n},\n" for n in ordered)
    return f"{indent}from .{module} import (\n{body}{indent})\n"


def render_imports() -> str:
    """The generated block of src/facesafe/__init__.py."""
    by_module: dict[str, list[str]] = {}
    for _, module, names in facesafe._PUBLIC:
        by_module.setdefault(module, []).extend(names)
    eager = [m for m in sorted(by_module) if m in facesafe._EAGER]
    lazy = [m for m in sorted(by_module) if m not in facesafe._EAGER]
    block = "".join(_import(m, by_module[m], "") for m in eager)
    block += "\nif TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads these\n"
    block += "".join(_import(m, by_module[m], "    ") for m in lazy)
    return _BEGIN + block + _END


def render_init() -> str:
    """src/facesafe/__init__.py with its generated imports brought up to date."""
    text = INIT.read_text()
    pattern = re.compile(re.escape(_BEGIN) + ".*?" + re.escape(_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{INIT}: the generated-imports markers are missing")
    return pattern.sub(lambda _: render_imports(), text, count=1)


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj)).replace("'", "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def _section(name: str, obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        head = f"### `facesafe.{name}{_signature(obj)}`" if not issubclass(obj, BaseException) else f"### `facesafe.{name}`"
    elif callable(obj):
        head = f"### `facesafe.{name}{_signature(obj)}`"
    else:
        head = f"### `facesafe.{name}`"
        doc = doc if not isinstance(obj, (int, str, dict)) and type(obj).__module__ != "builtins" else f"Value: `{obj!r}`"
    return f"{head}\n\n{doc}\n"


def render() -> str:
    """docs/api.md."""
    parts = [
        "# Python API\n",
        "Generated from the docstrings by `scripts/make_api_doc.py`; do not edit by hand.\n",
        "Everything public is importable from `facesafe` (and the re-identification audit from "
        "`facesafe.audit`); underscored modules are private. Images are `numpy.ndarray`, `uint8`, RGB, "
        "shape `(H, W, 3)`; functions take the image first and options by keyword.\n",
    ]
    for title, names in _groups().items():
        parts.append(f"## {title}\n")
        if title == "Errors":  # the tree, drawn once in _errors
            parts.append("```\n" + (inspect.getdoc(sys.modules["facesafe._errors"]) or "") + "\n```\n")
            continue
        if title in INTROS:
            parts.append(INTROS[title])
        parts.extend(_section(n, getattr(facesafe, n)) for n in names)
    parts.append("## `facesafe.audit`\n")
    for name in facesafe.audit.__all__:
        parts.append(_section(name, getattr(facesafe.audit, name)).replace("facesafe.", "facesafe.audit.", 1))
    return "\n".join(parts)


if __name__ == "__main__":
    INIT.write_text(render_init())
    OUT.write_text(render())
    print(f"wrote {INIT} (imports) and {OUT}")
