"""The quality loop in the report: the score per step, and per-label F1 before and after the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_loop(summary: dict[str, Any], path: Path) -> str:
    from synthwright.reports.plots import figure, save

    steps = summary["steps"]
    fig = figure(11, 4.5)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.4])
    xs = [s["step"] for s in steps]
    for key, name in (("score", "score that counts"), ("cv_macro_f1", "cross-validated macro-F1"),
                      ("dev_macro_f1", "dev-set macro-F1"), ("realism_auc", "real-vs-synthetic AUC")):
        ys = [s.get(key) for s in steps]
        if any(y is not None for y in ys) and (key == "score" or any(s.get(key) != s["score"] for s in steps)):
            left.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", label=name,
                      linewidth=2.5 if key == "score" else 1.2)
    left.set_xlabel("loop step (0 = after the first pass)")
    left.set_ylabel("value")
    left.set_xticks(xs)
    left.set_title("Signal per step")
    if left.get_legend_handles_labels()[0]:  # a loop that stopped with no score has nothing to plot
        left.legend(fontsize=8)
    first, last = steps[0]["f1_per_label"], steps[-1]["f1_per_label"]
    labels = sorted(first, key=lambda k: first[k])
    idx = range(len(labels))
    right.barh([i + 0.2 for i in idx], [first[k] for k in labels], height=0.4, label=f"step {steps[0]['step']}")
    right.barh([i - 0.2 for i in idx], [last.get(k, 0.0) for k in labels], height=0.4, label=f"step {steps[-1]['step']}")
    right.set_yticks(list(idx), labels, fontsize=7 if len(labels) > 15 else 9)
    right.set_xlabel("F1")
    right.set_xlim(0, 1)
    right.set_title("Per-label F1, first and last step")
    right.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def render_loop(summary: dict[str, Any] | None, plot: str | None) -> list[str]:
    from synthwright.core.markdown import fmt, table

    out = ["## Quality loop", ""]
    if not summary:
        return out + ["The loop did not run (classification runs; `quality: {enabled: true}`).", ""]
    steps = summary["steps"]
    source = "the real dev set" if steps[0]["source"] == "dev" else "cross-validation on the accepted samples"
    out += [f"After the first pass and after each re-planning step, the fixed classifier was trained on what was accepted"
            f" and scored by {source}: macro-F1 {fmt(summary['first_score'])} → {fmt(summary['final_score'])}.", ""]
    if plot:
        out += [f"![quality loop]({plot})", ""]
    rows = []
    for s in steps:
        what = s["stop_reason"] if s["action"] != "replan" else (
            f"{s['replaced']} replaced, {s['extra']} extra; "
            + ", ".join(f"{k} {v}" for k, v in sorted(s["slot_kinds"].items()))
            + (f"; contrast: {', '.join(f'{a}↔{b}' for a, b in s['contrast_pairs'][:6])}" if s["contrast_pairs"] else "")
            + (f"; hints: {'; '.join(s['hints'])}" if s["hints"] else ""))
        rows.append([s["step"], s["samples"], fmt(s["score"]), fmt(s["cv_macro_f1"]), fmt(s["dev_macro_f1"]),
                     fmt(s["realism_auc"]), s["action"], what])
    out += [table(["step", "samples", "score", "CV macro-F1", "dev macro-F1", "real-vs-synthetic AUC", "action", "what"], rows), ""]
    return out
