"""What every task kind answers: the schema the model fills, the dataset row, the text filters see, the
judge's verdict and prompt, and how the kind is named on the Hub."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthwright.core.prompts import render
from synthwright.recipe.model import Recipe

Score = Literal[1, 2, 3, 4, 5]


class Verdict(BaseModel):
    """Base of every verdict: the reason comes first, so that the model argues before it scores."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=300, description="One or two sentences: what is good or wrong with the example.")


def score(text: str) -> tuple[Any, Any]:
    """A 1-5 verdict field (a `Literal`, so constrained decoding can only give a usable score)."""
    return (Score, Field(description=f"1-5: {text}"))


def check(text: str) -> tuple[Any, Any]:
    """A yes/no verdict field; a sample whose verdict says no to any check fails."""
    return (bool, Field(description=text))


def target(recipe: Recipe, categories: int) -> int:
    """The samples a recipe asks for when its plan has `categories` categories."""
    return sum(recipe.count.for_categories(max(1, categories)))


class Task:
    """One task kind. Subclasses set the class attributes and implement the methods."""

    kind: str
    template: str  # the executor's prompt template
    judge_template: str
    category_field: str  # the dataset column that holds the category
    hub_task_categories: list[str]  # names from huggingface.js packages/tasks/src/pipelines.ts
    hub_tag: str
    title: str  # what the card calls a dataset of this kind

    # What the kind has: code outside tasks/ asks these, never the kind's name.
    labelled: bool = False  # a sample's category is a label a classifier learns: TSTR, label checks, neighbours
    has_quality_loop: bool = False  # the quality loop trains the fixed classifier on `signal_text` and re-plans
    plans_per_document_chunk: bool = False  # with documents, each chunk of them is a category of the plan
    own_filters: tuple[str, ...] = ()  # the registered filters only this kind runs (evaluators/filters.py)
    checks_section: str | None = None  # the report section of its own checks, "grounding" or "goals" (reports/checks.py)
    grows_instructions: bool = False  # the report's instruction section (seed overlap, verbs, diversity)

    def describe(self, recipe: Recipe, *, seed_tasks: int = 0) -> str:
        """What a recipe of this kind asks for, in the kind's own words (`synthwright validate` says it);
        `seed_tasks`: how many the recipe gives, inline and in its seed file."""
        return f"{self.kind}: {len(recipe.categories)} categories, target {target(recipe, len(recipe.categories))}"

    def signal_text(self, record: dict[str, Any]) -> str:
        """What the quality loop's classifier reads of a sample."""
        return self.text_of(record)

    def filter_context(self, recipe: Recipe) -> dict[str, Any]:
        """What this kind's own filters need of the recipe, computed once per run (FilterState.extra)."""
        return {}

    def schema(self, recipe: Any) -> type[BaseModel]:
        raise NotImplementedError

    def record(self, parsed: BaseModel, slot: Any) -> dict[str, Any]:
        """The dataset row for what the model wrote for `slot`."""
        raise NotImplementedError

    def generated(self, record: dict[str, Any]) -> dict[str, Any]:
        """The inverse of `record`: the schema's fields, in the schema's order, as the model would have written them."""
        raise NotImplementedError

    def text_of(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    def example(self, record: dict[str, Any]) -> str:
        """A row as a few-shot example or a review-page line."""
        try:
            return self.text_of(record)
        except (KeyError, TypeError):
            return record.get("text", "")

    def hub_task_ids(self, recipe: Any) -> list[str]:
        return []

    def verdict_schema(self, recipe: Any) -> type[BaseModel]:
        raise NotImplementedError

    def judge_fields(self, recipe: Any, candidate: Any) -> dict[str, Any]:
        """The variables of the judge's prompt template for one candidate."""
        raise NotImplementedError

    def judge_prompt(self, recipe: Any, candidate: Any) -> str:
        return render(self.judge_template, description=recipe.description, **self.judge_fields(recipe, candidate))
