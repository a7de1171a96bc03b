"""Tables, part two: our Gaussian copula against SDV's, DP-GAN / DP-VAE against non-private, rebalancing.

    python benchmarks/tabular_copula_dp.py [--part copula|dp|rebalance|all] [--rows 3000] [--epochs 30] [--repeats 3]

The README's figures: `--part copula` under the SDV venv, then `--part dp --rows 2000 --epochs 10
--dp-batch 200` and `--part rebalance --rows 3000 --epochs 30` (the DP runs are the slow ones).

- copula: synthwright's `copula` against SDV's GaussianCopulaSynthesizer (SDV is under the Business
  Source License, so it is installed only for this benchmark, never a dependency; without it that
  part prints the install command and is skipped), on UCI Adult and Bank Marketing.
- dp: ctgan and tvae at ε ∈ {1, 3, 10} against the same model without DP, on Adult.
- rebalance: on Bank Marketing (y = yes is about 12%), minority recall and F1 on the real holdout
  of a classifier trained on real rows, against real rows plus synthetic y = yes rows, per model.

Same protocol as tabular_vs_ctgan.py: training rows subsampled from the real train split, holdout
rows the models never see, metrics from synthwright.modalities.tabular_metrics averaged over the
repeats (seed, seed + 1, …), times the fastest repeat (the others only add the neighbours' load).
Bank Marketing's `duration` column is dropped: it is known only after the call and leaks y.
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
DATA = ROOT.parent / "shared" / "data"
INSTALL_SDV = "python -m venv --system-site-packages /tmp/sdv-venv && /tmp/sdv-venv/bin/pip install sdv"


def load(name: str, rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    if name == "adult":
        train = pd.read_csv(DATA / "adult" / "adult_train.csv").sample(rows, random_state=seed).reset_index(drop=True)
        hold = pd.read_csv(DATA / "adult" / "adult_test.csv").sample(2000, random_state=seed).reset_index(drop=True)
        return train, hold, "income"
    df = pd.read_csv(DATA / "bank_marketing" / "bank_full.csv").drop(columns=["duration"])
    df = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    return df[:rows], df[rows : rows + 2000].reset_index(drop=True), "y"


def summary(s: dict) -> dict[str, float]:
    return {"quality": s["quality"]["overall"], "column shapes": s["quality"]["column_shapes"],
            "pair trends": s["quality"]["pair_trends"], "detection AUC": s["detection"]["auc"],
            "utility (F1 synth/real)": s["utility"]["ratio"], "DCR synth/holdout": s["privacy"]["dcr_ratio"]}


def table(title: str, cols: list[str], rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}\n\n| | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
    for name, vals in rows.items():
        print(f"| {name} | " + " | ".join("n/a" if vals.get(c) is None else f"{vals[c]:.3f}" for c in cols) + " |")


def part_copula(args) -> None:
    from synthwright.modalities.tabular import fit_tabular, sample_tabular
    from synthwright.modalities.tabular_metrics import evaluate_tabular

    try:
        import sdv
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer
    except ImportError:
        print(f"\n[copula] SDV is not installed, so there is no baseline; install it only for this benchmark:\n    {INSTALL_SDV}")
        sdv = None
    for name in ("adult", "bank"):
        train, hold, target = load(name, args.rows, args.seed)

        def ours(seed):
            return sample_tabular(fit_tabular(train, model="copula", seed=seed, progress=False), len(train), seed=seed)

        def theirs(seed):
            meta = Metadata.detect_from_dataframes({"table": train})
            model = GaussianCopulaSynthesizer(meta)
            np.random.seed(seed)
            model.fit({"table": train})  # SDV 2 takes {table name: frame}
            rows = model.sample(len(train))
            return rows["table"] if isinstance(rows, dict) else rows

        runs = [("synthwright copula", ours)] + ([(f"SDV {sdv.__version__} GaussianCopula", theirs)] if sdv else [])
        got: dict[str, list[dict[str, float]]] = {}
        for r in range(args.repeats):
            for label, run in runs:  # interleaved: a neighbour's load hits both alike
                t0 = time.perf_counter()
                synth = run(args.seed + r)
                secs = time.perf_counter() - t0
                got.setdefault(label, []).append(summary(evaluate_tabular(train, synth, holdout=hold, target=target, seed=args.seed)) | {"fit+sample s": secs})
                print(f"  [copula] {name} repeat {r + 1}: {label} {secs:.2f} s", flush=True)
        res = {k: {m: (min if m == "fit+sample s" else np.mean)([v[m] for v in vs]) for m in vs[0]} for k, vs in got.items()}
        table(f"copula, {name}: {len(train)} training rows, {len(hold)} holdout rows, {args.repeats} repeats", list(next(iter(res.values()))), res)
        if len(res) == 2:
            a, b = res.values()
            print(f"\nspeed-up (SDV time / ours): {b['fit+sample s'] / a['fit+sample s']:.2f}x; quality ours − SDV: {a['quality'] - b['quality']:+.3f}")


def part_dp(args) -> None:
    from synthwright.modalities.tabular import fit_tabular, sample_tabular
    from synthwright.modalities.tabular_metrics import evaluate_tabular

    train, hold, target = load("adult", args.rows, args.seed)
    res = {}
    for model in ("ctgan", "tvae"):
        base = None
        for eps in (None, 10.0, 3.0, 1.0):
            t0 = time.perf_counter()
            m = fit_tabular(train, model=model, epochs=args.epochs, batch_size=args.dp_batch, seed=args.seed, device="cpu",
                            progress=False, dp_epsilon=eps)
            secs = time.perf_counter() - t0
            synth = sample_tabular(m, len(train), seed=args.seed)
            s = evaluate_tabular(train, synth, holdout=hold, target=target, seed=args.seed)
            base = secs if eps is None else base
            label = f"{model} " + ("no DP" if eps is None else f"ε = {eps:g} (spent {m.dp['epsilon']:.2f}, δ {m.dp['delta']:.1e}, σ {m.dp['noise_multiplier']:.2f})")
            res[label] = summary(s) | {"fit s": secs, "time / no DP": secs / base}
            print(f"  [dp] {label}: {secs:.1f} s, quality {s['quality']['overall']:.3f}", flush=True)
    table(f"DP, adult: {len(train)} training rows, {len(hold)} holdout rows, {args.epochs} epochs, batch {args.dp_batch}, one seed",
          list(next(iter(res.values()))), res)


def part_rebalance(args) -> None:
    from synthwright.core.errors import ConfigError
    from synthwright.modalities.tabular import fit_tabular, sample_tabular
    from synthwright.modalities.tabular_metrics import minority_boost

    train, hold, target = load("bank", args.rows, args.seed)
    counts = train[target].value_counts()
    need = int(counts.iloc[0] - counts.iloc[-1])
    res = {}
    for model in ("copula", "ctgan", "tvae"):
        kw = {"copula": {}, "ctgan": {"epochs": args.epochs}, "tvae": {"epochs": args.vae_epochs}}[model]
        t0 = time.perf_counter()
        m = fit_tabular(train, model=model, seed=args.seed, progress=False, **kw)
        try:
            extra = sample_tabular(m, need, seed=args.seed, conditions=[f"{target}={counts.index[-1]}"])
        except ConfigError as exc:  # a model that (almost) never makes the rare class: say so in the table
            print(f"  [rebalance] {model} ({kw}): {exc}", flush=True)
            res[f"{model}: no synthetic rows"] = {"recall": None, "F1": None}
            continue
        secs = time.perf_counter() - t0
        b = minority_boost(train, hold, extra, target, seed=args.seed)
        res.setdefault("real rows only", {"recall": b["train_real"]["recall"], "F1": b["train_real"]["f1"]})
        res[f"real + {b['synthetic_rows_added']} synthetic ({model})"] = {
            "recall": b["train_real_plus_synthetic"]["recall"], "F1": b["train_real_plus_synthetic"]["f1"], "fit+sample s": secs}
        print(f"  [rebalance] {model}: {secs:.1f} s", flush=True)
    table(f"rebalancing, bank: {len(train)} training rows ({100 * counts.iloc[-1] / len(train):.1f}% {target} = {counts.index[-1]}), "
          f"{len(hold)} holdout rows, minority recall / F1 on the holdout", ["recall", "F1", "fit+sample s"], res)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("copula", "dp", "rebalance", "all"), default="all")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--vae-epochs", type=int, default=150, help="tvae epochs in the rebalance part (fewer and it makes only the majority class)")
    ap.add_argument("--dp-batch", type=int, default=250, help="batch size of the DP part (a smaller one spends less ε a step)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads; on a busy shared box 1 is often fastest")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), pandas {pd.__version__}")
    for part in ("copula", "dp", "rebalance"):
        if args.part in (part, "all"):
            globals()[f"part_{part}"](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
