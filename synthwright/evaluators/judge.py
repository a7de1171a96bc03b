"""The LLM judge: a rubric per task kind, a structured verdict, a threshold.

The verdict is a pydantic model whose first field is the reason, so that the model argues before
it scores; its scores are `Literal[1..5]` and, for classification, its label a `Literal` of the
recipe's labels, so constrained decoding can only produce a usable verdict. A sample passes when
every score reaches `judge.min_score`, every yes/no check of the rubric is yes, and (optionally)
the judge's label equals the sample's. A failing verdict rejects the sample with filter `judge`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from pydantic import BaseModel

from synthwright.core.prompts import render
from synthwright.core.store_rows import StoredVerdict
from synthwright.engines import ChatRequest, Engine, Generation, Sampling, load_engine
from synthwright.evaluators.filters import Candidate
from synthwright.evaluators.model_check import ModelCheck
from synthwright.recipe.model import Recipe
from synthwright.tasks import task_for


def verdict_schema(recipe: Recipe) -> type[BaseModel]:
    """The verdict model of a recipe's task kind (and, for classification, its label set)."""
    return task_for(recipe.task).verdict_schema(recipe)


def decide(verdict: BaseModel | dict[str, Any], category: str, min_score: int, require_label_agreement: bool) -> list[str]:
    """The criteria a verdict (the judge's answer, as a model or as stored) fails; empty: it passes."""
    failed = []
    fields = verdict if isinstance(verdict, dict) else verdict.model_dump()
    label = fields.get("label")
    if require_label_agreement and label is not None and label != category:
        failed.append(f"the judge's label is {label!r}, not {category!r}")
    for name, value in fields.items():
        if value is False:
            failed.append(f"{name.replace('_', ' ')}: no")
    for name, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool) and value < min_score:
            failed.append(f"{name.replace('_', ' ')} {value} < {min_score}")
    return failed


class Judge(ModelCheck):
    """Judges candidates in batches with `engine` (an Engine, or a function returning one on first use)."""

    def __init__(self, recipe: Recipe, engine: Engine | Callable[[], Engine], *, owns_engine: bool = False):
        super().__init__(engine, model=recipe.judge.model, owns_engine=owns_engine)
        self.recipe = recipe
        self.cfg = recipe.judge
        self.task = task_for(recipe.task)
        self.schema = self.task.verdict_schema(recipe)
        self.system = render("judge_system", fields={n: (f.description or n) for n, f in self.schema.model_fields.items()})
        self.sampling = Sampling(temperature=self.cfg.temperature, max_new_tokens=self.cfg.max_new_tokens,
                                 seed=recipe.seed)

    def requests(self, cands: list[Candidate]) -> list[ChatRequest]:
        return [ChatRequest.user(self.task.judge_prompt(self.recipe, c), system=self.system) for c in cands]

    def evaluate(self, cands: list[Candidate]) -> None:
        """Give each candidate a verdict (`c.features['verdict']`) and reject those that fail."""
        cands = [c for c in cands if c.alive]
        if not cands:
            return
        engine = self.engine
        size = self.cfg.batch_size or getattr(engine, "batch_size", 64)
        for start in range(0, len(cands), size):
            chunk = cands[start:start + size]
            t0 = time.perf_counter()
            gens = engine.generate(self.requests(chunk), schema=self.schema, sampling=self.sampling)
            self.seconds += time.perf_counter() - t0
            for c, gen in zip(chunk, gens):
                self._apply(c, gen)

    def _apply(self, c: Candidate, gen: Generation) -> None:
        common = dict(judge=self.spec, engine=self.engine_info, prompt_tokens=gen.prompt_tokens,
                      completion_tokens=gen.completion_tokens, seconds=round(gen.seconds, 4),
                      min_score=self.cfg.min_score, require_label_agreement=self.cfg.require_label_agreement)
        if gen.parsed is None:
            # A judge that cannot answer is no pass: the sample has not earned its place.
            c.features["verdict"] = StoredVerdict(passed=False, error=gen.error, raw=gen.text[:2000],
                                                  failed=["no usable verdict"], **common)
            c.reject("judge", f"the judge gave no usable verdict ({gen.error})")
            return
        failed = decide(gen.parsed, c.category, self.cfg.min_score, self.cfg.require_label_agreement)
        c.features["verdict"] = StoredVerdict(passed=not failed, verdict=gen.parsed.model_dump(), failed=failed, **common)
        if failed:
            c.reject("judge", f"{'; '.join(failed)} (judge: {gen.parsed.reason.strip() or 'no reason given'})")

    def redecide(self, c: Candidate, stored: StoredVerdict) -> None:
        """Apply this judge's thresholds to a verdict stored by an earlier run of the recipe (no model call)."""
        if stored.verdict is None:
            failed = stored.failed or ["no usable verdict"]
        else:
            failed = decide(stored.verdict, c.category, self.cfg.min_score, self.cfg.require_label_agreement)
        c.features["verdict"] = stored.model_copy(update={
            "passed": not failed, "failed": failed, "min_score": self.cfg.min_score,
            "require_label_agreement": self.cfg.require_label_agreement})
        if failed:
            reason = (stored.verdict or {}).get("reason", "").strip() or "no reason given"
            c.reject("judge", f"{'; '.join(failed)} (judge: {reason})" if stored.verdict else
                     f"the judge gave no usable verdict ({stored.error})")


def make_judge(recipe: Recipe, teacher: Callable[[], Engine], *, teacher_spec: str | None = None,
               engine: Engine | None = None, load: Callable[..., Engine] = load_engine) -> Judge | None:
    """The run's judge, or None when `judge.enabled` is false.

    `engine` is a ready judge engine. Otherwise the judge reuses the teacher (`teacher()` returns the
    loaded one, a Ray pool included) when `judge.model` is unset or names the teacher's spec, and
    loads its own engine with `load(spec, **options)`, on first use, when it names another (make/teacher.py
    passes a loader that puts it on a Ray actor pool of its own).
    """
    cfg = recipe.judge
    if not cfg.enabled:
        return None
    if engine is not None:
        return Judge(recipe, engine)
    if cfg.model is None or cfg.model in (recipe.teachers[0].model, teacher_spec):
        return Judge(recipe, teacher)
    return Judge(recipe, lambda: load(cfg.model, **cfg.options), owns_engine=True)
