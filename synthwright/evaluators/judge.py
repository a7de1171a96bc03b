"""The LLM judge: a rubric per task kind, a structured verdict, a threshold.

The verdict is a pydantic model whose first field is the reason, so that the model argues before
it scores; its scores are `Literal[1..5]` and, for classification, its label a `Literal` of the
recipe's labels, so constrained decoding can only produce a usable verdict. A sample passes when
every score reaches `judge.min_score`, every yes/no check of the rubric is yes, and (optionally)
the judge's label equals the sample's. A failing verdict rejects the sample with filter `judge`.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..engines import ChatRequest, Engine, Generation, Sampling
from ..prompts import render
from .filters import Candidate

Score = Literal[1, 2, 3, 4, 5]
SCORE_FIELDS = ("naturalness", "fit", "helpfulness", "coherence", "role_consistency")
CHECK_FIELDS = ("supported", "correct", "goal_completed")


class Verdict(BaseModel):
    """Base of every verdict: the reason comes first."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=300, description="One or two sentences: what is good or wrong with the example.")


def verdict_schema(recipe: Any) -> type[BaseModel]:
    """The verdict model for a recipe's task (and, for classification, its label set)."""
    score = lambda text: (Score, Field(description=f"1-5: {text}"))  # noqa: E731
    if recipe.task == "classification":
        labels = tuple(c.name for c in recipe.categories)
        return create_model(
            "ClassificationVerdict", __base__=Verdict,
            label=(Literal[labels], Field(description="The label you would assign from the text alone.")),
            naturalness=score("how much it reads like a real person's message"),
            fit=score("how clearly it belongs to its intended label"),
        )
    if recipe.task == "qa":
        fields: dict[str, Any] = {}
        if recipe.documents is not None:
            fields["supported"] = (bool, Field(description="true if every fact of the answer is in the passage"))
        return create_model(
            "QAVerdict", __base__=Verdict, **fields,
            correct=(bool, Field(description="true if the answer is right and answers the question")),
            naturalness=score("how much the question reads like a real user's"),
            helpfulness=score("how clear, complete and concise the answer is"),
        )
    return create_model(
        "DialogueVerdict", __base__=Verdict,
        goal_completed=(bool, Field(description="true if the user's goal is reached by the end")),
        coherence=score("how well each message follows from the ones before"),
        role_consistency=score("how consistently each side keeps its role"),
        naturalness=score("how much it reads like a real conversation"),
    )


def judge_prompt(recipe: Any, c: Candidate) -> str:
    descriptions = {x.name: x.description for x in recipe.categories}
    if recipe.task == "classification":
        return render("judge_classification", description=recipe.description, categories=recipe.categories,
                      label=c.category, text=c.data.get("text", c.text))
    if recipe.task == "qa":
        return render("judge_qa", description=recipe.description, context=c.data.get("context") or "",
                      question=c.data.get("question", ""), answer=c.data.get("answer", ""))
    return render("judge_dialogue", description=recipe.description, roles=recipe.roles,
                  goal=descriptions.get(c.category) or c.category, transcript=c.text)


def decide(verdict: BaseModel, category: str, min_score: int, require_label_agreement: bool) -> list[str]:
    """The criteria a verdict fails (empty: it passes)."""
    failed = []
    label = getattr(verdict, "label", None)
    if require_label_agreement and label is not None and label != category:
        failed.append(f"the judge's label is {label!r}, not {category!r}")
    for name in CHECK_FIELDS:
        if getattr(verdict, name, True) is False:
            failed.append(f"{name.replace('_', ' ')}: no")
    for name in SCORE_FIELDS:
        value = getattr(verdict, name, None)
        if value is not None and value < min_score:
            failed.append(f"{name.replace('_', ' ')} {value} < {min_score}")
    return failed


class Judge:
    """Judges candidates in batches with `engine` (an Engine, or a function returning one on first use)."""

    def __init__(self, recipe: Any, engine: Engine | Callable[[], Engine], *, owns_engine: bool = False):
        self.recipe = recipe
        self.cfg = recipe.judge
        self.schema = verdict_schema(recipe)
        self._engine = engine
        self.owns_engine = owns_engine
        self.system = render("judge_system", fields={n: (f.description or n) for n, f in self.schema.model_fields.items()})
        self.sampling = Sampling(temperature=self.cfg.temperature, max_new_tokens=self.cfg.max_new_tokens,
                                 seed=recipe.seed)
        self.seconds = 0.0

    @property
    def engine(self) -> Engine:
        if not isinstance(self._engine, Engine):
            self._engine = self._engine()
        return self._engine

    @cached_property
    def engine_info(self) -> dict[str, Any]:
        return self.engine.describe()

    @property
    def spec(self) -> str:
        return self.engine_info.get("spec") or self.cfg.model or "teacher"

    def requests(self, cands: list[Candidate]) -> list[ChatRequest]:
        return [ChatRequest.user(judge_prompt(self.recipe, c), system=self.system) for c in cands]

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
        record: dict[str, Any] = {"engine": self.engine_info,
                                  "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                                  "seconds": round(gen.seconds, 4), "min_score": self.cfg.min_score,
                                  "require_label_agreement": self.cfg.require_label_agreement}
        if gen.parsed is None:
            # A judge that cannot answer is no pass: the sample has not earned its place.
            record.update(verdict=None, error=gen.error, raw=gen.text[:2000], failed=["no usable verdict"])
            c.features["verdict"] = {"judge": self.spec, "passed": False, "data": record}
            c.reject("judge", f"the judge gave no usable verdict ({gen.error})")
            return
        failed = decide(gen.parsed, c.category, self.cfg.min_score, self.cfg.require_label_agreement)
        record.update(verdict=gen.parsed.model_dump(), failed=failed)
        c.features["verdict"] = {"judge": self.spec, "passed": not failed, "data": record}
        if failed:
            c.reject("judge", f"{'; '.join(failed)} (judge: {gen.parsed.reason.strip() or 'no reason given'})")

    def close(self) -> None:
        if self.owns_engine and isinstance(self._engine, Engine):
            self._engine.close()


def make_judge(recipe: Any, teacher: Callable[[], Engine], *, teacher_spec: str | None = None,
               engine: Engine | None = None, ray: Any = None) -> Judge | None:
    """The run's judge, or None when `judge.enabled` is false.

    `engine` is a ready judge engine. Otherwise the judge reuses the teacher (`teacher()` returns the
    loaded one, a Ray pool included) when `judge.model` is unset or names the teacher's spec, and
    loads its own engine, on first use, when it names another: on a Ray actor pool of its own when
    `ray` (a RayConfig) is given.
    """
    cfg = recipe.judge
    if not cfg.enabled:
        return None
    if engine is not None:
        return Judge(recipe, engine)
    if cfg.model is None or cfg.model in (recipe.teachers[0].model, teacher_spec):
        return Judge(recipe, teacher)

    def load() -> Engine:
        if ray is not None:
            from ..scale import RayEnginePool

            return RayEnginePool(cfg.model, cfg.options, ray.for_judge())
        from ..engines import load_engine

        return load_engine(cfg.model, **cfg.options)

    return Judge(recipe, load, owns_engine=True)
