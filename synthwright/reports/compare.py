"""`compare`: a teacher run and a student run side by side, from their run stores only (no model is called).

Acceptance, judge scores (when both runs stored verdicts), diversity, train-on-synthetic/test-on-real
(with a real labelled test set) and cost, written as compare.md + compare.json + PNG bar plots.

Both runs should come from the same recipe with the student as the teacher (`synthwright run RECIPE
--teacher STUDENT_DIR`). The planner uses the run's own model, so the two plans can differ; the report
says whether the slot lists match and compares per category either way.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.markdown import table
from synthwright.core.rowfiles import read_labelled
from synthwright.core.store_rows import StoredVerdict
from synthwright.evaluators import embed
from synthwright.evaluators.classifier import classifier_name, train_and_score
from synthwright.evaluators.metrics import distinct_n, judge_summary, self_similarity
from synthwright.reports.tstr import synthetic_train
from synthwright.rundir.reader import RunDir, open_run


@dataclass
class CompareReport:
    out_dir: Path
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)

    def rows(self) -> list[tuple[str, Any, Any]]:
        t, s = self.data["teacher"], self.data["student"]
        rows = [
            ("engine", t["engine"], s["engine"]),
            ("accepted / target", f"{t['accepted']} / {t['target']}", f"{s['accepted']} / {s['target']}"),
            ("generations (calls)", t["calls"], s["calls"]),
            ("acceptance rate (accepted / calls)", _pct(t["acceptance_rate"]), _pct(s["acceptance_rate"])),
            ("schema-valid rate (not rejected by parse)", _pct(t["schema_valid_rate"]), _pct(s["schema_valid_rate"])),
        ]
        if t.get("judge") and s.get("judge"):
            rows.append(("judge pass rate", _pct(t["judge"]["pass_rate"]), _pct(s["judge"]["pass_rate"])))
            for name in sorted(set(t["judge"]["score_means"]) & set(s["judge"]["score_means"])):
                rows.append((f"judge {name} (mean 1-5)", _num(t["judge"]["score_means"][name]),
                             _num(s["judge"]["score_means"][name])))
            if t["judge"]["label_agreement"] is not None and s["judge"]["label_agreement"] is not None:
                rows.append(("judge label agreement", _pct(t["judge"]["label_agreement"]), _pct(s["judge"]["label_agreement"])))
        d_t, d_s = t["diversity"], s["diversity"]
        rows += [
            (f"distinct-1 (first {d_t['texts']} texts)", _num(d_t["distinct_1"]), _num(d_s["distinct_1"])),
            (f"distinct-2 (first {d_t['texts']} texts)", _num(d_t["distinct_2"]), _num(d_s["distinct_2"])),
            ("self-similarity (mean pairwise TF-IDF cosine, lower = more varied)", _num(d_t["self_similarity"]),
             _num(d_s["self_similarity"])),
            ("mean words per sample", _num(d_t["mean_words"]), _num(d_s["mean_words"])),
        ]
        if t.get("tstr") and s.get("tstr"):
            rows += [("TSTR accuracy on real", _num(t["tstr"]["accuracy"]), _num(s["tstr"]["accuracy"])),
                     ("TSTR macro-F1 on real", _num(t["tstr"]["macro_f1"]), _num(s["tstr"]["macro_f1"]))]
        c_t, c_s = t["cost"], s["cost"]
        rows += [
            ("generation seconds", _num(c_t["generation_seconds"]), _num(c_s["generation_seconds"])),
            ("completion tokens / s", _num(c_t["tokens_per_second"]), _num(c_s["tokens_per_second"])),
            ("seconds per 1,000 accepted", _num(c_t["seconds_per_1000_accepted"]), _num(c_s["seconds_per_1000_accepted"])),
            ("completion tokens per 1,000 accepted", _num(c_t["completion_tokens_per_1000_accepted"]),
             _num(c_s["completion_tokens_per_1000_accepted"])),
            ("prompt + completion tokens per 1,000 accepted", _num(c_t["tokens_per_1000_accepted"]),
             _num(c_s["tokens_per_1000_accepted"])),
        ]
        return rows

    def markdown_table(self) -> str:
        return table(["metric", *self.data.get("labels", ["teacher", "student"])], [list(r) for r in self.rows()])


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


# reading a run ------------------------------------------------------------------------------------

@dataclass
class RunData:
    run: RunDir
    slots: list[dict[str, Any]]
    accepted: list[dict[str, Any]]  # sample rows with data, category
    calls_per_category: Counter
    fates: dict[str, int]
    calls: dict[str, Any]
    generation_seconds: float
    engines: list[str]
    verdicts: list[StoredVerdict]

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def recipe(self) -> dict[str, Any]:
        return self.run.frozen


def read_run(run_dir: str | Path) -> RunData:
    run = open_run(run_dir)
    with run.store() as store:
        slots = store.slots()
        category = {s["slot_id"]: s["category"] for s in slots}
        per_cat: Counter = Counter()
        engines: list[str] = []
        for slot_id, spec in store.executor_calls():
            per_cat[category.get(slot_id, "?")] += 1
            if spec not in engines:
                engines.append(spec)
        seconds = run.stats.get("generation_seconds", store.get("generation_seconds", 0.0)) or 0.0
        return RunData(run=run, slots=slots, accepted=store.samples("accepted"), calls_per_category=per_cat,
                       fates=store.fate_counts(), calls=store.call_stats(), generation_seconds=float(seconds),
                       engines=engines, verdicts=store.verdicts())


# metrics ------------------------------------------------------------------------------------------

def diversity(texts: list[str], n: int) -> dict[str, Any]:
    """On the first `n` texts of the run, so that two runs of different sizes are measured alike."""
    texts = texts[:n]
    return {"texts": len(texts), "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
            "self_similarity": self_similarity(texts),
            "mean_words": sum(len(t.split()) for t in texts) / len(texts) if texts else None}


def tstr(run: RunData, real: list[dict[str, str]], kind: str) -> dict[str, Any] | None:
    """Exactly `synthwright eval`'s train-on-synthetic/test-on-real: its training rows, classifier and scores."""
    train = synthetic_train(run.run)
    labels = {r["label"] for r in train}
    if len(labels) < 2:
        return None
    return {**train_and_score(kind, train, real), "test_samples": len(real), "classifier": classifier_name(kind),
            "real_labels_unseen": sorted({r["label"] for r in real} - labels)}


