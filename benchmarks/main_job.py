"""The README's main job, as a new user runs it: wall time per phase, what was accepted, why the rest was not, and the
accepted rows laid out for reading one by one.

    python benchmarks/main_job.py [--teacher default] [--recipe recipes/banking-intents.yaml] [--limit N] [--read 100]
                                  [--estimate]
    python benchmarks/main_job.py --results FILE --verdicts VERDICTS.jsonl

The first form runs the recipe in a fresh output directory and writes a results file (default
benchmarks/main_job.<teacher>.results.json): phases and their seconds, accepted/target, acceptance, rejections by
filter, tokens, and up to `--read` accepted rows drawn at random (seed 0), each with `"verdict": null`. Junk is judged
by reading, not by the filters' scores: a reader writes one JSON line per row read, {"index": i, "verdict": "ok" or
"junk", "why": "…"}, and the second form merges those verdicts into the results file and counts the junk share.
With --estimate, `synthwright plan --estimate` runs in a directory of its own, and the results set its predictions
(time, acceptance, accepted samples) beside what the run measured, with their ratios; the run is then resumed in the
estimate's directory, so the results also say what the estimate added to the run's time (its plan and its batch are
the run's own work).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _results import header

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent


def timed_progress():
    """A RunProgress that also notes when each phase starts: its phase lines, the planner's first progress and the
    generation bar (notes, such as the teacher check, are not phases)."""
    from synthwright.core.progress import RunProgress

    class TimedProgress(RunProgress):
        def __init__(self):
            super().__init__(enabled=True)
            self.marks: list[tuple[float, str]] = []

        def phase(self, text: str) -> None:
            self.marks.append((time.perf_counter(), text.rstrip(" …")))
            super().phase(text)

        def planning(self, *args, **kwargs):
            if not self.marks or self.marks[-1][1] != "planning phrases":
                self.marks.append((time.perf_counter(), "planning phrases"))
            return super().planning(*args, **kwargs)

        def start(self, *args, **kwargs):
            self.marks.append((time.perf_counter(), "generating"))
            return super().start(*args, **kwargs)

    return TimedProgress()


def phase_seconds(marks: list[tuple[float, str]], started: float, ended: float) -> list[dict]:
    """Seconds from each phase's start to the next one's (the first phase starts when the run does)."""
    points = [(started, "opening the run")] + marks + [(ended, "end")]
    return [{"phase": name, "seconds": round(points[i + 1][0] - t, 1)} for i, (t, name) in enumerate(points[:-1])]


def rows_to_read(store, n: int) -> list[dict]:
    slots = {s["slot_id"]: s for s in store.slots()}
    accepted = store.samples("accepted")
    picked = sorted(random.Random(0).sample(range(len(accepted)), min(n, len(accepted))))
    return [{"index": k, "label": accepted[i]["category"], "text": accepted[i]["data"].get("text"),
             "persona": slots[accepted[i]["slot_id"]]["persona"], "scenario": slots[accepted[i]["slot_id"]]["scenario"],
             "verdict": None, "why": None} for k, i in enumerate(picked)]


def estimate_check(args, run_seconds: float, acceptance: float | None, accepted: int) -> dict:
    """`plan --estimate` in a fresh directory: what it predicted, what it cost, and run / prediction ratios."""
    import synthwright

    out = Path(tempfile.mkdtemp(prefix="main-job-estimate-")) / "run"
    started = time.perf_counter()
    est = synthwright.estimate_run(REPO / args.recipe, teacher=args.teacher, out=out)
    took = time.perf_counter() - started
    synthwright.run(REPO / args.recipe, teacher=args.teacher, out=out, limit=args.limit)  # resumes from the sample
    both = time.perf_counter() - started
    return {"predicted_seconds": round(est.seconds, 1), "predicted_acceptance": round(est.acceptance, 3),
            "predicted_accepted": est.expected_accepted, "sampled_requests": est.sampled,
            "estimate_seconds": round(took, 1), "lines": est.lines(),
            "time_ratio": round(run_seconds / est.seconds, 2) if est.seconds else None,
            "acceptance_ratio": round(acceptance / est.acceptance, 2) if acceptance and est.acceptance else None,
            "estimate_share_of_run": round(took / run_seconds, 3),
            "estimate_then_run_seconds": round(both, 1), "extra_share": round(both / run_seconds - 1, 3)}


def run_job(args) -> dict:
    import synthwright
    from synthwright.core.store import RunStore

    out = Path(tempfile.mkdtemp(prefix="main-job-")) / "run"
    bar = timed_progress()
    started = time.perf_counter()
    result = synthwright.run(REPO / args.recipe, teacher=args.teacher, out=out, limit=args.limit, progress=bar)
    ended = time.perf_counter()
    stats = result.stats
    store = RunStore(out / "run.sqlite")
    try:
        reading = rows_to_read(store, args.read)
        fates = store.fate_counts()
    finally:
        store.close()
    generated = sum(fates.values())
    acceptance = round(stats["accepted"] / generated, 3) if generated else None
    estimate = estimate_check(args, ended - started, acceptance, stats["accepted"]) if args.estimate else None
    return {
        **header("benchmarks/main_job.py", model=args.teacher, seeds="the recipe's seed"),
        "recipe": args.recipe, "limit": args.limit, "out": str(out), "wall_seconds": round(ended - started, 1),
        "phases": phase_seconds(bar.marks, started, ended),
        "target": stats["target"], "accepted": stats["accepted"], "generated": generated,
        "acceptance": acceptance, "estimate": estimate,
        "rejected_by": dict(Counter({k: v for k, v in fates.items() if k != "accepted"}).most_common()),
        "labels_with_rows": sum(1 for v in stats["per_category"].values() if v["accepted"]),
        "tokens": {"prompt": stats["prompt_tokens"], "completion": stats["completion_tokens"]},
        "teacher_check": stats.get("teacher_check"), "reading": reading,
    }


def merge_verdicts(results_path: Path, verdicts_path: Path) -> dict:
    results = json.loads(results_path.read_text())
    verdicts = [json.loads(line) for line in verdicts_path.read_text().splitlines() if line.strip()]
    by_index = {v["index"]: v for v in verdicts}
    for row in results["reading"]:
        v = by_index.get(row["index"])
        if v is not None:
            row["verdict"], row["why"] = v["verdict"], v.get("why")
    read = [r for r in results["reading"] if r["verdict"] is not None]
    junk = sum(r["verdict"] == "junk" for r in read)
    results["read"] = {"rows": len(read), "junk": junk, "junk_share": round(junk / len(read), 3) if read else None}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="default")
    parser.add_argument("--recipe", default="recipes/banking-intents.yaml")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--read", type=int, default=100, help="accepted rows drawn at random for reading")
    parser.add_argument("--estimate", action="store_true", help="also run plan --estimate and compare it with the run")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--verdicts", type=Path, default=None, help="merge a reader's verdicts into --results")
    args = parser.parse_args()
    path = args.results or ROOT / f"main_job.{args.teacher.replace('/', '_').replace(':', '_')}.results.json"
    if args.verdicts is not None:
        results = merge_verdicts(path, args.verdicts)
        print(f"read {results['read']['rows']} rows: {results['read']['junk']} junk ({results['read']['junk_share']:.0%})")
    else:
        results = run_job(args)
        print(f"{results['wall_seconds']} s: {results['accepted']} of {results['target']} accepted,"
              f" {results['generated']} generated; {results['rejected_by']}")
        for p in results["phases"]:
            print(f"  {p['seconds']:>7.1f} s  {p['phase']}")
        if results["estimate"]:
            print("estimate: " + " | ".join(results["estimate"]["lines"]))
            print(f"  run/estimate: time {results['estimate']['time_ratio']}, acceptance"
                  f" {results['estimate']['acceptance_ratio']}; the estimate took {results['estimate']['estimate_seconds']} s;"
                  f" estimate + resumed run {results['estimate']['estimate_then_run_seconds']} s"
                  f" ({results['estimate']['extra_share']:+.0%} on the run)")
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
