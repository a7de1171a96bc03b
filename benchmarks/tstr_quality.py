"""Does the data train a classifier that works on real text? Train on synthetic, test on real, four ways.

For each real labelled set in ../shared/data/text/ (SNIPS 7 intents; CLINC150's 150 fine-grained intents, or clinc45: its
banking, credit-card and travel domains; Amazon and Yelp sentiment), the
same teacher writes the same number of samples per label (default 20) four ways, and the fixed
classifier of `synthwright eval` (all-MiniLM-L6-v2 + logistic regression, C=10) trained on each is
scored on the real *test* split:

    a  naive prompting: one prompt per sample naming the domain and the label; no planner, no filters
    b  the pipeline without the quality loop (planner, executor, filters; the defaults otherwise)
    s  as b, with the label-fidelity gate also rejecting samples that read as another label (reject_other_label)
    v  as b, with the label check (--check-model, default the 1.5B) rejecting samples whose label it does not confirm
    r  as v, relabelling them instead
    c  the pipeline with the quality loop, no real data
    d  the loop with a 10-per-label real dev set drawn from the *train* split (never in prompts or data)

    oracle  the pipeline at its defaults (quality loop included) with a perfect teacher: a local OpenAI-protocol
            server (benchmarks/_oracle_server.py) answers every executor request with a real *train* message of the
            label it asks for; what it keeps of them, which gate rejects the rest, and its TSTR beside that of as
            many random real train rows (spread evenly over the labels; also as many per label as it kept, and
            --per-label of each), over --seeds; results in benchmarks/tstr_oracle.results.json

Each arm is also scored with the 10 real examples per label added to what it generated (the user who labelled a
handful and wants more). References on the same test split, no teacher needed: the label-prototype classifier (each
text gets the label whose name-and-description embedding is nearest: no generated data at all, the floor generated
data must clear), the classifier trained on 10 real examples per label (the same examples arm d gets as its dev set,
drawn from the train split), and on the full real train split (the ceiling). The recipes are in benchmarks/recipes/
(label names and one line each, as a user would write).

    python benchmarks/tstr_quality.py [--teacher SPEC] [--sets snips,amazon,yelp] [--arms a,b,s,v,r,c,d] [--per-label 20]
                                      [--seeds 0,1,2] [--dtype float32] [--check-model SPEC]
    python benchmarks/tstr_quality.py --arms oracle --sets clinc45 --per-label 10 --seeds 0,1,2 [--oracle-planner builtin]
    python benchmarks/tstr_quality.py --references-only --seeds 0,1,2 [--sets snips,clinc150,clinc45,amazon,yelp]

The teacher is $SYNTHWRIGHT_BENCH_TEACHER when set, else the default teacher (the verified Qwen2.5-Coder-0.5B).
Results are printed as a table and written to benchmarks/tstr_quality.results.json (or --json).
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
ROOM_FATES = ("quota", "limit")  # a sample that passed every gate but found its slot full, or the run's --limit met
ARMS = {"a": "naive prompting", "b": "pipeline, no loop", "s": "pipeline, no loop, reject_other_label",
        "v": "pipeline, no loop, label check (reject)", "r": "pipeline, no loop, label check (relabel)",
        "c": "pipeline + loop", "d": "loop + 10/label real dev set"}
CHECK_MODEL: list[str] = ["qwen2.5-coder-1.5b"]  # --check-model: the label check's model in arms v and r
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


def pipeline(recipe, engine, out: Path, quality: dict | None, restart: bool = False) -> tuple[list[dict], dict]:
    import synthwright
    from synthwright.core.store import RunStore

    t0 = time.perf_counter()
    result = synthwright.run(recipe, out=out, engine=engine, quality=quality, restart=restart,
                             progress=sys.stderr.isatty())
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
                  "quality": result.stats.get("quality"), "funnel": result.stats.get("funnel"),
                  "label_check": result.stats.get("label_check")}


OVERRIDE: dict = {}  # --override: recipe settings every arm's recipe gets, beside its own


def merged(base: dict, changes: dict) -> dict:
    return {**base, **{k: merged(base.get(k) or {}, v) if isinstance(v, dict) else v for k, v in changes.items()}}


def load_set(name: str):
    """(recipe, train rows, test rows) of a set; a subset keeps whole domains' labels in all three."""
    import synthwright
    import yaml

    recipe_file, train_file, test_file = SETS[name]
    path = ROOT / "recipes" / recipe_file
    recipe = synthwright.load_recipe(merged(yaml.safe_load(path.read_text(encoding="utf-8")), OVERRIDE) if OVERRIDE
                                     else path)
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


