"""`run`: recipe → plan → executor → filters → (judge) → dataset, resumable from the run store."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .agents.executor import Executor
from .rounds import BatchReport, RoundContext, run_round
from .agents.planner import make_plan
from .engines import Engine, load_engine
from .engines.cache import CachedEngine
from .errors import ConfigError
from .evaluators import embed
from .evaluators.filters import FilterState
from .evaluators.judge import Judge, make_judge
from .evaluators.label_noise import check_label_noise
from .output import write_outputs
from .progress import RunProgress
from .recipe import Recipe, load_recipe
from .quality_loop import next_step
from .replay import replay
from .rundir_lock import hold_writer
from .seeds import read_dev_set, read_seeds
from .store import CallCache, RunStore
from .usage import budget_reached, usage
from .tasks import task_for


@dataclass
class RunResult:
    out_dir: Path
    dataset: Any
    stats: dict[str, Any]
    kind: str = "text"  # or "tabular": rows sampled from a table model


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
    from .modalities.recipe import TabularRecipe, is_tabular_recipe, load_tabular_recipe, parse_tabular_recipe

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

    from .modalities.recipe import run_tabular_recipe

    out_dir = Path(out if out is not None else tabular.output)
    stats = run_tabular_recipe(tabular, out_dir, base_dir=base_dir, progress=progress)
    rows = Dataset.from_parquet(str(out_dir / "synthetic.parquet"))
    return RunResult(out_dir=out_dir, dataset=DatasetDict({"train": rows}), stats=stats, kind="tabular")


def out_dir_for(recipe: Recipe, out: str | Path | None) -> Path:
    return Path(out or recipe.output.dir or Path("runs") / recipe.name)


def open_store(recipe: Recipe, out_dir: Path, restart: bool) -> RunStore:
    """Open the run's store as the directory's one writer (until the store is closed); RunDirBusy if another is."""
    writer = hold_writer(out_dir)
    try:
        store = _open_store(recipe, out_dir, restart)
    except BaseException:
        writer.release()
        raise
    store.hold(writer)
    return store


def _open_store(recipe: Recipe, out_dir: Path, restart: bool) -> RunStore:
    """Open the run's store; refuse a changed recipe unless `restart`, which sets the old run aside.

    A recipe changed only in what judges the model's output (filters, the judge's thresholds, output) is
    taken as it is, and the store is marked for a replay of its stored responses (see replay.py)."""
    path = out_dir / "run.sqlite"
    if path.exists():
        store = RunStore(path)
        previous = store.get("fingerprint")
        if previous == recipe.fingerprint() and not restart:
            return store
        if not restart and store.get("generation_fingerprint") == recipe.generation_fingerprint():
            with store.transaction():
                store.put("fingerprint", recipe.fingerprint())
                store.put("recipe", recipe.frozen())
                store.put("replay_pending", True)
            _write_recipe(recipe, out_dir)
            return store
        store.close()
        if not restart:
            raise ConfigError(
                f"The recipe changed since the run in '{out_dir}' started in what it asks the model, so it cannot"
                " resume; pass --restart to start over (the old run is kept) or choose another --out. (Changes to"
                " filters, the judge's thresholds and output only are re-applied to the stored responses.)"
            )
        keep = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
        keep.mkdir(parents=True)
        for name in ("run.sqlite", "run.sqlite-wal", "run.sqlite-shm", "plan.json", "recipe.yaml", "stats.json",
                     "dataset", "data"):
            if (out_dir / name).exists():
                shutil.move(str(out_dir / name), str(keep / name))
    store = RunStore(path)
    with store.transaction():
        store.put("fingerprint", recipe.fingerprint())
        store.put("generation_fingerprint", recipe.generation_fingerprint())
        store.put("recipe", recipe.frozen())
    _write_recipe(recipe, out_dir)
    return store


def _write_recipe(recipe: Recipe, out_dir: Path) -> None:
    (out_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe.frozen(), sort_keys=False, allow_unicode=True))


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


def plan_run(recipe: Recipe | str | Path | dict, *, teacher: str | None = None, out: str | Path | None = None,
             engine: Engine | None = None, restart: bool = False, progress: bool | RunProgress = False,
             **overrides: Any) -> tuple[dict[str, Any], list[dict]]:
    """Make (or load) the plan for a recipe and write plan.json, without generating samples."""
    recipe = resolve_recipe(recipe, teacher, **overrides)
    if recipe.task == "instruction" and recipe.method != "topics":
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
    ray: Any = None,
    cache: str | Path | None = None,
    **overrides: Any,
) -> RunResult:
    """Generate the recipe's dataset into `out` (default runs/<name>), resuming a previous run there.

    `limit` caps the run's accepted samples in total, counting earlier invocations (the same call
    again adds nothing; a higher limit goes on); `engine` overrides the teacher spec with a ready
    engine (a list: one per teacher of a mixture), `judge_engine` the judge's; `ray` (a RayConfig or dict) runs the
    teacher on a pool of Ray actors while this process keeps the plan and the store; `overrides`
    replace top-level recipe fields; `cache` (or $SYNTHWRIGHT_CALL_CACHE) is a folder of earlier model calls that
    identical calls are answered from (engines/cache.py). After the first pass over the plan, a classification run's
    quality loop measures what was accepted and re-plans (recipe `quality`). After the dataset,
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
    if recipe.task == "instruction" and recipe.method != "topics":  # self_instruct, evol_instruct, magpie
        if ray is not None or cache is not None:
            raise ConfigError(f"method {recipe.method} runs in this process without a call cache; leave out"
                              f" {'--ray' if ray is not None else '--cache'}.")
        from .agents.instruction_run import run_instruction_method

        return run_instruction_method(recipe, out=out, limit=limit, restart=restart, engine=engine,
                                      judge_engine=judge_engine, progress=progress)
    if ray is not None:
        from .scale.ray_pool import RayConfig

        ray = RayConfig.from_user(ray)
    out_dir = out_dir_for(recipe, out)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = task_for(recipe.task)
    seeds = read_seeds(recipe)
    dev = read_dev_set(recipe)
    store = open_store(recipe, out_dir, restart)
    bar = progress if isinstance(progress, RunProgress) else RunProgress(enabled=progress)
    teachers = recipe.teachers
    given = engine if isinstance(engine, list) else [engine] * len(teachers) if engine is not None else None
    if given is not None and len(given) != len(teachers):
        raise ConfigError(f"run() got {len(given)} engines for a mixture of {len(teachers)} teachers; pass one per teacher.")
    loaded: dict[int, Engine] = {}
    judge: Judge | None = None
    cache = cache or os.environ.get("SYNTHWRIGHT_CALL_CACHE") or None
    call_cache = CallCache(cache) if cache else None

    def get_engine(i: int = 0) -> Engine:
        if i not in loaded:
            t = teachers[i]
            if given is not None and given[i] is not None:
                loaded[i] = given[i]
            else:
                bar.phase(f"loading teacher {t.model} …")
                loaded[i] = load_engine(t.model, ray=ray, **t.options)
            if call_cache is not None:
                loaded[i] = CachedEngine(loaded[i], call_cache)
        return loaded[i]

    keep_vectors = embed.kept_in(store)  # a resumed run or a replay does not embed the same texts again
    keep_vectors.__enter__()
    try:
        if store.get("plan") is None:
            bar.phase("planning: scenarios and personas …")
        plan, _ = ensure_plan(store, recipe, out_dir, get_engine, seeds, bar)
        judge = make_judge(recipe, get_engine, teacher_spec=given[0].spec if given is not None else None,
                           engine=judge_engine, ray=ray)
        reserved = seeds + [{**r, "reserved": True} for r in dev]  # dev texts join the copy filters' seeds only
        replayed = None
        if store.get("replay_pending"):
            bar.phase("the recipe changed only after generation: re-applying it to the stored responses (no generation) …")
            replayed = replay(store, recipe, task, reserved, judge, on_progress=bar.replaying)
            store.put("replay_pending", False)
        executor = Executor(recipe, task, seeds, neighbours={c["name"]: c.get("neighbours", []) for c in plan["categories"]})
        accepted_before = store.samples("accepted")
        state = FilterState.for_run(recipe, task, reserved, store.accepted_keys(),
                                    [task.text_of(s["data"]) for s in accepted_before])
        for s in accepted_before:
            executor.add_accepted(s["data"], s["slot_id"], s["category"])
        ctx = RoundContext(recipe=recipe, task=task, schema=task.schema(recipe), executor=executor, store=store,
                           state=state, judge=judge, bar=bar, on_batch=on_batch)
        # --limit counts the run's accepted samples, not this invocation's, so the same command converges
        allowance = [None if limit is None else max(0, limit - len(accepted_before))]  # None is unlimited

        def fill(round_start: int, round_limit: int) -> bool:
            """Rounds over the slots whose quota is unmet; True when --limit stopped them."""
            slots = store.slots()
            by_id = {s["slot_id"]: s for s in slots}
            missing_now = store.missing_per_slot()
            if not missing_now:
                return False
            if allowance[0] == 0:
                return True
            if store.rounds_done() >= round_limit:
                return False
            ctx.stopped = budget_reached(recipe.budget, usage(store, recipe.budget))
            if ctx.stopped:
                return True
            engines = {i: get_engine(i) for i in sorted({by_id[sid].get("teacher", 0) for sid in missing_now})}
            if judge is not None:
                judge.engine  # loaded now, so a judge that cannot load fails before any generation
            target = sum(s["quota"] for s in slots)
            bar.start(recipe.name, target, target - sum(missing_now.values()), len(slots), len(slots) - len(missing_now))
            try:
                for round_ in range(max(store.rounds_done(), round_start), round_limit):
                    missing = store.missing_per_slot()
                    if not missing or allowance[0] == 0:
                        break
                    asked = store.calls_per_slot(round_)  # a resumed round must not repeat its seeds
                    acceptance = store.acceptance() if recipe.budget.adaptive else None
                    work = interleave([(by_id[sid], asked.get(sid, 0) + k) for sid, m in missing.items()
                                       for k in range(requests_for(m, round_ - round_start, recipe.budget.overgenerate,
                                                                   acceptance))])
                    if allowance[0] is not None:
                        work = work[:allowance[0]]
                    for i, eng in engines.items():  # a mixture: each teacher's share of the round in turn
                        mine = [w for w in work if w[0].get("teacher", 0) == i]
                        if not mine or allowance[0] == 0:
                            continue
                        accepted = run_round(ctx, eng, mine, round_, missing, allowance[0], len(slots))
                        if allowance[0] is not None:
                            allowance[0] -= accepted
                        if ctx.stopped:
                            return True  # a budget cap: this round is not finished; a higher cap goes on
                    if allowance[0] == 0 and store.missing_per_slot():
                        return True  # this round is not finished; the next invocation redoes it
                    store.put("rounds_done", round_ + 1)
            finally:
                bar.stop()
            return False

        stopped_by_limit = fill(0, recipe.budget.max_rounds)
        if recipe.task in ("classification", "dialogue") and recipe.quality.enabled:
            while not stopped_by_limit:
                steps = store.loop_steps()
                last = steps[-1]["decision"] if steps else None
                if last is not None and last["action"] != "replan":
                    break
                if last is not None:
                    stopped_by_limit = fill(last["round_start"], last["round_limit"])
                    if stopped_by_limit:
                        break
                next_step(store, recipe, dev, plan, get_engine, bar.phase)
        if state.notes:
            store.put("filter_notes", state.notes)
        if recipe.task == "classification" and recipe.filters.label_noise.mode != "off":
            bar.phase("checking labels with a cross-validated classifier …")
            check_label_noise(store, recipe)
        bar.phase("writing the dataset …")
        dataset, stats = write_outputs(store, recipe, out_dir)
        stats["planner_notes"] = plan.get("notes", [])
        stats["scenarios_from_model"], stats["scenarios_asked"] = plan.get("scenarios_from_model"), plan.get("scenarios_asked")
        stats["stopped_by_limit"] = stopped_by_limit and not ctx.stopped
        stats["replay"] = replayed
        stats["stopped_by_budget"] = ctx.stopped
        cached = [e for e in loaded.values() if isinstance(e, CachedEngine)]
        stats["cache"] = ({"dir": str(cache), "hits": sum(e.hits for e in cached), "misses": sum(e.misses for e in cached)}
                          if call_cache is not None else None)
    finally:
        bar.stop()
        if judge is not None:
            judge.close()
        keep_vectors.__exit__(None, None, None)
        store.close()
        if call_cache is not None:
            call_cache.close()
        if ray is not None:
            for i, eng in loaded.items():
                if given is None or given[i] is None:
                    eng.close()
    bar.phase("writing the report …")
    from .evaluators.report import build_report

    build_report(out_dir, stats=stats)
    return RunResult(out_dir=out_dir, dataset=dataset, stats=stats)
