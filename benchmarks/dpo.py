"""What each stage buys: teacher run → SFT student (`distill`) → DPO student (`distill --method dpo`), one plan.

Default: benchmarks/recipes/snips.yaml cut to 4 labels x 6 samples, the default teacher, the default model + LoRA
as the SFT student, and one DPO round on pairs from the SFT student's own run of the teacher's plan. Every stage's
run fills the teacher's plan (the same slots). Reports, per stage and seed: the share of executor calls whose sample
passed every evaluator (accepted, or set aside only because its slot was full: what DPO rewards), the share accepted,
each rejection reason, the schema-valid rate without constrained decoding (fresh executor prompts of the plan, free
decoding), TSTR on the SNIPS test split (the 4 labels), times and peak memory (RSS of this process so far).

    nice -n 10 python benchmarks/dpo.py [--seeds 0,1] [--categories 4] [--per-category 6] [--sft-steps 8]
                                        [--dpo-steps 6] [--rounds 1] [--threads 1] [--out runs/bench-dpo]
                                        [--json benchmarks/dpo.results.json]

A seed sets the recipe's seed (the plan and sampling) and the SFT and DPO seeds (split, adapter, data order); each
seed works in OUT/seed-N. Each phase reuses its output when it is complete (a second call redoes only what is
missing).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(Path(__file__).parent))

import _results


def peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "benchmarks" / "recipes" / "snips.yaml"))
    parser.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "text" / "snips" / "test.jsonl"))
    parser.add_argument("--teacher", default="default")
    parser.add_argument("--student", default="default")
    parser.add_argument("--categories", type=int, default=4)
    parser.add_argument("--per-category", type=int, default=6)
    parser.add_argument("--sft-steps", type=int, default=8)
    parser.add_argument("--sft-lr", type=float, default=1e-3)
    parser.add_argument("--dpo-steps", type=int, default=6)
    parser.add_argument("--dpo-lr", type=float, default=5e-4)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--validity-prompts", type=int, default=24)
    parser.add_argument("--validity-tokens", type=int, default=96)
    parser.add_argument("--student-quality-loop", action="store_true",
                        help="Let the student runs re-plan with the quality loop (default: they fill the teacher's plan only).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", default="0", help="comma-separated; one teacher → SFT → DPO chain per seed")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-dpo"))
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "dpo.results.json"))
    args = parser.parse_args()

    import torch
    import transformers

    torch.set_num_threads(args.threads)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    from rich.console import Console

    console = Console()
    seeds = [int(x) for x in args.seeds.split(",")]
    runs = [one_seed(args, seed, Path(args.out) / f"seed-{seed}", console) for seed in seeds]
    results = {**_results.header("benchmarks/dpo.py", model=f"teacher {args.teacher}, student {args.student} + LoRA",
                                 seeds=args.seeds),
               "args": vars(args), "threads": torch.get_num_threads(), "runs": runs, "summary": summarize(runs)}
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")

    console.print("\n| stage | passed the evaluators / calls (mean of the seeds' rates, range) | accepted / calls | TSTR"
                  " accuracy (mean, range) |")
    console.print("|---|---|---|---|")
    for name, s in results["summary"].items():
        console.print(f"| {name} | {s['passed']} / {s['calls']}, per seed {s['pass_rate']['mean']:.1%}"
                      f" ({s['pass_rate']['min']:.1%}-{s['pass_rate']['max']:.1%}) | {s['accepted']} / {s['calls']},"
                      f" per seed {s['rate']['mean']:.1%} | " + (f"{a['mean']:.3f} ({a['min']:.3f}-{a['max']:.3f},"
                                                                  f" {a['seeds']} seeds)" if (a := s["accuracy"]) else "-")
                      + " |", highlight=False)
    console.print(f"all numbers: {args.json}")


def spread(values: list[float]) -> dict[str, float] | None:
    """Mean and range; None when no seed has the figure (a run whose data has one label cannot train a classifier)."""
    if not values:
        return None
    return {"mean": round(sum(values) / len(values), 4), "min": round(min(values), 4), "max": round(max(values), 4),
            "seeds": len(values)}


def summarize(runs: list[dict]) -> dict[str, dict]:
    """Per stage over the seeds: the summed counts, and the mean and range of the rates and of TSTR accuracy."""
    out = {}
    for name in runs[0]["stages"]:
        stages = [r["stages"][name] for r in runs]
        out[name] = {"calls": sum(s["calls"] for s in stages), "passed": sum(s["passed"] for s in stages),
                     "accepted": sum(s["accepted"] for s in stages),
                     "pass_rate": spread([s["pass_rate"] for s in stages if s["pass_rate"] is not None]),
                     "rate": spread([s["rate"] for s in stages if s["rate"] is not None]),
                     "accuracy": spread([r["tstr"][name]["accuracy"] for r in runs if r["tstr"][name]])}
    return out


def one_seed(args, seed: int, out: Path, console) -> dict:
    """One teacher → SFT student → DPO student chain; also written to OUT/benchmark.json."""
    from distill import unconstrained_validity

    import synthwright
    from synthwright.finetune import DistillConfig, compare_runs, distill
    from synthwright.finetune.dpo_loop import (
        acceptance,
        refine_with_dpo,
        seed_plan,
        student_recipe,
    )
    from synthwright.rundir.reader import open_run

    console.rule(f"seed {seed}")
    out.mkdir(parents=True, exist_ok=True)
    recipe = synthwright.load_recipe(args.recipe)
    recipe = recipe.model_copy(update={
        "categories": recipe.categories[: args.categories], "seeds": None,
        "count": recipe.count.model_copy(update={"per_category": args.per_category, "total": None}),
        "teacher": recipe.teacher.model_copy(update={"model": args.teacher}), "seed": seed})
    labels = {c.name for c in recipe.categories}
    real = out / "real-test.jsonl"
    rows = [json.loads(line) for line in Path(args.real).read_text().splitlines() if line.strip()]
    real.write_text("".join(json.dumps(r) + "\n" for r in rows if r["label"] in labels))
    timings: dict[str, float] = {}
    memory: dict[str, float] = {}

    def stage(name: str, fn):
        started = time.perf_counter()
        value = fn()
        timings[name] = round(time.perf_counter() - started, 1)
        memory[name] = peak_mib()
        console.print(f"   {name}: {timings[name]} s, peak RSS so far {memory[name]} MiB", highlight=False)
        return value

    console.print(f"[bold]1. teacher run[/] ({args.teacher}, {args.categories} labels x {args.per_category})")
    stage("teacher_run", lambda: synthwright.run(recipe, out=out / "teacher", progress=True))

    console.print(f"[bold]2. SFT student[/] ({args.student} + LoRA, at most {args.sft_steps} steps)")
    sft_dir = out / "sft"

    def sft():
        if (sft_dir / "student.json").is_file():
            return json.loads((sft_dir / "metrics.json").read_text())
        cfg = DistillConfig(max_steps=args.sft_steps, learning_rate=args.sft_lr, batch_size=8, seed=seed)
        return distill(out / "teacher", args.student, sft_dir, cfg, progress=True).metrics

    sft_metrics = stage("sft_distill", sft)

    changes = None if args.student_quality_loop else {"quality": {"enabled": False}}
    console.print(f"[bold]3. DPO[/] ({args.rounds} round(s): the SFT student runs the plan, its rejections train it)")
    dpo_dir = out / "dpo"

    def dpo():
        if (dpo_dir / "student.json").is_file():
            return json.loads((dpo_dir / "student.json").read_text())["rounds"]
        cfg = DistillConfig(max_steps=args.dpo_steps, learning_rate=args.dpo_lr, batch_size=4, beta=args.beta,
                            warmup_ratio=0.0, seed=seed)
        return refine_with_dpo(out / "teacher", str(sft_dir), dpo_dir, cfg, rounds=args.rounds, progress=True,
                               recipe_changes=changes).rounds

    dpo_rounds = stage("dpo_loop", dpo)
    sft_run = out / "dpo.rounds" / "round-1" / "run"  # round 1's run is the SFT student's run on the plan

    console.print("[bold]4. DPO student run[/] on the teacher's plan")
    dpo_recipe = student_recipe(open_run(out / "teacher"), str(dpo_dir), changes)
    seed_plan(out / "teacher", out / "dpo-run", dpo_recipe)
    stage("dpo_student_run", lambda: synthwright.run(dpo_recipe, out=out / "dpo-run", progress=True))

    console.print("[bold]5. schema-valid rate without constrained decoding[/] (SFT vs DPO student)")
    validity = stage("unconstrained_check", lambda: unconstrained_validity(
        out / "teacher", recipe, str(sft_dir), str(dpo_dir), args.validity_prompts, args.validity_tokens))

    console.print("[bold]6. compare[/] (TSTR on the real test split, tf-idf features)")
    to_sft = stage("compare_teacher_sft", lambda: compare_runs(out / "teacher", sft_run, real=real,
                                                               out=out / "compare-teacher-sft", embedder="tfidf"))
    to_dpo = stage("compare_sft_dpo", lambda: compare_runs(sft_run, out / "dpo-run", real=real,
                                                           out=out / "compare-sft-dpo", embedder="tfidf"))

    stages = {"teacher": out / "teacher", "sft": sft_run, "dpo": out / "dpo-run"}
    per_stage = {}
    for name, path in stages.items():
        a = acceptance(path)
        rejected = {k: v for k, v in a["fates"].items() if k != "accepted"}
        per_stage[name] = {**a, "rejection_share": {k: v / a["calls"] for k, v in sorted(rejected.items())}}
    tstr = {"teacher": to_sft.data["teacher"]["tstr"], "sft": to_sft.data["student"]["tstr"],
            "dpo": to_dpo.data["student"]["tstr"]}
    result = {"seed": seed, "timings_s": timings, "peak_rss_mib": memory,
              "sft": {k: sft_metrics.get(k) for k in ("initial_val_loss", "best_val_loss", "steps", "train_seconds")},
              "dpo_rounds": dpo_rounds, "stages": per_stage, "validity": validity,
              "tstr": {k: (v and {m: v[m] for m in ("accuracy", "macro_f1")}) for k, v in tstr.items()},
              "judge": {"sft": to_dpo.data["teacher"]["judge"], "dpo": to_dpo.data["student"]["judge"]},
              "diversity": {"sft": to_dpo.data["teacher"]["diversity"], "dpo": to_dpo.data["student"]["diversity"]}}
    (out / "benchmark.json").write_text(json.dumps(result, indent=2, default=str))
    for name, st in per_stage.items():
        t = result["tstr"][name]
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(st["fates"].items(), key=lambda kv: -kv[1]) if k != "accepted")
        console.print(f"seed {seed} {name}: passed the evaluators {st['passed']} / {st['calls']} ({st['pass_rate']:.1%}),"
                      f" accepted {st['accepted']} ({st['rate']:.1%}); {reasons}"
                      + (f"; TSTR {t['accuracy']:.3f} / {t['macro_f1']:.3f}" if t else ""), highlight=False)
    console.print(f"unconstrained schema-valid on {validity['prompts']} fresh prompts: SFT {validity['base']:.0%},"
                  f" DPO {validity['student']:.0%}")
    for r in dpo_rounds:
        console.print(f"DPO round {r['round']}: {r['pair_count']} pairs ({r['reasons']}), {r['metrics']['steps']} steps"
                      f" in {r['metrics']['train_seconds']} s, loss {r['metrics']['first_loss']:.3f} →"
                      f" {r['metrics']['final_loss']:.3f}, reward accuracy {r['metrics']['final_reward_accuracy']}")
    console.print({"timings_s": timings, "peak_rss_mib": memory}, highlight=False)
    return result


if __name__ == "__main__":
    main()
