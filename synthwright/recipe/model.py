"""Recipes: the YAML a user writes, read into closed, typed pydantic models.

A malformed recipe is reported field by field, each with its YAML line, as ConfigError (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from synthwright.engines.base import Sampling
from synthwright.recipe.filter_config import FilterConfig
from synthwright.recipe.instruction import InstructionConfig, Method

MAX_SAMPLES = 1_000_000  # the most samples one run makes (count and its total over categories); split bigger datasets


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Category(_Closed):
    """A label (classification), goal (dialogue) or topic (QA) with what it means."""

    name: str = Field(min_length=1, max_length=64, description="Identifier used in the dataset, e.g. lost_card.")
    description: str = Field(default="", max_length=500, description="What belongs here; the planner and executor read it.")
    examples: list[str] = Field(default_factory=list, description="Seed examples written by a person.")


class Count(_Closed):
    """How many samples: per category (label, goal, topic, document chunk) or in total."""

    per_category: int | None = Field(default=None, ge=1, le=MAX_SAMPLES,
                                     description="Samples for each category (at most 1,000,000 in a run).")
    total: int | None = Field(default=None, ge=1, le=MAX_SAMPLES,
                              description="Samples overall, spread evenly over categories (at most 1,000,000).")

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
    share: float = Field(default=1.0, gt=0.0, description="In a mixture of teachers: this teacher's share of every label's samples.")


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


class JudgeConfig(_Closed):
    """The LLM judge: a per-task rubric and a structured verdict for every sample the filters let through.

    Off by default: a judge roughly doubles the cost of a run and a small teacher is a weak judge.
    Turned on without a `model`, it reuses the teacher (the loaded engine, not a second copy).
    """

    enabled: bool = Field(default=False, description="Judge samples that passed the filters.")
    model: str | None = Field(default=None, description="Engine spec of the judge; default: the teacher's.")
    options: dict[str, Any] = Field(default_factory=dict, description="Engine options for a judge engine of its own.")
    min_score: int = Field(default=3, ge=1, le=5, description="Every 1-5 score of the verdict must reach this.")
    require_label_agreement: bool = Field(
        default=True, description="Classification: reject when the label the judge would assign differs from the sample's.")
    batch_size: int | None = Field(default=None, ge=1, description="Samples per judge call to the engine; default: the engine's batch size.")
    max_new_tokens: int = Field(default=256, ge=32, le=4096, description="Token budget for one verdict.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Judge sampling temperature; 0 is greedy (reproducible).")


class LabelCheckConfig(_Closed):
    """Classification: a model reads each sample that passed the filters and picks its label among the sample's own
    and that label's nearest neighbours (a constrained one-letter answer, options in a shuffled order). A sample whose
    label it does not confirm is rejected or given the label it picked.

    Off by default: on real messages with their true labels the default teacher confirms too few to be trusted
    (docs/benchmarks.md has the share each model confirms). Turned on without a `model`, it reuses the teacher."""

    enabled: bool = Field(default=False, description="Check each sample's label with a model.")
    model: str | None = Field(default=None, description="Engine spec of the checking model; default: the teacher's.")
    options: dict[str, Any] = Field(default_factory=dict, description="Engine options for a checking engine of its own.")
    neighbours: int = Field(default=3, ge=1, le=7, description="How many of the label's nearest labels are the other choices.")
    on_disagree: Literal["reject", "relabel"] = Field(
        default="reject", description="reject: the sample is rejected (filter label_check); relabel: it takes the label"
                                      " the model picked and keeps its place in its slot's quota.")
    batch_size: int | None = Field(default=None, ge=1, description="Samples per call to the engine; default: the engine's batch size.")

class QualityConfig(_Closed):
    """Classification and dialogue (whose user messages the classifier reads, one goal a label): the quality loop.
    After the first pass over the plan, and after each re-planning step,
    the fixed classifier of `eval` (MiniLM + logistic regression, C=10) is trained on what was accepted. Its
    signal (cross-validated, or scored on a small real dev set) steers the planner: confidently misclassified
    samples are set aside and replaced by contrastive requests, weak labels get extra quota, and with a dev set
    the requests follow the situations of the dev examples it gets wrong and the style of the real texts."""

    enabled: bool = Field(default=True, description="Run the quality loop after the first pass over the plan.")
    dev_set: str | None = Field(default=None, description="JSONL/CSV of a few real {text, label} rows, relative to the recipe:"
                                " the signal that counts. Never shown to the executor and never in the dataset.")
    max_steps: int = Field(default=3, ge=1, le=20, description="Re-planning steps at most.")
    min_improvement: float = Field(default=0.005, ge=0.0, le=1.0,
                                   description="Stop when the score (macro-F1) rises by less than this over the best step so far.")
    extra_fraction: float = Field(default=0.25, ge=0.0, le=2.0,
                                  description="Extra samples the loop may add for weak labels, as a fraction of the target, over all steps.")
    weak_f1: float = Field(default=0.9, ge=0.0, le=1.0, description="Labels whose F1 is below this are weak and get extra quota.")
    replace_confidence: float = Field(default=0.6, gt=0.0, le=1.0,
                                      description="Set aside an accepted sample that the out-of-fold classifier gives another"
                                                  " label with at least this probability; a contrastive request replaces it.")
    cv_sets_aside: bool = Field(default=False,
                                description="Without a dev set the signal is the classifier cross-validated on the run's own"
                                            " samples: also replace the samples it confidently gives another label, and"
                                            " undo a step that lowered it. Off by default: that signal cannot see real"
                                            " accuracy, and on real messages it set aside up to 14% (docs/benchmarks.md).")
    replace_fraction: float = Field(default=0.2, ge=0.0, le=1.0, description="At most this share of a label's samples is replaced per step.")
    realism: bool = Field(default=True, description="With a dev set: tell new requests what gives the synthetic texts away"
                                                    " (the largest style gaps to the real texts).")
    replace_unrealistic: bool = Field(default=False, description="With a dev set: also replace the samples that read least like"
                                                                 " the real texts (off by default: with a weak teacher the"
                                                                 " replacements measured worse than what they replaced).")
    realism_quantile: float = Field(default=0.9, gt=0.0, le=1.0,
                                    description="With a dev set: a sample that a real-vs-synthetic classifier finds more synthetic"
                                                " than this share of the real dev texts reads unlike them.")
    max_hints: int = Field(default=3, ge=0, le=10, description="Realism hints given to each new request.")
    dev_errors: bool = Field(default=True, description="With a dev set: seed new requests with the situation of each dev example"
                                                       " the classifier gets wrong (the teacher describes it; its text is never shown).")
    folds: int = Field(default=5, ge=2, le=20, description="Cross-validation folds.")
    embedder: Literal["auto", "minilm", "tfidf"] = Field(default="auto", description="Features of the classifier.")


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


POST_GENERATION_JUDGE_FIELDS = ("min_score", "require_label_agreement")


class Price(_Closed):
    input: float = Field(ge=0.0, description="Price per million prompt (input) tokens.")
    output: float = Field(ge=0.0, description="Price per million completion (output) tokens.")


class Budget(_Closed):
    max_rounds: int = Field(default=3, ge=1, le=20, description="Rounds of re-issuing slots whose quota is unmet.")
    overgenerate: float = Field(default=1.2, ge=1.0, le=5.0,
                                description="Round r asks overgenerate**r requests per missing sample (or 1/acceptance so far"
                                            " when that is more and `adaptive`), to absorb rejections.")
    adaptive: bool = Field(default=True, description="Later rounds ask at least 1/acceptance-so-far requests per missing"
                                                     " sample (at most 5), so strict filters end in fewer shortfalls.")
    prices: dict[str, Price] = Field(default_factory=dict, description="Price per million tokens by engine spec (as in"
                                     " teacher.model / judge.model), in any one currency; nothing is looked up online.")
    max_tokens: int | None = Field(default=None, ge=1, description="Stop the run cleanly once its model calls used this"
                                   " many tokens (prompt + completion, every phase); raise it and run again to go on.")
    max_cost: float | None = Field(default=None, gt=0.0, description="Stop the run cleanly once its priced calls cost this"
                                   " much (needs `prices`); raise it and run again to go on.")

    @model_validator(mode="after")
    def _cost_needs_prices(self) -> "Budget":
        if self.max_cost is not None and not self.prices:
            raise ValueError("max_cost needs prices: give budget.prices {ENGINE_SPEC: {input: …, output: …}} per million tokens")
        return self


class Recipe(_Closed):
    """A dataset recipe. `task` picks the kind; the other fields apply to every kind unless noted."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$", description="Run and dataset name.")
    task: Literal["classification", "qa", "dialogue", "instruction"] = Field(description="What kind of samples to make.")
    method: Method = Field(default="topics", description="instruction only: topics (the planner and executor), self_instruct,"
                           " evol_instruct or magpie (see the `instruction` section).")
    instruction: InstructionConfig = Field(default_factory=InstructionConfig,
                                           description="instruction only: seed tasks and the method's settings.")
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
    teacher: EngineConfig | list[EngineConfig] = Field(
        default_factory=EngineConfig,
        description="The model that writes the samples, or a mixture: a list of teachers with shares (the planner uses the first).")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.9, top_p=0.95, max_new_tokens=400,
                                                                repetition_penalty=1.1))
    filters: FilterConfig = Field(default_factory=FilterConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    label_check: LabelCheckConfig = Field(default_factory=LabelCheckConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    budget: Budget = Field(default_factory=Budget)
    output: OutputConfig = Field(default_factory=OutputConfig)
    few_shot: int = Field(default=3, ge=0, le=10, description="Examples shown in each executor prompt (none for QA grounded in documents).")
    neighbours: int = Field(default=2, ge=0, le=10,
                            description="Classification: how many of a label's nearest labels its prompts say the message is not about.")
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
        elif self.method != "topics" and self.task != "instruction":
            raise ValueError("method applies to instruction recipes only; leave it out or set task: instruction")
        elif not self.categories and self.method == "topics":
            raise ValueError(f"a {self.task} recipe needs at least one category")
        elif self.documents is not None:
            raise ValueError("documents only apply to qa recipes")
        names = [c.name for c in self.categories]
        if names and self.count.per_category is not None and self.count.per_category * len(names) > MAX_SAMPLES:
            raise ValueError(f"count asks for {self.count.per_category * len(names):,} samples"
                             f" ({self.count.per_category:,} for each of {len(names)} categories); a run makes at most"
                             f" {MAX_SAMPLES:,}, so lower count or split the categories over several recipes")
        if len(set(names)) != len(names):
            raise ValueError(f"category names must be unique; repeated: {sorted({n for n in names if names.count(n) > 1})}")
        return self

    @field_validator("teacher")
    @classmethod
    def _mixture(cls, v: EngineConfig | list[EngineConfig]) -> EngineConfig | list[EngineConfig]:
        if isinstance(v, list):
            if not v:
                raise ValueError("a mixture of teachers needs at least one teacher")
            models = [t.model for t in v]
            if len(set(models)) != len(models):
                raise ValueError(f"each teacher of a mixture must be a different model; repeated: {sorted({m for m in models if models.count(m) > 1})}")
        return v

    @property
    def stepwise_method(self) -> str | None:
        """The instruction method that grows its data step by step from seed tasks (self_instruct, evol_instruct,
        magpie) instead of filling a plan; None for a recipe the planner and executor fill."""
        return self.method if self.task == "instruction" and self.method != "topics" else None

    @property
    def teachers(self) -> list[EngineConfig]:
        """The teachers with their shares; a single teacher is a mixture of one."""
        return list(self.teacher) if isinstance(self.teacher, list) else [self.teacher]

    def resolve(self, path: str | None) -> Path | None:
        return None if path is None else (Path(self.base_dir) / path).resolve()

    def frozen(self) -> dict[str, Any]:
        """The recipe as saved with the run (relative paths kept as written)."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """What must stay the same for a run to resume: everything but the output, budget and license."""
        skip = {"output", "budget", "license"} | ({"method", "instruction"} if self.task != "instruction" else set())
        data = self.model_dump(mode="json", exclude=skip)  # runs made before `instruction` existed still resume
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def generation_fingerprint(self) -> str:
        """What decides the model calls: the fingerprint less what only judges their results (filters, the
        label check, the judge's thresholds). Runs that differ only outside it can replay the stored responses."""
        data = self.model_dump(mode="json", exclude={"output", "budget", "license", "filters", "label_check"})
        for name in POST_GENERATION_JUDGE_FIELDS:
            data["judge"].pop(name, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
