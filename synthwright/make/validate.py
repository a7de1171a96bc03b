"""`validate`: check a recipe for everything a run would need, without running it or loading a model.

It reads the recipe (fields, files, seeds, documents, dev set), checks every engine spec (and that a hosted
model's API key is set), and what the recipe's method needs: seed tasks for self_instruct and evol_instruct, one
local teacher for magpie. A tabular recipe gets its table read and its target checked. Each problem is the same
one-sentence `ConfigError` a run would raise; a good recipe gives a `Validation`: what was checked and a
description in the task kind's own words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.engines import engine_kind
from synthwright.engines.langchain_engine import missing_credentials
from synthwright.recipe.load import load_recipe
from synthwright.recipe.model import Recipe
from synthwright.tasks import task_for


@dataclass
class Validation:
    """A recipe that passed: its name, kind (a task kind, or 'tabular'), what it asks for and what was checked."""

    name: str
    kind: str
    description: str
    checked: list[str] = field(default_factory=list)
    teachers: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: the description, and the teachers when there are any."""
        if not self.teachers:
            return self.description
        return f"{self.name} · {self.description} · teacher {', '.join(self.teachers)}"


def validate_recipe(source: str | Path | dict[str, Any]) -> Validation:
    """Check a recipe (a YAML path or a dict) as `synthwright run` would, without running it; raises ConfigError."""
    from synthwright.make.pipeline import tabular_recipe

    tabular = tabular_recipe(source)
    if tabular is not None:
        return _validate_tabular(*tabular)
    recipe = load_recipe(source)
    checked = ["fields", *_files(recipe)]
    checked += _engines(recipe)
    seed_tasks = 0
    if recipe.stepwise_method is not None:
        seed_tasks, more = _method(recipe)
        checked += more
    description = task_for(recipe.task).describe(recipe, seed_tasks=seed_tasks)
    return Validation(name=recipe.name, kind=recipe.task, description=description, checked=checked,
                      teachers=[t.model for t in recipe.teachers])


def _validate_tabular(recipe: Any, base: Path | None) -> Validation:
    from synthwright.modalities.recipe import check_tabular_recipe

    t, columns = check_tabular_recipe(recipe, base)
    return Validation(name=getattr(t, "name", None) or str(t.data), kind="tabular", checked=["fields", f"table {t.data}", "target"],
                      description=f"tabular, {t.model} on {t.data} ({columns} columns), {t.rows} rows")


def _files(recipe: Recipe) -> list[str]:
    """What load_recipe already read, named for the report of what was checked."""
    found = []
    if recipe.seeds is not None:
        found.append(f"seeds {recipe.seeds}")
    if recipe.documents is not None:
        found.append(f"documents {recipe.documents.path}")
    if recipe.quality.dev_set is not None:
        found.append(f"dev set {recipe.quality.dev_set}")
    return found


def _engines(recipe: Recipe) -> list[str]:
    """Every engine spec names an engine, and a hosted model has its API key."""
    specs = [(t.model, t.options) for t in recipe.teachers]
    for check in (recipe.label_check, recipe.judge):
        if check.enabled and check.model is not None:
            specs.append((check.model, check.options))
    checked = []
    for spec, options in specs:
        kind = engine_kind(spec)
        if kind == "langchain":
            missing = missing_credentials(spec, options)
            if missing is not None:
                raise missing
        checked.append(f"engine {spec} ({kind})")
    return checked


def _method(recipe: Recipe) -> tuple[int, list[str]]:
    """What an instruction method needs: (how many seed tasks the recipe gives, what was checked)."""
    from synthwright.make.method_run import read_seed_tasks

    method = recipe.stepwise_method
    if len(recipe.teachers) != 1:
        raise ConfigError(f"method {method} runs one teacher; give `teacher` one model, not a mixture of"
                          f" {len(recipe.teachers)}.")
    seeds = read_seed_tasks(recipe)  # raises for self_instruct and evol_instruct without any
    checked = [f"{len(seeds)} seed tasks"] if seeds else []
    if method == "magpie":
        spec = recipe.teachers[0].model
        if engine_kind(spec) == "langchain":
            raise ConfigError(f"method magpie writes user turns by continuing a local model's raw chat template, and"
                              f" the teacher {spec} is an API model that only takes whole chat messages; use a local"
                              " teacher (teacher: {model: default}, a model directory, hf:ORG/NAME or vllm:ORG/NAME).")
        checked.append("a local teacher for magpie")
    return len(seeds), checked