def user_prompt(request: dict) -> str:
    return next((m["content"] for m in reversed(request["messages"]) if m["role"] == "user"), "")


def run_figures(out: Path, oracle) -> dict:
    """What the run did with the real messages it was offered: fates by gate, a few rejected texts per gate, and
    how many executor prompts the oracle read a label from that is not their slot's (`misread`, must be 0)."""
    from synthwright.core.store import RunStore

    store = RunStore(out / "run.sqlite")
    try:
        samples = store.executor_samples()
        fates = store.fate_counts()
    finally:
        store.close()
    examples: dict[str, list] = defaultdict(list)
    by_label: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in samples:
        if s["status"] == "rejected":
            by_label[s["filter"]][s["category"]] += 1
            if len(examples[s["filter"]]) < 4:
                examples[s["filter"]].append({"label": s["category"], "text": s["data"].get("text", s["data"]),
                                              "reason": s["reason"]})
    rejected = {k: v for k, v in sorted(fates.items(), key=lambda kv: -kv[1]) if k != "accepted"}
    return {"executor_calls": len(samples), "accepted_in_store": fates.get("accepted", 0), "rejected_by": rejected,
            "gate_rejected": sum(v for k, v in rejected.items() if k not in ROOM_FATES),
            "misread": sum(1 for s in samples if oracle.read.get(user_prompt(s["request"])) != s["category"]),
            "rejected_labels": {gate: dict(sorted(labels.items(), key=lambda kv: -kv[1])[:8])
                                for gate, labels in by_label.items()},
            "rejected_examples": dict(examples)}


def random_real(train: list[dict], counts: dict[str, int], seed: int) -> list[dict]:
    """Random real train rows, counts[label] of each label (drawn apart from the oracle's order)."""
    by: dict[str, list[dict]] = defaultdict(list)
    for r in train:
        by[r["label"]].append(r)
    rng = random.Random(10_000 + seed)
    return [r for label in sorted(counts) for r in rng.sample(by[label], min(counts[label], len(by[label])))]


def same_count(rows: list[dict], labels: list[str], seed: int) -> tuple[dict[str, int], dict[str, int]]:
    """As many rows as `rows` has: (per label as in `rows`, spread evenly over `labels`)."""
    matched: dict[str, int] = defaultdict(int)
    for r in rows:
        matched[r["label"]] += 1
    base, extra = divmod(len(rows), len(labels))
    lucky = set(random.Random(seed).sample(sorted(labels), extra))
    return dict(matched), {label: base + (label in lucky) for label in labels}


