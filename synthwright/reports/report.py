"""The dataset report: report.md + PNG plots + a `report` section in stats.json, all from the run store.

Everything is computed from `run.sqlite`, so a report can be rebuilt at any time without a model:

- counts per label and split, against the plan's targets;
- the acceptance funnel: every sample in the store, from generated through parse, each filter,
  the judge, quota and label noise to accepted (the stages add up to the total);
- rejection reasons grouped by filter, with examples;
- length distributions; lexical diversity (distinct-1/2, TF-IDF self-similarity);
- embedding diversity and near-duplicate rates (on a seeded sample of at most 2,000 texts);
- judge verdicts: pass rate, label agreement, score distributions;
- coverage of the plan's axes (scenario, persona, style, length);
- label-noise flags and, once `synthwright eval` ran, train-on-synthetic/test-on-real results.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from synthwright.core.markdown import clip
from synthwright.evaluators import embed
from synthwright.evaluators.filters import filter_names
from synthwright.evaluators.metrics import (
    WORD,
    judge_summary,
    lexical,
    mean_offdiag,
    reason_pattern,
)
from synthwright.reports.checks import checks_summary
from synthwright.reports.instructions import instruction_metrics
from synthwright.reports.loop import plot_loop
from synthwright.reports.plots import figure, save
from synthwright.reports.render import render_markdown
from synthwright.reports.teacher import compare_teachers
from synthwright.rundir.reader import open_run
from synthwright.rundir.usage import usage
from synthwright.rundir.views import dataset_splits, loop_summary

FUNNEL_TAIL = ("label_check", "judge", "quota", "limit", "quality_loop", "label_noise")
AXES = ("scenario", "persona", "style", "length")
SAMPLE_CAP = 2000  # texts embedded for the diversity metrics
NEAR_DUPLICATE_COSINE = 0.95


# metrics ---------------------------------------------------------------------------------------

def funnel(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stages in run order with the samples each rejected and how many remain after it."""
    fates = Counter(s["filter"] or ("accepted" if s["status"] == "accepted" else "unknown") for s in samples)
    order = ["parse", *filter_names(), *FUNNEL_TAIL]
    order += sorted(set(fates) - set(order) - {"accepted"})
    remaining = len(samples)
    stages = []
    for name in order:
        n = fates.get(name, 0)
        if n or name == "parse":
            remaining -= n
            stages.append({"stage": name, "rejected": n, "remaining": remaining})
    accepted = fates.get("accepted", 0)
    return {"generated": len(samples), "stages": stages, "accepted": accepted,
            "rejected": len(samples) - accepted, "adds_up": remaining == accepted}


def rejection_reasons(samples: list[dict[str, Any]], text_of, per_filter: int = 5, examples: int = 2) -> dict[str, Any]:
    by_filter: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in samples:
        if s["status"] == "rejected":
            by_filter[s["filter"] or "unknown"].append(s)
    out: dict[str, Any] = {}
    for name, rows in sorted(by_filter.items(), key=lambda kv: -len(kv[1])):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in rows:
            groups[reason_pattern(s["reason"])].append(s)
        out[name] = {"count": len(rows), "reasons": [
            {"reason": pattern, "count": len(g),
             "examples": [{"sample_id": s["sample_id"], "reason": s["reason"], "text": clip(text_of(s), 160)} for s in g[:examples]]}
            for pattern, g in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:per_filter]]}
    return out


