"""Distillation end to end: teacher run → LoRA student → student run on the same plan → compare.

Default: SmolLM2-135M-Instruct as the teacher (constrained decoding) on a slice of
recipes/banking-intents.yaml, and SmolLM2-135M + LoRA as the student. Reports acceptance rate and
tokens/s of both runs on the same plan, and how often the base and the student write schema-valid
JSON without constrained decoding, on fresh executor prompts of the same plan.

    python benchmarks/distill.py [--teacher default] [--student default] [--categories 6] [--per-category 10]
                                 [--max-steps 30] [--out runs/bench-distill] [--threads 1]

Each phase reuses its output folder when it is already complete (runs resume; a finished student
is kept), so a second call only redoes what is missing. The student run is given the teacher's plan
(slots, scenarios, personas) before it starts, so both runs fill the same slots; `synthwright run`
itself would plan again with the student.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "banking-intents.yaml"))
    parser.add_argument("--teacher", default="smollm2", help="Engine spec of the teacher.")
    parser.add_argument("--student", default="smollm2", help="Base model spec of the student.")
    parser.add_argument("--categories", type=int, default=6)
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--validity-prompts", type=int, default=36, help="Fresh prompts for the unconstrained check.")
    parser.add_argument("--validity-tokens", type=int, default=96, help="max_new_tokens of the unconstrained check.")
    parser.add_argument("--replay", type=int, default=32, help="Teacher requests replayed to time both engines alike.")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (on busy shared cores 1 is often fastest).")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-distill"))
    args = parser.parse_args()

    import torch
    import transformers

    from synthwright.finetune.dpo_loop import seed_plan

    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    from rich.console import Console

    import synthwright
    from synthwright.finetune import DistillConfig, distill

    console = Console()
    out = Path(args.out)
    recipe = synthwright.load_recipe(args.recipe)
    recipe = recipe.model_copy(update={
        "categories": recipe.categories[: args.categories], "seeds": None,
        "count": recipe.count.model_copy(update={"per_category": args.per_category, "total": None}),
        "teacher": recipe.teacher.model_copy(update={"model": args.teacher})})
    timings: dict[str, float] = {}

    console.print(f"[bold]1. teacher run[/] ({args.teacher}, {args.categories} categories x {args.per_category})")
    started = time.perf_counter()
    teacher = synthwright.run(recipe, out=out / "teacher", progress=True)
    timings["teacher_run_s"] = time.perf_counter() - started

    console.print(f"[bold]2. distill[/] into {args.student} + LoRA ({args.max_steps} steps)")
    student_dir = out / "student"
    started = time.perf_counter()
    if (student_dir / "student.json").is_file():
        metrics = json.loads((student_dir / "metrics.json").read_text())
        console.print(f"   reusing {student_dir}")
    else:
        cfg = DistillConfig(max_steps=args.max_steps, learning_rate=args.lr, batch_size=args.batch_size, seed=0)
        metrics = distill(out / "teacher", args.student, student_dir, cfg, progress=True).metrics
    timings["distill_s"] = time.perf_counter() - started

    console.print("[bold]3. student run[/] on the teacher's plan")
    student_recipe = recipe.model_copy(update={"teacher": recipe.teacher.model_copy(update={"model": str(student_dir)})})
    seed_plan(out / "teacher", out / "student-run", student_recipe)
    started = time.perf_counter()
    student = synthwright.run(student_recipe, out=out / "student-run", progress=True)
    timings["student_run_s"] = time.perf_counter() - started

    console.print("[bold]4. schema-valid rate without constrained decoding[/] (base vs student)")
    validity = unconstrained_validity(out / "teacher", recipe, args.student, str(student_dir), args.validity_prompts,
                                      args.validity_tokens)

    console.print("[bold]5. speed on the same requests[/] (teacher, student, student without constraints; best of 2)")
    speed = replay_speed(out / "teacher", recipe, args.teacher, str(student_dir), args.replay)

    console.print("[bold]6. compare[/]")
    from synthwright.finetune import compare_runs

    report = compare_runs(out / "teacher", out / "student-run", out=out / "compare")

    result = {"args": vars(args), "threads": torch.get_num_threads(), "timings": timings,
              "distill": {k: metrics[k] for k in ("initial_val_loss", "best_val_loss", "steps", "train_seconds",
                                                  "train_examples", "val_examples")},
              "validity": validity, "replay_speed": speed, "compare": report.data,
              "teacher_stats": teacher.stats, "student_stats": student.stats}
    (out / "benchmark.json").write_text(json.dumps(result, indent=2, default=str))
    console.print(report.markdown_table())
    console.print(f"unconstrained schema-valid rate on {validity['prompts']} fresh prompts:"
                  f" base {validity['base']:.0%}, student {validity['student']:.0%}")
    console.print(f"distill: {metrics['steps']} steps in {metrics['train_seconds']:.0f} s, validation loss"
                  f" {metrics['initial_val_loss']:.3f} → {metrics['best_val_loss']:.3f}")
    console.print(f"same {speed['requests']} requests, best of 2: " + ", ".join(
        f"{k} {v['tokens_per_second']:.1f} tok/s, {v['seconds']:.1f} s" for k, v in speed["engines"].items()))
    console.print({k: round(v, 1) for k, v in timings.items()})
    console.print(f"report: {out / 'compare' / 'compare.md'} · all numbers: {out / 'benchmark.json'}")


def unconstrained_validity(teacher_run: Path, recipe, base: str, student: str, n: int, max_new_tokens: int) -> dict:
    """Fresh executor prompts for the plan's slots (a new round, so new seeds and few-shot picks); free decoding."""
    from synthwright.agents.executor import Executor
    from synthwright.core.store import RunStore
    from synthwright.engines import load_engine
    from synthwright.finetune import schema_valid_rate
    from synthwright.recipe.seeds import read_seeds
    from synthwright.tasks import task_for

    task = task_for(recipe.task)
    store = RunStore(teacher_run / "run.sqlite")
    slots = store.slots()
    store.close()
    executor = Executor(recipe, task, read_seeds(recipe))
    requests = [executor.request(slots[i % len(slots)], 99, i // len(slots))[0] for i in range(n)]
    sampling = recipe.sampling.model_copy(update={"max_new_tokens": max_new_tokens})
    schema = task.schema(recipe)
    rates = {"prompts": n, "sampling": sampling.model_dump()}
    for name, spec in (("base", base), ("student", student)):
        engine = load_engine(spec, batch_size=n)
        started = time.perf_counter()
        v = schema_valid_rate(engine, requests, schema, sampling)
        rates[name] = v.rate
        rates[f"{name}_seconds"] = round(time.perf_counter() - started, 1)
        rates[f"{name}_examples"] = [g.text[:160] for g in v.generations[:3]]
        engine.close()
    return rates


def replay_speed(teacher_run: Path, recipe, teacher: str, student: str, n: int) -> dict:
    """The first `n` requests of the teacher run through each engine, alternating, best of two rounds.

    Runs made minutes apart on shared cores see different loads; back-to-back replays compare like with like.
    """
    from synthwright.core.store import RunStore
    from synthwright.engines import ChatRequest, load_engine
    from synthwright.tasks import task_for

    store = RunStore(teacher_run / "run.sqlite")
    rows = store.db.execute("SELECT request FROM calls ORDER BY call_id LIMIT ?", (n,)).fetchall()
    store.close()
    requests = [ChatRequest.model_validate(json.loads(r[0])) for r in rows]
    schema = task_for(recipe.task).schema(recipe)
    engines = {"teacher": load_engine(teacher, **recipe.teacher.options), "student": load_engine(student, **recipe.teacher.options)}
    runs = [("teacher", "teacher", schema), ("student", "student", schema), ("student, unconstrained", "student", None)]
    best: dict[str, dict] = {}
    for _ in range(2):
        for name, engine, sch in runs:
            started = time.perf_counter()
            gens = engines[engine].generate(requests, schema=sch, sampling=recipe.sampling)
            seconds = time.perf_counter() - started
            tokens = sum(g.completion_tokens for g in gens)
            valid = sum(g.parsed is not None for g in gens) if sch is not None else None
            if name not in best or tokens / seconds > best[name]["tokens_per_second"]:
                best[name] = {"tokens": tokens, "seconds": round(seconds, 2), "tokens_per_second": tokens / seconds,
                              "valid": valid}
    for engine in engines.values():
        engine.close()
    return {"requests": len(requests), "engines": best}


if __name__ == "__main__":
    main()
