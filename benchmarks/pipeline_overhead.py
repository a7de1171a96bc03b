"""Throughput of `synthwright run` against the raw engine on the same prompts, in one process.

The plan is made first (not timed). Then `run()` is timed end to end (executor, filters, store
writes, label check, dataset output, report), and the exact requests it sent (read back from the
run store, same seeds) are replayed through `engine.generate` in batches of the same size. The
generation loop alone (executor + filters + store, up to the last stored batch) is reported too:
the work after it (label check, dataset, report: embedding model load, plots) is a fixed cost
per run plus a few milliseconds per sample, so its share shrinks as runs grow.

    python benchmarks/pipeline_overhead.py [--recipe recipes/banking-intents.yaml] [--categories 8] [--per-category 8]
        [--json PATH]

The figures go to benchmarks/pipeline_overhead.results.json (or --json).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _results import header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(Path(__file__).parent.parent / "recipes" / "banking-intents.yaml"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--categories", type=int, default=8)
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("pipeline_overhead.results.json"))
    args = parser.parse_args()

    import transformers
    from rich.console import Console
    from rich.table import Table

    import synthwright
    from synthwright.core.store import RunStore
    from synthwright.engines import ChatRequest
    from synthwright.tasks import task_for

    transformers.utils.logging.set_verbosity_error()
    recipe = synthwright.load_recipe(args.recipe)
    recipe = recipe.model_copy(update={"categories": recipe.categories[: args.categories], "seeds": None,
                                       "count": recipe.count.model_copy(update={"per_category": args.per_category, "total": None}),
                                       "budget": recipe.budget.model_copy(update={"max_rounds": 1})})
    engine = synthwright.load_engine(args.model, **recipe.teacher.options)
    out = Path(tempfile.mkdtemp(prefix="pipeline-overhead-"))
    synthwright.plan_run(recipe, out=out, engine=engine)

    last_batch: list[float] = []
    started = time.perf_counter()
    result = synthwright.run(recipe, out=out, engine=engine, on_batch=lambda _: last_batch.append(time.perf_counter()))
    pipeline_seconds = time.perf_counter() - started
    loop_seconds = last_batch[-1] - started

    store = RunStore(out / "run.sqlite")
    requests = [ChatRequest.model_validate(r) for r in store.phase_requests("executor")]
    pipeline_tokens = store.call_stats()["phases"]["executor"]["completion_tokens"]
    store.close()
    schema = task_for(recipe.task).schema(recipe)
    batch = engine.batch_size
    started = time.perf_counter()
    raw_tokens = 0
    for i in range(0, len(requests), batch):
        gens = engine.generate(requests[i:i + batch], schema=schema, sampling=recipe.sampling)
        raw_tokens += sum(g.completion_tokens for g in gens)
    raw_seconds = time.perf_counter() - started

    table = Table(title=f"{len(requests)} requests from {recipe.name} ({args.categories} categories x {args.per_category}), "
                        f"{args.model}, batch {batch}")
    for col in ("run", "completion tokens", "seconds", "tokens/s"):
        table.add_column(col)
    p_rate, r_rate = pipeline_tokens / pipeline_seconds, raw_tokens / raw_seconds
    table.add_row("raw engine.generate, same requests and seeds", str(raw_tokens), f"{raw_seconds:.1f}", f"{r_rate:.1f}")
    table.add_row("synthwright run, generation loop (executor + filters + store)", str(pipeline_tokens),
                  f"{loop_seconds:.1f}", f"{pipeline_tokens / loop_seconds:.1f}")
    table.add_row("synthwright run, end to end (+ label check, dataset, report)", str(pipeline_tokens),
                  f"{pipeline_seconds:.1f}", f"{p_rate:.1f}")
    console = Console()
    console.print(table)
    console.print(f"accepted {result.stats['accepted']} of {result.stats['target']}")
    console.print(f"loop / raw = {pipeline_tokens / loop_seconds / r_rate:.2f}   "
                  f"after the loop: {pipeline_seconds - loop_seconds:.1f} s")
    console.print(f"pipeline / raw = {p_rate / r_rate:.2f}  (target >= 0.80)")
    results = {**header("benchmarks/pipeline_overhead.py", model=engine.spec, seeds=f"recipe seed {recipe.seed}"),
               "settings": {"recipe": Path(args.recipe).name, "categories": args.categories,
                            "per_category": args.per_category, "requests": len(requests), "batch": batch,
                            "dtype": str(getattr(engine, "dtype", "")).replace("torch.", "")},
               "raw_engine": {"seconds": round(raw_seconds, 2), "completion_tokens": raw_tokens,
                              "tokens_per_second": round(r_rate, 1)},
               "generation_loop": {"seconds": round(loop_seconds, 2), "completion_tokens": pipeline_tokens,
                                   "tokens_per_second": round(pipeline_tokens / loop_seconds, 1)},
               "end_to_end": {"seconds": round(pipeline_seconds, 2), "tokens_per_second": round(p_rate, 1),
                              "accepted": result.stats["accepted"], "target": result.stats["target"]},
               "ratios": {"generation loop / raw engine": round(pipeline_tokens / loop_seconds / r_rate, 3),
                          "end to end / raw engine": round(p_rate / r_rate, 3)}}
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"results: {args.json}")


if __name__ == "__main__":
    main()