def _describe(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(values), "min": int(a.min()), "mean": round(float(a.mean()), 1), "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)), "max": int(a.max())}


def lengths(texts: list[str], labels: list[str]) -> dict[str, Any]:
    chars = [len(t) for t in texts]
    words = [len(WORD.findall(t)) for t in texts]
    per_label: dict[str, list[int]] = defaultdict(list)
    for label, n in zip(labels, words):
        per_label[label].append(n)
    return {"chars": _describe(chars), "words": _describe(words),
            "mean_words_per_label": {k: round(float(np.mean(v)), 1) for k, v in sorted(per_label.items())}}


def semantic(texts: list[str], labels: list[str], kind: str) -> dict[str, Any]:
    """Mean pairwise cosine similarity (overall and within labels) and the near-duplicate rate."""
    out: dict[str, Any] = {"embedder": kind, "n": len(texts), "mean_cosine": None, "diversity": None,
                           "within_label_cosine": {}, "near_duplicate_rate": None,
                           "near_duplicate_cosine": NEAR_DUPLICATE_COSINE, "nearest_neighbour": []}
    if len(texts) < 2:
        return out
    (x,) = embed.features(kind, texts)
    sim = x @ x.T
    sim = sim.toarray() if hasattr(sim, "toarray") else np.asarray(sim)
    mean = mean_offdiag(sim)
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.max(axis=1)
    out.update(mean_cosine=round(mean, 4), diversity=round(1 - mean, 4),
               near_duplicate_rate=round(float(np.mean(nearest >= NEAR_DUPLICATE_COSINE)), 4),
               nearest_neighbour=[round(float(v), 4) for v in nearest])
    np.fill_diagonal(sim, 1.0)
    lab = np.asarray(labels)
    for label in sorted(set(labels)):
        idx = np.flatnonzero(lab == label)
        if len(idx) > 1:
            out["within_label_cosine"][label] = round(mean_offdiag(sim[np.ix_(idx, idx)]), 4)
    return out


def minhash_duplicates(texts: list[str], threshold: float, num_perm: int, ngram: int) -> dict[str, Any]:
    """Share of samples with an earlier sample at or above the near-duplicate threshold (MinHash)."""
    from synthwright.evaluators.minhash import NearDuplicateIndex

    index = NearDuplicateIndex(threshold, num_perm, ngram)
    dup = 0
    for i, sig in enumerate(index.sign(texts)):
        if index.query(sig) is not None:
            dup += 1
        index.add(i, sig)
    return {"threshold": threshold, "near_duplicates": dup, "rate": round(dup / len(texts), 4) if texts else None}


def coverage(slots: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for axis in AXES:
        planned: Counter = Counter()
        for s in slots:
            planned[s.get(axis, "")] += s["quota"]
        got = Counter(r.get(axis, "") for r in rows)
        out[axis] = {"values": {v: {"planned": planned[v], "accepted": got.get(v, 0)} for v in planned},
                     "uncovered": sorted(v for v in planned if got.get(v, 0) == 0)}
    return out


# plots -----------------------------------------------------------------------------------------

def plot_labels(per_label: dict[str, dict[str, int]], splits: list[str], path: Path) -> str:
    labels = list(per_label)
    fig = figure(8, max(3.0, 0.28 * len(labels) + 1.5))
    ax = fig.add_subplot()
    left = np.zeros(len(labels))
    for split in splits:
        values = np.array([per_label[label].get(split, 0) for label in labels])
        ax.barh(labels, values, left=left, label=split)
        left += values
    ax.scatter([per_label[label]["target"] for label in labels], labels, marker="|", s=300, color="black",
               label="target", zorder=3)
    ax.invert_yaxis()
    ax.set_title("Accepted samples per label and split")
    ax.set_xlabel("samples")
    ax.set_ylabel("label")
    ax.legend(loc="lower right")
    return save(fig, path)


def plot_funnel(f: dict[str, Any], path: Path) -> str:
    names = ["generated"] + [s["stage"] for s in f["stages"]]
    remaining = [f["generated"]] + [s["remaining"] for s in f["stages"]]
    fig = figure(8, max(3.0, 0.35 * len(names) + 1.5))
    ax = fig.add_subplot()
    bars = ax.barh(names, remaining, color="#4c72b0")
    for bar, stage in zip(bars[1:], f["stages"]):
        if stage["rejected"]:
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  −{stage['rejected']}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_title(f"Acceptance funnel: {f['accepted']} of {f['generated']} generated samples accepted")
    ax.set_xlabel("samples remaining after the stage")
    ax.set_ylabel("stage")
    return save(fig, path)


def plot_lengths(accepted: list[str], rejected: list[str], path: Path) -> str:
    fig = figure()
    ax = fig.add_subplot()
    words = [[len(WORD.findall(t)) for t in group] for group in (accepted, rejected)]
    top = max([max(w) for w in words if w] + [1])
    bins = np.linspace(0, top + 1, min(40, top + 2))
    if words[0]:
        ax.hist(words[0], bins=bins, alpha=0.7, label=f"accepted ({len(accepted)})")
    if words[1]:
        ax.hist(words[1], bins=bins, alpha=0.5, label=f"rejected after parsing ({len(rejected)})")
    ax.set_title("Sample length")
    ax.set_xlabel("words per sample")
    ax.set_ylabel("samples")
    if words[0] or words[1]:
        ax.legend()
    return save(fig, path)


def plot_diversity(sem: dict[str, Any], path: Path) -> str:
    fig = figure()
    ax = fig.add_subplot()
    if sem["nearest_neighbour"]:
        ax.hist(sem["nearest_neighbour"], bins=30, range=(min(0.0, min(sem["nearest_neighbour"])), 1.0))
        ax.axvline(NEAR_DUPLICATE_COSINE, color="red", linestyle="--", label=f"near duplicate ≥ {NEAR_DUPLICATE_COSINE}")
        ax.legend()
    ax.set_title(f"Similarity of each sample to its nearest neighbour ({sem['embedder']})")
    ax.set_xlabel("cosine similarity to the nearest other accepted sample")
    ax.set_ylabel("samples")
    return save(fig, path)


def plot_judge(j: dict[str, Any], path: Path) -> str:
    fig = figure()
    ax = fig.add_subplot()
    names = list(j["scores"])
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        counts = [j["scores"][name][str(k)] for k in range(1, 6)]
        ax.bar(np.arange(1, 6) + (i - (len(names) - 1) / 2) * width, counts, width=width, label=name)
    ax.set_xticks(range(1, 6))
    ax.set_title(f"Judge scores ({j['verdicts']} verdicts, {j['pass_rate']:.0%} passed)")
    ax.set_xlabel("score (1 = poor, 5 = excellent)")
    ax.set_ylabel("verdicts")
    if names:
        ax.legend()
    return save(fig, path)


def plot_coverage(cov: dict[str, Any], path: Path) -> str:
    fig = figure(12, 8)
    for i, axis in enumerate(AXES):
        ax = fig.add_subplot(2, 2, i + 1)
        items = sorted(cov[axis]["values"].items(), key=lambda kv: -kv[1]["planned"])[:15]
        names = [clip(k, 40) for k, _ in items]
        y = np.arange(len(items))
        ax.barh(y - 0.2, [v["planned"] for _, v in items], height=0.4, label="planned")
        ax.barh(y + 0.2, [v["accepted"] for _, v in items], height=0.4, label="accepted")
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        shown = f" (top {len(items)} of {len(cov[axis]['values'])})" if len(cov[axis]["values"]) > len(items) else ""
        ax.set_title(f"{axis}{shown}")
        ax.set_xlabel("samples")
        ax.set_ylabel(axis)
        ax.legend(fontsize=7)
    fig.suptitle("Coverage of the plan's axes")
    return save(fig, path)


# the report ------------------------------------------------------------------------------------

def build_report(out_dir: str | Path, *, embedder: str | None = None, seed: int = 0,
                 stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write report.md, plots/*.png and stats.json into `out_dir`; returns the metrics.

    stats.json is `stats` (a run's, when it has just written its dataset) or the one already there, with its
    `report` section replaced. `embedder` (auto, minilm, tfidf) picks the features for embedding diversity.
    """
    out_dir = Path(out_dir)
    run = open_run(out_dir)
    recipe, task, key = run.recipe, run.task, run.category_key
    with run.store() as store:
        rows, splits = dataset_splits(store, recipe)
        samples = store.samples()
        slots = store.slots()
        verdicts = store.verdicts()
        noise = store.get("label_noise")
        notes = store.get("filter_notes", [])
        loop = loop_summary(store)
        plan = store.get("plan") or {}
        spent = usage(store, recipe.budget)

    def text_of(s: dict[str, Any]) -> str:
        data = s["data"]
        if "raw" in data and s["filter"] == "parse":
            return data["raw"]
        try:
            return task.text_of(data)
        except (KeyError, TypeError):
            return json.dumps(data, ensure_ascii=False)

    texts = [task.text_of(r) for r in rows]
    labels = [r[key] for r in rows]
    target = Counter()
    for s in slots:
        target[s["category"]] += s["quota"]
    per_label = {c: {name: sum(1 for r in part if r[key] == c) for name, part in splits.items()} for c in target}
    for c, counts in per_label.items():
        counts["total"] = sum(counts.values())
        counts["target"] = target[c]

    kind = embed.resolve(embedder)
    rng = random.Random(seed)
    pick = sorted(rng.sample(range(len(texts)), SAMPLE_CAP)) if len(texts) > SAMPLE_CAP else list(range(len(texts)))
    nd = recipe.filters.near_duplicates
    metrics: dict[str, Any] = {
        "recipe": recipe.name, "task": recipe.task, "category_field": key,
        "counts": {"target": sum(target.values()), "accepted": len(rows), "per_label": per_label,
                   "splits": {k: len(v) for k, v in splits.items()}},
        "funnel": funnel(samples),
        "rejections": rejection_reasons(samples, text_of),
        "lengths": lengths(texts, labels),
        "lexical": lexical(texts),
        "semantic": semantic([texts[i] for i in pick], [labels[i] for i in pick], kind),
        "minhash": minhash_duplicates(texts, nd.threshold, nd.num_perm, nd.ngram),
        "judge": judge_summary(verdicts),
        "coverage": coverage(slots, rows),
        "label_noise": noise,
        "filter_notes": notes,
        "quality_loop": loop,
        "scenarios": {"from_model": plan.get("scenarios_from_model"), "asked": plan.get("scenarios_asked")},
        "checks": checks_summary(samples, recipe, task),
        "teachers": compare_teachers([s for s in samples if s["filter"] != "parse"], text_of, kind, seed)
        if task.labelled else None,
        "instruction": instruction_metrics(rows, plan.get("seed_instructions", [])) if task.grows_instructions else None,
        "usage": spent,
    }
    eval_path = out_dir / "eval.json"
    metrics["eval"] = json.loads(eval_path.read_text()) if eval_path.is_file() else None

    rejected_texts = [text_of(s) for s in samples if s["status"] == "rejected" and s["filter"] != "parse"]
    metrics["plots"] = draw_plots(metrics, list(splits), texts, rejected_texts, out_dir / "plots")
    (out_dir / "report.md").write_text(render_markdown(metrics, task), encoding="utf-8")
    summary = {k: v for k, v in metrics.items() if k not in ("rejections",)}
    summary["semantic"] = {k: v for k, v in metrics["semantic"].items() if k != "nearest_neighbour"}
    if stats is None:
        stats = dict(run.stats)
    stats["report"] = summary
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False))
    return metrics


def draw_plots(metrics: dict[str, Any], split_names: list[str], texts: list[str], rejected_texts: list[str],
               plots_dir: Path) -> dict[str, str]:
    """Every plot of the report into `plots_dir`; returns their paths by name."""
    plots = {
        "labels": plot_labels(metrics["counts"]["per_label"], split_names, plots_dir / "labels.png"),
        "funnel": plot_funnel(metrics["funnel"], plots_dir / "funnel.png"),
        "lengths": plot_lengths(texts, rejected_texts, plots_dir / "lengths.png"),
        "diversity": plot_diversity(metrics["semantic"], plots_dir / "diversity.png"),
        "coverage": plot_coverage(metrics["coverage"], plots_dir / "coverage.png"),
    }
    if metrics["judge"]:
        plots["judge"] = plot_judge(metrics["judge"], plots_dir / "judge.png")
    if metrics["quality_loop"]:
        plots["quality_loop"] = plot_loop(metrics["quality_loop"], plots_dir / "quality_loop.png")
    return plots
