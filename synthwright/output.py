"""Build the dataset from the run store: stratified splits, provenance columns, HF/Parquet/JSONL."""

from __future__ import annotations

import random
import shutil
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .recipe import Recipe
from .tasks import task_for
from .store import RunStore

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
    """Split each category by the fractions (largest remainder), so every split keeps the label balance."""
    by_cat: dict[str, list] = defaultdict(list)
    for row in rows:
        by_cat[row[key]].append(row)
    splits: dict[str, list] = {name: [] for name in fractions}
    rng = random.Random(seed)
    for cat in sorted(by_cat):
        items = by_cat[cat]
        rng.shuffle(items)
        exact = {name: f * len(items) for name, f in fractions.items()}
        counts = {name: int(v) for name, v in exact.items()}
        for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[: len(items) - sum(counts.values())]:
            counts[name] += 1
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


@contextmanager
def no_datasets_bars():
    """datasets' tqdm bars off for a moment (a run shows its own progress), as they were afterwards."""
    import datasets

    was_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            datasets.enable_progress_bars()


def write_outputs(store: RunStore, recipe: Recipe, out_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Write the dataset in the recipe's formats; returns (DatasetDict or None, the run's stats).

    stats.json is written once, with the report (`evaluators.report.build_report(out_dir, stats=stats)`)."""
    with no_datasets_bars():
        return _write_outputs(store, recipe, out_dir)


def _write_outputs(store: RunStore, recipe: Recipe, out_dir: Path) -> tuple[Any, dict[str, Any]]:
    from datasets import Dataset, DatasetDict

    rows, splits = dataset_splits(store, recipe)
    key = category_key(recipe)
    dataset = None
    if rows:
        features = Dataset.from_list(rows).features
        dataset = DatasetDict({
            name: Dataset.from_list(part, features=features) if part
            else Dataset.from_dict({k: [] for k in features}, features=features)
            for name, part in splits.items()
        })
        if "hf" in recipe.output.formats:
            staging = out_dir / ".dataset-partial"
            shutil.rmtree(staging, ignore_errors=True)
            # One (empty) shard for an empty split: by default datasets writes none and cannot load the folder back.
            dataset.save_to_disk(str(staging), num_shards={n: 1 for n, ds in dataset.items() if len(ds) == 0})
            shutil.rmtree(out_dir / "dataset", ignore_errors=True)
            staging.rename(out_dir / "dataset")  # the previous dataset stays until the new one is complete
        data_dir = out_dir / "data"
        data_dir.mkdir(exist_ok=True)
        for name, ds in dataset.items():
            if "parquet" in recipe.output.formats:
                ds.to_parquet(str(data_dir / f"{name}.parquet"))
            if "jsonl" in recipe.output.formats:
                ds.to_json(str(data_dir / f"{name}.jsonl"), lines=True, force_ascii=False)
    return dataset, run_stats(store, recipe, rows, splits, key)


def run_stats(store: RunStore, recipe: Recipe, rows: list, splits: dict[str, list], key: str) -> dict[str, Any]:
    slots = store.slots()
    target: Counter = Counter()
    for s in slots:
        target[s["category"]] += s["quota"]
    accepted = Counter(r[key] for r in rows)
    from .quality_loop import loop_summary
    from .usage import usage

    calls = store.call_stats()
    executor_tokens = calls["phases"].get("executor", {}).get("completion_tokens", 0)
    seconds = store.get("generation_seconds", 0.0)
    return {
        "recipe": recipe.name, "task": recipe.task, "target": sum(target.values()), "accepted": len(rows),
        "shortfall": sum(target.values()) - len(rows),
        "per_category": {c: {"target": target[c], "accepted": accepted.get(c, 0)} for c in target},
        "splits": {name: len(part) for name, part in splits.items()},
        "funnel": store.fate_counts(), **calls, "generation_seconds": round(seconds, 2),
        "completion_tokens_per_second": round(executor_tokens / seconds, 1) if seconds else None,
        "rounds": store.rounds_done(), "quality": loop_summary(store), "usage": usage(store, recipe.budget),
    }
