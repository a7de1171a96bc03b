"""Our tabular GAN and VAE against the `ctgan` library, same table, same epochs, one run.

    python benchmarks/tabular_vs_ctgan.py [--rows 5000] [--epochs 100] [--repeats 2] [--threads N]

Needs `ctgan` (Business Source License, so never a synthwright dependency); without it this
prints the install command and exits 1. Data: ../shared/data/adult (train + test as holdout)
when present, else sklearn's breast-cancer table with its label as a category.
Quality, utility and privacy are all measured with synthwright.modalities.tabular_metrics and
averaged over the repeats (seed, seed + 1, ...); the time is the fastest repeat, because on a
shared machine the other runs only add the neighbours' load.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this checkout, not an installed copy
INSTALL = "pip install --no-deps ctgan rdt faker"


def load_data(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    adult = ROOT.parent / "shared" / "data" / "adult"
    if (adult / "adult_train.csv").is_file():
        train = pd.read_csv(adult / "adult_train.csv").sample(rows, random_state=seed).reset_index(drop=True)
        hold = pd.read_csv(adult / "adult_test.csv").sample(min(rows, 5000), random_state=seed).reset_index(drop=True)
        return train, hold, "income", f"UCI Adult, {rows} training rows, {len(hold)} holdout rows from adult_test.csv"
    from sklearn.datasets import load_breast_cancer

    bc = load_breast_cancer(as_frame=True)
    df = bc.frame.assign(target=bc.frame["target"].map({0: "malignant", 1: "benign"}))
    df = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    cut = int(len(df) * 0.7)
    return df[:cut], df[cut:].reset_index(drop=True), "target", f"sklearn breast cancer, {cut} training rows, {len(df) - cut} holdout rows"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for both libraries; default: torch's (all cores). On a busy shared box 1 is often fastest")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        import ctgan
    except ImportError:
        print(f"This benchmark needs the ctgan package; install it with:\n    {INSTALL}", file=sys.stderr)
        return 1
    import torch

    from synthwright.modalities.tabular_gan import TabularGAN, TabularGANConfig
    from synthwright.modalities.tabular_metrics import evaluate_tabular
    from synthwright.modalities.tabular_vae import TabularVAE, TabularVAEConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    train, hold, target, described = load_data(args.rows, args.seed)
    discrete = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c]) or pd.api.types.is_bool_dtype(train[c])]
    print(f"data: {described}; epochs {args.epochs}; torch {torch.__version__}, {torch.get_num_threads()} thread(s); ctgan {ctgan.__version__}")

    def ours(cls, cfg_cls):
        def run(seed):
            model = cls(cfg_cls(epochs=args.epochs, seed=seed), device="cpu").fit(train, progress=False)
            return model.sample(len(train), seed=seed)
        return run

    def theirs(cls):
        def run(seed):
            torch.manual_seed(seed)
            np.random.seed(seed)
            model = cls(epochs=args.epochs)
            model.fit(train, discrete)
            return model.sample(len(train))
        return run

    runs = [("GAN", "synthwright", ours(TabularGAN, TabularGANConfig)), ("GAN", "ctgan", theirs(ctgan.CTGAN)),
            ("VAE", "synthwright", ours(TabularVAE, TabularVAEConfig)), ("VAE", "ctgan", theirs(ctgan.TVAE))]
    scores: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(args.repeats):
        for family, lib, run in runs:  # interleaved, so a neighbour's load hits both libraries alike
            t0 = time.perf_counter()
            synth = run(args.seed + r)
            seconds = time.perf_counter() - t0
            s = evaluate_tabular(train, synth, holdout=hold, target=target, seed=args.seed)
            scores.setdefault((family, lib), []).append({
                "column shapes": s["quality"]["column_shapes"], "pair trends": s["quality"]["pair_trends"],
                "quality": s["quality"]["overall"], "detection AUC": s["detection"]["auc"],
                "utility (F1 synth/real)": s["utility"]["ratio"], "DCR synth/holdout": s["privacy"]["dcr_ratio"],
                "exact copies": s["privacy"]["exact_copy_rate"], "fit+sample s": seconds,
            })
            print(f"  repeat {r + 1}: {family:3} {lib:11} {seconds:6.1f} s  quality {s['quality']['overall']:.3f}", flush=True)
    results = {k: {m: (min if m == "fit+sample s" else np.mean)([v[m] for v in vs]) for m in vs[0]} for k, vs in scores.items()}

    metrics = list(next(iter(results.values())))
    for family in ("GAN", "VAE"):
        a, b = results[family, "synthwright"], results[family, "ctgan"]
        print(f"\n| {family}: metric | synthwright | ctgan | ours/ctgan |\n|---|---|---|---|")
        for m in metrics:
            ratio = a[m] / b[m] if b[m] else float("nan")
            print(f"| {m} | {a[m]:.3f} | {b[m]:.3f} | {ratio:.2f} |")
    speed = {f: results[f, "ctgan"]["fit+sample s"] / results[f, "synthwright"]["fit+sample s"] for f in ("GAN", "VAE")}
    print("\nspeed-up (ctgan time / ours): " + ", ".join(f"{f} {v:.2f}x" for f, v in speed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
