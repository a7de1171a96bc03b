"""Evaluation reports for tables and images: report.md + PNG plots + stats.json in one folder."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthwright.modalities._io import atomic_write, write_json
from synthwright.modalities.plotting import pyplot as _plt

REAL, SYNTH = "#1f77b4", "#ff7f0e"


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    _plt().close(fig)
    return path.name


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _quantile_plot(path: Path, curves: dict[str, list[float]], title: str, xlabel: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, q), color in zip(curves.items(), (SYNTH, REAL)):
        ax.plot(q, np.linspace(0, 100, len(q)), label=label, color=color)
    ax.set(title=title, xlabel=xlabel, ylabel="% of rows at or below")
    ax.legend()
    return _save(fig, path)


# ---- tables -----------------------------------------------------------------------------------


def _distributions(path: Path, real: pd.DataFrame, synth: pd.DataFrame, stats: dict[str, Any], limit: int = 12) -> str:
    plt = _plt()
    cols = sorted(stats["column_shapes"], key=stats["column_shapes"].get)[:limit]  # worst first
    ncol = 3
    nrow = math.ceil(len(cols) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax, c in zip(axes.flat, cols):
        r, s = real[c], synth[c]
        if pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r):
            rv, sv = pd.to_numeric(r, errors="coerce").dropna(), pd.to_numeric(s, errors="coerce").dropna()
            lo, hi = np.nanpercentile(rv, [0.5, 99.5]) if len(rv) else (0, 1)
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(rv.clip(lo, hi), bins=bins, density=True, alpha=0.5, color=REAL, label="real")
            ax.hist(sv.clip(lo, hi), bins=bins, density=True, alpha=0.5, color=SYNTH, label="synthetic")
            ax.set(xlabel=c, ylabel="density")
        else:
            rc = r.astype("object").fillna("<missing>").map(str).value_counts(normalize=True)
            sc = s.astype("object").fillna("<missing>").map(str).value_counts(normalize=True)
            top = rc.index[:10]
            x = np.arange(len(top))
            ax.bar(x - 0.2, rc.reindex(top).fillna(0), width=0.4, color=REAL, label="real")
            ax.bar(x + 0.2, sc.reindex(top).fillna(0), width=0.4, color=SYNTH, label="synthetic")
            ax.set_xticks(x, [t[:12] for t in top], rotation=45, ha="right", fontsize=7)
            ax.set(xlabel=c, ylabel="share of rows")
        ax.set_title(f"{c} (shape {stats['column_shapes'][c]:.2f})", fontsize=9)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(cols):]:
        ax.axis("off")
    fig.suptitle("Real vs synthetic distributions (worst-matching columns first)")
    return _save(fig, path)


def _column_bars(path: Path, shapes: dict[str, float]) -> str:
    plt = _plt()
    items = sorted(shapes.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [v for _, v in items], color=SYNTH)
    ax.set(xlim=(0, 1), title="Column shape similarity (1 = same distribution)", xlabel="1 − KS or 1 − TVD", ylabel="column")
    return _save(fig, path)


def _pair_heatmap(path: Path, columns: list[str], pairs: dict[str, dict[str, Any]]) -> str:
    plt = _plt()
    m = np.full((len(columns), len(columns)), np.nan)
    pos = {c: i for i, c in enumerate(columns)}
    for key, p in pairs.items():
        a, b = key.split(" | ", 1)
        m[pos[a], pos[b]] = m[pos[b], pos[a]] = p["score"]
    fig, ax = plt.subplots(figsize=(0.45 * len(columns) + 3, 0.45 * len(columns) + 2))
    im = ax.imshow(m, vmin=0.5, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(columns)), columns, fontsize=7)
    ax.set(title="Pair trend similarity (1 = same joint behaviour)", xlabel="column", ylabel="column")
    fig.colorbar(im, ax=ax, label="score")
    return _save(fig, path)


def _minority_lines(m: dict[str, Any] | None) -> list[str]:
    if not m:
        return []
    a, b = m["train_real"], m["train_real_plus_synthetic"]
    return [
        f"## Rare class: {m['target']} = {m['class']}", "",
        f"{_fmt(100 * m['real_share'])}% of the real training rows. A classifier trained on real rows alone, against the same",
        f"classifier with {m['synthetic_rows_added']} synthetic '{m['class']}' rows added ({m['synthetic_rows_available']} available), on real holdout rows:", "",
        "| trained on | recall | F1 |", "|---|---|---|",
        f"| real rows | {_fmt(a['recall'])} | {_fmt(a['f1'])} |",
        f"| real + synthetic '{m['class']}' rows | {_fmt(b['recall'])} | {_fmt(b['f1'])} |", "",
    ]


def privacy_lines(model: dict[str, Any] | None) -> list[str]:
    """The report's (and dataset card's) privacy section: the accountant's (ε, δ) and what it leaves out, or that there is none."""
    if not model:
        return []
    dp = model.get("dp")
    if not dp:
        return ["## Differential privacy", "",
                f"None: the {model.get('name', 'model')} model was trained without differential privacy, so these rows carry no formal privacy guarantee.", ""]
    scope = dp["scope"]
    lines = [
        "## Differential privacy", "",
        f"Trained with DP-SGD (opacus): **ε = {dp['epsilon']:.3f}, δ = {dp['delta']:.2g}** by the {dp['accountant'].upper()} accountant "
        f"(target ε {dp['target_epsilon']:g}) over {dp['steps']} steps at sampling rate {dp['sample_rate']:.4g}, noise multiplier "
        f"{dp['noise_multiplier']:.3f}, per-row clipping norm {dp['max_grad_norm']:g}. Noise source: {scope['noise_source']}.", "",
        "Covered: " + "; ".join(scope["covered"]) + ".", "",
    ]
    if scope["read_from_raw_data"]:
        lines += ["**Not covered** — read from the raw data outside DP-SGD (declare them in the constraints to cover them):", "",
                  "| column | read from the raw data |", "|---|---|"]
        lines += [f"| {c} | {', '.join(parts)} |" for c, parts in scope["read_from_raw_data"].items()]
        lines.append("")
    else:
        lines += ["Every column's range and categories were declared, so the (ε, δ) covers the whole model.", ""]
    return lines


