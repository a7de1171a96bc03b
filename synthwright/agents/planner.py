"""The planner: recipe → plan. Model-written scenarios and personas, then a stratified allocation.

Small models write a single short phrase far better than a list, so each phrase is its own
request (over-asked by 2x), kept only if it looks like a phrase, and deduplicated. Where too
few survive, built-in fallbacks fill in and the plan's notes say so.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, create_model

from ..documents import load_chunks
from ..engines import ChatRequest, Engine, Sampling
from ..prompts import render
from ..recipe import Recipe
from .allocation import allocate

FALLBACK_PERSONAS = [
    "a busy professional writing between meetings", "a student on a tight budget",
    "a retired person who rarely uses apps", "a small-business owner", "a non-native speaker",
    "a parent writing on behalf of a teenager", "a nurse who works night shifts", "a frequent traveller",
]
FALLBACK_SITUATIONS = [
    "it happened for the first time", "it happened again after an earlier attempt to fix it",
    "while travelling abroad", "late in the evening, in a hurry", "on behalf of a family member",
]
QUESTION_KINDS = ["a factual question", "a how-to question", "a why question", "a question about a specific detail"]
PHRASE_CHARS = 90


def plausible_phrase(text: str, max_chars: int = PHRASE_CHARS) -> bool:
    """A short natural-language phrase: 2-20 words, mostly letters, no markup, not cut off."""
    text = text.strip()
    words = text.split()
    if not 2 <= len(words) <= 20 or len(text) >= max_chars - 1:
        return False
    if re.search(r"[\[\]{}<>|_#@\\]", text) or any(len(w) > 20 for w in words):
        return False
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    return letters / len(text) >= 0.85


def _phrase_schema(field: str) -> type[BaseModel]:
    return create_model("Phrase", **{field: (str, Field(min_length=5, max_length=PHRASE_CHARS))})


def ask_phrases(engine: Engine, prompt: str, field: str, k: int, seed: int, sampling: Sampling) -> list[str]:
    """Up to k distinct plausible phrases for one prompt (2k requests, different seeds)."""
    requests = [ChatRequest.user(prompt, seed=seed + i) for i in range(2 * k)]
    found: list[str] = []
    seen: set[str] = set()
    for gen in engine.generate(requests, schema=_phrase_schema(field), sampling=sampling):
        if gen.parsed is None:
            continue
        phrase = getattr(gen.parsed, field).strip().rstrip(".")
        key = " ".join(phrase.lower().split())
        if plausible_phrase(phrase) and key not in seen:
            seen.add(key)
            found.append(phrase)
    return found[:k]


def make_plan(recipe: Recipe, engine: Engine) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Returns (plan summary, slots). The summary's notes say where fallbacks replaced model output."""
    sampling = Sampling(temperature=0.9, top_p=0.95, max_new_tokens=64, seed=recipe.seed, repetition_penalty=1.1)
    notes: list[str] = []
    contexts: dict[str, str] | None = None
    k = recipe.axes.scenarios_per_category
    if recipe.task == "qa" and recipe.documents is not None:
        contexts = load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars,
                               recipe.documents.overlap_chars)
        categories = list(contexts)
        scenarios = {c: QUESTION_KINDS for c in categories}
        descriptions = {c: "" for c in categories}
    else:
        categories = [c.name for c in recipe.categories]
        descriptions = {c.name: c.description for c in recipe.categories}
        scenarios = {}
        for i, c in enumerate(recipe.categories):
            prompt = render("planner_scenarios", description=recipe.description, task=recipe.task, name=c.name,
                            category_description=c.description)
            found = ask_phrases(engine, prompt, "situation", k, recipe.seed + 1000 * i, sampling)
            if len(found) < k:
                notes.append(f"'{c.name}': {len(found)} of {k} scenarios from the model, the rest built-in")
                found += [s for s in FALLBACK_SITUATIONS if s not in found][: k - len(found)]
            scenarios[c.name] = found
    if recipe.axes.personas == "auto":
        n = recipe.axes.auto_personas
        personas = ask_phrases(engine, render("planner_personas", description=recipe.description), "person", n,
                               recipe.seed + 999_999, sampling)
        if len(personas) < n:
            notes.append(f"{len(personas)} of {n} personas from the model, the rest built-in")
            personas += [p for p in FALLBACK_PERSONAS if p not in personas][: n - len(personas)]
    else:
        personas = list(recipe.axes.personas)
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
