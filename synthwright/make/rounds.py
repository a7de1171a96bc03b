"""One generation round: slots' requests in engine-sized batches → parse → filters → judge → quota → the store."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from synthwright.agents.executor import Executor
from synthwright.core.progress import RunProgress
from synthwright.core.store import RunStore
from synthwright.engines import Engine
from synthwright.evaluators.filters import Candidate, FilterState, apply_filters
from synthwright.evaluators.judge import Judge
from synthwright.evaluators.label_check import LabelCheck
from synthwright.make.teacher_check import (
    check_teacher,
    count_other_label,
    stricter_gate_mode,
    tighten_label_gate,
)
from synthwright.recipe.model import Recipe
from synthwright.rundir.usage import budget_reached, usage
from synthwright.tasks import Task


@dataclass
class BatchReport:
    round: int
    requested: int
    accepted: int
    rejected: int
    store: RunStore


@dataclass
class RoundContext:
    """What every round of a run shares."""

    recipe: Recipe
    task: Task
    schema: type[BaseModel]
    executor: Executor
    store: RunStore
    state: FilterState
    judge: Judge | None
    bar: RunProgress
    label_check: LabelCheck | None = None
    on_batch: Callable[[BatchReport], None] | None = None
    stopped: str | None = None  # why a budget cap stopped the run (budget.max_tokens / max_cost)
    allowance: int | None = None  # accepted samples the run may still add (--limit); None: no cap


def settle(cands: list[Candidate], state: FilterState, recipe: Recipe, judge: Judge | None, room: dict[str, int], *,
           key: Callable[[Candidate], str], allowance: int | None, label_check: LabelCheck | None = None) -> int:
    """Filters, then the label check and the judge, then each survivor's quota (`room[key(c)]`, taken as it is
    accepted) and the `allowance` (None: no cap); returns how many were accepted."""
    apply_filters(cands, state, recipe.filters)
    if label_check is not None:
        label_check.evaluate([c for c in cands if c.alive])
    if judge is not None:  # the expensive check, only for what the cheap ones let through
        judge.evaluate([c for c in cands if c.alive])
    accepted = 0
    for c in cands:
        if not c.alive:
            continue
        if room.get(key(c), 0) <= 0:
            c.reject("quota", "the slot's quota was already met")
        elif allowance is not None and accepted >= allowance:
            c.reject("limit", "--limit reached")
        else:
            room[key(c)] -= 1
            accepted += 1
            state.accept(c)
    return accepted


def call_record(slot_id: str, round_: int, seed: int, request: Any, gen: Any, engine: dict[str, Any]) -> dict[str, Any]:
    """One model call as `RunStore.record_batch` takes it."""
    return {"slot_id": slot_id, "round": round_, "seed": seed, "request": request.model_dump(), "response": gen.text,
            "error": gen.error, "finish_reason": gen.finish_reason, "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens, "seconds": gen.seconds, "engine": engine}


def run_round(ctx: RoundContext, engine: Engine, work: list[tuple[dict, int]], round_: int, missing: dict[str, int],
              allowance: int | None, slot_count: int) -> int:
    """Generate `work` ((slot, request index) pairs) in engine-sized batches, each written in one transaction;
    returns the samples accepted. `allowance` caps them (None: no cap)."""
    recipe, task, executor, store, state, judge, bar = (ctx.recipe, ctx.task, ctx.executor, ctx.store, ctx.state,
                                                        ctx.judge, ctx.bar)
    chunk = getattr(engine, "batch_size", 64)
    room = dict(missing)  # samples each slot may still accept
    total_accepted = 0
    engine_info = engine.describe()
    rendered: dict[int, tuple] = {}

    def batches():
        # Prompts are rendered when the engine asks for the next batch, so few-shot examples
        # include everything accepted so far (a sequential engine asks only after the last
        # batch was stored).
        for index, start in enumerate(range(0, len(work), chunk)):
            batch = work[start:start + chunk]
            requests, seeds = zip(*(executor.request(slot, round_, k) for slot, k in batch))
            rendered[index] = (batch, requests, seeds)
            yield list(requests)

    stream = engine.generate_batches(batches(), schema=ctx.schema, sampling=recipe.sampling)
    while True:
        t0 = time.perf_counter()
        index, gens = next(stream, (None, None))
        if index is None:
            break
        store.put("generation_seconds", store.get("generation_seconds", 0.0) + time.perf_counter() - t0)
        batch, requests, seeds = rendered.pop(index)
        candidates: list[Candidate | None] = []
        for (slot, _), gen in zip(batch, gens):
            if gen.parsed is None:
                candidates.append(None)
                continue
            record = task.record(gen.parsed, slot)
            candidates.append(Candidate(data=record, text=task.text_of(record), category=slot["category"],
                                        slot_id=slot["slot_id"], features={"contrast": slot.get("contrast")}))
        live = [c for c in candidates if c is not None]
        accepted_now = settle(live, state, recipe, judge, room, key=lambda c: c.slot_id,
                              allowance=None if allowance is None else allowance - total_accepted,
                              label_check=ctx.label_check)
        calls, samples = [], []
        for (slot, _), request, seed, gen, c in zip(batch, requests, seeds, gens, candidates):
            calls.append(call_record(slot["slot_id"], round_, seed, request, gen, engine_info))
            if c is None:
                samples.append([{"category": slot["category"], "data": {"raw": gen.text}, "dedup_key": "",
                                 "status": "rejected", "filter": "parse", "reason": gen.error}])
            else:
                samples.append([{"category": c.category, "data": c.data, "dedup_key": c.key, "status": c.status,
                                 "filter": c.filter, "reason": c.reason, "verdict": c.features.get("verdict")}])
        store.record_batch(calls, samples)
        mode = stricter_gate_mode(recipe.filters, task, state)
        decided = check_teacher(store, engine_info.get("spec") or engine.spec, bar.note, stricter_gate=mode,
                                other_label=lambda: count_other_label(store, state, task, recipe.filters))
        if decided and decided["weak"] and mode == "auto":
            freed = tighten_label_gate(store, state, task, recipe.filters)
            for slot_id, n in freed.items():
                room[slot_id] = room.get(slot_id, 0) + n
            if freed:
                accepted_now -= freed.total()  # net: the batch's accepted samples less those set aside
                bar.note(f"{freed.total()} of the samples accepted so far read as another label and were set"
                         " aside; their slots are filled again.")
        priced = recipe.budget.prices or recipe.budget.max_tokens is not None
        spent = usage(store, recipe.budget) if priced else None
        total_accepted += accepted_now
        bar.update(accepted=accepted_now, generated=len(batch), rejected=len(batch) - accepted_now,
                   tokens=sum(g.completion_tokens for g in gens),
                   slots_done=slot_count - sum(1 for v in room.values() if v > 0), slots_total=slot_count,
                   cost=spent["cost"] if spent else None)
        if ctx.on_batch is not None:
            ctx.on_batch(BatchReport(round=round_, requested=len(batch), accepted=accepted_now,
                                 rejected=len(batch) - accepted_now, store=store))
        if spent is not None:
            ctx.stopped = budget_reached(recipe.budget, spent)
            if ctx.stopped:
                break
    return total_accepted


def interleave(work: list[tuple[dict, int]]) -> list[tuple[dict, int]]:
    """Round-robin over categories, so a run cut short (--limit, a kill) is still balanced."""
    queues: dict[str, list] = {}
    for item in work:
        queues.setdefault(item[0]["category"], []).append(item)
    out = []
    while queues:
        for cat in list(queues):
            out.append(queues[cat].pop(0))
            if not queues[cat]:
                del queues[cat]
    return out


MAX_REQUESTS_PER_SAMPLE = 5.0


def requests_for(missing: int, round_: int, overgenerate: float, acceptance: float | None = None) -> int:
    """Round 0 asks once per missing sample; later rounds ask more, since those slots proved hard:
    overgenerate**round per missing sample, or 1/acceptance so far when that is more (at most 5)."""
    if round_ == 0:
        return missing
    per = overgenerate ** round_
    if acceptance is not None and acceptance > 0:
        per = max(per, min(1.0 / acceptance, MAX_REQUESTS_PER_SAMPLE))
    elif acceptance == 0:
        per = max(per, MAX_REQUESTS_PER_SAMPLE)
    return math.ceil(missing * per)


def fill(ctx: RoundContext, teachers: Callable[[int], Engine], round_start: int, round_limit: int) -> bool:
    """Rounds `round_start`… up to `round_limit` over the slots whose quota is unmet; True when --limit or a budget
    cap stopped them (the round is then not finished, and the next invocation redoes it)."""
    store, recipe = ctx.store, ctx.recipe
    slots = store.slots()
    by_id = {s["slot_id"]: s for s in slots}
    missing = store.missing_per_slot()
    if not missing:
        store.close_open_round()  # killed after a round's last batch: the next loop step starts after it
        return False
    if ctx.allowance == 0:
        return True
    if store.rounds_done() >= round_limit:
        return False
    ctx.stopped = budget_reached(recipe.budget, usage(store, recipe.budget))
    if ctx.stopped:
        return True
    engines = {i: teachers(i) for i in sorted({by_id[sid].get("teacher", 0) for sid in missing})}
    for check in (ctx.label_check, ctx.judge):  # loaded now, so a model that cannot load fails before any generation
        if check is not None:
            check.engine
    target = sum(s["quota"] for s in slots)
    ctx.bar.start(recipe.name, target, target - sum(missing.values()), len(slots), len(slots) - len(missing))
    try:
        for round_ in range(max(store.rounds_done(), round_start), round_limit):
            outcome = fill_round(ctx, engines, by_id, round_, round_ - round_start)
            if outcome is not None:
                return outcome
    finally:
        ctx.bar.stop()
    return False


def fill_round(ctx: RoundContext, engines: dict[int, Engine], by_id: dict[str, dict], round_: int,
               step: int) -> bool | None:
    """One round over the unmet slots, each teacher's share in turn: None when it finished, True when --limit or a
    budget cap cut it short, False when nothing was left to do."""
    store, recipe = ctx.store, ctx.recipe
    missing = store.missing_per_slot()
    if not missing or ctx.allowance == 0:
        return False
    asked = store.calls_per_slot(round_)  # a resumed round must not repeat its seeds
    acceptance = store.acceptance() if recipe.budget.adaptive else None
    work = interleave([(by_id[sid], asked.get(sid, 0) + k) for sid, m in missing.items()
                       for k in range(requests_for(m, step, recipe.budget.overgenerate, acceptance))])
    if ctx.allowance is not None:
        work = work[:ctx.allowance]
    for i, engine in engines.items():
        mine = [w for w in work if w[0].get("teacher", 0) == i]
        if not mine or ctx.allowance == 0:
            continue
        accepted = run_round(ctx, engine, mine, round_, missing, ctx.allowance, len(by_id))
        if ctx.allowance is not None:
            ctx.allowance -= accepted
        if ctx.stopped:
            return True
    if ctx.allowance == 0 and store.missing_per_slot():
        return True
    store.put("rounds_done", round_ + 1)
    return None