def cost(run: RunData) -> dict[str, Any]:
    accepted = len(run.accepted)
    seconds = run.generation_seconds
    comp, prompt = run.calls["completion_tokens"], run.calls["prompt_tokens"]
    per_k = (lambda x: x * 1000 / accepted) if accepted else (lambda x: None)
    return {"generation_seconds": seconds, "completion_tokens": comp, "prompt_tokens": prompt,
            "tokens_per_second": comp / seconds if seconds else None,
            "seconds_per_1000_accepted": per_k(seconds), "completion_tokens_per_1000_accepted": per_k(comp),
            "tokens_per_1000_accepted": per_k(comp + prompt)}


def summarize(run: RunData, n_texts: int, real: list[dict[str, str]] | None, kind: str) -> dict[str, Any]:
    task = run.run.kind
    texts = [run.run.task.text_of(s["data"]) for s in run.accepted]
    calls = run.calls["calls"]
    target: Counter = Counter()
    for s in run.slots:
        target[s["category"]] += s["quota"]
    accepted_per: Counter = Counter(s["category"] for s in run.accepted)
    out = {
        "run": str(run.path), "recipe": run.recipe.get("name"), "task": task, "labelled": run.run.task.labelled,
        "engine": ", ".join(run.engines) or "-", "calls": calls, "accepted": len(run.accepted),
        "target": sum(target.values()),
        "acceptance_rate": len(run.accepted) / calls if calls else None,
        "schema_valid_rate": 1 - run.fates.get("parse", 0) / calls if calls else None,
        "funnel": run.fates,
        "per_category": {c: {"target": target[c], "accepted": accepted_per.get(c, 0),
                             "calls": run.calls_per_category.get(c, 0),
                             "acceptance_rate": (accepted_per.get(c, 0) / run.calls_per_category[c]
                                                 if run.calls_per_category.get(c) else None)} for c in target},
        "judge": judge_summary(run.verdicts),
        "diversity": diversity(texts, n_texts),
        "cost": cost(run),
        "tstr": None,
    }
    if real is not None and run.run.task.labelled:
        out["tstr"] = tstr(run, real, kind)
    return out


def role_of(run: RunData) -> str:
    """What wrote a run: a DPO student, an SFT student (a folder from `distill`), or a teacher (any other model)."""
    methods = set()
    for spec in run.engines:
        manifest = Path(spec).expanduser() / "student.json"
        if manifest.is_file():
            try:
                methods.add(json.loads(manifest.read_text()).get("method", "sft"))
            except ValueError:
                methods.add("sft")
        else:
            methods.add("teacher")
    if methods == {"dpo"}:
        return "DPO student"
    if methods == {"sft"}:
        return "SFT student"
    return "teacher" if methods <= {"teacher"} else "mixed"


