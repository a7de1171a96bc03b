"""What the gates do to real text: the share of *real* messages, with their true labels, that each gate rejects.

A gate that refuses what real users write does not only remove junk: it keeps the synthetic set inside what the
label descriptions already say. For each real labelled set in ../shared/data/text/ (SNIPS, CLINC150, Amazon, Yelp)
and the recipe a user would write for it (benchmarks/recipes/: label names and one line each), every real *test*
message is offered to the filters of a classification run at the recipe's defaults as if the teacher had written it
for its true label, and this prints and records:

  - per gate, alone: the share it rejects (each gate sees every message);
  - all content gates in run order (every filter but the three copy filters, whose job is to refuse repeats): the share
    that would not reach the dataset;
  - the copy filters on their own (exact and near duplicates among the real messages themselves);
  - the label-prototype classifier: each message gets the label whose name-and-description embedding is nearest. It
    needs no generated data, so it is the floor generated data must clear;
  - the label-fidelity gate with `reject_other_label` (applied with `auto`, the default, when the teacher check finds
    the teacher weak), alone;
  - where real messages sit for the label-fidelity check (relevance, own-label cosine and margin at the 1st, 2nd, 5th
    percentile).

With `--judge SPEC`, the LLM judge (off by default in a recipe; with `require_label_agreement` it is the teacher
verifying each label) is held against a seeded sample of each set's real messages too, by what it fails them for.

Targets (the quality issue): each gate ≤ 2% and all content gates ≤ 5% of every set's real messages.

    python benchmarks/gates_on_real_text.py [--sets snips,clinc150,amazon,yelp] [--json PATH]
                                            [--judge default --judge-sample 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from _results import header

ROOT = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SYNTHWRIGHT_TEXT_DATA", ROOT.parent.parent / "shared" / "data" / "text"))
SETS = {
    "snips": ("snips.yaml", "snips/test.jsonl"),
    "clinc150": ("clinc150.yaml", "clinc150/test.jsonl"),
    "amazon": ("amazon.yaml", "sentiment/amazon_test.jsonl"),
    "yelp": ("yelp.yaml", "sentiment/yelp_test.jsonl"),
}
COPY_FILTERS = ("seed_copy", "exact_duplicate", "near_duplicate")
GATE_TARGET, ALL_TARGET = 0.02, 0.05


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def candidates(rows: list[dict]) -> list:
    from synthwright.evaluators.filters import Candidate

    return [Candidate(data={"text": r["text"], "label": r["label"]}, text=r["text"], category=r["label"],
                      slot_id="real") for r in rows]


def rejected_by(recipe, rows: list[dict], filters: list) -> tuple[int, Counter, list[dict]]:
    """Offer every row to `filters` in order: (rejected, rejections per filter, a few rejected rows with reasons)."""
    from synthwright.evaluators.filters import FilterState, apply_filters
    from synthwright.tasks import task_for

    task = task_for(recipe.task)
    state = FilterState.for_run(recipe, task, [], set(), [])
    cands = candidates(rows)
    apply_filters(cands, state, recipe.filters, filters)
    dead = [c for c in cands if not c.alive]
    examples = [{"text": c.text, "label": c.category, "filter": c.filter, "reason": c.reason} for c in dead[:8]]
    return len(dead), Counter(c.filter for c in dead), examples


def fidelity_quantiles(recipe, rows: list[dict]) -> dict:
    """Where real messages sit for the label-fidelity check: their relevance (cosine to the nearest label or the
    recipe's description), their cosine to their own label's prototype, and that cosine minus the nearest other
    label's, at the 1st, 2nd and 5th percentile (a threshold above them rejects more)."""
    import numpy as np

    from synthwright.evaluators.fidelity import LabelPrototypes, label_documents

    protos = LabelPrototypes(label_documents(recipe.categories), [recipe.description])
    texts = [r["text"] for r in rows]
    scored = protos.score(texts, [r["label"] for r in rows])
    own = np.array([s[0] for s in scored])
    margin = np.array([s[0] - s[2] for s in scored])
    qs = (0.01, 0.02, 0.05)
    return {"percentiles": [int(q * 100) for q in qs],
            "relevance": [round(float(v), 3) for v in np.quantile(protos.relevance(texts), qs)],
            "own_cosine": [round(float(v), 3) for v in np.quantile(own, qs)],
            "margin": [round(float(v), 3) for v in np.quantile(margin, qs)]}


def prototype_accuracy(recipe, rows: list[dict]) -> dict:
    """The label-prototype classifier (no generated data): nearest name-and-description embedding."""
    import numpy as np

    from synthwright.evaluators.fidelity import LabelPrototypes, label_documents

    predicted = LabelPrototypes(label_documents(recipe.categories)).predict([r["text"] for r in rows])
    labels = sorted({r["label"] for r in rows})
    from sklearn.metrics import f1_score

    truth = [r["label"] for r in rows]
    return {"accuracy": round(float(np.mean([p == t for p, t in zip(predicted, truth)])), 4),
            "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4)}


def judge_rejections(recipe, rows: list[dict], engine, sample: int) -> dict:
    """The LLM judge at the recipe's judge defaults (turned on) over `sample` real messages drawn with seed 0."""
    import random

    from synthwright.evaluators.judge import Judge

    picked = random.Random(0).sample(rows, min(sample, len(rows)))
    recipe = recipe.model_copy(update={"judge": recipe.judge.model_copy(update={"enabled": True})})
    cands = candidates(picked)
    t0 = time.perf_counter()
    Judge(recipe, engine).evaluate(cands)
    failed = [c.features["verdict"].failed for c in cands if not c.alive]
    label = sum(any(f.startswith("the judge's label") for f in fs) for fs in failed)
    no_verdict = sum(fs == ["no usable verdict"] for fs in failed)
    dead = [c for c in cands if not c.alive]
    return {"judge": engine.describe().get("spec"), "messages": len(cands), "rejected": len(dead),
            "share": round(len(dead) / len(cands), 4), "label_disagreement": round(label / len(cands), 4),
            "no_verdict": round(no_verdict / len(cands), 4),
            "low_score_only": round((len(dead) - label - no_verdict) / len(cands), 4),
            "examples": [{"text": c.text, "label": c.category, "reason": c.reason} for c in dead[:5]],
            "seconds": round(time.perf_counter() - t0, 1)}


def measure(name: str, engine=None, judge_sample: int = 200) -> dict:
    from synthwright.evaluators.filters import filters_for
    from synthwright.recipe.load import load_recipe
    from synthwright.tasks import task_for

    recipe_file, test_file = SETS[name]
    recipe = load_recipe(ROOT / "recipes" / recipe_file)
    rows = read_jsonl(DATA / test_file)
    filters = filters_for(task_for(recipe.task))
    t0 = time.perf_counter()
    per_gate = {}
    for gate in filters:
        n, _, examples = rejected_by(recipe, rows, [gate])
        per_gate[gate[0]] = {"rejected": n, "share": round(n / len(rows), 4), "examples": examples[:3]}
    content = [f for f in filters if f[0] not in COPY_FILTERS]
    n_all, by_filter, examples = rejected_by(recipe, rows, content)
    lf = recipe.filters.label_fidelity.model_copy(update={"reject_other_label": True})
    strict = recipe.model_copy(update={"filters": recipe.filters.model_copy(update={"label_fidelity": lf})})
    n_strict, _, strict_examples = rejected_by(strict, rows, [f for f in filters if f[0] == "label_fidelity"])
    return {
        "set": name, "recipe": f"benchmarks/recipes/{recipe_file}", "test_file": test_file, "messages": len(rows),
        "labels": len({r["label"] for r in rows}), "per_gate": per_gate,
        "content_gates": {"rejected": n_all, "share": round(n_all / len(rows), 4), "by_filter": dict(by_filter),
                          "examples": examples},
        "label_fidelity_reject_other_label": {"rejected": n_strict, "share": round(n_strict / len(rows), 4),
                                              "examples": strict_examples[:3]},
        "prototype_classifier": prototype_accuracy(recipe, rows),
        "label_fidelity_quantiles": fidelity_quantiles(recipe, rows), "seconds": round(time.perf_counter() - t0, 1),
        "judge": judge_rejections(recipe, rows, engine, judge_sample) if engine is not None else None,
    }


def print_table(results: list[dict]) -> None:
    gates = list(results[0]["per_gate"])
    print(f"{'gate':<18}" + "".join(f"{r['set']:>11}" for r in results))
    for gate in gates:
        cells = [r["per_gate"][gate]["share"] for r in results]
        flag = " " if gate in COPY_FILTERS else "*" if max(cells) > GATE_TARGET else " "
        print(f"{gate:<17}{flag}" + "".join(f"{c:>11.1%}" for c in cells))
    print(f"{'all content gates':<17}{'*' if any(r['content_gates']['share'] > ALL_TARGET for r in results) else ' '}"
          + "".join(f"{r['content_gates']['share']:>11.1%}" for r in results))
    print(f"{'(reject_other_label)':<18}" + "".join(f"{r['label_fidelity_reject_other_label']['share']:>11.1%}"
                                                    for r in results))
    if all(r.get("judge") for r in results):
        print(f"{'judge (sample)':<17}{'*' if any(r['judge']['share'] > GATE_TARGET for r in results) else ' '}"
              + "".join(f"{r['judge']['share']:>11.1%}" for r in results))
        print(f"{'  its label':<18}" + "".join(f"{r['judge']['label_disagreement']:>11.1%}" for r in results))
    print(f"{'prototype acc.':<18}" + "".join(f"{r['prototype_classifier']['accuracy']:>11.3f}" for r in results))
    print(f"{'relevance p1':<18}" + "".join(f"{r['label_fidelity_quantiles']['relevance'][0]:>11.3f}" for r in results))
    print(f"{'own cosine p1':<18}" + "".join(f"{r['label_fidelity_quantiles']['own_cosine'][0]:>11.3f}" for r in results))
    print(f"{'margin p1':<18}" + "".join(f"{r['label_fidelity_quantiles']['margin'][0]:>11.3f}" for r in results))
    print(f"* over the target: {GATE_TARGET:.0%} per gate, {ALL_TARGET:.0%} for all content gates"
          " (the copy filters refuse repeats and have no target)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--json", type=Path, default=ROOT / "gates_on_real_text.results.json")
    parser.add_argument("--judge", default=None, help="engine spec of an LLM judge to hold against real messages too")
    parser.add_argument("--judge-sample", type=int, default=200, help="real messages per set the judge reads")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no real data at {DATA}; set SYNTHWRIGHT_TEXT_DATA to the folder with snips/, clinc150/, sentiment/")
        return 2
    engine = None
    if args.judge:
        import synthwright

        engine = synthwright.load_engine(args.judge)
    results = [measure(name, engine, args.judge_sample) for name in args.sets.split(",")]
    print_table(results)
    args.json.write_text(json.dumps({
        **header("benchmarks/gates_on_real_text.py", model=f"the filters and the all-MiniLM-L6-v2 embedder; judge: {args.judge}"
                 if args.judge else "none: the filters and the all-MiniLM-L6-v2 embedder",
                 seeds="judge sample: seed 0" if args.judge else "none (deterministic)"),
        "targets": {"per_gate": GATE_TARGET, "all_content_gates": ALL_TARGET}, "sets": results,
    }, indent=2, ensure_ascii=False))
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
