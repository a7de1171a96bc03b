"""The executor: a slot → a chat request, and a generation → a candidate sample."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any

from synthwright.core.prompts import render
from synthwright.engines import ChatRequest
from synthwright.recipe.model import Recipe
from synthwright.tasks import Task


def request_seed(*parts: Any) -> int:
    return int(hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


class Executor:
    """Renders slot prompts with rotating few-shot examples from the recipe's seeds.

    Only a person's seeds are examples: an accepted sample in the agent's or a narrator's voice that passed the gates
    would teach the teacher that voice in every later request."""

    def __init__(self, recipe: Recipe, task: Task, seeds: list[dict[str, Any]],
                 neighbours: dict[str, list[str]] | None = None):
        self.recipe = recipe
        self.task = task
        self.descriptions = {c.name: c.description for c in recipe.categories}
        self.neighbours = neighbours or {}
        self.system = render("system")
        self.pool: dict[str, list[str]] = defaultdict(list)  # category → its seeds' texts
        self.uses: Counter = Counter()
        for s in seeds:
            text = task.example(s)
            if text and text not in self.pool[s["label"]]:
                self.pool[s["label"]].append(text)

    def examples_for(self, slot: dict[str, Any]) -> list[str]:
        """The least-used seeds of this category, so that no example dominates.

        None for a slot grounded in a passage: its focus sentence is what makes it differ, and a small teacher shown
        the passage's other questions copies them."""
        k = 0 if slot.get("context") else self.recipe.few_shot
        candidates = self.pool.get(slot["category"], [])
        if not k or not candidates:
            return []
        chosen = sorted(candidates, key=lambda t: (self.uses[t], request_seed(slot["slot_id"], t)))[:k]
        self.uses.update(chosen)
        return [c if len(c) <= 300 else c[:300] + "…" for c in chosen]

    def about(self, category: str) -> str:
        """How a prompt names a category: its description, else its name in words."""
        return (self.descriptions.get(category) or category.replace("_", " ")).rstrip(".")

    def request(self, slot: dict[str, Any], round_: int, k: int) -> tuple[ChatRequest, int]:
        seed = request_seed(self.recipe.seed, slot["slot_id"], round_, k)
        contrast = slot.get("contrast")
        avoid = [self.about(n) for n in self.neighbours.get(slot["category"], []) if n != contrast]
        prompt = render(
            self.task.template, description=self.recipe.description, language=self.recipe.language,
            category=slot["category"], category_description=self.descriptions.get(slot["category"], ""),
            scenario=slot["scenario"], persona=slot["persona"], style=slot["style"], length=slot["length"],
            context=slot.get("context"), roles=self.recipe.roles, examples=self.examples_for(slot),
            avoid=avoid, contrast=self.about(contrast) if contrast else None, hints=slot.get("hints") or [],
            extractive=self.recipe.filters.grounding.mode == "extractive",
        )
        return ChatRequest.user(prompt, system=self.system, seed=seed), seed
