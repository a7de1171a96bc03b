"""Does the data train a classifier that works on real text? Train on synthetic, test on real, four ways.

For each real labelled set in ../shared/data/text/ (SNIPS 7 intents; CLINC150's 150 fine-grained intents, or clinc45: its
banking, credit-card and travel domains; Amazon and Yelp sentiment), the
same teacher writes the same number of samples per label (default 20) four ways, and the fixed
classifier of `synthwright eval` (all-MiniLM-L6-v2 + logistic regression, C=10) trained on each is
scored on the real *test* split:

    a  naive prompting: one prompt per sample naming the domain and the label; no planner, no filters
    b  the pipeline without the quality loop (planner, executor, filters; today's defaults otherwise)
    c  the pipeline with the quality loop, no real data
    d  the loop with a 10-per-label real dev set drawn from the *train* split (never in prompts or data)

Each arm is also scored with the 10 real examples per label added to what it generated (the user who labelled a
handful and wants more). References on the same test split, no teacher needed: the label-prototype classifier (each
text gets the label whose name-and-description embedding is nearest: no generated data at all, the floor generated
data must clear), the classifier trained on 10 real examples per label (the same examples arm d gets as its dev set,
drawn from the train split), and on the full real train split (the ceiling). The recipes are in benchmarks/recipes/
(label names and one line each, as a user would write).

    python benchmarks/tstr_quality.py --teacher PATH.gguf [--sets snips,amazon,yelp] [--arms a,b,c,d] [--per-label 20]
    python benchmarks/tstr_quality.py --references-only --seeds 0,1,2 [--sets snips,clinc150,clinc45,amazon,yelp]

The default teacher is the best local model found offline: the benchmark-only Qwen2.5-Coder-0.5B
GGUF when $SYNTHWRIGHT_BENCH_TEACHER names it, else the default SmolLM2-135M. Results are printed as
a table and written to benchmarks/tstr_quality.results.json (or --json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SYNTHWRIGHT_TEXT_DATA", ROOT.parent.parent / "shared" / "data" / "text"))
SETS = {
    "snips": ("snips.yaml", "snips/train.jsonl", "snips/test.jsonl"),
    "amazon": ("amazon.yaml", "sentiment/amazon_train.jsonl", "sentiment/amazon_test.jsonl"),
    "yelp": ("yelp.yaml", "sentiment/yelp_train.jsonl", "sentiment/yelp_test.jsonl"),
    "clinc150": ("clinc150.yaml", "clinc150/train.jsonl", "clinc150/test.jsonl"),
    "clinc45": ("clinc150.yaml", "clinc150/train.jsonl", "clinc150/test.jsonl"),
}
SUBSETS = {"clinc45": ("banking", "credit_cards", "travel")}  # whole CLINC150 domains: several close intents per topic
ARMS = {"a": "naive prompting", "b": "pipeline, no loop", "c": "pipeline + loop", "d": "loop + 10/label real dev set"}
NAIVE_PROMPT = "{description}\nWrite one such text whose label is '{label}'."


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def per_label_sample(rows: list[dict], k: int, seed: int) -> list[dict]:
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[r["label"]].append(r)
    rng = random.Random(seed)
    return [r for label in sorted(by) for r in rng.sample(by[label], min(k, len(by[label])))]


def naive(recipe, engine, per_label: int, seed: int) -> tuple[list[dict], dict]:
    """One request per sample naming only the domain and the label; every parsed text is kept."""
    from synthwright.engines import ChatRequest
    from synthwright.tasks import GeneratedText

    requests, labels = [], []
    for c in recipe.categories:
        for i in range(per_label):
            requests.append(ChatRequest.user(NAIVE_PROMPT.format(description=recipe.description.strip(), label=c.name),
                                             seed=seed * 100_003 + len(requests)))
            labels.append(c.name)
    t0 = time.perf_counter()
    gens = engine.generate(requests, schema=GeneratedText, sampling=recipe.sampling)
    rows = [{"text": g.parsed.text.strip(), "label": label} for g, label in zip(gens, labels) if g.parsed is not None]
    cost = {"calls": len(requests), "tokens": sum(g.prompt_tokens + g.completion_tokens for g in gens),
            "completion_tokens": sum(g.completion_tokens for g in gens), "seconds": time.perf_counter() - t0}
    return rows, cost


def pipeline(recipe, engine, out: Path, quality: dict) -> tuple[list[dict], dict]:
    import synthwright
    from synthwright.core.store import RunStore

    t0 = time.perf_counter()
    result = synthwright.run(recipe, out=out, engine=engine, quality=quality, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - t0
    rows = [{"text": r["text"], "label": r["label"]} for split in result.dataset.values() for r in split]
    store = RunStore(out / "run.sqlite")
    try:
        calls, tokens, completion = store.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(completion_tokens), 0)"
            " FROM calls").fetchone()
        planner = store.get("planner_tokens", 0) or 0
    finally:
        store.close()
    return rows, {"calls": calls, "tokens": tokens + planner, "completion_tokens": completion, "seconds": seconds,
                  "quality": result.stats.get("quality")}


def load_set(name: str):
    """(recipe, train rows, test rows) of a set; a subset keeps whole domains' labels in all three."""
    import synthwright

    recipe_file, train_file, test_file = SETS[name]
    recipe = synthwright.load_recipe(ROOT / "recipes" / recipe_file)
    train, test = read_jsonl(DATA / train_file), read_jsonl(DATA / test_file)
    if name in SUBSETS:
        domains = json.loads((DATA / "clinc150" / "domains.json").read_text())
        keep = {label for d in SUBSETS[name] for label in domains[d]}
        recipe = recipe.model_copy(update={"categories": [c for c in recipe.categories if c.name in keep]})
        train, test = [r for r in train if r["label"] in keep], [r for r in test if r["label"] in keep]
    return recipe, train, test