def oracle_run(name: str, recipe, train: list[dict], test: list[dict], seed: int, forward, work: Path) -> dict:
    """One seed of the oracle-teacher arm: the pipeline at its defaults, its teacher a local OpenAI-protocol server
    that answers every executor request with a real train message of the label asked for."""
    from _oracle_server import OracleTeacher

    import synthwright

    recipe = recipe.model_copy(update={"seed": seed})
    out = work / f"{name}-oracle-{seed}"
    with OracleTeacher(recipe.categories, train, seed=seed, forward=forward) as oracle:
        # one request at a time makes the run repeatable (the answers are instant); a forwarding teacher gets batches
        engine = synthwright.load_engine("openai:oracle", base_url=oracle.base_url, api_key="none", timeout=1800,
                                         structured_method="json_schema", max_concurrency=16 if forward else 1)
        rows, cost = pipeline(recipe, engine, out, None, restart=True)  # a kept run directory would be resumed
    offered = len(oracle.offered)
    figures = run_figures(out, oracle)
    labels = [c.name for c in recipe.categories]
    matched, even = same_count(rows, labels, seed)
    kept = score(rows, test)
    reference = {f"random_real_{what}": {k: v for k, v in score(random_real(train, counts, seed), test).items()
                                         if k != "f1_per_label"}
                 for what, counts in (("matched", matched), ("even", even),
                                      ("target", dict.fromkeys(labels, recipe.count.per_category)))}
    return {"seed": seed, "offered": offered, "kept": len(rows), "kept_share": round(len(rows) / max(offered, 1), 4),
            "target": sum(recipe.count.for_categories(len(recipe.categories))),
            "gate_rejected_share": round(figures["gate_rejected"] / max(offered, 1), 4),
            "accuracy": kept["accuracy"], "macro_f1": kept["macro_f1"],
            **reference, "short_labels": {label: {"kept": matched.get(label, 0),
                                                  "test_f1": (kept.get("f1_per_label") or {}).get(label)}
                                          for label in labels if matched.get(label, 0) < recipe.count.per_category},
            "unread": oracle.unread, "recycled": oracle.recycled, "forwarded": oracle.forwarded,
            "declined": oracle.declined, "seconds": round(cost["seconds"], 1), "quality": cost["quality"], **figures}


def summary(runs: list[dict]) -> dict:
    """Mean, spread and range over seeds of what the targets read."""
    import statistics

    def stat(values: list[float]) -> dict:
        return {"mean": round(statistics.mean(values), 4), "sd": round(statistics.stdev(values), 4) if len(values) > 1
                else 0.0, "min": min(values), "max": max(values)}

    oracle, real = [r["accuracy"] for r in runs], [r["random_real_even"]["accuracy"] for r in runs]
    rejected: dict[str, int] = defaultdict(int)
    for r in runs:
        for gate, n in r["rejected_by"].items():
            rejected[gate] += n
    return {"offered": stat([r["offered"] for r in runs]), "kept": stat([r["kept"] for r in runs]),
            "kept_share": stat([r["kept_share"] for r in runs]),
            "gate_rejected_share": stat([r["gate_rejected_share"] for r in runs]), "tstr_oracle": stat(oracle),
            "tstr_random_real_even": stat(real), "tstr_gap": stat([round(o - r, 4) for o, r in zip(oracle, real)]),
            **{f"tstr_random_real_{what}": stat([r[f"random_real_{what}"]["accuracy"] for r in runs])
               for what in ("matched", "target")},
            "rejected_by_total": dict(sorted(rejected.items(), key=lambda kv: -kv[1])),
            "misread": sum(r["misread"] for r in runs),
            "kept_share_target_met": all(r["kept_share"] >= 0.95 for r in runs),
            "tstr_target_met": statistics.mean(oracle) >= statistics.mean(real)}