def plan_match(t: RunData, s: RunData) -> dict[str, Any]:
    def key(slot: dict[str, Any]) -> str:
        return json.dumps(slot, sort_keys=True)

    quotas_t = Counter({c: q for c, q in _quota(t.slots).items()})
    quotas_s = Counter({c: q for c, q in _quota(s.slots).items()})
    shared = len({key(x) for x in t.slots} & {key(x) for x in s.slots})
    return {"identical": [key(x) for x in t.slots] == [key(x) for x in s.slots],
            "same_categories": set(quotas_t) == set(quotas_s), "same_quotas": quotas_t == quotas_s,
            "teacher_slots": len(t.slots), "student_slots": len(s.slots), "shared_slots": shared}


def _quota(slots: list[dict[str, Any]]) -> Counter:
    c: Counter = Counter()
    for s in slots:
        c[s["category"]] += s["quota"]
    return c


# the report ---------------------------------------------------------------------------------------

def compare_runs(teacher_run: str | Path, student_run: str | Path, *, real: str | Path | None = None,
                 out: str | Path | None = None, embedder: str | None = None) -> CompareReport:
    """Compare two runs of one recipe; writes compare.md, compare.json and PNG plots to `out`
    (default STUDENT_RUN/compare). With `real`, each run's TSTR is `synthwright eval`'s, with the same `embedder`."""
    t, s = read_run(teacher_run), read_run(student_run)
    real_rows = read_labelled(real, "real test set") if real is not None else None
    kind = embed.resolve(embedder)
    notes: list[str] = []
    if t.recipe.get("name") != s.recipe.get("name") or t.recipe.get("task") != s.recipe.get("task"):
        notes.append(f"the runs come from different recipes ({t.recipe.get('name')} vs {s.recipe.get('name')});"
                     " the numbers compare unlike things")
    plans = plan_match(t, s)
    if not plans["identical"]:
        notes.append("the two plans differ (each run planned with its own model), so samples were asked for different"
                     " scenarios and personas; the per-category table compares like with like"
                     + ("" if plans["same_quotas"] else ", but even the category quotas differ"))
    n_texts = min(len(t.accepted), len(s.accepted))
    data = {"teacher": summarize(t, n_texts, real_rows, kind), "student": summarize(s, n_texts, real_rows, kind),
            "plans": plans, "labels": [role_of(t), role_of(s)]}
    judged = any((r.recipe.get("judge") or {}).get("enabled", True) for r in (t, s) if r.recipe.get("judge"))
    if not (data["teacher"]["judge"] and data["student"]["judge"]):
        notes.append("judge numbers skipped: " + ("only one run has judge verdicts" if
                                                   (data["teacher"]["judge"] or data["student"]["judge"]) else
                                                   "the recipe has a judge section but no verdicts are stored"
                                                   if judged else "the recipe has no judge section (or it is disabled)"))
    if real_rows is not None:
        if not data["teacher"]["labelled"]:
            notes.append("train-on-synthetic/test-on-real is only computed for classification runs")
        elif data["teacher"]["tstr"] and data["teacher"]["tstr"]["real_labels_unseen"]:
            notes.append(f"real labels with no synthetic samples: {', '.join(data['teacher']['tstr']['real_labels_unseen'])}")
        if len(real_rows) < 50:
            notes.append(f"the real test set has only {len(real_rows)} rows; TSTR numbers are very noisy")
    if n_texts < 50:
        notes.append(f"diversity is measured on {n_texts} texts per run; distinct-n and similarity are noisy at that size")
    notes.append("cost covers sample generation only (the stores' calls and generation_seconds), not planning or judging")
    data["notes"] = notes
    out_dir = Path(out) if out is not None else Path(student_run) / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = CompareReport(out_dir=out_dir, data=data, notes=notes)
    report.plots = write_plots(report, out_dir)
    (out_dir / "compare.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    (out_dir / "compare.md").write_text(markdown(report))
    return report


def markdown(report: CompareReport) -> str:
    d = report.data
    t, s, plans = d["teacher"], d["student"], d["plans"]
    plan_line = ("The two runs used the **same plan** (identical slot lists)." if plans["identical"] else
                 f"The plans **differ**: {plans['shared_slots']} of {plans['teacher_slots']} teacher slots also appear"
                 f" in the student's {plans['student_slots']}; same categories: {plans['same_categories']}, same"
                 f" quotas per category: {plans['same_quotas']}.")
    first, second = d.get("labels", ["teacher", "student"])
    lines = [f"# {first[0].upper() + first[1:]} vs {second}: {t['recipe']}", "",
             f"- {first} run: `{t['run']}` ({t['engine']})", f"- {second} run: `{s['run']}` ({s['engine']})", "",
             plan_line, "", report.markdown_table(), "", "## Per category", "",
             "| category | teacher accepted / calls | teacher rate | student accepted / calls | student rate |",
             "|---|---|---|---|---|"]
    for cat in sorted(set(t["per_category"]) | set(s["per_category"])):
        a, b = t["per_category"].get(cat, {}), s["per_category"].get(cat, {})
        lines.append(f"| {cat} | {a.get('accepted', '-')} / {a.get('calls', '-')} | {_pct(a.get('acceptance_rate'))}"
                     f" | {b.get('accepted', '-')} / {b.get('calls', '-')} | {_pct(b.get('acceptance_rate'))} |")
    lines += ["", "## Rejections", "", "| fate | teacher | student |", "|---|---|---|"]
    for fate in sorted(set(t["funnel"]) | set(s["funnel"])):
        lines.append(f"| {fate} | {t['funnel'].get(fate, 0)} | {s['funnel'].get(fate, 0)} |")
    if t.get("tstr") and s.get("tstr"):
        lines += ["", f"Train-on-synthetic, test-on-real, as `synthwright eval` measures it: {t['tstr']['classifier']}"
                      f" trained on each run's synthetic train split, scored on {t['tstr']['test_samples']} real rows."]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in report.plots]
    return "\n".join(lines) + "\n"


