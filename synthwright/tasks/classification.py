"""Classification: the model writes a text for a label the slot supplies; the judge labels it blind."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from synthwright.core.samples import _Sample
from synthwright.recipe.model import Recipe
from synthwright.tasks.base import Task, Verdict, score, target


class GeneratedText(_Sample):
    """Classification: the model writes only the text; the slot supplies the label."""

    text: str = Field(min_length=1, max_length=600, description="The message, exactly as the person would write it.")


class ClassificationTask(Task):
    kind = "classification"
    template = "classification"
    judge_template = "judge_classification"
    category_field = "label"
    hub_task_categories = ["text-classification"]
    hub_tag = "classification"
    title = "text-classification"
    labelled = True
    has_quality_loop = True
    own_filters = ("role", "label_leak", "gibberish", "label_fidelity")

    def describe(self, recipe: Recipe, *, seed_tasks: int = 0) -> str:
        n = len(recipe.categories)
        seeds = f", seed examples from {recipe.seeds}" if recipe.seeds else ""
        return f"classification: {n} labels, target {target(recipe, n)}{seeds}"

    def schema(self, recipe: Any) -> type[BaseModel]:
        return GeneratedText

    def record(self, parsed: BaseModel, slot: Any) -> dict[str, Any]:
        return {"text": parsed.text.strip(), "label": slot["category"]}

    def generated(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"text": record["text"]}

    def text_of(self, record: dict[str, Any]) -> str:
        return record["text"]

    def hub_task_ids(self, recipe: Any) -> list[str]:
        return ["multi-class-classification"]

    def verdict_schema(self, recipe: Any) -> type[BaseModel]:
        labels = tuple(c["name"] if isinstance(c, dict) else c.name for c in recipe.categories)
        return create_model(
            "ClassificationVerdict", __base__=Verdict,
            label=(Literal[labels], Field(description="The label you would assign from the text alone.")),
            naturalness=score("how much it reads like a real person's message"),
            fit=score("how clearly it belongs to its intended label"),
        )

    def judge_fields(self, recipe: Any, c: Any) -> dict[str, Any]:
        return {"categories": recipe.categories, "label": c.category, "text": c.data.get("text", c.text)}
