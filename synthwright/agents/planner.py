"""The planner: recipe → plan. Model-written scenarios and personas, label neighbours, then a stratified allocation.

Small models write a single short phrase far better than a list, so each phrase is its own request
(over-asked by 2x), kept only if it looks like a phrase, and deduplicated. A scenario that only restates its
label ("A banking request: pin change" for the label pin_change) and a persona who answers the messages instead of
writing them ("AI Personal Assistant") are dropped: the executor would restate or reply. Every phrase request of a
plan goes to the engine in batches of its batch size; each finished batch is handed to `record`
(the run store keeps it), and requests answered before a kill are answered from `cache` on resume.
Where too few phrases survive, built-in fallbacks fill in and the plan's notes say how many.

For classification, each label's nearest labels (cosine similarity of the embedded name, description
and seed examples) are kept in the plan: the executor tells the model what the message must not be about.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from pydantic import BaseModel, Field, create_model

from synthwright.agents.allocation import allocate
from synthwright.core.documents import focus_points, load_chunks
from synthwright.core.prompts import render
from synthwright.engines import ChatRequest, Engine, Generation, Sampling
from synthwright.evaluators.textcheck import words
from synthwright.recipe.model import Recipe
from synthwright.tasks import task_for

FALLBACK_PERSONAS = [
    "a busy professional writing between meetings", "a student on a tight budget",
    "a retired person who rarely uses apps", "a small-business owner", "a non-native speaker",
    "a parent writing on behalf of a teenager", "a nurse who works night shifts", "a frequent traveller",
]
FALLBACK_SITUATIONS = [
    "it happened for the first time", "it happened again after an earlier attempt to fix it",
    "while travelling abroad", "late in the evening, in a hurry", "on behalf of a family member",
]
PHRASE_CHARS = 160  # the schema's cap; the prompt asks for far less, so a phrase is never cut by the cap
PHRASE_MAX_WORDS = 24
NEIGHBOURS = 2

Record = Callable[[str, list[ChatRequest], list[Generation]], None]
OnProgress = Callable[[int, int, int], None]  # (requests answered, requests, completion tokens generated so far)


def plausible_phrase(text: str, max_chars: int = PHRASE_CHARS) -> bool:
    """A short natural-language phrase: 2-24 words, mostly letters, no markup, not cut off by the cap."""
    text = text.strip()
    words = text.split()
    if not 2 <= len(words) <= PHRASE_MAX_WORDS or len(text) >= max_chars - 1:
        return False
    if re.search(r"[\[\]{}<>|_#@\\]", text) or any(len(w) > 20 for w in words):
        return False
    if re.search(r"[a-z][.!?,;:][A-Za-z]", text):  # words glued by punctuation: "can.assistantW"
        return False
    if any(a.lower() == b.lower() for a, b in zip(words, words[1:])):  # "money money"
        return False
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    return letters / len(text) >= 0.85


_REPLIER = re.compile(r"^\W*(?:an?\s+)?(?:AI|A\.I\.)\b"
                      r"|\b(?:(?:virtual|digital|personal|voice|smart|AI)\s+assistants?|chat\s?bots?|bots?"
                      r"|customer\s+(?:service|support|care)|support\s+(?:agent|representative|staff|team))\b", re.I)


def replier(persona: str) -> bool:
    """A persona who answers the messages rather than writing them: an assistant, a bot, customer service."""
    return _REPLIER.search(persona) is not None


def _stems(text: str) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words(text.replace("_", " "))}


def restatement(known: str) -> Callable[[str], bool]:
    """Whether a scenario only restates `known` (a label's name and description, the recipe's description): every
    word of it is one of theirs, so it names no situation."""
    vocabulary = _stems(known)
    return lambda scenario: _stems(scenario) <= vocabulary


def _phrase_schema(field: str) -> type[BaseModel]:
    return create_model("Phrase", **{field: (str, Field(min_length=5, max_length=PHRASE_CHARS))})


def cache_key(request: ChatRequest) -> str:
    return f"{request.seed}\x1f{request.messages[-1]['content']}"


class PhraseAsker:
    """Collects phrase questions, asks them all in engine-sized batches, and keeps the plausible answers."""

    def __init__(self, engine: Engine, sampling: Sampling, cache: dict[str, str] | None, record: Record | None,
                 on_progress: OnProgress | None = None):
        self.engine, self.sampling = engine, sampling
        self.cache = cache or {}
        self.record = record
        self.on_progress = on_progress
        self.questions: list[tuple[str, str, int, int, Callable[[str], bool] | None]] = []
        # (key, field, k, first request index, what makes an answer unusable)
        self.requests: list[tuple[ChatRequest, str]] = []

    def ask(self, key: str, prompt: str, field: str, k: int, seed: int,
            unusable: Callable[[str], bool] | None = None) -> None:
        self.questions.append((key, field, k, len(self.requests), unusable))
        self.requests += [(ChatRequest.user(prompt, seed=seed + i), field) for i in range(2 * k)]

    def answers(self) -> dict[str, list[str]]:
        texts: list[str | None] = [self.cache.get(cache_key(r)) for r, _ in self.requests]
        todo = [i for i, t in enumerate(texts) if t is None]
        done, tokens = len(self.requests) - len(todo), 0  # tokens: generated now, not answered from the cache
        if self.on_progress:
            self.on_progress(done, len(self.requests), tokens)
        by_field: dict[str, list[int]] = {}
        for i in todo:
            by_field.setdefault(self.requests[i][1], []).append(i)
        chunk = max(1, getattr(self.engine, "batch_size", 64))
        for field, indices in by_field.items():
            batches = [indices[s:s + chunk] for s in range(0, len(indices), chunk)]
            stream = self.engine.generate_batches(([self.requests[i][0] for i in b] for b in batches),
                                                  schema=_phrase_schema(field), sampling=self.sampling)
            for index, gens in stream:
                for i, gen in zip(batches[index], gens):
                    texts[i] = gen.text if gen.parsed is not None else ""
                if self.record:
                    self.record("planner", [self.requests[i][0] for i in batches[index]], gens)
                done += len(gens)
                tokens += sum(g.completion_tokens for g in gens)
                if self.on_progress:
                    self.on_progress(done, len(self.requests), tokens)
        out: dict[str, list[str]] = {}
        for key, field, k, start, unusable in self.questions:
            found, seen = [], set()
            for i in range(start, start + 2 * k):
                phrase = _parse_phrase(texts[i] or "", field)
                norm = " ".join(phrase.lower().split())
                if phrase and plausible_phrase(phrase) and norm not in seen and not (unusable and unusable(phrase)):
                    seen.add(norm)
                    found.append(phrase)
            out[key] = found[:k]
        return out


def _parse_phrase(text: str, field: str) -> str:
    import json

    try:
        value = json.loads(text, strict=False).get(field, "")
    except (ValueError, AttributeError):
        return ""
    return value.strip().rstrip(".") if isinstance(value, str) else ""


def label_neighbours(recipe: Recipe, seeds: list[dict[str, Any]] | None = None, n: int = NEIGHBOURS) -> dict[str, list[str]]:
    """Each label's `n` most similar other labels (cosine of name + description + seed examples)."""
    import numpy as np

    from synthwright.evaluators import embed

    names = [c.name for c in recipe.categories]
    if len(names) < 2:
        return {}
    examples: dict[str, list[str]] = {c.name: list(c.examples) for c in recipe.categories}
    for s in seeds or []:
        examples.setdefault(s.get("label"), []).append(s.get("text", ""))
    docs = [f"{c.name.replace('_', ' ')}: {c.description} {' '.join(examples.get(c.name, [])[:5])}".strip()
            for c in recipe.categories]
    x, = embed.features(embed.resolve("auto"), docs)
    x = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    return {name: [names[j] for j in np.argsort(-sim[i])[: min(n, len(names) - 1)]] for i, name in enumerate(names)}