def write_plots(report: CompareReport, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = report.data
    t, s = d["teacher"], d["student"]
    paths: list[Path] = []

    def bars(name: str, title: str, ylabel: str, labels: list[str], a: list[float | None], b: list[float | None],
             ylim: tuple[float, float] | None = None, rotate: bool = False) -> None:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2), 3.8))
        x = range(len(labels))
        width = 0.38
        va = [v if v is not None and not (isinstance(v, float) and math.isnan(v)) else 0.0 for v in a]
        vb = [v if v is not None and not (isinstance(v, float) and math.isnan(v)) else 0.0 for v in b]
        for offset, values, raw, who, colour in ((-width / 2, va, a, f"teacher ({t['engine'][:40]})", "#4C72B0"),
                                                 (width / 2, vb, b, f"student ({s['engine'][-40:]})", "#DD8452")):
            drawn = ax.bar([i + offset for i in x], values, width, label=who, color=colour)
            ax.bar_label(drawn, labels=["n/a" if v is None else f"{v:.3g}" for v in raw], fontsize=7, padding=1)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        top = ylim[1] if ylim else max([v for v in va + vb] + [1e-9])
        ax.set_ylim(ylim[0] if ylim else 0, top * 1.3)  # head room for the legend above the bars
        ax.legend(fontsize=8, loc="upper center", ncol=2, frameon=False)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    metrics = ["acceptance rate", "schema-valid rate"]
    a = [t["acceptance_rate"], t["schema_valid_rate"]]
    b = [s["acceptance_rate"], s["schema_valid_rate"]]
    if t.get("judge") and s.get("judge"):
        metrics.append("judge pass rate")
        a.append(t["judge"]["pass_rate"])
        b.append(s["judge"]["pass_rate"])
    bars("acceptance", "Share of generations accepted", "share of generations", metrics, a, b, (0, 1.0))
    cats = sorted(set(t["per_category"]) | set(s["per_category"]))
    bars("per_category", "Acceptance rate per category", "accepted / generations", cats,
         [t["per_category"].get(c, {}).get("acceptance_rate") for c in cats],
         [s["per_category"].get(c, {}).get("acceptance_rate") for c in cats], (0, 1.0), rotate=True)
    keys = [("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"), ("self_similarity", "self-similarity")]
    bars("diversity", f"Diversity of accepted samples (first {t['diversity']['texts']} of each run)", "value (0-1)",
         [label for _, label in keys], [t["diversity"][k] for k, _ in keys], [s["diversity"][k] for k, _ in keys],
         (0, 1.0))
    bars("cost_speed", "Generation speed", "completion tokens per second", ["tokens / s"],
         [t["cost"]["tokens_per_second"]], [s["cost"]["tokens_per_second"]])
    bars("cost_per_1000", "Generation time per 1,000 accepted samples", "seconds", ["seconds / 1,000 accepted"],
         [t["cost"]["seconds_per_1000_accepted"]], [s["cost"]["seconds_per_1000_accepted"]])
    if t.get("judge") and s.get("judge"):
        names = sorted(set(t["judge"]["score_means"]) & set(s["judge"]["score_means"]))
        if names:
            bars("judge", "Judge scores (mean)", "score (1-5)", names, [t["judge"]["score_means"][n] for n in names],
                 [s["judge"]["score_means"][n] for n in names], (0, 5.0))
    if t.get("tstr") and s.get("tstr"):
        bars("tstr", f"Train on synthetic, test on {t['tstr']['test_samples']} real rows", "score (0-1)",
             ["accuracy", "macro-F1"], [t["tstr"]["accuracy"], t["tstr"]["macro_f1"]],
             [s["tstr"]["accuracy"], s["tstr"]["macro_f1"]], (0, 1.0))
    return paths
