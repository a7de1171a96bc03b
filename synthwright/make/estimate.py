"""What a whole run will take, from a small sample of it: the plan, one batch of real requests, then arithmetic.

The sample is written to the run directory like any batch, so the run that follows resumes from it: the estimate
costs one batch of the run's own work and the planning the run needs anyway, nothing is generated twice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.core.progress import RunProgress, duration
from synthwright.core.store import RunStore
from synthwright.engines import Engine, load_engine
from synthwright.make.pipeline import plan_run, resolve_recipe, run
from synthwright.make.rounds import BatchReport, requests_for
from synthwright.recipe.model import Budget, Recipe
from synthwright.rundir.usage import usage
from synthwright.rundir.writer import out_dir_for
from synthwright.tasks import task_for


class _SampleTaken(Exception):
    """Raised from the first batch's callback: the sample is stored, the run stops there."""


@dataclass(frozen=True)
class Estimate:
    """The sample's figures and what they say about the whole run (expected values; the loop at most)."""

    target: int
    sampled: int  # executor requests in the sample
    accepted: int
    rejected_by: dict[str, int]
    loading_seconds: float
    planning_seconds: float
    seconds_per_request: float
    tokens_per_request: float
    requests: int  # the first pass over the plan, every round
    expected_accepted: int
    loop_requests: int  # the quality loop's requests, at most
    cost_per_request: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def acceptance(self) -> float:
        return self.accepted / self.sampled if self.sampled else 0.0

    @property
    def seconds(self) -> float:
        return self.loading_seconds + self.planning_seconds + (self.requests + self.loop_requests) * self.seconds_per_request

    @property
    def tokens(self) -> int:
        return round((self.requests + self.loop_requests) * self.tokens_per_request)

    @property
    def cost(self) -> float | None:
        return None if self.cost_per_request is None else (self.requests + self.loop_requests) * self.cost_per_request

    def lines(self) -> list[str]:
        why = ", ".join(f"{name} {n}" for name, n in sorted(self.rejected_by.items(), key=lambda kv: -kv[1])[:4])
        loop = (f" and up to {self.loop_requests} more in the quality loop" if self.loop_requests else "")
        cost = "" if self.cost is None else f", cost about {self.cost:.2f}"
        return [
            f"sample: {self.sampled} requests, {self.accepted} accepted ({self.acceptance:.0%})"
            + (f"; rejected by {why}" if why else ""),
            (f"whole run: about {self.requests} requests{loop}, {self.expected_accepted} of {self.target} samples"
            f" expected, about {duration(self.seconds)} (planning {duration(self.planning_seconds)},"
            f" {self.seconds_per_request:.2f} s per request), about {self.tokens:,} tokens{cost}"),
            *self.notes,
        ]


def expected_first_pass(quotas: list[int], acceptance: float, budget: Budget) -> tuple[int, int]:
    """(requests, accepted samples) of the rounds over the plan when each request is accepted with `acceptance`,
    asked as the rounds ask them (rounds.requests_for); the expected values, per slot."""
    requests, accepted = 0, 0.0
    for quota in quotas:
        missing = float(quota)
        for round_ in range(budget.max_rounds):
            if missing < 0.5:
                break
            n = requests_for(math.ceil(missing), round_, budget.overgenerate, acceptance if budget.adaptive else None)
            requests += n
            got = min(missing, n * acceptance)
            missing -= got
            accepted += got
    return requests, round(accepted)


def loop_requests_at_most(recipe: Recipe, target: int, acceptance: float) -> int:
    """The quality loop's requests at most: each step asks extra_fraction of the target again, at the acceptance."""
    if not (task_for(recipe.task).has_quality_loop and recipe.quality.enabled) or acceptance <= 0:
        return 0
    per_step = math.ceil(recipe.quality.extra_fraction * target / acceptance)
    return recipe.quality.max_steps * per_step


def estimate_run(recipe: Recipe | str | Path | dict, *, teacher: str | None = None, out: str | Path | None = None,
                 engine: Engine | None = None, progress: bool | RunProgress = False, **overrides: Any) -> Estimate:
    """Plan the recipe, run its first batch of requests into the run directory, and extrapolate the whole run."""
    recipe = resolve_recipe(recipe, teacher, **overrides)
    if recipe.stepwise_method is not None:
        raise ConfigError(f"method {recipe.method} grows its instructions step by step, so a first batch says little"
                          " of the rest; try it with `synthwright run --limit N`.")
    if len(recipe.teachers) > 1 and engine is None:
        raise ConfigError("An estimate samples one teacher; run it on a recipe with one teacher, or pass --teacher.")
    start = time.perf_counter()
    first = recipe.teachers[0]
    engine = engine or load_engine(first.model, **first.options)
    loaded = time.perf_counter()
    plan_run(recipe, out=out, engine=engine, progress=progress)
    planned = time.perf_counter()

    def stop(report: BatchReport) -> None:
        raise _SampleTaken

    before = _tally(recipe, out)
    try:
        run(recipe, out=out, engine=engine, progress=progress, on_batch=stop)
    except _SampleTaken:
        pass
    sampled = time.perf_counter() - planned
    return _extrapolate(recipe, before, _tally(recipe, out), loaded - start, planned - loaded, sampled)


def _tally(recipe: Recipe, out: str | Path | None) -> dict[str, Any]:
    """The run's executor calls, tokens, cost, sample fates and slot quotas so far."""
    store = RunStore.reader(out_dir_for(recipe, out) / "run.sqlite")
    try:
        calls = store.call_stats()["phases"].get("executor", {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
        return {"calls": calls["calls"], "tokens": calls["prompt_tokens"] + calls["completion_tokens"],
                "cost": usage(store, recipe.budget)["by_phase"].get("executor", {}).get("cost"),
                "fates": store.fate_counts(), "quotas": [s["quota"] for s in store.slots()]}
    finally:
        store.close()


def _extrapolate(recipe: Recipe, before: dict[str, Any], after: dict[str, Any], loading: float, planning: float,
                 sampled: float) -> Estimate:
    n = after["calls"] - before["calls"]
    if not n:
        raise ConfigError("The sample made no requests: the run directory already holds a finished run;"
                          " pass --restart or another --out to estimate it again.")
    fates = {k: v - before["fates"].get(k, 0) for k, v in after["fates"].items()}
    accepted = fates.get("accepted", 0)
    acceptance = accepted / n
    target = sum(after["quotas"])
    requests, expected = expected_first_pass(after["quotas"], acceptance, recipe.budget)
    notes = []
    if acceptance == 0:
        notes.append("nothing in the sample passed the gates: the run would end short; try a stronger teacher")
    cost = None if after["cost"] is None else after["cost"] - (before["cost"] or 0.0)
    return Estimate(
        target=target, sampled=n, accepted=accepted,
        rejected_by={k: v for k, v in fates.items() if k not in ("accepted", "quota") and v},
        loading_seconds=loading, planning_seconds=planning, seconds_per_request=sampled / n,
        tokens_per_request=(after["tokens"] - before["tokens"]) / n,
        requests=requests, expected_accepted=expected, loop_requests=loop_requests_at_most(recipe, target, acceptance),
        cost_per_request=None if cost is None else cost / n, notes=notes)