def make_plan(recipe: Recipe, engine: Engine, *, seeds: list[dict[str, Any]] | None = None,
              cache: dict[str, str] | None = None, record: Record | None = None,
              on_progress: OnProgress | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Returns (plan summary, slots). The summary's notes say where fallbacks replaced model output; `on_progress`
    gets (phrase requests answered, phrase requests, completion tokens generated so far) as batches finish."""
    sampling = Sampling(temperature=0.9, top_p=0.95, max_new_tokens=72, seed=recipe.seed, repetition_penalty=1.1)
    notes: list[str] = []
    contexts: dict[str, str] | None = None
    k = recipe.axes.scenarios_per_category
    asker = PhraseAsker(engine, sampling, cache, record, on_progress)
    task = task_for(recipe.task)
    if task.plans_per_document_chunk and recipe.documents is not None:
        contexts = load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars,
                               recipe.documents.overlap_chars)
        categories = list(contexts)
        descriptions = {c: "" for c in categories}
    else:
        categories = [c.name for c in recipe.categories]
        descriptions = {c.name: c.description for c in recipe.categories}
        for i, c in enumerate(recipe.categories):
            prompt = render("planner_scenarios", description=recipe.description, task=recipe.task, name=c.name,
                            category_description=c.description)
            asker.ask(f"scenario:{c.name}", prompt, "situation", k, recipe.seed + 1000 * i,
                      restatement(f"{c.name} {c.description} {recipe.description}"))
    auto_personas = recipe.axes.personas == "auto"
    if auto_personas:
        asker.ask("personas", render("planner_personas", description=recipe.description), "person",
                  recipe.axes.auto_personas, recipe.seed + 999_999, replier)
    answers = asker.answers() if asker.requests else {}
    scenarios: dict[str, list[str]] = {}
    model_scenarios = 0
    for name in categories:
        if contexts is not None:
            scenarios[name] = focus_points(contexts[name])  # a chunk's questions spread over its sentences
            continue
        found = answers.get(f"scenario:{name}", [])
        model_scenarios += len(found)
        if len(found) < k:
            notes.append(f"'{name}': {len(found)} of {k} scenarios from the model, the rest built-in")
            found = found + [s for s in FALLBACK_SITUATIONS if s not in found][: k - len(found)]
        scenarios[name] = found
    if auto_personas:
        n = recipe.axes.auto_personas
        personas = answers.get("personas", [])
        if len(personas) < n:
            notes.append(f"{len(personas)} of {n} personas from the model, the rest built-in")
            personas = personas + [p for p in FALLBACK_PERSONAS if p not in personas][: n - len(personas)]
    else:
        personas = list(recipe.axes.personas)
    neighbours = label_neighbours(recipe, seeds, recipe.neighbours) if task.labelled and recipe.neighbours else {}
    quotas = recipe.count.for_categories(len(categories))
    slots = allocate(categories, quotas, scenarios, personas, recipe.axes.styles, recipe.axes.lengths,
                     seed=recipe.seed, contexts=contexts, shares=[t.share for t in recipe.teachers])
    plan = {
        "recipe": recipe.name, "fingerprint": recipe.fingerprint(), "task": recipe.task,
        "categories": [{"name": c, "description": descriptions.get(c, ""), "quota": q, "scenarios": scenarios[c],
                        "neighbours": neighbours.get(c, [])}
                       for c, q in zip(categories, quotas)],
        "personas": personas, "styles": recipe.axes.styles, "lengths": recipe.axes.lengths,
        "total": sum(quotas), "slots": len(slots), "notes": notes, "planner": engine.describe(),
        "teachers": [{"model": t.model, "share": t.share} for t in recipe.teachers],
        "scenarios_from_model": model_scenarios if contexts is None else None,
        "scenarios_asked": k * len(categories) if contexts is None else None,
    }
    return plan, slots
