"""Seed examples written by people: inline in the recipe or in a JSONL/CSV file."""

from __future__ import annotations

from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.core.rowfiles import read_rows
from synthwright.recipe.model import Recipe


def read_seeds(recipe: Recipe) -> list[dict[str, Any]]:
    """Seed rows, each with a 'label' naming a recipe category (inline examples included)."""
    names = {c.name for c in recipe.categories}
    rows = [{"text": ex, "label": c.name} for c in recipe.categories for ex in c.examples]
    if recipe.seeds is None:
        return rows
    path = recipe.resolve(recipe.seeds)
    if not path.is_file():
        raise ConfigError(f"Seed file '{recipe.seeds}' does not exist (looked in {path}); fix seeds: in the recipe.")
    loaded = read_rows(path, "seed file")
    for line, row in loaded:
        label = row.get("label", row.get("category"))
        if label is None:
            raise ConfigError(f"Seed on line {line} of '{recipe.seeds}' has no label; add a 'label' field naming a category.")
        if label not in names:
            raise ConfigError(f"Seed on line {line} of '{recipe.seeds}' has label '{label}', which is not a category of the recipe;"
                              f" use one of: {', '.join(sorted(names))}.")
        rows.append({**row, "label": label})
    return rows


def read_dev_set(recipe: Recipe) -> list[dict[str, str]]:
    """The quality loop's real dev set ({text, label} rows), or [] when the recipe names none."""
    if recipe.task != "classification" or recipe.quality.dev_set is None:
        return []
    from synthwright.core.rowfiles import read_labelled

    path = recipe.resolve(recipe.quality.dev_set)
    rows = read_labelled(path, "quality.dev_set")
    names = {c.name for c in recipe.categories}
    unknown = sorted({r["label"] for r in rows} - names)
    if unknown:
        raise ConfigError(f"quality.dev_set '{recipe.quality.dev_set}' has label(s) {', '.join(unknown[:5])} that are not"
                          f" categories of the recipe; use the category names ({', '.join(sorted(names)[:5])}…).")
    return rows
