"""The package's shape, checked: layers that import only downward (import-linter), no branching on the task kind
outside tasks/ and recipe/, and modules and functions small enough to read."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "synthwright"
KINDS = {"classification", "qa", "dialogue", "instruction"}
KIND_OWNERS = ("tasks", "recipe")  # where a kind may be named: the kinds themselves and the recipe that picks one
TASK_CLASSES = {"ClassificationTask", "QATask", "DialogueTask", "InstructionTask"}
MAX_MODULE_LINES = 450
LONG_MODULES_ALLOWED = {"core/store.py"}  # the one place with SQL, migrations included
MAX_FUNCTION_LINES = 80


def lint_imports(cwd: Path, env_path: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(cwd / "pyproject.toml")], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(env_path), "PATH": "/usr/bin:/bin"}, timeout=120)


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_layers_and_no_circles_hold():
    result = lint_imports(ROOT, ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_planted_upward_import_breaks_the_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(PACKAGE, copy / "synthwright", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    errors = copy / "synthwright" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom synthwright.make import pipeline  # noqa: E402 an upward import\n")
    result = lint_imports(copy, copy)
    assert result.returncode != 0
    assert "synthwright.core is not allowed to import synthwright.make" in result.stdout


def _kind_test(node: ast.AST) -> str | None:
    """What in `node` tests the task kind, or None: a comparison with a kind's name, `isinstance(x, SomeTask)`."""
    if isinstance(node, ast.Compare):
        for side in (node.left, *node.comparators):
            values = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
            if any(isinstance(v, ast.Constant) and v.value in KINDS for v in values):
                return "a comparison with a kind's name"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance" and len(node.args) == 2:
        names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
        if names & TASK_CLASSES:
            return "isinstance of a task class"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "task_for":
        if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in KINDS:
            return "a task picked by its kind's name"
    return None


def test_no_code_outside_tasks_and_recipe_branches_on_the_task_kind():
    found = []
    for path in modules():
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in KIND_OWNERS:
            continue
        if rel.parts[0] == "modalities":
            continue  # there "classification" is a table target's type (vs regression), not a task kind
        for node in ast.walk(ast.parse(path.read_text())):
            why = _kind_test(node)
            if why:
                found.append(f"{rel}:{node.lineno}: {why}")
    assert not found, "ask the Task what the kind has instead:\n" + "\n".join(found)


def test_the_kind_check_finds_what_it_should():
    for source in ('recipe.task == "qa"', 'state.task != "dialogue"', 'kind in ("classification", "dialogue")',
                   "isinstance(task, QATask)", 'task_for("instruction")'):
        assert any(_kind_test(n) for n in ast.walk(ast.parse(source))), source
    for source in ("task.labelled", 'kind == "minilm"', 'result.kind == "tabular"'):
        assert not any(_kind_test(n) for n in ast.walk(ast.parse(source))), source


def test_modules_and_functions_are_small():
    long_modules, long_functions = [], []
    for path in modules():
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES and rel not in LONG_MODULES_ALLOWED:
            long_modules.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long_functions.append(f"{rel}:{node.lineno} {node.name}: {lines} lines")
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long_modules)
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long_functions)


def test_no_untyped_loop_decision_reads():
    found = [f"{p.relative_to(ROOT)}:{i}" for p in [*modules(), *sorted((ROOT / "tests").glob("*.py"))]
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if ('decision["' in line or "decision['" in line) and p.name != "test_architecture.py"]
    assert not found, "read the loop's decision through LoopDecision (core/records.py):\n" + "\n".join(found)


@pytest.mark.parametrize("name", __import__("synthwright").__all__)
def test_every_public_name_resolves(name):
    import synthwright

    assert getattr(synthwright, name) is not None
