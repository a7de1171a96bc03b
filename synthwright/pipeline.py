"""`run`: recipe → plan → executor → filters → (judge) → dataset, resumable from the run store."""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .agents.executor import Executor
from .agents.planner import make_plan
from .engines import Engine, load_engine
from .errors import ConfigError
from .evaluators.filters import Candidate, FilterState, apply_filters
from .evaluators.judge import Judge, make_judge
from .evaluators.label_noise import check_label_noise
from .output import write_outputs
from .progress import RunProgress
from .recipe import Recipe, load_recipe
from .quality_loop import next_step
from .rundir_lock import hold_writer
from .seeds import read_dev_set, read_seeds
from .store import RunStore
from .tasks import task_for


@dataclass
class RunResult:
    out_dir: Path
    dataset: Any
    stats: dict[str, Any]


@dataclass
class BatchReport:
    round: int
    requested: int
    accepted: int
    rejected: int
    store: RunStore


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
    """Open the run's store; refuse a changed recipe unless `restart`, which sets the old run aside."""
    path = out_dir / "run.sqlite"
    if path.exists():
        store = RunStore(path)
        previous = store.get("fingerprint")
        if previous == recipe.fingerprint() and not restart:
            return store
        store.close()
        if not restart:
            raise ConfigError(
                f"The recipe changed since the run in '{out_dir}' started, so it cannot resume;"
                " pass --restart to start over (the old run is kept) or choose another --out."
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
        store.put("recipe", recipe.frozen())
    (out_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe.frozen(), sort_keys=False, allow_unicode=True))
    return store


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
    **overrides: Any,
) -> RunResult:
    """Generate the recipe's dataset into `out` (default runs/<name>), resuming a previous run there.

    `limit` caps the run's accepted samples in total, counting earlier invocations (the same call
    again adds nothing; a higher limit goes on); `engine` overrides the teacher spec with a ready
    engine (a list: one per teacher of a mixture), `judge_engine` the judge's; `ray` (a RayConfig or dict) runs the
    teacher on a pool of Ray actors while this process keeps the plan and the store; `overrides`
    replace top-level recipe fields. After the first pass over the plan, a classification run's
    quality loop measures what was accepted and re-plans (recipe `quality`). After the dataset,
    the run directory gets report.md, plots and the report section of stats.json.
    """
    recipe = resolve_recipe(recipe, teacher, **overrides)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}.")
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

    def get_engine(i: int = 0) -> Engine:
        if i not in loaded:
            t = teachers[i]
            if given is not None and given[i] is not None:
                loaded[i] = given[i]
            else:
                bar.phase(f"loading teacher {t.model} …")
                if ray is not None:
                    from .scale import RayEnginePool

                    loaded[i] = RayEnginePool(t.model, t.options, ray)
                else:
                    loaded[i] = load_engine(t.model, **t.options)
        return loaded[i]

    try:
        if store.get("plan") is None:
            bar.phase("planning: scenarios and personas …")
        plan, _ = ensure_plan(store, recipe, out_dir, get_engine, seeds, bar)
        executor = Executor(recipe, task, seeds, neighbours={c["name"]: c.get("neighbours", []) for c in plan["categories"]})
        accepted_before = store.samples("accepted")
        # dev texts join the seeds of the copy filters only: a sample that copies one never reaches the dataset
        state = FilterState.for_run(recipe, task, seeds + [{**r, "reserved": True} for r in dev], store.accepted_keys(),
                                    [task.text_of(s["data"]) for s in accepted_before])
        for s in accepted_before:
            executor.add_accepted(s["data"], s["slot_id"], s["category"])
        judge = make_judge(recipe, get_engine, teacher_spec=given[0].spec if given is not None else None,
                           engine=judge_engine, ray=ray)
        schema = task.schema(recipe)
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
                        accepted = _run_round(recipe, task, schema, eng, executor, store, state, judge, mine, round_,
                                              missing, bar, on_batch, allowance[0], len(slots))
                        if allowance[0] is not None:
                            allowance[0] -= accepted
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
        stats["stopped_by_limit"] = stopped_by_limit
    finally:
        bar.stop()
        if judge is not None:
            judge.close()
        store.close()
        if ray is not None:
            for i, eng in loaded.items():
                if given is None or given[i] is None:
                    eng.close()
    bar.phase("writing the report …")
    from .evaluators.report import build_report

    build_report(out_dir)
    return RunResult(out_dir=out_dir, dataset=dataset, stats=stats)


def _run_round(recipe, task, schema, engine, executor, store, state, judge, work, round_, missing, bar, on_batch,
               allowance, slot_count) -> int:
    """Generate `work` in engine-sized batches, each written in one transaction; returns samples accepted."""
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

    stream = engine.generate_batches(batches(), schema=schema, sampling=recipe.sampling)
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
        apply_filters(live, state, recipe.filters)
        if judge is not None:  # the expensive check, only for what the cheap ones let through
            judge.evaluate([c for c in live if c.alive])
        accepted_now = 0
        for c in live:
            if not c.alive:
                continue
            if room.get(c.slot_id, 0) <= 0:
                c.reject("quota", "the slot's quota was already met")
            elif allowance is not None and total_accepted + accepted_now >= allowance:
                c.reject("limit", "--limit reached")
            else:
                room[c.slot_id] -= 1
                accepted_now += 1
                state.accept(c)
        calls, samples = [], []
        for (slot, _), request, seed, gen, c in zip(batch, requests, seeds, gens, candidates):
            calls.append({"slot_id": slot["slot_id"], "round": round_, "seed": seed, "request": request.model_dump(),
                          "response": gen.text, "error": gen.error, "finish_reason": gen.finish_reason,
                          "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
                          "seconds": gen.seconds, "engine": engine_info})
            if c is None:
                samples.append([{"category": slot["category"], "data": {"raw": gen.text}, "dedup_key": "",
                                 "status": "rejected", "filter": "parse", "reason": gen.error}])
            else:
                samples.append([{"category": c.category, "data": c.data, "dedup_key": c.key, "status": c.status,
                                 "filter": c.filter, "reason": c.reason, "verdict": c.features.get("verdict")}])
        store.record_batch(calls, samples)
        for c in live:
            if c.alive:
                executor.add_accepted(c.data, c.slot_id, c.category)
        total_accepted += accepted_now
        bar.update(accepted=accepted_now, generated=len(batch), rejected=len(batch) - accepted_now,
                   tokens=sum(g.completion_tokens for g in gens),
                   slots_done=slot_count - sum(1 for v in room.values() if v > 0), slots_total=slot_count)
        if on_batch is not None:
            on_batch(BatchReport(round=round_, requested=len(batch), accepted=accepted_now,
                                 rejected=len(batch) - accepted_now, store=store))
    return total_accepted