def prototype_score(recipe, test: list[dict]) -> dict:
    """The label-prototype classifier: the nearest name-and-description embedding, no generated data."""
    import numpy as np
    from sklearn.metrics import f1_score

    from synthwright.evaluators.fidelity import LabelPrototypes, label_documents

    predicted = LabelPrototypes(label_documents(recipe.categories)).predict([r["text"] for r in test])
    truth = [r["label"] for r in test]
    return {"accuracy": round(float(np.mean([p == t for p, t in zip(predicted, truth)])), 4),
            "macro_f1": round(float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro",
                                             zero_division=0)), 4), "train_size": 0}


def spread(runs: list[dict]) -> dict:
    import statistics

    acc = [r["accuracy"] for r in runs]
    return {"mean": round(statistics.mean(acc), 4), "min": min(acc), "max": max(acc),
            "sd": round(statistics.stdev(acc), 4) if len(acc) > 1 else 0.0,
            "macro_f1_mean": round(statistics.mean(r["macro_f1"] for r in runs), 4), "runs": acc}


def references(names: list[str], seeds: list[int], dev_per_label: int, path: Path) -> None:
    """The rows every arm is compared with, on each set's test split; no teacher needed."""
    import sys as _sys

    _sys.path.insert(0, str(ROOT))
    from _results import header

    out = {**header("benchmarks/tstr_quality.py --references-only", model="none (no generation)",
                    seeds=",".join(map(str, seeds))), "dev_per_label": dev_per_label, "sets": {}}
    for name in names:
        recipe, train, test = load_set(name)
        out["sets"][name] = {
            "labels": len(recipe.categories), "test_size": len(test), "train_size": len(train),
            "prototype": prototype_score(recipe, test),
            "real_10_per_label": spread([score(per_label_sample(train, dev_per_label, s), test) for s in seeds]),
            "full_real": score(train, test)}
        r = out["sets"][name]
        print(f"{name:9} {r['labels']:4} labels  prototype {r['prototype']['accuracy']:.3f}   10 real/label"
              f" {r['real_10_per_label']['mean']:.3f} ({r['real_10_per_label']['min']:.3f}-{r['real_10_per_label']['max']:.3f})"
              f"   full real {r['full_real']['accuracy']:.3f}", flush=True)
        path.write_text(json.dumps(out, indent=2))
    print(f"results: {path}")


def score(rows: list[dict], test: list[dict]) -> dict:
    from synthwright.evaluators.classifier import train_and_score

    if len({r["label"] for r in rows}) < 2:
        return {"accuracy": 0.0, "macro_f1": 0.0, "train_size": len(rows)}
    return train_and_score("minilm", rows, test)


