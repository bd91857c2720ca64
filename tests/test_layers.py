"""The import layers point down only, and tasks carry their own knowledge.

Layers: seqbench.analysis (bottom) ← seqbench.claims ← seqbench.report, and seqbench.compare
stands on seqbench.analysis alone (neither it nor the report imports the other). Checked on
the source with `ast`, so a violation is found without importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import seqbench
from seqbench.tasks import TASKS

PACKAGE = Path(seqbench.__file__).parent
# Packages whose imports are checked, and the seqbench packages each may not import.
FORBIDDEN = {
    "analysis": ("seqbench.claims", "seqbench.report", "seqbench.compare"),
    "claims": ("seqbench.report", "seqbench.compare"),
    "compare": ("seqbench.report", "seqbench.claims"),
    "report": ("seqbench.compare",),  # the report and the detector share seqbench.analysis
}


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def _imported(node: ast.AST) -> list[str]:
    """The modules an import statement names (its base module and base.name for each name
    of a `from` import, so `from seqbench import report` names seqbench.report)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _function_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """seqbench imports inside a function body (outside `if TYPE_CHECKING:` blocks)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, in_function)
            return
        if in_function:
            for name in _imported(node):
                if name == "seqbench" or name.startswith("seqbench."):
                    found.append((node.lineno, name))
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_reaches_a_layer_above(package):
    assert _modules(package), f"seqbench/{package} holds no modules"
    bad = []
    for path in _modules(package):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported(node):
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}")
    assert not bad, "imports from a layer above:\n" + "\n".join(bad)


# Every unit of the package (a top-level module or package; the models registry apart from the
# model code and cost formulas, which take a config the registry validates) with its layer:
# an import may only reach a unit of a lower layer. Two units of one layer import neither.
LAYERS = {
    "errors": 0, "schema": 0, "env": 0, "pytest_plugin": 0,
    "extensions": 1, "tasks": 1, "results": 1,
    "models": 2,
    "implementations": 3,
    "config": 4,
    "models.recurrent": 5, "models.costs": 5, "profiles": 5,
    "scenarios": 6,
    "launchers": 7,
    "pytest_session": 8,
    "analysis": 9,
    "claims": 10, "compare": 10,
    "report": 11,
    "studies": 12, "commands": 12,
    "cli": 13,
    "__main__": 14,
}  # fmt: skip


def _unit(dotted: str) -> str:
    """seqbench.models.recurrent → models.recurrent; seqbench.report.build → report."""
    parts = dotted.split(".")[1:]
    if parts[:1] == ["models"] and len(parts) > 1 and parts[1] in ("recurrent", "costs"):
        return f"models.{parts[1]}"
    return parts[0] if parts else "__init__"


def test_every_import_in_the_package_points_to_a_lower_layer():
    bad, unplaced = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        here = _unit(".".join(rel.parts))
        if here == "__init__":
            continue  # seqbench/__init__.py imports nothing
        unplaced |= {here} - set(LAYERS)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported(node):
                if not name.startswith("seqbench.") or name == "seqbench.__version__":
                    continue
                there = _unit(name)
                if there not in LAYERS:
                    continue  # `from seqbench.x import name`: name is checked as seqbench.x
                if there != here and LAYERS[there] >= LAYERS.get(here, -1):
                    bad.append(f"{rel}:{node.lineno} {here} -> {there}")
    assert not unplaced, f"units with no layer in LAYERS: {sorted(unplaced)}"
    assert not bad, "imports that do not point down:\n" + "\n".join(bad)


def test_analysis_stands_on_the_bottom_packages_only():
    allowed = {
        "analysis", "config", "errors", "implementations", "models", "results", "schema", "tasks"
    }  # fmt: skip
    bad = []
    for path in _modules("analysis"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported(node):
                parts = name.split(".")
                if parts[0] == "seqbench" and len(parts) > 1 and parts[1] not in allowed:
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}")
    assert not bad, "seqbench.analysis imports above the bottom packages:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_seqbench_import_sits_inside_a_function(package):
    bad = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(), str(path))
        bad += [
            f"{path.relative_to(PACKAGE.parent)}:{n} {name}" for n, name in _function_imports(tree)
        ]
    assert not bad, "imports inside functions (a cycle dodged?):\n" + "\n".join(bad)


# The seqbench imports that sit inside a function on purpose, each for its cost, never for a
# cycle: the report stack loads only for `seqbench report`; the memory probe's child loads
# torch and the step after its address-space limit, so its peak counts them.
FUNCTION_IMPORTS_ALLOWED = {
    ("seqbench/commands/report.py", "seqbench.report"),
    ("seqbench/scenarios/memory.py", "seqbench.scenarios.step"),
    ("seqbench/scenarios/memory.py", "seqbench.scenarios.workload"),
}


def test_no_other_seqbench_import_sits_inside_a_function_anywhere():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        for line, name in _function_imports(tree):
            if not any(rel == f and name.startswith(m) for f, m in FUNCTION_IMPORTS_ALLOWED):
                bad.append(f"{rel}:{line} {name}")
    assert not bad, "imports inside functions:\n" + "\n".join(bad)


def test_the_checks_see_what_they_look_for():
    """The two checks above find a violation when there is one."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from seqbench.report.build import Report\n"
        "def f():\n"
        "    from seqbench import report\n"
        "    import json\n"
    )
    tree = ast.parse(source)
    assert _function_imports(tree) == [(5, "seqbench"), (5, "seqbench.report")]
    imported = [n for node in ast.walk(tree) for n in _imported(node)]
    assert "seqbench.report.build" in imported and "seqbench.report" in imported


def test_report_package_imports_plainly():
    """seqbench.report needs no lazy attribute hook: nothing below it imports it."""
    tree = ast.parse((PACKAGE / "report" / "__init__.py").read_text())
    functions = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert "__getattr__" not in functions


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_carries_its_unit_range_and_chance_caption(name):
    task = TASKS[name]
    assert isinstance(task.loss_unit, str) and task.loss_unit.strip()
    assert isinstance(task.chance_caption, str) and task.chance_caption.strip()
    assert "\n" not in task.chance_caption  # one line
    assert isinstance(task.long_range, bool)


def test_modules_loaded_by_name_keep_to_the_layers():
    """The two registries of dotted names (the launchers, the CLI's command table) are
    imports the AST checks cannot see: each target sits in its registry's own layer or
    below, so loading by name is a lazy import, not a way around the layers."""
    from seqbench.cli import COMMANDS
    from seqbench.launchers.base import LAUNCHERS

    for target in LAUNCHERS.values():
        module = target.split(":")[0]
        assert LAYERS[_unit(module)] <= LAYERS["launchers"], target
    for name in COMMANDS:
        assert LAYERS[_unit(f"seqbench.commands.{name}")] <= LAYERS["cli"], name