def uncommitted() -> list[str]:
    """The package's files that differ from the commit in the header when the figures were made."""
    import subprocess

    done = subprocess.run(["git", "status", "--porcelain", "--", "synthwright"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    return [line[3:] for line in done.stdout.splitlines()]


def oracle_benchmark(args) -> None:
    """The oracle-teacher arm on every set and seed; results merge by set into the results file (each set says the
    commit it ran on)."""
    import _results

    forward = None
    if args.oracle_planner == "teacher":
        import synthwright

        forward = synthwright.load_engine(args.teacher, batch_size=args.batch_size)
    planner = f"the benchmark teacher {args.teacher}" if forward else "the planner's built-in personas and situations"
    path = Path(args.json) if args.json != str(ROOT / "tstr_quality.results.json") else ROOT / "tstr_oracle.results.json"
    previous = json.loads(path.read_text()).get("sets", {}) if path.is_file() else {}
    seeds = [int(x) for x in args.seeds.split(",")]
    out = {**_results.header(f"benchmarks/tstr_quality.py --arms oracle --oracle-planner {args.oracle_planner}",
                             model=f"oracle teacher (real train messages); planner and other requests: {planner}",
                             seeds=args.seeds), "uncommitted": uncommitted(), "sets": previous}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tstr-oracle-"))
    for name in [s for s in args.sets.split(",") if s]:
        base, train, test = load_set(name)
        recipe = base.model_copy(update={"count": base.count.model_copy(update={"per_category": args.per_label,
                                                                                  "total": None})})
        entry = {"labels": len(recipe.categories), "per_label": args.per_label, "test_size": len(test),
                 "planner": planner, "commit": _results.commit(), "uncommitted": uncommitted(), "override": OVERRIDE,
                 "runs": []}
        out["sets"][name] = entry
        for seed in seeds:
            t0 = time.perf_counter()
            run = oracle_run(name, recipe, train, test, seed, forward, work)
            entry["runs"].append(run)
            entry["summary"] = summary(entry["runs"])
            path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
            print(f"{name:8} seed {seed}: offered {run['offered']}, kept {run['kept']} ({run['kept_share']:.1%}),"
                  f" rejected by {run['rejected_by']}, misread {run['misread']}; TSTR {run['accuracy']:.3f} against"
                  f" {run['random_real_even']['accuracy']:.3f} for as many random real rows (per label as kept:"
                  f" {run['random_real_matched']['accuracy']:.3f}; {args.per_label} per label:"
                  f" {run['random_real_target']['accuracy']:.3f})"
                  f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"results: {path}")


def default_teacher() -> str:
    return os.environ.get("SYNTHWRIGHT_BENCH_TEACHER") or "default"


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"TSTR on real test splits — teacher {results['teacher']['spec'] if isinstance(results['teacher'], dict) else results['teacher']}")
    for col in ("set", "arm", "seeds", "samples", "accuracy (mean ± sd)", "+ 10 real/label", "real-vs-synth. AUC",
                "seconds"):
        table.add_column(col, justify="left" if col in ("set", "arm") else "right")
    for name, entry in results["sets"].items():
        for arm, r in entry.get("arms", {}).items():
            runs = r["runs"]
            table.add_row(name, f"{arm} {ARMS[arm]}", str(len(runs)), str(round(sum(x["samples"] for x in runs) / len(runs))),
                          f"{r['accuracy']['mean']:.3f} ± {r['accuracy']['sd']:.3f}",
                          f"{r['with_10_real_per_label']['mean']:.3f}", f"{r.get('realism_auc_mean', 0):.3f}",
                          f"{sum(x['seconds'] for x in runs) / len(runs):.0f}")
        tens = next(iter(entry.get("arms", {}).values()), {}).get("real_10_per_label")
        if tens:
            table.add_row(name, "10 real per label", "", "", f"{tens['mean']:.3f} ± {tens['sd']:.3f}", "", "", "")
        for ref in ("prototype", "full_real"):
            r = entry.get(ref)
            if r is not None:
                table.add_row(name, ref.replace("_", " "), "", str(r["train_size"]), f"{r['accuracy']:.3f}", "", "", "")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=default_teacher(), help="engine spec (default: $SYNTHWRIGHT_BENCH_TEACHER or default)")
    parser.add_argument("--sets", default="snips,clinc45,amazon,yelp")
    parser.add_argument("--arms", default="a,b,c,d", help="a, b, s, v, r, c, d; or oracle")
    parser.add_argument("--check-model", default=CHECK_MODEL[0], help="the label check's model in arms v and r")
    parser.add_argument("--per-label", type=int, default=20)
    parser.add_argument("--dev-per-label", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtype", default="auto", help="the teacher's dtype on a local engine (auto: the engine's choice)")
    parser.add_argument("--json", default=str(ROOT / "tstr_quality.results.json"))
    parser.add_argument("--keep", default=None, help="keep the run directories under this folder")
    parser.add_argument("--references-only", action="store_true",
                        help="only the rows that need no teacher: prototype, 10 real per label, full real")
    parser.add_argument("--seeds", default="0,1,2", help="the seeds: one run of every arm per seed")
    parser.add_argument("--override", default="{}",
                        help='recipe settings for every arm, as JSON: \'{"quality": {"replace_confidence": 0.9}}\'')
    parser.add_argument("--oracle-planner", choices=("teacher", "builtin"), default="teacher",
                        help="--arms oracle: what answers the planner's requests: the --teacher engine, or nothing"
                             " usable (the planner's built-in personas and situations fill in)")
    args = parser.parse_args()
    OVERRIDE.update(json.loads(args.override))
    CHECK_MODEL[0] = args.check_model
    if args.arms == "oracle":
        oracle_benchmark(args)
        return
    if args.references_only:
        json_path = Path(args.json) if args.json != str(ROOT / "tstr_quality.results.json") else ROOT / "tstr_baselines.results.json"
        references([s for s in args.sets.split(",") if s], [int(x) for x in args.seeds.split(",")], args.dev_per_label,
                   json_path)
        return

    generating_arms(args)


