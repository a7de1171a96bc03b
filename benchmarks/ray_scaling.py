"""Samples/s of `run` in one process, on 1 Ray actor and on 2 Ray actors, same plan, same machine.

The plan is made once and copied, so each mode only executes; engines are loaded before the
clock starts. One process uses 2 torch threads; 1 actor reserves 2 CPUs; 2 actors 1 CPU each.

    python benchmarks/ray_scaling.py [--model default] [--categories 4] [--per-category 16]
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
    args = parser.parse_args()

    import ray
    import transformers
    from rich.console import Console
    from rich.table import Table

    import synthwright
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

    def timed(name: str, engine) -> tuple[str, int, float]:
        out = root / name
        shutil.copytree(root / "planned", out)
        started = time.perf_counter()
        result = synthwright.run(recipe, out=out, engine=engine)
        return name, result.stats["accepted"], time.perf_counter() - started

    rows = [timed("one process", local)]
    del local
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    for actors, cpus in ((1, 2.0), (2, 1.0)):
        pool = RayEnginePool(args.model, {"batch_size": args.batch_size},
                             RayConfig(address="local", actors=actors, cpus_per_actor=cpus))
        rows.append(timed(f"ray, {actors} actor(s) x {cpus:g} CPU", pool))
        pool.close()
    ray.shutdown()

    table = Table(title=f"{args.model}: {args.categories} categories x {args.per_category} samples, batch {args.batch_size}")
    for col in ("mode", "accepted", "seconds", "samples/s", "vs one process"):
        table.add_column(col)
    base = rows[0][1] / rows[0][2]
    for name, accepted, seconds in rows:
        table.add_row(name, str(accepted), f"{seconds:.1f}", f"{accepted / seconds:.2f}", f"{accepted / seconds / base:.2f}")
    console = Console()
    console.print(table)
    one_actor = rows[1][1] / rows[1][2]
    console.print(f"overhead of 1 actor against one process: {(1 - one_actor / base) * 100:.1f}%  (target <= 15%)")
    console.print(f"2 actors / 1 actor: {rows[2][1] / rows[2][2] / one_actor:.2f}")


if __name__ == "__main__":
    main()
