"""Run an instruction method (self_instruct, evol_instruct, magpie): open the run, step the method until it is done,
then the run tail every kind shares (dataset, stats, report)."""

from __future__ import annotations

from pathlib import Path

from synthwright.core.errors import ConfigError
from synthwright.core.progress import RunProgress
from synthwright.engines import Engine, load_engine
from synthwright.evaluators.filters import FilterState
from synthwright.evaluators.judge import make_judge
from synthwright.evaluators.novelty import NoveltyIndex
from synthwright.make import evol_instruct, magpie, self_instruct
from synthwright.make.method_run import (
    MethodRun,
    method_slots,
    read_seed_tasks,
    steps_done,
)
from synthwright.make.output import write_outputs
from synthwright.recipe.model import Recipe
from synthwright.reports.report import build_report
from synthwright.rundir.writer import RunResult, open_store, out_dir_for
from synthwright.tasks import task_for

METHODS = {"self_instruct": self_instruct, "evol_instruct": evol_instruct, "magpie": magpie}


def run_instruction_method(recipe: Recipe, *, out: str | Path | None = None, limit: int | None = None,
                           restart: bool = False, engine: Engine | None = None, judge_engine: Engine | None = None,
                           progress: bool | RunProgress = False) -> RunResult:
    """Run a `task: instruction` recipe whose method is self_instruct, evol_instruct or magpie (see `pipeline.run`)."""
    method = METHODS[recipe.method]
    if isinstance(engine, list):
        if len(engine) != 1:
            raise ConfigError(f"method {recipe.method} runs one teacher; pass one engine, not {len(engine)}.")
        engine = engine[0]
    if len(recipe.teachers) != 1:
        raise ConfigError(f"method {recipe.method} runs one teacher; give `teacher` one model, not a mixture.")
    seeds = read_seed_tasks(recipe)
    out_dir = out_dir_for(recipe, out)
    task = task_for(recipe.task)
    store = open_store(recipe, out_dir, restart)
    bar = progress if isinstance(progress, RunProgress) else RunProgress(enabled=progress)
    judge = None
    try:
        if store.get("plan") is None:
            slots = method_slots(recipe)
            store.save_plan({"method": recipe.method, "categories": [{"name": s["category"]} for s in slots],
                            "seed_instructions": [s.instruction for s in seeds]}, slots)
        teacher = recipe.teachers[0]
        if engine is None:
            bar.phase(f"loading teacher {teacher.model} …")
            engine = load_engine(teacher.model, **teacher.options)
        method.check_engine(engine)
        accepted_before = store.samples("accepted")
        seed_rows = [{"instruction": s.instruction, "input": s.input, "output": s.output, "text": s.instruction,
                      "label": s.category} for s in seeds]
        state = FilterState.for_run(recipe, task, seed_rows, store.accepted_keys(),
                                    [task.text_of(s["data"]) for s in accepted_before])
        novelty = NoveltyIndex(recipe.instruction.novelty_threshold)
        for s in seeds:
            novelty.add(s.instruction)
        for s in accepted_before:
            novelty.add(s["data"]["instruction"])
        judge = make_judge(recipe, lambda: engine, engine=judge_engine)
        run = MethodRun(recipe=recipe, task=task, store=store, engine=engine, judge=judge, state=state, novelty=novelty,
                        seeds=seeds, bar=bar, allowance=None if limit is None else max(0, limit - len(accepted_before)),
                        accepted=[s["data"] for s in accepted_before],
                        slots={s["category"]: s for s in store.slots()})
        target = sum(s["quota"] for s in run.slots.values())
        bar.start(recipe.name, target, len(accepted_before), len(run.slots), len(run.slots) - len(run.room()))
        step = steps_done(store)
        while not run.done() and method.step(run, step):
            step += 1
        bar.stop()
        if state.notes:
            store.put("filter_notes", state.notes)
        store.put("rounds_done", steps_done(store))
        bar.phase("writing the dataset …")
        dataset, stats = write_outputs(store, recipe, out_dir)
        stats["method"] = recipe.method
        stats["requests_left"] = max(0, run.requests_left())
        stats["stopped_by_limit"] = run.allowance == 0 and bool(run.room())
    finally:
        bar.stop()
        if judge is not None:
            judge.close()
        store.close()
    bar.phase("writing the report …")
    build_report(out_dir, stats=stats)
    return RunResult(out_dir=out_dir, dataset=dataset, stats=stats)


