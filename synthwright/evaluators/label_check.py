"""Label check: a model picks each sample's label among its own and that label's nearest neighbours.

One short constrained answer per sample (a letter), batched. The options are shuffled per sample with a seed drawn
from its text, so a model that favours a position favours no label, and the same sample always gets the same order.
A sample whose label the model does not confirm is rejected (filter `label_check`) or, with `on_disagree: relabel`,
takes the label the model picked.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from synthwright.core.prompts import render
from synthwright.engines import ChatRequest, Engine, Sampling
from synthwright.evaluators.filters import Candidate
from synthwright.evaluators.model_check import ModelCheck
from synthwright.recipe.model import Recipe

SYSTEM = "You sort messages by what their writer wants. Reply with one JSON object and nothing else."


def choice_schema(options: int) -> type[BaseModel]:
    letters = tuple(string.ascii_uppercase[:options])
    return create_model("LabelChoice", answer=(Literal[letters], Field(description="The letter of the label.")))


def shuffled(labels: list[str], text: str, seed: int) -> list[str]:
    """`labels` in an order drawn from the text and the run's seed."""
    digest = hashlib.sha256(f"{seed}\x00{text}".encode()).digest()
    order = list(labels)
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


class LabelCheck(ModelCheck):
    """Checks candidates' labels in batches with `engine` (an Engine, or a function returning one on first use).

    `neighbours`: each label's nearest other labels, nearest first (the planner's `label_neighbours`)."""

    def __init__(self, recipe: Recipe, engine: Engine | Callable[[], Engine], neighbours: dict[str, list[str]], *,
                 category_field: str = "label", owns_engine: bool = False):
        super().__init__(engine, model=recipe.label_check.model, owns_engine=owns_engine)
        self.recipe = recipe
        self.cfg = recipe.label_check
        self.meanings = {c.name: c.description for c in recipe.categories}
        self.choices = {label: [label] + list(neighbours.get(label, []))[:self.cfg.neighbours]
                        for label in self.meanings}
        self.category_field = category_field
        self.sampling = Sampling(temperature=0.0, max_new_tokens=16, seed=recipe.seed)
        self.checked = 0
        self.relabelled = 0

    def options(self, c: Candidate) -> list[str]:
        return shuffled(self.choices[c.category], c.text, self.recipe.seed)

    def request(self, c: Candidate, options: list[str]) -> ChatRequest:
        listed = [(letter, name.replace("_", " ").replace("-", " "), self.meanings.get(name, ""))
                  for letter, name in zip(string.ascii_uppercase, options)]
        prompt = render("label_check", description=self.recipe.description, text=c.text, options=listed)
        return ChatRequest.user(prompt, system=SYSTEM)

    def evaluate(self, cands: list[Candidate]) -> None:
        """Record each live candidate's check (`c.features['label_check']`) and act on those not confirmed."""
        cands = [c for c in cands if c.alive and len(self.choices.get(c.category, ())) > 1]
        if not cands:
            return
        engine = self.engine
        size = self.cfg.batch_size or getattr(engine, "batch_size", 64)
        by_width: dict[int, list[tuple[Candidate, list[str]]]] = {}
        for c in cands:
            options = self.options(c)
            by_width.setdefault(len(options), []).append((c, options))
        for width, group in by_width.items():
            schema = choice_schema(width)
            for start in range(0, len(group), size):
                chunk = group[start:start + size]
                t0 = time.perf_counter()
                gens = engine.generate([self.request(c, o) for c, o in chunk], schema=schema, sampling=self.sampling)
                self.seconds += time.perf_counter() - t0
                self.checked += len(chunk)
                for (c, options), gen in zip(chunk, gens):
                    self._apply(c, options, None if gen.parsed is None else options[ord(gen.parsed.answer) - ord("A")])

    def _apply(self, c: Candidate, options: list[str], picked: str | None) -> None:
        c.features["label_check"] = {"model": self.spec, "options": options, "picked": picked}
        if picked is None:
            c.reject("label_check", "the checking model gave no usable answer")
        elif picked != c.category:
            if self.cfg.on_disagree == "relabel":
                c.features["label_check"]["relabelled_from"] = c.category
                self.relabelled += 1
                c.category = picked
                c.data = {**c.data, self.category_field: picked}
            else:
                c.reject("label_check", f"{self.spec} reads it as {picked!r}, not {c.category!r}")


def make_label_check(recipe: Recipe, teacher: Callable[[], Engine], neighbours: dict[str, list[str]], *,
                     category_field: str, teacher_spec: str | None = None,
                     load: Callable[..., Engine]) -> LabelCheck | None:
    """The run's label check, or None when `label_check.enabled` is false. Without a `model` (or naming the teacher)
    it reuses the teacher; otherwise it loads its own engine with `load(spec, **options)` on first use."""
    cfg = recipe.label_check
    if not cfg.enabled:
        return None
    if cfg.model is None or cfg.model in (recipe.teachers[0].model, teacher_spec):
        return LabelCheck(recipe, teacher, neighbours, category_field=category_field)
    return LabelCheck(recipe, lambda: load(cfg.model, **cfg.options), neighbours, category_field=category_field,
                      owns_engine=True)


def describe_check(check: LabelCheck | None) -> dict[str, Any] | None:
    """What the run's stats say of the check."""
    if check is None or not check.checked:
        return None
    return {"model": check.spec, "checked": check.checked, "relabelled": check.relabelled,
            "seconds": round(check.seconds, 2)}
