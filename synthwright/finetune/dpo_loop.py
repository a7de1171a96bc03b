"""`distill --method dpo`: the self-rewarding loop. Each round the student runs the teacher run's recipe on the
teacher's plan, the run's filters and judge decide, the run's preference pairs train it (one DPO round), and the
refined student runs the next round.

The round runs and their pairs are kept in OUT.rounds/round-K/ (run/, pairs/, and for every round but the last
the student it made); the last round's student is OUT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.finetune.config import DistillConfig
from synthwright.finetune.distiller import check_out_dir
from synthwright.finetune.dpo import DPOResult, train_dpo
from synthwright.finetune.preferences import NOT_WORSE, preferences
from synthwright.recipe.model import Recipe
from synthwright.rundir.reader import RunDir, open_run


@dataclass
class LoopResult:
    out_dir: Path
    rounds: list[dict[str, Any]] = field(default_factory=list)
    result: DPOResult | None = None


def refine_with_dpo(run_dir: str | Path, student: str, out: str | Path, config: DistillConfig | None = None, *,
                    rounds: int = 1, pairs: str | Path | None = None, include_parse: bool = False,
                    overwrite: bool = False, progress: bool = False,
                    recipe_changes: dict[str, Any] | None = None) -> LoopResult:
    """`rounds` DPO rounds of `student` on the recipe and plan of the run in `run_dir`; with `pairs`, the first
    round trains on that preference set instead of a fresh run (it must come from this student's base).
    `recipe_changes` replace top-level fields of the recipe in the student's runs (e.g. the quality loop off)."""
    import synthwright

    if rounds < 1:
        raise ConfigError(f"--rounds must be at least 1, got {rounds}.")
    teacher = open_run(run_dir)
    out_dir = Path(out)
    check_out_dir(out_dir, overwrite)  # before the rounds' work, not after it
    work = out_dir.parent / f"{out_dir.name}.rounds"
    current = student
    done = LoopResult(out_dir=out_dir)
    for k in range(1, rounds + 1):
        here = work / f"round-{k}"
        info: dict[str, Any] = {}
        if k == 1 and pairs is not None:
            pair_dir = Path(pairs)
        else:
            recipe = student_recipe(teacher, current, recipe_changes)
            seed_plan(teacher.path, here / "run", recipe)
            synthwright.run(recipe, out=here / "run", progress=progress)
            info["run_acceptance"] = acceptance(here / "run")
            pair_dir = here / "pairs"
            preferences(here / "run", pair_dir, include_parse=include_parse, overwrite=True)
        target = out_dir if k == rounds else here / "student"
        result = train_dpo(current, pair_dir, target, config, overwrite=overwrite or target != out_dir,
                           progress=progress, round_info=info)
        done.rounds.append(result.manifest["rounds"][-1])
        done.result = result
        current = str(target)
    return done


def student_recipe(teacher: RunDir, spec: str, changes: dict[str, Any] | None = None) -> Recipe:
    """The teacher run's recipe with `spec` writing the samples; a judge that reused the teacher keeps the teacher,
    so the student never grades itself."""
    recipe = teacher.recipe
    if changes:
        recipe = Recipe.model_validate({**recipe.model_dump(), **changes})
    first = recipe.teachers[0]
    update: dict[str, Any] = {"teacher": first.model_copy(update={"model": spec, "share": 1.0})}
    if recipe.judge.enabled and recipe.judge.model is None:
        update["judge"] = recipe.judge.model_copy(update={"model": first.model})
    return recipe.model_copy(update=update)


def seed_plan(teacher_run: Path, student_run: Path, recipe: Recipe) -> None:
    """Give a new student run the teacher's plan (slots, scenarios, personas), so both fill the same slots."""
    from synthwright.core.store import RunStore
    from synthwright.rundir.writer import open_store

    if (student_run / "run.sqlite").exists():
        return
    source = RunStore(teacher_run / "run.sqlite")
    try:
        plan, slots = source.get("plan"), source.slots()
    finally:
        source.close()
    student_run.mkdir(parents=True, exist_ok=True)
    store = open_store(recipe, student_run, restart=False)
    try:
        store.save_plan(plan, slots)
    finally:
        store.close()
    (student_run / "plan.json").write_text(json.dumps({**plan, "slot_list": slots}, indent=2, ensure_ascii=False))


def acceptance(run_dir: str | Path) -> dict[str, Any]:
    """Executor calls, the fate of every sample of a run, and two counts over the calls: `accepted` (in the dataset)
    and `passed` (every evaluator let it through: accepted, or set aside for a reason that says nothing of its
    quality, such as a full slot). `pass_rate` is what a student trained on the evaluators' verdicts learns to raise."""
    with open_run(run_dir).store() as store:
        fates = store.fate_counts()
        calls = len(store.executor_calls())
    accepted = fates.get("accepted", 0)
    passed = accepted + sum(fates.get(fate, 0) for fate in NOT_WORSE)
    return {"calls": calls, "accepted": accepted, "rate": accepted / calls if calls else None,
            "passed": passed, "pass_rate": passed / calls if calls else None, "fates": fates}
