"""Build the dataset from the run store: stratified splits, provenance columns, HF/Parquet/JSONL."""

from __future__ import annotations

import shutil
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthwright.core.store import RunStore
from synthwright.recipe.model import Recipe
from synthwright.rundir.usage import usage
from synthwright.rundir.views import category_key, dataset_splits, loop_summary


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

    stats.json is written once, with the report (`reports.report.build_report(out_dir, stats=stats)`)."""
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
