"""`run`: recipe → plan → executor → filters → (label check, judge) → dataset, resumable from the run store."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from synthwright.agents.executor import Executor
from synthwright.agents.planner import label_neighbours, make_plan
from synthwright.core.errors import ConfigError
from synthwright.core.progress import RunProgress
from synthwright.core.store import RunStore
from synthwright.engines import Engine, load_engine
from synthwright.evaluators import embed
from synthwright.evaluators.filters import FilterState
from synthwright.evaluators.judge import Judge, make_judge
from synthwright.evaluators.label_check import LabelCheck, describe_check, make_label_check
from synthwright.evaluators.label_noise import check_label_noise
from synthwright.make.instruction_run import run_instruction_method
from synthwright.make.output import write_outputs
from synthwright.make.quality_loop import run_quality_loop
from synthwright.make.replay import replay
from synthwright.make.rounds import BatchReport, RoundContext, fill
from synthwright.make.teacher import Teachers
from synthwright.make.teacher_check import teacher_found_weak
from synthwright.recipe.load import load_recipe
from synthwright.recipe.model import Recipe
from synthwright.recipe.seeds import read_dev_set, read_seeds
from synthwright.reports.report import build_report
from synthwright.rundir.writer import RunResult, open_store, out_dir_for
from synthwright.scale.ray_pool import RayConfig
from synthwright.tasks import task_for


def resolve_recipe(recipe: Recipe | str | Path | dict, teacher: str | None = None, **overrides: Any) -> Recipe:
    if isinstance(recipe, Recipe):
        data = {**recipe.model_dump(), "base_dir": recipe.base_dir}
        data.update({k: v for k, v in overrides.items() if v is not None})
        recipe = Recipe.model_validate(data)
    else:
        recipe = load_recipe(recipe, **overrides)
    if teacher is not None:
        recipe = recipe.model_copy(update={"teacher": recipe.teachers[0].model_copy(update={"model": teacher, "options": {},
                                                                                               "share": 1.0})})
    return recipe


def tabular_recipe(recipe: Any) -> tuple[Any, Path | None] | None:
    """(TabularRecipe, the folder its data path is relative to) when `recipe` is a `kind: tabular` recipe, else None."""
    from synthwright.modalities.recipe import (
        TabularRecipe,
        is_tabular_recipe,
        load_tabular_recipe,
        parse_tabular_recipe,
    )

    if isinstance(recipe, TabularRecipe):
        return recipe, None
    if isinstance(recipe, dict):
        return (parse_tabular_recipe(recipe), None) if recipe.get("kind") == "tabular" else None
    if isinstance(recipe, (str, Path)) and is_tabular_recipe(recipe):
        return load_tabular_recipe(recipe)
    return None


def run_tabular(tabular: Any, base_dir: Path | None, out: str | Path | None, progress: bool,
                **refused: Any) -> RunResult:
    """A `kind: tabular` recipe: fit its model on the table, sample rows, evaluate them (see modalities/recipe.py)."""
    given = [name for name, value in refused.items() if value not in (None, False, {})]
    if given:
        raise ConfigError(f"A tabular recipe fits a model on its table, so {', '.join(given)} does not apply; leave it out.")
    from datasets import Dataset, DatasetDict

    from synthwright.modalities.recipe import run_tabular_recipe

    out_dir = Path(out if out is not None else tabular.output)
    stats = run_tabular_recipe(tabular, out_dir, base_dir=base_dir, progress=progress)
    rows = Dataset.from_parquet(str(out_dir / "synthetic.parquet"))
    return RunResult(out_dir=out_dir, dataset=DatasetDict({"train": rows}), stats=stats, kind="tabular")


def plan_run(recipe: Recipe | str | Path | dict, *, teacher: str | None = None, out: str | Path | None = None,
             engine: Engine | None = None, restart: bool = False, progress: bool | RunProgress = False,
             **overrides: Any) -> tuple[dict[str, Any], list[dict]]:
    """Make (or load) the plan for a recipe and write plan.json, without generating samples."""
    recipe = resolve_recipe(recipe, teacher, **overrides)
    if recipe.stepwise_method is not None:
        raise ConfigError(f"method {recipe.method} has no plan to make: it grows instructions step by step from the"
                          " seed tasks; run it with `synthwright run`.")
    out_dir = out_dir_for(recipe, out)
    store = open_store(recipe, out_dir, restart)
    bar = progress if isinstance(progress, RunProgress) else RunProgress(enabled=progress)
    try:
        first = recipe.teachers[0]
        return ensure_plan(store, recipe, out_dir, lambda: engine or load_engine(first.model, **first.options),
                           read_seeds(recipe), bar)
    finally:
        bar.stop()
        store.close()


def ensure_plan(store: RunStore, recipe: Recipe, out_dir: Path, get_engine: Callable[[], Engine],
                seeds: list[dict], bar: RunProgress) -> tuple[dict, list[dict]]:
    """The stored plan, or a new one; planner calls are stored as they finish, so a killed plan resumes."""
    plan = store.get("plan")
    if plan is None:
        engine = get_engine()
        info = engine.describe()
        plan, slots = make_plan(recipe, engine, seeds=seeds, cache=store.responses("planner"),
                                record=lambda phase, reqs, gens: store.record_calls(phase, [r.model_dump() for r in reqs],
                                                                                     gens, info),
                                on_progress=bar.planning)
        bar.stop()
        store.save_plan(plan, slots)
        (out_dir / "plan.json").write_text(json.dumps({**plan, "slot_list": slots}, indent=2, ensure_ascii=False))
    return plan, store.slots()


def run(
    recipe: Recipe | str | Path | dict,
    *,
    teacher: str | None = None,
    out: str | Path | None = None,
    limit: int | None = None,
    restart: bool = False,
    engine: Engine | list[Engine] | None = None,
    judge_engine: Engine | None = None,
    progress: bool | RunProgress = False,
    on_batch: Callable[[BatchReport], None] | None = None,
    ray: RayConfig | dict[str, Any] | None = None,
    cache: str | Path | None = None,
    **overrides: Any,
) -> RunResult:
    """Generate the recipe's dataset into `out` (default runs/<name>), resuming a previous run there.

    `limit` caps the run's accepted samples in total, counting earlier invocations (the same call
    again adds nothing; a higher limit goes on); `engine` overrides the teacher spec with a ready
    engine (a list: one per teacher of a mixture), `judge_engine` the judge's; `ray` (a RayConfig or dict) runs the
    teacher on a pool of Ray actors while this process keeps the plan and the store; `overrides`
    replace top-level recipe fields; `cache` (or $SYNTHWRIGHT_CALL_CACHE) is a folder of earlier model calls that
    identical calls are answered from (engines/cache.py). After the first pass over the plan, the quality loop of a
    task kind that has one measures what was accepted and re-plans (recipe `quality`). After the dataset,
    the run directory gets report.md, plots and the report section of stats.json.

    A `kind: tabular` recipe fits its table model instead (GAN, VAE…) and returns its synthetic rows as the
    train split.
    """
    tabular = tabular_recipe(recipe)
    if tabular is not None:
        return run_tabular(*tabular, out, bool(progress), teacher=teacher, limit=limit, restart=restart, engine=engine,
                           judge_engine=judge_engine, on_batch=on_batch, ray=ray, cache=cache, **overrides)
    recipe = resolve_recipe(recipe, teacher, **overrides)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}.")
    if recipe.stepwise_method is not None:
        if ray is not None or cache is not None:
            raise ConfigError(f"method {recipe.method} runs in this process without a call cache; leave out"
                              f" {'--ray' if ray is not None else '--cache'}.")
        return run_instruction_method(recipe, out=out, limit=limit, restart=restart, engine=engine,
                                      judge_engine=judge_engine, progress=progress)
    ray = RayConfig.from_user(ray) if ray is not None else None
    out_dir = out_dir_for(recipe, out)
    seeds, dev = read_seeds(recipe), read_dev_set(recipe)
    with ExitStack() as stack:
        store = open_store(recipe, out_dir, restart)
        stack.callback(store.close)
        bar = progress if isinstance(progress, RunProgress) else RunProgress(enabled=progress)
        teachers = stack.enter_context(Teachers(recipe, engine, ray=ray, cache=cache, on_phase=bar.phase))
        stack.enter_context(embed.kept_in(store))  # a resumed run or a replay does not embed the same texts again
        stack.callback(bar.stop)
        if store.get("plan") is None:
            bar.phase("planning: scenarios and personas …")
        plan, _ = ensure_plan(store, recipe, out_dir, teachers, seeds, bar)
        judge = make_judge(recipe, teachers, teacher_spec=teachers.given_spec, engine=judge_engine,
                           load=teachers.load_judge)
        if judge is not None:
            stack.callback(judge.close)
        label_check = label_check_for(recipe, teachers, seeds)
        if label_check is not None:
            stack.callback(label_check.close)
        replayed = replay_if_pending(store, recipe, judge, bar, reserved_rows(seeds, dev), label_check)
        ctx = round_context(store, recipe, plan, seeds, dev, judge, bar, on_batch, limit, label_check)
        stopped_by_limit = fill(ctx, teachers, 0, recipe.budget.max_rounds)
        if ctx.task.has_quality_loop and recipe.quality.enabled and not stopped_by_limit:
            stopped_by_limit = run_quality_loop(ctx, teachers, dev, plan)
        dataset, stats = finish(ctx, out_dir, plan)
        stats.update(stopped_by_limit=stopped_by_limit and not ctx.stopped, replay=replayed,
                     label_check=describe_check(label_check),
                     stopped_by_budget=ctx.stopped, cache=teachers.cache_stats())
    bar.phase("writing the report …")
    build_report(out_dir, stats=stats)
    return RunResult(out_dir=out_dir, dataset=dataset, stats=stats)


def round_context(store: RunStore, recipe: Recipe, plan: dict[str, Any], seeds: list[dict], dev: list[dict],
                  judge: Judge | None, bar: RunProgress, on_batch: Callable[[BatchReport], None] | None,
                  limit: int | None, label_check: LabelCheck | None = None) -> RoundContext:
    """What every round shares, with the samples accepted before (a resumed run) in the executor and filters."""
    task = task_for(recipe.task)
    executor = Executor(recipe, task, seeds, neighbours={c["name"]: c.get("neighbours", []) for c in plan["categories"]})
    accepted_before = store.samples("accepted")
    state = FilterState.for_run(recipe, task, reserved_rows(seeds, dev), store.accepted_keys(),
                                [task.text_of(s["data"]) for s in accepted_before], teacher_weak=teacher_found_weak(store))
    # --limit counts the run's accepted samples, not this invocation's, so the same command converges
    allowance = None if limit is None else max(0, limit - len(accepted_before))
    return RoundContext(recipe=recipe, task=task, schema=task.schema(recipe), executor=executor, store=store,
                        state=state, judge=judge, bar=bar, on_batch=on_batch, allowance=allowance,
                        label_check=label_check)


def label_check_for(recipe: Recipe, teachers: Teachers, seeds: list[dict]) -> LabelCheck | None:
    """The run's label check (None when the recipe leaves it off); its choices are each label's nearest labels."""
    if not recipe.label_check.enabled:
        return None
    task = task_for(recipe.task)
    if not task.labelled:
        raise ConfigError(f"label_check applies to classification recipes, not to {task.kind}; remove the"
                          " label_check section or set label_check.enabled: false.")
    if len(recipe.categories) < 2:
        raise ConfigError("label_check needs at least two labels to choose among; set label_check.enabled: false.")
    neighbours = label_neighbours(recipe, seeds, recipe.label_check.neighbours)
    return make_label_check(recipe, teachers, neighbours, category_field=task.category_field,
                            teacher_spec=teachers.given_spec, load=teachers.load_judge)


def reserved_rows(seeds: list[dict], dev: list[dict]) -> list[dict]:
    """The rows the copy filters keep generated text away from: the seeds, and the dev set's texts (never examples)."""
    return seeds + [{**r, "reserved": True} for r in dev]


