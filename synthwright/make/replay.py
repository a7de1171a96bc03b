"""Replay: a recipe changed only in what judges the model's output (filters, the judge's thresholds, the
output) is re-applied to the run's stored responses, in their original order, without generating again.

Every executor call's response is parsed again, passes the new filters with a fresh filter state (so the
duplicate checks see exactly what the new settings accept, in the order it was made), has its stored
verdict re-decided at the new thresholds (a sample that reaches the judge for the first time is judged
now: the only model calls a replay makes), and is accepted while its slot has room. Samples the quality
loop set aside stay set aside. Sample ids do not change, so provenance holds.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from synthwright.core.store import RunStore
from synthwright.engines.base import parse_into
from synthwright.evaluators.filters import Candidate, FilterState, apply_filters
from synthwright.evaluators.judge import Judge
from synthwright.evaluators.label_check import LabelCheck
from synthwright.make.teacher_check import teacher_found_weak
from synthwright.recipe.model import Recipe
from synthwright.tasks import Task

BATCH = 256  # candidates per filter pass; filters are batch-first


def replay(store: RunStore, recipe: Recipe, task: Task, reserved: list[dict[str, Any]], judge: Judge | None,
           on_progress: Callable[[int, int], None] | None = None, label_check: LabelCheck | None = None) -> dict[str, Any]:
    """Re-apply `recipe`'s post-generation settings to every stored response; returns what changed."""
    t0 = time.perf_counter()
    rows = store.stored_responses()
    slots = {s["slot_id"]: s for s in store.slots()}
    before = store.fate_counts()
    schema = task.schema(recipe)
    state = FilterState.for_run(recipe, task, reserved, set(), [], teacher_weak=teacher_found_weak(store))
    room = {sid: s["quota"] for sid, s in slots.items()}
    fates: list[dict[str, Any]] = []
    verdicts: list[tuple[int, Any]] = []
    judged_now = 0
    if on_progress is not None:
        on_progress(0, len(rows))  # opens the phase: its first line or bar before the first batch
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        cands: list[tuple[dict[str, Any], Candidate | None]] = []
        for row in chunk:
            slot = slots[row["slot_id"]]
            parsed, error = parse_into(schema, row["response"], row["finish_reason"] or "stop")
            if parsed is None:
                fates.append({"sample_id": row["sample_id"], "status": "rejected", "filter": "parse",
                              "reason": row["error"] or error, "data": {"raw": row["response"]}, "dedup_key": "",
                              "category": slot["category"]})
                continue
            record = task.record(parsed, slot)
            cands.append((row, Candidate(data=record, text=task.text_of(record), category=slot["category"],
                                         slot_id=slot["slot_id"], features={"contrast": slot.get("contrast")})))
        live = [c for _, c in cands]
        apply_filters(live, state, recipe.filters)
        if label_check is not None:  # greedy answers: the same samples get the same verdicts as when generated
            label_check.evaluate([c for c in live if c.alive])
        if judge is not None:
            fresh = []
            for row, c in cands:
                if c.alive and row["verdict"] is not None:
                    judge.redecide(c, row["verdict"])
                elif c.alive:
                    fresh.append(c)
            judge.evaluate(fresh)
            judged_now += len(fresh)
        for row, c in cands:
            if c.alive and row["filter"] == "quality_loop":
                c.reject("quality_loop", row["reason"] or "set aside by the quality loop")
            elif c.alive and room[c.slot_id] <= 0:
                c.reject("quota", "the slot's quota was already met")
            if c.alive:
                room[c.slot_id] -= 1
                state.accept(c)
            fates.append({"sample_id": row["sample_id"], "status": c.status, "filter": c.filter, "reason": c.reason,
                          "data": c.data, "dedup_key": c.key, "category": c.category})
            if c.features.get("verdict") is not None:
                verdicts.append((row["sample_id"], c.features["verdict"]))
        if on_progress is not None:
            on_progress(min(start + BATCH, len(rows)), len(rows))
    store.apply_replay(fates, verdicts)
    if state.notes:
        store.put("filter_notes", state.notes)
    return {"responses": len(rows), "judged_now": judged_now, "seconds": round(time.perf_counter() - t0, 2),
            "before": before, "after": store.fate_counts()}
