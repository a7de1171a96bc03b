"""The supervised set of a teacher run: each accepted sample's exact executor prompt → that sample as schema JSON.

The target is built from the stored sample (after every filter, PII redaction included), not from the raw
response of the call: the student learns what the dataset holds, never what the filters removed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.rundir.reader import open_run


@dataclass
class Example:
    """One training pair. `messages` is the call's chat request; `target` the accepted sample as schema JSON."""

    sample_id: int
    slot_id: str
    category: str
    messages: list[dict[str, str]]
    target: str


@dataclass
class TeacherRun:
    """What the student learns from, and what its model card says about it."""

    path: Path
    recipe: dict[str, Any]
    examples: list[Example]
    teachers: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.recipe.get("name", self.path.name)

    @property
    def task(self) -> str:
        return self.recipe.get("task", "classification")


def read_teacher_run(run_dir: str | Path) -> TeacherRun:
    """Every accepted sample with the request that produced it, in acceptance order."""
    run = open_run(run_dir)
    with run.store() as store:
        accepted = store.accepted_with_requests()
    examples, teachers = [], []
    for row in accepted:
        examples.append(Example(sample_id=row["sample_id"], slot_id=row["slot_id"], category=row["category"],
                                messages=row["request"]["messages"], target=schema_json(run.task, row["data"])))
        if row["engine"] not in teachers:
            teachers.append(row["engine"])
    if not examples:
        raise ConfigError(f"Run '{run_dir}' has no accepted samples to learn from; run `synthwright run` on it until"
                          " it accepts some (at least 2: one to train on, one to validate).")
    if len(examples) < 2:
        raise ConfigError(f"Run '{run_dir}' has only 1 accepted sample; distilling needs at least 2 (one to train on,"
                          " one to validate), so generate more with `synthwright run`.")
    return TeacherRun(path=Path(run_dir).resolve(), recipe=run.stored_recipe, examples=examples, teachers=teachers)


def schema_json(task: Any, record: dict[str, Any]) -> str:
    """A stored sample as the JSON text constrained decoding writes for its schema (compact, ", " and ": ")."""
    return json.dumps(task.generated(record), ensure_ascii=False)


def split(examples: list[Example], val_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out round(val_fraction x total) examples (at least one), spread over categories in proportion.

    Each category gives its whole share first; the rest go to the categories with the largest remainders,
    so a run with 2-3 samples in each of many categories still gets a validation set of the asked size.
    A category keeps at least one training example while others can give.
    """
    by_cat: dict[str, list[Example]] = {}
    for e in examples:
        by_cat.setdefault(e.category, []).append(e)
    rng = random.Random(seed)
    for cat in sorted(by_cat):
        rng.shuffle(by_cat[cat])
    want = min(len(examples) - 1, max(1, round(val_fraction * len(examples))))
    exact = {c: val_fraction * len(items) for c, items in by_cat.items()}
    take = {c: min(int(exact[c]), len(by_cat[c]) - 1) for c in by_cat}
    order = sorted(by_cat, key=lambda c: (exact[c] - take[c], len(by_cat[c]), c), reverse=True)
    for keep_one in (True, False):  # first never empty a category's training share, then only if unavoidable
        for c in order * len(examples):
            if sum(take.values()) >= want:
                break
            if take[c] < len(by_cat[c]) - (1 if keep_one else 0):
                take[c] += 1
    val = [e for c in by_cat for e in by_cat[c][:take[c]]]
    train = [e for c in by_cat for e in by_cat[c][take[c]:]]
    return sorted(train, key=lambda e: e.sample_id), sorted(val, key=lambda e: e.sample_id)