def write_tabular_report(stats: dict[str, Any], real: pd.DataFrame, synth: pd.DataFrame, out: str | Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    q, det, util, priv = stats["quality"], stats["detection"], stats["utility"], stats["privacy"]
    plots = {
        "Column shapes": _column_bars(out / "column_shapes.png", stats["column_shapes"]),
        "Distributions": _distributions(out / "distributions.png", real, synth, stats),
        "Pair trends": _pair_heatmap(out / "pair_trends.png", list(stats["column_shapes"]), stats["pair_trends"]),
        "Distance to closest record": _quantile_plot(
            out / "dcr.png", {"synthetic": priv["dcr_synthetic_quantiles"], "real holdout": priv["dcr_holdout_quantiles"]},
            "Distance to the closest real training row", "Gower distance (0 = identical row)"),
    }
    key = util["metric"]
    lines = [
        "# Synthetic table report", "",
        f"Real rows: {stats['rows']['real']}, synthetic rows: {stats['rows']['synthetic']}, holdout rows: {stats['rows']['holdout']}.", "",
    ]
    if stats.get("holdout_note"):
        lines += [f"> Note: {stats['holdout_note']}.", ""]
    lines += [
        "| measure | value | meaning |", "|---|---|---|",
        f"| quality (mean of the two below) | {_fmt(q['overall'])} | 1 = same distributions |",
        f"| column shapes | {_fmt(q['column_shapes'])} | mean of 1 − KS (numeric) / 1 − TVD (categorical) |",
        f"| pair trends | {_fmt(q['pair_trends'])} | mean of 1 − ½·Δ Spearman ρ / 1 − TVD of joint bins |",
        f"| detection AUC | {_fmt(det['auc'])} | real-vs-synthetic classifier; 0.5 = indistinguishable |",
        f"| utility: {key}, train real → real | {_fmt(util['train_real'][key])} | target '{util['target']}' ({util['task']}) |",
        f"| utility: {key}, train synthetic → real | {_fmt(util['train_synthetic'][key])} | ratio {_fmt(util['ratio'])} |",
        f"| median DCR synthetic / holdout | {_fmt(priv['dcr_synthetic_median'])} / {_fmt(priv['dcr_holdout_median'])} | synthetic rows should not sit closer to training rows than unseen real rows do |",
        f"| exact copies of training rows | {_fmt(priv['exact_copy_rate'])} | real holdout baseline {_fmt(priv['holdout_exact_copy_rate'])} |",
        f"| synthetic rows closer than 95% of holdout rows | {_fmt(priv['closer_than_holdout_p5'])} | about 0.05 when nothing is memorised |",
        "",
    ]
    lines += _minority_lines(stats.get("minority")) + privacy_lines(stats.get("model"))
    for title, name in plots.items():
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    lines += ["## Per column", "", "| column | shape score |", "|---|---|"]
    lines += [f"| {c} | {_fmt(v)} |" for c, v in sorted(stats["column_shapes"].items(), key=lambda kv: kv[1])]
    worst = sorted(stats["pair_trends"].items(), key=lambda kv: kv[1]["score"])[:10]
    lines += ["", "## Weakest pair trends", "", "| pair | metric | score |", "|---|---|---|"]
    lines += [f"| {k} | {p['metric']} | {_fmt(p['score'])} |" for k, p in worst]
    atomic_write(out / "report.md", lambda p: p.write_text("\n".join(lines) + "\n"))
    write_json(out / "stats.json", stats)
    return out


def write_tabular_card(stats: dict[str, Any], path: str | Path) -> Path:
    """A dataset card for a synthetic table: how it was made, how good it is, and its privacy statement."""
    m, q, det = stats.get("model") or {}, stats["quality"], stats["detection"]
    lines = [
        "# Synthetic table", "",
        f"{stats['rows']['synthetic']} synthetic rows made by synthwright's `{m.get('name', 'unknown')}` model, fitted on "
        f"{stats['rows']['real']} real rows ({stats['rows']['holdout']} more held out for evaluation).", "",
        f"Quality {_fmt(q['overall'])} (column shapes {_fmt(q['column_shapes'])}, pair trends {_fmt(q['pair_trends'])}); "
        f"real-vs-synthetic detection AUC {_fmt(det['auc'])}. Full report: report/report.md.", "",
    ]
    lines += privacy_lines(m) or ["## Differential privacy", "", "Unknown: the model that made these rows was not recorded.", ""]
    return atomic_write(Path(path), lambda p: p.write_text("\n".join(lines) + "\n"))


# ---- images -----------------------------------------------------------------------------------


def _per_class_bars(path: Path, per_class: dict[str, dict[str, float]]) -> str:
    plt = _plt()
    names = list(per_class)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(names) + 2), 4))
    ax.bar(x - 0.27, [per_class[n]["real_holdout_accuracy"] for n in names], width=0.27, color=REAL, label="real holdout accuracy")
    ax.bar(x, [per_class[n]["accuracy"] for n in names], width=0.27, color=SYNTH, label="synthetic accuracy")
    ax.bar(x + 0.27, [per_class[n]["confidence"] for n in names], width=0.27, color="#2ca02c", label="synthetic confidence")
    ax.set_xticks(x, [n[:10] for n in names], rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center")
    ax.set(ylim=(0, 1.3), title="Judge classifier on synthetic images, per class", xlabel="class", ylabel="share / mean probability")
    ax.legend(fontsize=7, loc="upper center", ncol=3)  # above the bars, which stop at 1
    return _save(fig, path)


def write_image_report(stats: dict[str, Any], real, synth, out: str | Path) -> Path:
    from synthwright.modalities.image_data import save_grid

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    judge, fid, cp = stats["judge"], stats["fid"], stats["copies"]
    save_grid(synth.images, synth.labels, synth.classes, out / "synthetic_grid.png", title="Synthetic images, one row per class")
    save_grid(real.images, real.labels, real.classes, out / "real_grid.png", title="Real images, one row per class")
    plots = {
        "Synthetic samples": "synthetic_grid.png",
        "Real samples": "real_grid.png",
        "Per-class judge scores": _per_class_bars(out / "per_class.png", judge["per_class"]),
        "Nearest real image": _quantile_plot(out / "nearest_neighbour.png",
                                             {"synthetic": cp["nn_synthetic_quantiles"], "real holdout": cp["nn_holdout_quantiles"]},
                                             "Distance to the nearest real training image", "RMS pixel distance (0 = identical image)"),
    }
    lines = [
        "# Synthetic image report", "",
        f"Real images: {stats['rows']['real']} ({stats['rows']['real_holdout']} held out for the judge), synthetic images: {stats['rows']['synthetic']}.", "",
        "| measure | synthetic | real holdout (reference) | meaning |", "|---|---|---|---|",
        f"| judge accuracy | {_fmt(judge['synthetic_accuracy'])} | {_fmt(judge['real_holdout_accuracy'])} | a CNN trained on real images recognises the requested class |",
        f"| judge confidence | {_fmt(judge['synthetic_confidence'])} | | mean probability of the requested class |",
        f"| FID-style distance | {_fmt(fid['synthetic'])} | {_fmt(fid['real_holdout'])} | Fréchet distance in the judge's feature space; lower is closer |",
        f"| median nearest-real distance | {_fmt(cp['nn_synthetic_median'])} | {_fmt(cp['nn_holdout_median'])} | RMS pixel distance to the closest training image |",
        f"| exact copies | {_fmt(cp['exact_copy_rate'])} | | identical to a training image |",
        f"| near copies | {_fmt(cp['near_copy_rate'])} | 0.01 | closer than 99% of real holdout images are |",
        "",
        "## Per class", "", "| class | n | accuracy | confidence | real holdout accuracy |", "|---|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['n']} | {_fmt(v['accuracy'])} | {_fmt(v['confidence'])} | {_fmt(v['real_holdout_accuracy'])} |" for k, v in judge["per_class"].items()]
    lines.append("")
    for title, name in plots.items():
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    atomic_write(out / "report.md", lambda p: p.write_text("\n".join(lines) + "\n"))
    write_json(out / "stats.json", stats)
    return out