def replay_if_pending(store: RunStore, recipe: Recipe, judge: Judge | None, bar: RunProgress,
                      reserved: list[dict], label_check: LabelCheck | None = None) -> dict[str, Any] | None:
    """Re-apply a recipe changed only after generation to the stored responses (no generation)."""
    if not store.get("replay_pending"):
        return None
    bar.phase("the recipe changed only after generation: re-applying it to the stored responses (no generation) …")
    replayed = replay(store, recipe, task_for(recipe.task), reserved, judge, on_progress=bar.replaying,
                      label_check=label_check)
    store.put("replay_pending", False)
    return replayed


def finish(ctx: RoundContext, out_dir: Path, plan: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The last checks of the accepted set, then the dataset and the run's stats."""
    store, recipe = ctx.store, ctx.recipe
    if ctx.state.notes:
        store.put("filter_notes", ctx.state.notes)
    if ctx.task.labelled and recipe.filters.label_noise.mode != "off":
        ctx.bar.phase("checking labels with a cross-validated classifier …")
        check_label_noise(store, recipe)
    ctx.bar.phase("writing the dataset …")
    dataset, stats = write_outputs(store, recipe, out_dir)
    stats["planner_notes"] = plan.get("notes", [])
    stats["teacher_check"] = store.get("teacher_check")
    stats["scenarios_from_model"], stats["scenarios_asked"] = plan.get("scenarios_from_model"), plan.get("scenarios_asked")
    return dataset, stats
