"""Planning at engine speed: every phrase request of a plan in engine-sized batches, against one call per label.

A recipe with `--labels` labels (default 80) asks `scenarios_per_category` (3) scenarios per label, each
asked twice, plus the personas: 2 x (3 x 80 + 5) = 490 phrase requests. The baseline sends them as the
planner did before, one `engine.generate` call per label (6 requests each); the planner sends them all
through `PhraseAsker`, in batches of the engine's batch size. Same prompts, same seeds, same engine, in
one process, interleaved; best of `--repeats`.

    python benchmarks/planning_speed.py [--model default] [--labels 80] [--repeats 2] [--json PATH]

The figures go to benchmarks/planning_speed.results.json (or --json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _results import header

NOUNS = ("card pin transfer refund balance statement loan mortgage overdraft savings cheque deposit withdrawal "
         "address phone email password login app branch appointment fee interest rate currency travel insurance "
         "pension isa bond share fund budget salary bill subscription standing-order direct-debit payee limit "
         "contactless atm cash coin note envelope letter complaint fraud scam dispute chargeback merchant receipt "
         "invoice tax certificate passport id joint-account child-account student-account business-account "
         "credit-score report alert notification token device sim number name signature power-of-attorney "
         "bereavement will estate gift donation charity crypto gold mortgage-holiday remortgage").split()


def recipe(labels: int):
    from synthwright.recipe.load import load_recipe

    names = NOUNS[:labels]
    return load_recipe({
        "name": "planning-speed", "task": "classification",
        "description": "Short messages that customers of a retail bank type into the bank's support chat.",
        "categories": [{"name": n.replace("-", "_"), "description": f"The customer has a question or problem about their {n.replace('-', ' ')}."}
                       for n in names],
        "count": {"per_category": 3}, "axes": {"scenarios_per_category": 3, "personas": "auto", "auto_personas": 5},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--labels", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("planning_speed.results.json"))
    args = parser.parse_args()

    import transformers

    import synthwright
    from synthwright.agents.planner import PhraseAsker, _phrase_schema
    from synthwright.core.prompts import render
    from synthwright.engines import Sampling

    transformers.utils.logging.set_verbosity_error()
    r = recipe(min(args.labels, len(NOUNS)))
    engine = synthwright.load_engine(args.model, batch_size=args.batch_size)
    sampling = Sampling(temperature=0.9, top_p=0.95, max_new_tokens=72, seed=r.seed, repetition_penalty=1.1)
    k = r.axes.scenarios_per_category

    def asker() -> PhraseAsker:
        a = PhraseAsker(engine, sampling, None, None)
        for i, c in enumerate(r.categories):
            a.ask(f"scenario:{c.name}", render("planner_scenarios", description=r.description, task=r.task, name=c.name,
                                               category_description=c.description), "situation", k, r.seed + 1000 * i)
        a.ask("personas", render("planner_personas", description=r.description), "person", r.axes.auto_personas,
              r.seed + 999_999)
        return a

    def per_label() -> float:
        """The old planner: one generate call per question (a label's scenarios, then the personas)."""
        a = asker()
        t0 = time.perf_counter()
        for _, field, n, start, _unusable in a.questions:
            engine.generate([req for req, _ in a.requests[start:start + 2 * n]], schema=_phrase_schema(field), sampling=sampling)
        return time.perf_counter() - t0

    def batched() -> float:
        a = asker()
        t0 = time.perf_counter()
        a.answers()
        return time.perf_counter() - t0

    requests = len(asker().requests)
    best = {"per label": float("inf"), "batched": float("inf")}
    for repeat in range(args.repeats):
        for key, run in (("per label", per_label), ("batched", batched)):
            seconds = run()
            print(f"[{repeat + 1}/{args.repeats}] {key}: {seconds:.1f} s", flush=True)
            best[key] = min(best[key], seconds)
    print(f"{len(r.categories)} labels, {requests} phrase requests, engine {engine.spec} batch {engine.batch_size}")
    print(f"one call per label (before): {best['per label']:.1f} s")
    print(f"batch-first planner (now):   {best['batched']:.1f} s")
    print(f"speed-up: {best['per label'] / best['batched']:.1f}x (target >= 4x)")
    results = {**header("benchmarks/planning_speed.py", model=engine.spec,
                        seeds=f"recipe seed {r.seed}; request seeds as the planner sets them"),
               "settings": {"labels": len(r.categories), "phrase_requests": requests, "batch": engine.batch_size,
                            "dtype": str(getattr(engine, "dtype", "")).replace("torch.", ""),
                            "max_new_tokens": sampling.max_new_tokens, "repeats": args.repeats},
               "seconds_best": {k: round(v, 2) for k, v in best.items()},
               "speedup": round(best["per label"] / best["batched"], 2)}
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