def strict(recipe):
    """`recipe` with the label-fidelity gate also rejecting samples that read as another label."""
    lf = recipe.filters.label_fidelity.model_copy(update={"reject_other_label": True})
    return recipe.model_copy(update={"filters": recipe.filters.model_copy(update={"label_fidelity": lf})})


def checked(recipe, on_disagree: str):
    """`recipe` with the label check on, by --check-model."""
    check = recipe.label_check.model_copy(update={"enabled": True, "model": CHECK_MODEL[0], "on_disagree": on_disagree})
    return recipe.model_copy(update={"label_check": check})


def loop_steps_on_real(run_dir: Path, test: list[dict]) -> list[dict] | None:
    """Each quality-loop step's data (the accepted samples it measured) scored on the real test split, beside the
    loop's own score for it: does each step the loop keeps raise real accuracy? None without loop steps."""
    from synthwright.core.store import RunStore

    store = RunStore(run_dir / "run.sqlite")
    try:
        steps, samples = store.loop_steps(), {s["sample_id"]: s for s in store.samples()}
    finally:
        store.close()
    out = []
    for step in steps:
        rows = [{"text": samples[i]["data"]["text"], "label": samples[i]["category"]}
                for i in step.signal.get("sample_ids", [])]
        out.append({"step": step.step, "samples": len(rows), "loop_score": step.signal.get("score"),
                    "source": step.signal.get("source"), "action": step.decision.action,
                    "real_accuracy": score(rows, test)["accuracy"] if rows else None})
    return out or None


def generate_arm(arm: str, recipe, engine, per_label: int, seed: int, dev_path: Path, out: Path):
    if arm == "a":
        return naive(recipe, engine, per_label, seed)
    quality = {"enabled": arm in ("c", "d")}
    if arm == "d":
        quality["dev_set"] = str(dev_path)
    if arm in ("v", "r"):
        recipe = checked(recipe, "reject" if arm == "v" else "relabel")
    return pipeline(strict(recipe) if arm == "s" else recipe, engine, out, quality, restart=True)


