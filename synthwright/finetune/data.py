"""The supervised set of a teacher run: each accepted sample's exact executor prompt → the JSON the teacher wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..output import stratified_splits
from ..store import RunStore


@dataclass
class Example:
    """One training pair. `messages` is the call's chat request; `target` the raw response text (schema JSON)."""

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


def open_run(run_dir: str | Path) -> RunStore:
    """The store of a finished run, or a ConfigError naming the folder (never creates a store)."""
    path = Path(run_dir)
    if not (path / "run.sqlite").is_file():
        what = "does not exist" if not path.exists() else "holds no run (no run.sqlite)"
        raise ConfigError(f"Run directory '{run_dir}' {what}; pass the --out folder of a `synthwright run`.")
    return RunStore(path / "run.sqlite")


def read_teacher_run(run_dir: str | Path) -> TeacherRun:
    """Every accepted sample with the request that produced it, in acceptance order."""
    store = open_run(run_dir)
    try:
        recipe = store.get("recipe") or {}
        rows = store.db.execute(
            "SELECT s.sample_id, s.slot_id, s.category, c.request, c.response, c.engine FROM samples s"
            " JOIN calls c USING (call_id) WHERE s.status = 'accepted' ORDER BY s.sample_id").fetchall()
    finally:
        store.close()
    examples, teachers = [], []
    for sample_id, slot_id, category, request, response, engine in rows:
        examples.append(Example(sample_id=sample_id, slot_id=slot_id, category=category,
                                messages=json.loads(request)["messages"], target=response.strip()))
        spec = json.loads(engine).get("spec", "")
        if spec not in teachers:
            teachers.append(spec)
    if not examples:
        raise ConfigError(f"Run '{run_dir}' has no accepted samples to learn from; run `synthwright run` on it until"
                          " it accepts some (at least 2: one to train on, one to validate).")
    if len(examples) < 2:
        raise ConfigError(f"Run '{run_dir}' has only 1 accepted sample; distilling needs at least 2 (one to train on,"
                          " one to validate), so generate more with `synthwright run`.")
    return TeacherRun(path=Path(run_dir).resolve(), recipe=recipe, examples=examples, teachers=teachers)


def split(examples: list[Example], val_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out `val_fraction` of each category (largest remainder); at least one example on each side."""
    rows = [{"sample_id": e.sample_id, "category": e.category, "example": e} for e in examples]
    parts = stratified_splits(rows, "category", {"train": 1.0 - val_fraction, "validation": val_fraction}, seed)
    train = [r["example"] for r in parts["train"]]
    val = [r["example"] for r in parts["validation"]]
    if not val:  # every category too small for a share of its own
        val, train = train[-1:], train[:-1]
    if not train:
        train, val = val[:1], val[1:]
    return train, val
