"""The label check held against real text: the share of *real* messages, with their true labels, that a checking
model does not confirm.

For each set (the recipes in benchmarks/recipes/, label names and one line each) a seeded sample of real *test*
messages is offered to `LabelCheck` (synthwright/evaluators/label_check.py) at the recipe's defaults, as if the
teacher had written each for its true label: the model picks among the label and its nearest labels, in the order
the check shuffles them. Beside it, on the same messages, the embedding gate that a weak teacher turns on
(`reject_other_label`: the message is nearer another label's name and description than its own) and the share both
refuse. A check that refuses real messages of their true label refuses what real users write.

    python benchmarks/label_check_on_real_text.py --models default,qwen2.5-coder-1.5b \
        [--sets snips,clinc45,clinc150,amazon,yelp] [--sample 200] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from _results import header
from tstr_quality import load_set

ROOT = Path(__file__).resolve().parent


def measure(name: str, engine, sample: int) -> dict:
    from synthwright.agents.planner import label_neighbours
    from synthwright.evaluators.fidelity import LabelPrototypes, label_documents
    from synthwright.evaluators.filters import Candidate
    from synthwright.evaluators.label_check import LabelCheck

    recipe, _, test = load_set(name)
    recipe = recipe.model_copy(update={"label_check": recipe.label_check.model_copy(update={"enabled": True})})
    rows = random.Random(0).sample(test, min(sample, len(test)))
    cands = [Candidate(data={"text": r["text"], "label": r["label"]}, text=r["text"], category=r["label"],
                       slot_id="real") for r in rows]
    check = LabelCheck(recipe, engine, label_neighbours(recipe, [], recipe.label_check.neighbours))
    t0 = time.perf_counter()
    check.evaluate(cands)
    seconds = time.perf_counter() - t0
    refused = [not c.alive for c in cands]
    unusable = sum(c.features.get("label_check", {}).get("picked") is None for c in cands)
    nearest = LabelPrototypes(label_documents(recipe.categories)).predict([r["text"] for r in rows])
    embedding = [p != r["label"] for p, r in zip(nearest, rows)]
    n = len(rows)
    positions = [c.features["label_check"]["options"].index(c.features["label_check"]["picked"])
                 for c in cands if c.features.get("label_check", {}).get("picked")]
    return {"set": name, "labels": len(recipe.categories), "choices": min(recipe.label_check.neighbours + 1,
                                                                           len(recipe.categories)),
            "messages": n, "check_refuses": round(sum(refused) / n, 4), "no_usable_answer": unusable,
            "embedding_gate_refuses": round(sum(embedding) / n, 4),
            "both_refuse": round(sum(a and b for a, b in zip(refused, embedding)) / n, 4),
            "picked_position": {str(i): positions.count(i) for i in sorted(set(positions))},
            "seconds": round(seconds, 1), "seconds_per_message": round(seconds / n, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="default,qwen2.5-coder-1.5b", help="engine specs of the checking models")
    parser.add_argument("--sets", default="snips,clinc45,clinc150,amazon,yelp")
    parser.add_argument("--sample", type=int, default=200, help="real test messages per set (seed 0)")
    parser.add_argument("--json", default=str(ROOT / "label_check_on_real_text.results.json"))
    args = parser.parse_args()

    import synthwright

    results = {}
    for spec in args.models.split(","):
        engine = synthwright.load_engine(spec)
        results[spec] = {"engine": engine.describe(), "sets": []}
        for name in args.sets.split(","):
            row = measure(name, engine, args.sample)
            results[spec]["sets"].append(row)
            print(f"{spec:<22}{name:<10} labels {row['labels']:>3}  check refuses {row['check_refuses']:>6.1%}"
                  f"  embedding gate {row['embedding_gate_refuses']:>6.1%}  both {row['both_refuse']:>6.1%}"
                  f"  {row['seconds_per_message']:.2f} s/message", flush=True)
        engine.close()
    out = {**header("benchmarks/label_check_on_real_text.py", model=args.models,
                    seeds=f"sample of {args.sample} test messages per set, seed 0; greedy answers"),
           "target": "each gate rejects at most 2% of real messages", "results": results}
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