def default_teacher() -> str:
    return os.environ.get("SYNTHWRIGHT_BENCH_TEACHER") or "default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=default_teacher(), help="engine spec (default: $SYNTHWRIGHT_BENCH_TEACHER or default)")
    parser.add_argument("--sets", default="snips,clinc45,amazon,yelp")
    parser.add_argument("--arms", default="a,b,c,d")
    parser.add_argument("--per-label", type=int, default=20)
    parser.add_argument("--dev-per-label", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", default=str(ROOT / "tstr_quality.results.json"))
    parser.add_argument("--keep", default=None, help="keep the run directories under this folder")
    parser.add_argument("--references-only", action="store_true",
                        help="only the rows that need no teacher: prototype, 10 real per label, full real")
    parser.add_argument("--seeds", default="0,1,2", help="with --references-only: the draws of 10 real per label")
    args = parser.parse_args()
    if args.references_only:
        json_path = Path(args.json) if args.json != str(ROOT / "tstr_quality.results.json") else ROOT / "tstr_baselines.results.json"
        references([s for s in args.sets.split(",") if s], [int(x) for x in args.seeds.split(",")], args.dev_per_label,
                   json_path)
        return

    import transformers
    from rich.console import Console
    from rich.table import Table

    import synthwright

    transformers.utils.logging.set_verbosity_error()
    console = Console(stderr=True)
    engine = synthwright.load_engine(args.teacher, batch_size=args.batch_size)
    arms = [a for a in args.arms.split(",") if a]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tstr-quality-"))
    results: dict = {"teacher": engine.describe(), "per_label": args.per_label, "seed": args.seed, "sets": {}}
    if Path(args.json).is_file():
        previous = json.loads(Path(args.json).read_text())
        if previous.get("teacher") == results["teacher"] and previous.get("per_label") == args.per_label:
            results["sets"] = previous.get("sets", {})
    for name in [s for s in args.sets.split(",") if s]:
        base, train, test = load_set(name)
        dev = per_label_sample(train, args.dev_per_label, args.seed)
        dev_path = work / f"{name}-dev.jsonl"
        dev_path.parent.mkdir(parents=True, exist_ok=True)
        dev_path.write_text("".join(json.dumps(r) + "\n" for r in dev))
        recipe = base.model_copy(update={
            "count": base.count.model_copy(update={"per_category": args.per_label, "total": None}),
            "seed": args.seed})
        entry = results["sets"].setdefault(name, {"test_size": len(test), "arms": {}})
        console.rule(f"{name}: {len(recipe.categories)} labels, {len(test)} real test texts")
        entry["full_real"] = score(train, test)
        entry["real_10_per_label"] = score(dev, test)
        entry["prototype"] = prototype_score(recipe, test)
        for arm in arms:
            console.print(f"[bold]{name} / {arm}: {ARMS[arm]}[/bold]")
            if arm == "a":
                rows, cost = naive(recipe, engine, args.per_label, args.seed)
            else:
                quality = {"enabled": arm != "b"}
                if arm == "d":
                    quality["dev_set"] = str(dev_path)
                rows, cost = pipeline(recipe, engine, work / f"{name}-{arm}", quality)
            s = score(rows, test)
            with_real = score(rows + dev, test)
            entry["arms"][arm] = {**cost, "samples": len(rows), "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                                  "f1_per_label": s.get("f1_per_label"), "with_10_real_per_label":
                                  {"accuracy": with_real["accuracy"], "macro_f1": with_real["macro_f1"]}}
            console.print(f"  {len(rows)} samples, accuracy {s['accuracy']:.3f}, macro-F1 {s['macro_f1']:.3f},"
                          f" {cost['tokens']} tokens, {cost['seconds']:.0f} s")
            Path(args.json).write_text(json.dumps(results, indent=2))

    table = Table(title=f"TSTR on real test splits — teacher {results['teacher']['spec'] if isinstance(results['teacher'], dict) else results['teacher']}")
    for col in ("set", "arm", "samples", "accuracy", "macro-F1", "tokens", "seconds"):
        table.add_column(col, justify="left" if col in ("set", "arm") else "right")
    for name, entry in results["sets"].items():
        for arm, r in sorted(entry["arms"].items()):
            table.add_row(name, f"{arm} {ARMS[arm]}", str(r["samples"]), f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}",
                          str(r["tokens"]), f"{r['seconds']:.0f}")
        for ref in ("prototype", "real_10_per_label", "full_real"):
            r = entry.get(ref)
            if r is None:
                continue
            table.add_row(name, ref.replace("_", " "), str(r["train_size"]), f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}", "", "")
    Console().print(table)


if __name__ == "__main__":
    main()
