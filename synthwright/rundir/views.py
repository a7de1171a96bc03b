"""Views over a run store that the writer and every reader share: the dataset's rows and splits, the loop's summary."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from synthwright.core.store import RunStore
from synthwright.recipe.model import Recipe
from synthwright.tasks import task_for

PROVENANCE = ("sample_id", "slot_id", "scenario", "persona", "style", "length", "teacher", "seed", "round")


def dataset_rows(store: RunStore) -> list[dict[str, Any]]:
    """Accepted samples with their provenance, in acceptance order."""
    slots = {s["slot_id"]: s for s in store.slots()}
    rows = []
    for s in store.samples("accepted"):
        slot = slots[s["slot_id"]]
        rows.append({**s["data"], "sample_id": s["sample_id"], "slot_id": s["slot_id"], "scenario": slot["scenario"],
                     "persona": slot["persona"], "style": slot["style"], "length": slot["length"],
                     "teacher": s["engine"].get("spec", ""), "seed": s["seed"], "round": s["round"]})
    return rows


def stratified_splits(rows: list[dict[str, Any]], key: str, fractions: dict[str, float], seed: int) -> dict[str, list]:
    """Split each category by the fractions (largest remainder), so every split keeps the label balance.

    What a category cannot split (2 rows into 80/10/10) is carried to the next: the remainders add up over the
    categories, so a run with a few rows per label still gets every split its share of the whole."""
    by_cat: dict[str, list] = defaultdict(list)
    for row in rows:
        by_cat[row[key]].append(row)
    splits: dict[str, list] = {name: [] for name in fractions}
    rng = random.Random(seed)
    owed = {name: 0.0 for name in fractions}  # each split's exact share so far, minus the rows it was given
    for cat in sorted(by_cat):
        items = by_cat[cat]
        rng.shuffle(items)
        exact = {name: f * len(items) + owed[name] for name, f in fractions.items()}
        counts = {name: max(0, int(v)) for name, v in exact.items()}
        while sum(counts.values()) > len(items):  # carried shares can ask for more rows than the category has
            counts[min(counts, key=lambda n: (exact[n] - counts[n], n))] -= 1
        for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[: len(items) - sum(counts.values())]:
            counts[name] += 1
        owed = {name: exact[name] - counts[name] for name in fractions}
        start = 0
        for name in fractions:
            splits[name] += items[start:start + counts[name]]
            start += counts[name]
    for name in splits:
        splits[name].sort(key=lambda r: r["sample_id"])
    return splits


def dataset_splits(store: RunStore, recipe: Recipe) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """The dataset's rows and its splits, exactly as `write_outputs` writes them (the report and eval read these)."""
    rows = dataset_rows(store)
    return rows, stratified_splits([dict(r) for r in rows], category_key(recipe), recipe.output.splits, recipe.seed)


def category_key(recipe: Recipe) -> str:
    return task_for(recipe.task).category_field


def loop_summary(store: RunStore) -> dict[str, Any] | None:
    """What stats.json and the report show of the loop: the score per step and each decision."""
    steps = store.loop_steps()
    if not steps:
        return None
    rows = []
    for s in steps:
        sig, d = s.signal, s.decision
        source = sig.get("dev") or sig.get("cv") or {}
        rows.append({"step": s.step, "score": sig.get("score"), "source": sig.get("source"), "samples": sig.get("samples"),
                     "cv_macro_f1": (sig.get("cv") or {}).get("macro_f1"),
                     "dev_macro_f1": (sig.get("dev") or {}).get("macro_f1"),
                     "realism_auc": (sig.get("realism") or {}).get("auc"),
                     "f1_per_label": source.get("f1_per_label", {}),
                     "action": d.action, "stop_reason": d.stop_reason, "replaced": d.replaced, "extra": d.extra,
                     "contrast_pairs": d.contrast_pairs, "hints": d.hints, "slot_kinds": d.slot_kinds})
    last = steps[-1].decision
    final = last.score_after if last.action == "rollback" else rows[-1]["score"]
    return {"steps": rows, "final_score": final, "first_score": rows[0]["score"]}