def generating_arms(args) -> None:
    """Every generating arm on every set and seed; results merge by set into the results file, each set with the
    commit it ran on, every seed's run and the spread over seeds."""
    import _results
    import transformers
    from rich.console import Console

    import synthwright
    from synthwright.evaluators.signal import realism_auc

    transformers.utils.logging.set_verbosity_error()
    console = Console(stderr=True)
    engine = synthwright.load_engine(args.teacher, batch_size=args.batch_size,
                                     **({"dtype": args.dtype} if args.dtype != "auto" else {}))
    arms, seeds = [a for a in args.arms.split(",") if a], [int(x) for x in args.seeds.split(",")]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tstr-quality-"))
    path = Path(args.json)
    previous = json.loads(path.read_text()) if path.is_file() else {}
    results = {**_results.header(f"benchmarks/tstr_quality.py --arms {args.arms}", model=args.teacher,
                                 seeds=args.seeds), "teacher": engine.describe(), "per_label": args.per_label,
               "uncommitted": uncommitted(), "override": OVERRIDE, "sets": previous.get("sets", {})
               if previous.get("benchmark") and previous.get("per_label") == args.per_label
               else {}}
    for name in [s for s in args.sets.split(",") if s]:
        base, train, test = load_set(name)
        entry = results["sets"][name] = {**results["sets"].get(name, {}), "test_size": len(test),
                                         "commit": results["commit"]}
        entry["prototype"] = prototype_score(base, test)
        entry["full_real"] = score(train, test)
        console.rule(f"{name}: {len(base.categories)} labels, {len(test)} real test texts")
        for arm in arms:
            earlier = entry.get("arms", {}).get(arm, {}).get("runs", [])
            runs = [r for r in earlier if r["seed"] not in seeds and r.get("commit")]  # each run names its commit
            for seed in seeds:
                dev = per_label_sample(train, args.dev_per_label, seed)
                dev_path = work / f"{name}-dev-{seed}.jsonl"
                dev_path.parent.mkdir(parents=True, exist_ok=True)
                dev_path.write_text("".join(json.dumps(r) + "\n" for r in dev))
                recipe = base.model_copy(update={
                    "count": base.count.model_copy(update={"per_category": args.per_label, "total": None}), "seed": seed})
                console.print(f"[bold]{name} / {arm}: {ARMS[arm]}, seed {seed}[/bold]")
                rows, cost = generate_arm(arm, recipe, engine, args.per_label, seed, dev_path, work / f"{name}-{arm}-{seed}")
                if arm in ("c", "d"):
                    cost["loop_steps"] = loop_steps_on_real(work / f"{name}-{arm}-{seed}", test)
                    for st in cost["loop_steps"] or []:
                        console.print(f"  loop step {st['step']}: {st['samples']} samples, loop score"
                                      f" {st['loop_score']} ({st['source']}), real accuracy {st['real_accuracy']},"
                                      f" then {st['action']}")
                s, with_real = score(rows, test), score(rows + dev, test)
                auc = realism_auc([r["text"] for r in rows], [r["text"] for r in dev], embedder="minilm", seed=seed)
                runs.append({"seed": seed, "commit": results["commit"], "machine": results["machine"],
                             "teacher_dtype": results["teacher"].get("dtype"),
                             **cost, "samples": len(rows), "accuracy": s["accuracy"], "realism_auc": auc,
                             "macro_f1": s["macro_f1"], "f1_per_label": s.get("f1_per_label"),
                             "with_10_real_per_label": {"accuracy": with_real["accuracy"],
                                                        "macro_f1": with_real["macro_f1"]},
                             "real_10_per_label": {k: v for k, v in score(dev, test).items() if k != "f1_per_label"}})
                console.print(f"  {len(rows)} samples, accuracy {s['accuracy']:.3f}, with 10 real/label"
                              f" {with_real['accuracy']:.3f}, real-vs-synthetic AUC {auc}, {cost['tokens']} tokens,"
                              f" {cost['seconds']:.0f} s")
                runs.sort(key=lambda r: r["seed"])
                entry.setdefault("arms", {})[arm] = {
                    "name": ARMS[arm], "runs": runs, "accuracy": spread(runs),
                    "with_10_real_per_label": spread([r["with_10_real_per_label"] for r in runs]),
                    "real_10_per_label": spread([r["real_10_per_label"] for r in runs]),
                    "realism_auc_mean": round(sum(r["realism_auc"] or 0 for r in runs) / len(runs), 4)}
                path.write_text(json.dumps(results, indent=2))
    print_table(results)


if __name__ == "__main__":
    main()
