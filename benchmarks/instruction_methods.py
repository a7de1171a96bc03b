"""Instruction methods on one teacher with the same request budget, and the ROUGE-L novelty filter's speed.

Part 1 (no model): the novelty filter over 10^4 and 10^5 synthetic instructions (and the 13,784 real SNIPS train
commands), each checked against everything accepted before it and then added, as a run does. Baseline in the same
process: a full scan (exact LCS against every indexed instruction, rapidfuzz) for 300 queries, extrapolated; the
same queries (near copies of indexed instructions, 10-30% of words replaced) measure what the probe and verify
limits miss, and the exact passes (no limits) give the rejections a full scan makes. Target: the 10^5 pass within
10x the 10^4 pass.

Part 2 (the teacher): topics (planner + executor), self_instruct, evol_instruct and magpie, each with the same
budget of executor requests, on the same teacher (default: SmolLM2-135M-Instruct; `--teacher` for another),
judge on with min_score 1 (it scores every sample and rejects only unusable verdicts, so methods are compared on
the same gates). Prints accepted instructions, acceptance, instructions/s, ROUGE-L to the seeds, distinct-n,
embedding diversity and judge scores.

    PYTHONPATH=. python benchmarks/instruction_methods.py [--requests 48] [--skip-methods] [--sizes 10000 100000]
        [--probe-limit 1000] [--verify-limit 100] [--ratio-repeats 3]

Results: tables on stdout; the methods' figures also in benchmarks/instruction_methods.results.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from synthwright.evaluators.novelty import NoveltyIndex, rouge_l, rouge_tokens

SEEDS = [
    "Write a polite reply to a customer whose parcel arrived three days late.",
    "Summarize this customer complaint in one sentence.",
    "Classify the sentiment of this review as positive, neutral or negative.",
    "Suggest three subject lines for an email announcing new return rules.",
    "Explain to a customer how to track an order, in plain words.",
    "Rewrite this message so that it sounds friendlier.",
    "List five questions to ask a customer who reports a damaged item.",
    "Draft a short apology for a billing error, offering a refund.",
    "Turn these notes into a clear step-by-step answer about resetting a password.",
    "Give two ways to calm down an angry customer on a live chat.",
]
DESCRIPTION = "Tasks that staff of an online shop's customer-support team ask an assistant to help with."


# part 1 -------------------------------------------------------------------------------------------------------------

def synthetic_instructions(n: int, seed: int = 0, head: int = 50) -> list[str]:
    """Imperatives shaped like English: function words (the index's COMMON list, Zipf by rank) make ~40% of tokens,
    content words are Zipf-Mandelbrot (weight 1/(rank + head)) over 20,000 words; 5% are near copies of earlier
    ones. `head=0` is plain Zipf over the content words too: a stress case where content words are as skewed as
    function words."""
    from synthwright.evaluators.novelty import COMMON

    rng = random.Random(seed)
    verbs = "write explain summarize list classify rewrite draft suggest describe compare outline translate give".split()
    vocab = [f"word{i}" for i in range(20000)]
    weights = list(itertools.accumulate(1.0 / (i + 1 + head) for i in range(len(vocab))))  # cumulative: drawn fast
    glue = [w for w in COMMON if w not in verbs]
    glue_weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(glue))))
    out: list[str] = []
    for i in range(n):
        if out and rng.random() < 0.05:
            words = rng.choice(out).split()
            words[rng.randrange(len(words))] = rng.choice(glue)
            out.append(" ".join(words))
            continue
        content = rng.choices(vocab, cum_weights=weights, k=rng.randint(3, 10))
        words = [rng.choice(verbs)]
        for w in content:
            words += rng.choices(glue, cum_weights=glue_weights, k=rng.randint(0, 2)) + [w]
        out.append(" ".join(words))
    return out


def snips_commands(path: Path = Path("/work/shared/data/text/snips/train.jsonl")) -> list[str]:
    """Real voice-assistant commands (SNIPS train split; timing only, never scored or used as seeds)."""
    import json

    if not path.is_file():
        return []
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def novelty_pass(texts: list[str], threshold: float = 0.7, probe_limit: int | None = 1000,
                 verify_limit: int | None = 100) -> tuple[float, int, NoveltyIndex]:
    index = NoveltyIndex(threshold, probe_limit=probe_limit, verify_limit=verify_limit)
    rejected = 0
    t0 = time.perf_counter()
    for t in texts:
        if index.nearest(t).score >= threshold:
            rejected += 1
        else:
            index.add(t)
    return time.perf_counter() - t0, rejected, index


def duplicate_pass(texts: list[str], runs: int = 5) -> float:
    """The fastest of `runs` passes of an exact-duplicate filter (a set of token tuples) over `texts`: constant work
    per query, so its size ratio is the floor that any filter's ratio on this machine is measured against."""
    best = math.inf
    for _ in range(runs):
        seen: set[tuple[str, ...]] = set()
        t0 = time.perf_counter()
        for t in texts:
            key = tuple(rouge_tokens(t))
            if key not in seen:
                seen.add(key)
        best = min(best, time.perf_counter() - t0)
    return best


def mutated(text: str, rng: random.Random, share: float) -> str:
    words = text.split()
    for _ in range(max(1, round(share * len(words)))):
        words[rng.randrange(len(words))] = f"new{rng.randrange(10**6)}"
    return " ".join(words)


def recall(index: NoveltyIndex, rng: random.Random, queries: int = 300) -> tuple[int, int, float]:
    """Near copies (10-30% of words replaced) of indexed instructions: (found by the index, near by a full scan,
    seconds per full-scan query)."""
    found = near = 0
    t0 = time.perf_counter()
    for _ in range(queries):
        q = mutated(rng.choice(index.texts), rng, rng.uniform(0.1, 0.3))
        if index.nearest(q, exact=True).score >= index.threshold:
            near += 1
            found += index.nearest(q).score >= index.threshold
    return found, near, (time.perf_counter() - t0) / queries


def bench_novelty(sizes: list[int], limits: tuple[int | None, int | None],
                  repeats: int = 3) -> tuple[list[dict], list[float], list[float]]:
    """The table's rows, the last size's / first size's pass time at `limits` (`repeats` times), and the same ratio
    for `duplicate_pass`, the constant-work floor, measured beside each."""
    synthetic = {n: synthetic_instructions(n) for n in sizes}
    cases = [(f"synthetic {n:,}", synthetic[n], limits) for n in sizes]
    cases += [(f"synthetic {n:,}, exact (no limits)", synthetic[n], (None, None)) for n in sizes]
    cases += [(f"synthetic {sizes[0]:,}, plain Zipf (stress)", synthetic_instructions(sizes[0], head=0), limits)]
    real = snips_commands()
    if real:
        cases.append((f"SNIPS train commands {len(real):,}", real, limits))
        cases.append((f"SNIPS train commands {len(real):,}, exact", real, (None, None)))
    rows = []
    for name, texts, (probe, verify) in cases:
        n = len(texts)
        seconds, rejected, index = novelty_pass(texts, probe_limit=probe, verify_limit=verify)
        compared, cut, capped = index.compared, index.cut, index.capped
        found, near, per_full = recall(index, random.Random(1))
        full_pass = per_full * n / 2  # a full scan of the growing index costs half the final one per query, on average
        rows.append({"case": name, "n": n, "seconds": seconds, "rejected": rejected, "compared_per_query": compared / n,
                     "cut": cut, "capped": capped, "recall": f"{found}/{near}", "full_scan_pass_est": full_pass,
                     "speedup": full_pass / seconds})
    ratios, floor = [], []
    if len(sizes) >= 2:
        def timed(n: int) -> float:
            return novelty_pass(synthetic[n], probe_limit=limits[0], verify_limit=limits[1])[0]

        ratios.append(rows[len(sizes) - 1]["seconds"] / rows[0]["seconds"])
        for i in range(repeats):  # the machine is noisy: the pairs of passes again, alternating
            if i:
                ratios.append(timed(sizes[-1]) / timed(sizes[0]))
            floor.append(duplicate_pass(synthetic[sizes[-1]], 2) / duplicate_pass(synthetic[sizes[0]], 10))
    return rows, ratios, floor


# part 2 -------------------------------------------------------------------------------------------------------------

def recipe_for(method: str, requests: int, seed_tasks: list[str], judge: bool = True) -> dict:
    data = {
        "name": f"bench-{method}", "task": "instruction", "method": method, "description": DESCRIPTION,
        "count": {"total": requests},
        "sampling": {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 160, "repetition_penalty": 1.1},
        "judge": {"enabled": judge, "min_score": 1, "max_new_tokens": 160},
        "output": {"formats": ["jsonl"], "splits": {"train": 1.0}},
        "quality": {"enabled": False},
    }
    if method == "topics":
        data.update(categories=[{"name": "support", "description": DESCRIPTION}],
                    axes={"personas": ["a support agent", "a team lead"], "scenarios_per_category": 4},
                    budget={"max_rounds": 1})
    else:
        data["instruction"] = {"seed_tasks": seed_tasks, "max_requests": requests, "batch_size": 8, "per_request": 3,
                               "generations": 3}
    return data


def bench_methods(teacher: str, requests: int, methods: list[str], judge: bool = True,
                  results: str | None = None) -> list[dict]:
    from synthwright import load_engine, run

    engine = load_engine(teacher, batch_size=16)
    rows = []
    for method in methods:
        out = Path(tempfile.mkdtemp(prefix=f"bench-{method}-"))
        t0 = time.perf_counter()
        result = run(recipe_for(method, requests, SEEDS, judge), out=out, engine=engine)
        seconds = time.perf_counter() - t0
        s = result.stats
        rep = s["report"]
        executor = s["phases"].get("executor", {}).get("calls", 0)
        instructions = [r["instruction"] for r in result.dataset["train"]] if result.dataset else []
        rs = rep["instruction"]["rouge_to_seeds"] or {}
        verdicts = rep["judge"] or {}
        rows.append({
            "method": method, "executor_requests": executor, "all_calls": s["calls"], "accepted": s["accepted"],
            "acceptance": s["accepted"] / max(1, rep["funnel"]["generated"]), "seconds": seconds,
            "per_second": s["accepted"] / seconds, "rouge_seeds_median": rs.get("median"),
            "rouge_within_median": within_rouge(instructions), "distinct_2": rep["lexical"]["distinct_2"],
            "embedding_diversity": rep["semantic"]["diversity"], "judge": judge_means(verdicts),
            "funnel": s["funnel"], "out": str(out),
        })
        if results:  # each method's figures as soon as it finishes
            Path(results).write_text(json.dumps({"teacher": engine.describe(), "requests": requests, "methods": rows},
                                                indent=2, default=str))
    return rows


def within_rouge(instructions: list[str]) -> float | None:
    """Median over accepted instructions of the highest ROUGE-L with another accepted one."""
    if len(instructions) < 2:
        return None
    from synthwright.evaluators.novelty import rouge_tokens

    toks = [rouge_tokens(t) for t in instructions]
    best = [max(rouge_l(a, b) for j, b in enumerate(toks) if j != i) for i, a in enumerate(toks)]
    return round(statistics.median(best), 3)


def judge_means(judge: dict) -> dict[str, float]:
    out = {}
    for name, hist in (judge.get("scores") or {}).items():
        n = sum(hist.values())
        if n:
            out[name] = round(sum(int(k) * v for k, v in hist.items()) / n, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=48, help="executor requests per method")
    parser.add_argument("--teacher", default="smollm2")
    parser.add_argument("--methods", nargs="+", default=["topics", "self_instruct", "evol_instruct", "magpie"])
    parser.add_argument("--skip-methods", action="store_true")
    parser.add_argument("--json", default=str(Path(__file__).with_name("instruction_methods.results.json")),
                        help="the methods' figures, written after each method")
    parser.add_argument("--skip-novelty", action="store_true")
    parser.add_argument("--no-judge", action="store_true", help="leave the judge out (half the calls)")
    parser.add_argument("--probe-limit", type=int, default=1000, help="NoveltyIndex.probe_limit for the timed passes")
    parser.add_argument("--verify-limit", type=int, default=100, help="NoveltyIndex.verify_limit for the timed passes")
    parser.add_argument("--ratio-repeats", type=int, default=3, help="passes of the first and last size for the ratio")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    if not args.skip_novelty:
        novelty_table(console, Table, args.sizes, (args.probe_limit, args.verify_limit), args.ratio_repeats)
    if args.skip_methods:
        return
    methods_table(console, Table, args)


def novelty_table(console, Table, sizes: list[int], limits: tuple[int | None, int | None], repeats: int = 3) -> None:
    table = Table(title=f"ROUGE-L novelty filter (threshold 0.7, probe limit {limits[0]}, verify limit {limits[1]}):"
                        " one pass, each instruction checked then added")
    for col in ("instructions", "seconds", "rejected", "LCS per query", "probe cut / verify capped", "near copies found",
                "full scan (est.)", "speed-up"):
        table.add_column(col, justify="right")
    rows, ratios, floor = bench_novelty(sizes, limits, repeats)
    for r in rows:
        table.add_row(r["case"], f"{r['seconds']:.2f}", f"{r['rejected']:,}", f"{r['compared_per_query']:.1f}",
                      f"{r['cut']:,} / {r['capped']:,}", r["recall"], f"{r['full_scan_pass_est']:.0f} s", f"{r['speedup']:.0f}x")
    console.print(table)
    if ratios:
        first, last = rows[0], rows[len(sizes) - 1]
        console.print(f"{last['n']:,} / {first['n']:,} time ratio: median {statistics.median(ratios):.1f} of "
                      f"{', '.join(f'{r:.1f}' for r in ratios)} (target <= {last['n'] / first['n']:g}; a full scan would be "
                      f"{(last['n'] / first['n']) ** 2:.0f})")
        console.print(f"  the floor, an exact-duplicate set filter (constant work per query) on the same texts: median "
                      f"{statistics.median(floor):.1f} of {', '.join(f'{r:.1f}' for r in floor)}")


def methods_table(console, Table, args) -> None:
    table = Table(title=f"{args.requests} executor requests per method, teacher {args.teacher}, judge = same model")
    for col in ("method", "requests (all calls)", "accepted", "acceptance", "inst/s", "ROUGE-L seeds (median)",
                "ROUGE-L within (median)", "distinct-2", "embedding div.", "judge H/C/S", "rejections"):
        table.add_column(col)
    for r in bench_methods(args.teacher, args.requests, args.methods, not args.no_judge, args.json):
        j = r["judge"]
        funnel = ", ".join(f"{k} {v}" for k, v in r["funnel"].items() if k != "accepted")
        table.add_row(r["method"], f"{r['executor_requests']} ({r['all_calls']})", str(r["accepted"]),
                      f"{r['acceptance']:.0%}", f"{r['per_second']:.2f}", str(r["rouge_seeds_median"]),
                      str(r["rouge_within_median"]), str(r["distinct_2"]), str(r["embedding_diversity"]),
                      "/".join(str(j.get(k, "–")) for k in ("helpfulness", "correctness", "harmlessness")), funnel)
        console.print(f"{r['method']}: {r['seconds']:.0f} s, run in {r['out']}")
    console.print(table)


if __name__ == "__main__":
    main()
