"""The planner: recipe → plan. Model-written scenarios and personas, then a stratified allocation."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

from ..documents import load_chunks
from ..engines import ChatRequest, Engine, Sampling
from ..prompts import render
from ..recipe import Recipe
from .allocation import allocate

FALLBACK_PERSONAS = [
    "a busy professional writing between meetings", "a student on a tight budget",
    "a retired person who rarely uses apps", "a small-business owner", "a non-native speaker of the language",
]
QUESTION_KINDS = ["a factual question", "a how-to question", "a why question", "a question about a specific detail"]


def _schema(k: int, max_chars: int) -> type[BaseModel]:
    item = Annotated[str, Field(min_length=3, max_length=max_chars)]
    return create_model("PhraseList", items=(list[item], Field(min_length=k, max_length=k)))


def _unique(items: list[str]) -> list[str]:
    seen, out = set(), []
    for item in items:
        key = " ".join(item.lower().split()).strip(" .")
        if key and key not in seen:
            seen.add(key)
            out.append(item.strip().rstrip("."))
    return out


def _ask_lists(engine: Engine, prompts: list[str], k: int, max_chars: int, sampling: Sampling) -> list[list[str] | None]:
    """One phrase list per prompt; two tries each; None where both fail (the caller falls back)."""
    schema = _schema(k, max_chars)
    results: list[list[str] | None] = [None] * len(prompts)
    for attempt in range(2):
        todo = [i for i, r in enumerate(results) if r is None]
        if not todo:
            break
        requests = [ChatRequest.user(prompts[i], seed=sampling.seed + 7919 * attempt + i) for i in todo]
        for i, gen in zip(todo, engine.generate(requests, schema=schema, sampling=sampling)):
            if gen.parsed is not None:
                items = _unique(gen.parsed.items)
                results[i] = items or None
    return results


def make_plan(recipe: Recipe, engine: Engine) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Returns (plan summary, slots). The summary records where each axis came from."""
    sampling = Sampling(temperature=0.8, top_p=0.95, max_new_tokens=400, seed=recipe.seed, repetition_penalty=1.1)
    notes: list[str] = []
    contexts: dict[str, str] | None = None
    if recipe.task == "qa" and recipe.documents is not None:
        contexts = load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars,
                               recipe.documents.overlap_chars)
        categories = list(contexts)
        scenarios = {c: QUESTION_KINDS for c in categories}
        descriptions = {c: "" for c in categories}
    else:
        categories = [c.name for c in recipe.categories]
        descriptions = {c.name: c.description for c in recipe.categories}
        prompts = [render("planner_scenarios", description=recipe.description, task=recipe.task, name=c.name,
                          category_description=c.description, k=recipe.axes.scenarios_per_category)
                   for c in recipe.categories]
        lists = _ask_lists(engine, prompts, recipe.axes.scenarios_per_category, 120, sampling)
        scenarios = {}
        for c, found in zip(recipe.categories, lists):
            if found is None:
                notes.append(f"scenarios for '{c.name}' could not be generated; used its description")
            scenarios[c.name] = found or [c.description or c.name]
    if recipe.axes.personas == "auto":
        found = _ask_lists(engine, [render("planner_personas", description=recipe.description, k=recipe.axes.auto_personas)],
                           recipe.axes.auto_personas, 100, sampling)[0]
        if found is None:
            notes.append("personas could not be generated; used the built-in list")
        personas = found or FALLBACK_PERSONAS
    else:
        personas = recipe.axes.personas
    quotas = recipe.count.for_categories(len(categories))
    slots = allocate(categories, quotas, scenarios, personas, recipe.axes.styles, recipe.axes.lengths,
                     seed=recipe.seed, contexts=contexts)
    plan = {
        "recipe": recipe.name, "fingerprint": recipe.fingerprint(), "task": recipe.task,
        "categories": [{"name": c, "description": descriptions.get(c, ""), "quota": q, "scenarios": scenarios[c]}
                       for c, q in zip(categories, quotas)],
        "personas": personas, "styles": recipe.axes.styles, "lengths": recipe.axes.lengths,
        "total": sum(quotas), "slots": len(slots), "notes": notes, "planner": engine.describe(),
    }
    return plan, slots
