"""report.md: the report's metrics rendered section by section."""

from __future__ import annotations

from typing import Any

from synthwright.core.markdown import clip, fmt, table
from synthwright.reports.checks import render_checks
from synthwright.reports.instructions import render_instruction
from synthwright.reports.loop import render_loop
from synthwright.reports.teacher import render_teachers
from synthwright.tasks import Task


def render_markdown(m: dict[str, Any], task: Task) -> str:
    """report.md from the report's metrics, section by section."""
    out = _head(m) + _rejections(m) + _lengths_and_diversity(m) + _judge(m) + render_instruction(m.get("instruction"))
    out += _coverage(m) + render_checks(m.get("checks"), task)
    if task.has_quality_loop:
        out += render_loop(m["quality_loop"], m["plots"].get("quality_loop"))
    out += render_teachers(m.get("teachers")) + render_usage(m.get("usage")) + _label_noise(m, task)
    ev = m["eval"]
    out += ["## Train on synthetic, test on real", ""]
    if not ev:
        out += ["Not run yet: `synthwright eval OUT --real TEST.jsonl [--real-train TRAIN.jsonl]`.", ""]
    else:
        out += render_eval(ev)
    return "\n".join(out).rstrip() + "\n"


def _head(m: dict[str, Any]) -> list[str]:
    c, f = m["counts"], m["funnel"]
    out = [f"# Dataset report: {m['recipe']}", "",
           f"{m['task']} · {c['accepted']} of {c['target']} samples accepted · {f['generated']} generated"
           f" ({f['accepted'] / f['generated']:.0%} acceptance)" if f["generated"] else f"{m['task']} · no samples yet", ""]
    for note in m["filter_notes"]:
        out += [f"> note: {note}", ""]

    out += ["## Counts per label and split", "", f"![labels]({m['plots']['labels']})", ""]
    split_names = list(c["splits"])
    out.append(table([m["category_field"], *split_names, "total", "target"],
                      [[k, *(v[s] for s in split_names), v["total"], v["target"]] for k, v in c["per_label"].items()]))

    out += ["", "## Acceptance funnel", "",
            f"Every sample in the run store: {f['generated']} generated = {f['accepted']} accepted + {f['rejected']} rejected"
            f"{'' if f['adds_up'] else ' (does not add up: some rejected samples name no stage)'}.", "",
            f"![funnel]({m['plots']['funnel']})", ""]
    out.append(table(["stage", "rejected", "remaining"],
                      [["generated", "", f["generated"]]] + [[s["stage"], s["rejected"], s["remaining"]] for s in f["stages"]]
                      + [["**accepted**", "", f"**{f['accepted']}**"]]))
    return out


def _rejections(m: dict[str, Any]) -> list[str]:
    out = ["", "## Rejection reasons", ""]
    if not m["rejections"]:
        out.append("No sample was rejected.")
    for name, r in m["rejections"].items():
        out += [f"### {name} ({r['count']})", ""]
        for reason in r["reasons"]:
            out.append(f"- {reason['count']} × {reason['reason']}")
            for ex in reason["examples"]:
                out.append(f"  - #{ex['sample_id']}: “{ex['text']}” — {ex['reason']}")
        out.append("")
    return out


def _lengths_and_diversity(m: dict[str, Any]) -> list[str]:
    ln = m["lengths"]
    out = ["## Lengths", "", f"![lengths]({m['plots']['lengths']})", "",
            table(["unit", "min", "mean", "median", "p90", "max"],
                   [[u, *(ln[u].get(k, "–") for k in ("min", "mean", "median", "p90", "max"))] for u in ("chars", "words")]),
            ""]

    lx, sem, mh = m["lexical"], m["semantic"], m["minhash"]
    out += ["## Diversity", "",
            table(["measure", "value", "what it means"], [
                ["distinct-1", fmt(lx["distinct_1"]), "unique words / all words (higher is more varied)"],
                ["distinct-2", fmt(lx["distinct_2"]), "unique word pairs / all word pairs"],
                ["self-similarity (TF-IDF)", fmt(lx["self_similarity_tfidf"]), "mean cosine between two samples' TF-IDF vectors (lower is more varied)"],
                [f"embedding diversity ({sem['embedder']})", fmt(sem["diversity"]), f"1 − mean pairwise cosine over {sem['n']} samples"],
                [f"near-duplicate rate ({sem['embedder']})", fmt(sem["near_duplicate_rate"], pct=True),
                 f"samples whose nearest neighbour has cosine ≥ {sem['near_duplicate_cosine']}"],
                ["near-duplicate rate (MinHash)", fmt(mh["rate"], pct=True), f"samples with an earlier one at Jaccard ≥ {mh['threshold']}"],
            ]), "", f"![diversity]({m['plots']['diversity']})", ""]
    if sem["within_label_cosine"]:
        out += [table([m["category_field"], "mean cosine within"],
                       [[k, fmt(v)] for k, v in sorted(sem["within_label_cosine"].items(), key=lambda kv: -kv[1])]), ""]
    return out


