"""Recipes: the YAML a user writes, read into closed, typed pydantic models.

A malformed recipe is reported field by field, each with its YAML line, as ConfigError (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .engines.base import Sampling
from .errors import ConfigError


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Category(_Closed):
    """A label (classification), goal (dialogue) or topic (QA) with what it means."""

    name: str = Field(min_length=1, max_length=64, description="Identifier used in the dataset, e.g. lost_card.")
    description: str = Field(default="", max_length=500, description="What belongs here; the planner and executor read it.")
    examples: list[str] = Field(default_factory=list, description="Seed examples written by a person.")


class Count(_Closed):
    """How many samples: per category (label, goal, topic, document chunk) or in total."""

    per_category: int | None = Field(default=None, ge=1, description="Samples for each category.")
    total: int | None = Field(default=None, ge=1, description="Samples overall, spread evenly over categories.")

    @model_validator(mode="after")
    def _one(self) -> "Count":
        if (self.per_category is None) == (self.total is None):
            raise ValueError("give exactly one of per_category or total")
        return self

    def for_categories(self, n: int) -> list[int]:
        if self.per_category is not None:
            return [self.per_category] * n
        base, extra = divmod(self.total, n)
        return [base + (1 if i < extra else 0) for i in range(n)]


AxisValues = Union[Literal["auto"], list[str]]


class Axes(_Closed):
    """Diversity axes. Every slot of the plan takes one value of each; `auto` lets the planner invent them."""

    scenarios_per_category: int = Field(default=3, ge=1, le=20, description="Model-written sub-scenarios per category.")
    personas: AxisValues = Field(default="auto", description="Who writes; 'auto' asks the teacher for personas.")
    styles: list[str] = Field(default_factory=lambda: ["casual", "formal", "terse", "frustrated", "polite"],
                              description="How they write.")
    lengths: list[str] = Field(default_factory=lambda: ["one short sentence", "two or three sentences"],
                               description="How long the sample is, in words a model understands.")
    auto_personas: int = Field(default=5, ge=1, le=30, description="How many personas 'auto' asks for.")


class EngineConfig(_Closed):
    """An engine spec plus engine options (batch_size, dtype, base_url…)."""

    model: str = Field(default="default", description="Engine spec: default, a directory, a .gguf, hf:, vllm:, PROVIDER:MODEL.")
    options: dict[str, Any] = Field(default_factory=dict, description="Options passed to the engine.")


class Documents(_Closed):
    """A folder of .txt/.md files that grounded QA is written from, split into chunks."""

    path: str = Field(description="Folder, relative to the recipe file.")
    chunk_chars: int = Field(default=1200, ge=200, le=20000, description="Target chunk size in characters.")
    overlap_chars: int = Field(default=150, ge=0, description="Characters shared by neighbouring chunks.")


class Turns(_Closed):
    min: int = Field(default=4, ge=2, le=12, description="Fewest messages in a dialogue.")
    max: int = Field(default=8, ge=2, le=12, description="Most messages in a dialogue.")

    @model_validator(mode="after")
    def _order(self) -> "Turns":
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class FilterConfig(_Closed):
    """Cheap filters run before the judge."""

    min_chars: int = Field(default=8, ge=0, description="Reject samples shorter than this.")
    max_chars: int = Field(default=2000, ge=1, description="Reject samples longer than this.")
    exact_duplicates: bool = Field(default=True, description="Reject a sample whose normalised text was already accepted.")


class OutputConfig(_Closed):
    dir: str | None = Field(default=None, description="Run directory; default runs/<recipe name>.")
    formats: list[Literal["hf", "parquet", "jsonl"]] = Field(default_factory=lambda: ["hf", "parquet", "jsonl"])
    splits: dict[str, float] = Field(default_factory=lambda: {"train": 1.0},
                                     description="Split names and fractions, e.g. {train: 0.8, validation: 0.1, test: 0.1}.")

    @field_validator("splits")
    @classmethod
    def _fractions(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(f <= 0 for f in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError("split fractions must be positive and sum to 1")
        return v


class Budget(_Closed):
    max_rounds: int = Field(default=3, ge=1, le=20, description="Rounds of re-issuing slots whose quota is unmet.")
    overgenerate: float = Field(default=1.2, ge=1.0, le=5.0, description="Requests per missing sample, to absorb rejections.")


class Recipe(_Closed):
    """A dataset recipe. `task` picks the kind; the other fields apply to every kind unless noted."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$", description="Run and dataset name.")
    task: Literal["classification", "qa", "dialogue"] = Field(description="What kind of samples to make.")
    description: str = Field(min_length=1, max_length=2000, description="The domain and task in plain words.")
    language: str = Field(default="en", min_length=2, max_length=12, description="Language of the samples (ISO code).")
    categories: list[Category] = Field(default_factory=list, description="Labels, dialogue goals or QA topics.")
    seeds: str | None = Field(default=None, description="JSONL or CSV file of seed examples (fields text,label), relative to the recipe.")
    documents: Documents | None = Field(default=None, description="QA only: ground questions in these documents.")
    turns: Turns = Field(default_factory=Turns, description="Dialogue only: how many messages.")
    roles: dict[str, str] = Field(default_factory=lambda: {"user": "customer", "assistant": "support agent"},
                                  description="Dialogue only: who the user and assistant are.")
    count: Count = Field(description="How many samples.")
    axes: Axes = Field(default_factory=Axes)
    teacher: EngineConfig = Field(default_factory=EngineConfig)
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.9, top_p=0.95, max_new_tokens=400,
                                                                repetition_penalty=1.1))
    filters: FilterConfig = Field(default_factory=FilterConfig)
    budget: Budget = Field(default_factory=Budget)
    output: OutputConfig = Field(default_factory=OutputConfig)
    few_shot: int = Field(default=3, ge=0, le=10, description="Examples shown in each executor prompt.")
    seed: int = Field(default=0, description="Seed for planning and sampling.")
    license: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9][a-z0-9.+-]*$",
                                description="Hub license id for the published dataset, e.g. cc-by-4.0 or apache-2.0;"
                                            " `synthwright export --license` overrides it.")

    base_dir: str = Field(default=".", exclude=True, description="Folder relative paths resolve against (set by the loader).")

    @model_validator(mode="after")
    def _task_fields(self) -> "Recipe":
        if self.task == "qa":
            if not self.categories and self.documents is None:
                raise ValueError("a qa recipe needs categories (topics) or documents")
        elif not self.categories:
            raise ValueError(f"a {self.task} recipe needs at least one category")
        elif self.documents is not None:
            raise ValueError("documents only apply to qa recipes")
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ValueError(f"category names must be unique; repeated: {sorted({n for n in names if names.count(n) > 1})}")
        return self

    def resolve(self, path: str | None) -> Path | None:
        return None if path is None else (Path(self.base_dir) / path).resolve()

    def frozen(self) -> dict[str, Any]:
        """The recipe as saved with the run (relative paths kept as written)."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """What must stay the same for a run to resume: everything but the output, budget and license."""
        data = self.model_dump(mode="json", exclude={"output", "budget", "license"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


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
        text = path.read_text(encoding="utf-8")
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
        if not any(p.suffix in (".txt", ".md") for p in folder.rglob("*")):
            raise ConfigError(f"documents.path '{recipe.documents.path}' holds no .txt or .md files; add documents or fix the path.")
    if recipe.seeds is not None:
        from .seeds import read_seeds

        read_seeds(recipe)
