"""Reading a recipe: YAML (or a dict) into the closed `Recipe` model, with each field error named by its YAML line,
and the files it names checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from synthwright.core.errors import ConfigError
from synthwright.core.rowfiles import read_text
from synthwright.recipe.model import MAX_SAMPLES, Recipe

MAX_ERRORS = 3  # field errors listed for a malformed recipe before "and N more"

def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based YAML line of the deepest node along `loc` that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == key]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def recipe_errors(exc: ValidationError, root: yaml.Node | None) -> list[str]:
    messages = []
    for e in exc.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-after", "list[", "literal["))))
        where = ".".join(str(p) for p in loc) or "recipe"
        line = _line_of(root, loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "less_than_equal" and e.get("ctx", {}).get("le") == MAX_SAMPLES:
            msg = f"at most {MAX_SAMPLES:,} samples in one run; lower it or split the dataset over several recipes"
        messages.append(f"line {line}: {where}: {msg}." if line else f"{where}: {msg}.")
    return messages


def load_recipe(source: str | Path | dict[str, Any], **overrides: Any) -> Recipe:
    """Read a recipe from a YAML path or a dict; `overrides` replace top-level fields."""
    root = None
    if isinstance(source, dict):
        data, base = dict(source), Path(".")
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"Recipe file '{source}' does not exist; pass the path to a recipe YAML file.")
        text = read_text(path, "recipe")
        try:
            root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"Recipe '{source}' is not valid YAML{where}: {getattr(exc, 'problem', exc)}; fix the syntax.") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Recipe '{source}' must be a YAML mapping of fields (name, task, description, …).")
        base = path.parent
    data.update({k: v for k, v in overrides.items() if v is not None})
    data.setdefault("base_dir", str(base))
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        lines = recipe_errors(exc, root)
        if len(lines) > MAX_ERRORS:  # one mistake repeated down a list must not fill the screen
            lines = lines[:MAX_ERRORS] + [f"and {len(lines) - MAX_ERRORS} more."]
        raise ConfigError(f"Recipe '{source if not isinstance(source, dict) else data.get('name', 'recipe')}' is invalid:\n  "
                          + "\n  ".join(lines)) from None
    check_files(recipe)
    return recipe


def check_files(recipe: Recipe) -> None:
    """Paths in the recipe exist; seeds name known labels."""
    if recipe.documents is not None:
        folder = recipe.resolve(recipe.documents.path)
        if not folder.is_dir():
            raise ConfigError(f"documents.path '{recipe.documents.path}' is not a folder (looked in {folder}); create it or fix the path.")
        files = [p for p in folder.rglob("*") if p.suffix in (".txt", ".md") and p.is_file()]
        if not files:
            raise ConfigError(f"documents.path '{recipe.documents.path}' holds no .txt or .md files; add documents or fix the path.")
        for path in files:  # an undecodable document is named now, not in the middle of planning
            read_text(path, "document")
    if recipe.seeds is not None:
        from synthwright.recipe.seeds import read_seeds

        read_seeds(recipe)
    if recipe.quality.dev_set is not None:
        from synthwright.recipe.seeds import read_dev_set

        read_dev_set(recipe)
