"""Throughput of `run` in one process, on 1 Ray actor and on 2 Ray actors, same plan, same machine.

The plan is made once and copied, so each mode only executes the same requests with the same
seeds. Engines and actors are loaded, and one untimed warm-up run pays the one-off costs (imports,
grammar compilation, the embedding model of the label check and report), before any clock starts.
The modes are then interleaved `--repeats` times and the best of each is reported. One process
uses torch's default threads (2 here); 1 actor reserves 2 CPUs; 2 actors reserve 1 CPU each.

    python benchmarks/ray_scaling.py [--model default] [--categories 4] [--per-category 16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(Path(__file__).parent.parent / "recipes" / "banking-intents.yaml"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--categories", type=int, default=4)
    parser.add_argument("--per-category", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import ray
    import transformers
    from rich.console import Console
    from rich.table import Table

    import synthwright
    from synthwright.core.store import RunStore
    from synthwright.scale import RayConfig, RayEnginePool

    transformers.utils.logging.set_verbosity_error()
    recipe = synthwright.load_recipe(args.recipe)
    recipe = recipe.model_copy(update={
        "categories": recipe.categories[: args.categories], "seeds": None,
        "count": recipe.count.model_copy(update={"per_category": args.per_category}),
        "teacher": recipe.teacher.model_copy(update={"model": args.model, "options": {"batch_size": args.batch_size}}),
        "budget": recipe.budget.model_copy(update={"max_rounds": 1}),
    })
    root = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    local = synthwright.load_engine(args.model, batch_size=args.batch_size)
    synthwright.plan_run(recipe, out=root / "planned", engine=local)
    warm = recipe.model_copy(update={"count": recipe.count.model_copy(update={"per_category": 1})})
    synthwright.run(warm, out=root / "warm-up", engine=local, progress=False)

    # Logical CPUs: both pools stay up between repeats, but only one of them works at a time.
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    engines = {"one process": local}
    for actors, cpus in ((1, 2.0), (2, 1.0)):
        engines[f"ray, {actors} actor(s) x {cpus:g} CPU"] = RayEnginePool(
            args.model, {"batch_size": args.batch_size}, RayConfig(address="local", actors=actors, cpus_per_actor=cpus))

    best: dict[str, tuple[int, int, float]] = {}
    for repeat in range(args.repeats):
        for name, engine in engines.items():
            out = root / f"{name}-{repeat}"
            shutil.copytree(root / "planned", out)
            started = time.perf_counter()
            result = synthwright.run(recipe, out=out, engine=engine, progress=False)
            seconds = time.perf_counter() - started
            store = RunStore(out / "run.sqlite")
            tokens = store.call_stats()["completion_tokens"]
            store.close()
            if name not in best or tokens / seconds > best[name][1] / best[name][2]:
                best[name] = (result.stats["accepted"], tokens, seconds)
    for engine in engines.values():
        if isinstance(engine, RayEnginePool):
            engine.close()
    ray.shutdown()

    requests = args.categories * args.per_category
    table = Table(title=f"{args.model}: {requests} requests ({args.categories} categories x {args.per_category}), "
                        f"batch {args.batch_size}, best of {args.repeats}")
    for col in ("mode", "accepted", "completion tokens", "seconds", "tokens/s", "samples/s", "vs one process"):
        table.add_column(col)
    base = best["one process"][1] / best["one process"][2]
    for name, (accepted, tokens, seconds) in best.items():
        table.add_row(name, str(accepted), str(tokens), f"{seconds:.1f}", f"{tokens / seconds:.1f}",
                      f"{accepted / seconds:.2f}", f"{tokens / seconds / base:.2f}")
    console = Console()
    console.print(table)
    rates = [tokens / seconds for _, tokens, seconds in best.values()]
    console.print(f"overhead of 1 actor against one process: {(1 - rates[1] / base) * 100:.1f}%  (target <= 15%)")
    console.print(f"2 actors / 1 actor: {rates[2] / rates[1]:.2f}   2 actors / one process: {rates[2] / base:.2f}")


if __name__ == "__main__":
    main()