def _judge(m: dict[str, Any]) -> list[str]:
    out = ["## Judge", ""]
    j = m["judge"]
    if not j:
        out += ["The judge was not enabled for this run (`judge: {enabled: true}` in the recipe turns it on).", ""]
    else:
        out += [f"{j['verdicts']} verdicts by {', '.join(j['judges'])}: {j['passed']} passed ({j['pass_rate']:.0%}),"
                f" {j['unusable']} unusable."
                + (f" Label agreement {j['label_agreement']:.0%}." if j["label_agreement"] is not None else ""), "",
                f"![judge]({m['plots']['judge']})", ""]
        if j["scores"]:
            out += [table(["score", *map(str, range(1, 6))],
                           [[k, *(v[str(i)] for i in range(1, 6))] for k, v in j["scores"].items()]), ""]
        if j["checks_true"]:
            out += [", ".join(f"{k}: {v:.0%} yes" for k, v in j["checks_true"].items()), ""]
        if j["failed_criteria"]:
            out += ["Most common failing criteria: " + "; ".join(f"{k} ({v})" for k, v in j["failed_criteria"].items()), ""]
    return out


def _coverage(m: dict[str, Any]) -> list[str]:
    out = ["## Coverage of the plan", "", f"![coverage]({m['plots']['coverage']})", ""]
    sc = m.get("scenarios") or {}
    if sc.get("asked"):
        out += [f"Scenarios: {sc['from_model']} of {sc['asked']} written by the teacher for their label, the rest built-in"
                " (the plan's notes say which labels).", ""]
    for axis, cov in m["coverage"].items():
        n = len(cov["values"])
        line = f"- {axis}: {n - len(cov['uncovered'])} of {n} planned values have accepted samples"
        if cov["uncovered"]:
            line += "; none for: " + "; ".join(clip(v, 60) for v in cov["uncovered"][:10])
        out.append(line)
    out.append("")
    return out


def _label_noise(m: dict[str, Any], task: Task) -> list[str]:
    noise = m["label_noise"]
    out = ["## Label noise", ""]
    if not noise:
        out += ["Not checked (classification runs only; filters.label_noise.mode)." if task.labelled
                else "Not applicable: label noise is checked for classification runs.", ""]
    elif noise.get("skipped"):
        out += [f"Skipped: {noise['skipped']}.", ""]
    else:
        out += [f"A {noise['folds']}-fold cross-validated classifier ({noise['embedder']}) reached {noise['cv_accuracy']:.0%}"
                f" accuracy; it confidently (≥ {noise['min_confidence']}) disagreed with {noise['flagged']} labels"
                f" ({noise['mode']} mode, {noise['rejected']} rejected).", ""]
        if noise["flags"]:
            out += [table(["sample", "text", "label", "classifier says", "probability"],
                           [[f"#{x['sample_id']}", clip(x["text"], 80), x["label"], x["predicted"], x["confidence"]]
                            for x in noise["flags"][:20]]), ""]
    return out


def render_usage(u: dict[str, Any] | None) -> list[str]:
    if not u:
        return []
    priced = u["cost"] is not None
    rows = [[r["phase"], r["engine"] or "?", r["calls"], f"{r['prompt_tokens']:,}", f"{r['completion_tokens']:,}"]
            + ([fmt(r["cost"]) if r["cost"] is not None else "no price"] if priced else []) for r in u["by_phase_engine"]]
    out = ["## Tokens and cost", "",
           table(["phase", "engine", "calls", "prompt tokens", "completion tokens"] + (["cost"] if priced else []), rows), "",
           f"Total: {u['tokens']:,} tokens" + (f", cost {u['cost']:.4g} (budget.prices, per million tokens)" if priced else
                                                "; give budget.prices per engine to see the cost") + ".", ""]
    return out


def render_eval(ev: dict[str, Any]) -> list[str]:
    rows = [["synthetic train → real test", ev["synthetic"]["train_size"], fmt(ev["synthetic"]["accuracy"]),
             fmt(ev["synthetic"]["macro_f1"])]]
    if ev.get("real"):
        rows.append(["real train → real test (reference)", ev["real"]["train_size"], fmt(ev["real"]["accuracy"]),
                     fmt(ev["real"]["macro_f1"])])
    out = [f"Classifier: {ev['classifier']}. Real test set: {ev['test_size']} samples, {len(ev['test_labels'])} labels.", "",
           table(["trained on", "train size", "accuracy", "macro-F1"], rows), ""]
    if ev.get("ratio"):
        out += [f"Synthetic / real: accuracy {ev['ratio']['accuracy']:.2f}, macro-F1 {ev['ratio']['macro_f1']:.2f}.", ""]
    d = ev.get("distance") or {}
    if d:
        out += [f"Real vs synthetic distance: classifier two-sample AUC {d['auc']:.3f} (0.5 = indistinguishable,"
                f" 1.0 = fully separable), MMD² {d['mmd2']:.4f} (RBF kernel, {d['embedder']}).", ""]
    for w in ev.get("warnings", []):
        out += [f"> warning: {w}", ""]
    return out
