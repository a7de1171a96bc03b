"""The dataset card: YAML front matter in the Hub's conventions plus a body that says how the data was made.

`card_metadata` builds the front matter with huggingface_hub's `DatasetCardData` and datasets' own
serialisers for `dataset_info` and `configs` (the same ones `push_to_hub` uses); `card_body` writes the
markdown; `check_card` (publish/hub_vocab.py) validates a card's front matter against the Hub's vocabularies offline.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from synthwright.core.markdown import table as markdown_table
from synthwright.core.store_rows import StoredVerdict
from synthwright.evaluators.metrics import judge_summary
from synthwright.publish.card_docs import COLUMN_DOCS, FILTER_DOCS
from synthwright.publish.hub_vocab import license_fields, size_category
from synthwright.rundir.reader import RunDir


@dataclass
class CardInputs:
    """Everything the card is written from."""

    run: RunDir
    dataset: Any  # DatasetDict as exported
    license: str
    samples: list[dict[str, Any]]
    verdicts: dict[int, list[StoredVerdict]]
    slots: list[dict[str, Any]]
    calls: dict[str, Any]
    shards: dict[str, list[str]]  # split -> export-relative parquet paths
    download_size: int
    images: list[str] = field(default_factory=list)  # export-relative image paths
    report_md: str | None = None  # with image links rewritten to export paths
    has_eval: bool = False
    version: str = ""
    repo_id: str | None = None  # the Hub repo, when known, for the loading snippet


def card_metadata(c: CardInputs):
    """The front matter as a DatasetCardData (license, language, task, size, tags, dataset_info, configs)."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    run, dsd = c.run, c.dataset
    total = sum(len(ds) for ds in dsd.values())
    task_ids = run.task.hub_task_ids(run.frozen)
    data = DatasetCardData(
        language=[run.frozen.get("language") or "en"],
        pretty_name=run.name,
        size_categories=[size_category(total)],
        task_categories=run.task.hub_task_categories,
        task_ids=task_ids or None,
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated"],
        multilinguality=["monolingual"],
        source_datasets=["original"],
        tags=["synthetic", "synthwright", run.task.hub_tag],
    )
    for key, value in license_fields(c.license).items():
        data[key] = value
    first = next(iter(dsd.values()))
    splits = SplitDict()
    for name, ds in dsd.items():
        splits.add(SplitInfo(name=name, num_bytes=ds.data.nbytes, num_examples=len(ds)))
    info = DatasetInfo(features=first.features, splits=splits, download_size=c.download_size,
                       dataset_size=sum(ds.data.nbytes for ds in dsd.values()))
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    MetadataConfigs({"default": {"data_files": [{"split": name, "path": f"data/{name}-*"} for name in dsd]}}
                    ).to_dataset_card_data(data)
    return data


def render_card(c: CardInputs) -> str:
    """The full README.md: front matter and body."""
    return f"---\n{card_metadata(c).to_yaml()}\n---\n\n{card_body(c)}"


# --- body ---------------------------------------------------------------------------------------------------


table = partial(markdown_table, limit=160)


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def fates(samples: list[dict[str, Any]]) -> tuple[Counter, dict[str, str]]:
    """Samples per fate (accepted, or the rejecting filter) and the first reason given for each filter."""
    counts: Counter = Counter()
    example: dict[str, str] = {}
    for s in samples:
        fate = "accepted" if s["status"] == "accepted" else (s.get("filter") or "rejected")
        counts[fate] += 1
        if fate != "accepted" and fate not in example and s.get("reason"):
            example[fate] = s["reason"]
    return counts, example


def card_body(c: CardInputs) -> str:
    sections = [_intro(c), _structure(c), _making(c), _funnel(c), _report(c), _tstr(c), _limitations(c),
                _reproduce(c), _files(c)]
    return "\n\n".join(s.strip() for s in sections if s) + "\n"


def _intro(c: CardInputs) -> str:
    run, dsd = c.run, c.dataset
    total = sum(len(ds) for ds in dsd.values())
    teacher = (run.frozen.get("teacher") or {}).get("model", "default")
    kind = run.task.title
    split_text = ", ".join(f"{name} {len(ds)}" for name, ds in dsd.items())
    n_cat = len(run.frozen.get("categories") or [])
    return f"""
# {run.name}

{run.frozen.get('description', '').strip()}

A **synthetic** {kind} dataset of {total} samples ({split_text}) in `{run.frozen.get('language', 'en')}`,
{f'over {n_cat} categories, ' if n_cat else ''}written by the language model `{teacher}` and kept only when it passed
the filters{' and the LLM judge' if c.verdicts else ''} described below. No sample was written by a person.
It was made with synthwright {c.version} from the recipe in [`recipe.yaml`](recipe.yaml).

```python
from datasets import load_dataset

ds = load_dataset("{c.repo_id or 'path/to/this/folder'}")
```
"""


def _structure(c: CardInputs) -> str:
    run, dsd = c.run, c.dataset
    first = next(iter(dsd.values()))
    cols = [[f"`{name}`", _feature_type(feat), COLUMN_DOCS.get(name, "")] for name, feat in first.features.items()]
    parts = ["## Dataset structure", table(["split", "rows", "files"],
                                           [[n, len(ds), ", ".join(c.shards.get(n, []))] for n, ds in dsd.items()]),
             "### Fields", table(["column", "type", "description"], cols)]
    key = run.category_key
    cats = run.frozen.get("categories") or []
    if cats and key in first.features:
        names = _label_names(first.features[key])
        per_split = {}
        for n, ds in dsd.items():
            values = ds[key]
            per_split[n] = Counter(names[v] if names and isinstance(v, int) else v for v in values)
        rows = []
        for i, cat in enumerate(cats):
            row = ([i] if names else []) + [f"`{cat['name']}`", cat.get("description", "")]
            rows.append(row + [per_split[n].get(cat["name"], 0) for n in dsd])
        headers = (["id"] if names else []) + [key, "description"] + list(dsd)
        parts += [f"### {key.capitalize()}s", table(headers, rows)]
    if len(first):
        row = {k: v for k, v in first[0].items() if k not in COLUMN_DOCS or k in ("text", "label", "question", "answer",
                                                                                   "topic", "turns", "intent")}
        sample = json.dumps(row, ensure_ascii=False, indent=2)
        if len(sample) > 1500:
            sample = sample[:1500] + "\n…"
        parts += [f"### An example from `{next(iter(dsd))}`", f"```json\n{sample}\n```"]
    return "\n\n".join(parts)


def _label_names(feature: Any) -> list[str] | None:
    return list(feature.names) if hasattr(feature, "names") else None


def _feature_type(feature: Any) -> str:
    if hasattr(feature, "names"):
        return f"class label ({len(feature.names)} classes)"
    if hasattr(feature, "dtype") and not isinstance(feature, (list, dict)):
        return str(feature.dtype)
    if isinstance(feature, list) or type(feature).__name__ in ("List", "LargeList", "Sequence"):
        inner = feature[0] if isinstance(feature, list) else getattr(feature, "feature", None)
        if isinstance(inner, dict):
            return "list of {" + ", ".join(inner) + "}"
        return "list"
    if isinstance(feature, dict):
        return "{" + ", ".join(feature) + "}"
    return type(feature).__name__


def _making(c: CardInputs) -> str:
    run = c.run
    r = run.frozen
    teacher = r.get("teacher") or {}
    engines = []
    for s in c.samples:
        e = s.get("engine") or {}
        if e and e not in engines:
            engines.append(e)
    engine_rows = [[e.get("spec", ""), e.get("engine", ""), e.get("model", ""), e.get("device", ""), e.get("dtype", ""),
                    e.get("quantization") or "none"] for e in engines[:5]]
    sampling = r.get("sampling") or {}
    axes = r.get("axes") or {}
    plan = run.plan or {}
    parts = ["## How it was made",
             "synthwright turns a recipe into a plan of *slots* (category × scenario × persona × style × length),"
             " asks the teacher model for samples slot by slot with grammar-constrained decoding, runs cheap filters"
             " and, when configured, an LLM judge, and refills slots that fell short in later rounds.",
             "### Recipe",
             table(["field", "value"], [["name", r.get("name")], ["task", r.get("task")],
                                        ["language", r.get("language")],
                                        ["categories", len(r.get("categories") or [])],
                                        ["count", _count_text(r.get("count") or {})],
                                        ["seeds file", r.get("seeds") or "none"],
                                        ["documents", (r.get("documents") or {}).get("path", "none")],
                                        ["few-shot examples per prompt", r.get("few_shot")],
                                        ["seed", r.get("seed")]]),
             "The full recipe, exactly as the run used it (secrets redacted), is [`recipe.yaml`](recipe.yaml).",
             "### Teacher model and sampling",
             f"Teacher: `{teacher.get('model', 'default')}`"
             + (f" with options `{json.dumps(teacher.get('options'), ensure_ascii=False)}`" if teacher.get("options") else "")
             + "."]
    if engine_rows:
        parts.append(table(["spec", "engine", "model", "device", "dtype", "quantization"], engine_rows))
    parts.append(table(["sampling", "value"], [[k, v] for k, v in sampling.items()]))
    parts.append("### Plan: the diversity axes")
    cats = plan.get("categories") or []
    accepted = Counter(s["category"] for s in c.samples if s["status"] == "accepted")
    if cats:
        parts.append(f"The plan has {plan.get('slots', len(c.slots))} slots for a target of {plan.get('total', '?')}"
                     f" samples. Scenarios were written by the teacher, {axes.get('scenarios_per_category', '?')} per category:")
        parts.append(table(["category", "target", "accepted", "scenarios"],
                           [[x.get("name"), x.get("quota"), accepted.get(x.get("name"), 0),
                             "; ".join(x.get("scenarios") or [])] for x in cats]))
    personas = plan.get("personas") or (axes.get("personas") if isinstance(axes.get("personas"), list) else [])
    parts.append(table(["axis", "values"], [
        ["personas" + (" (written by the teacher)" if axes.get("personas") == "auto" else ""), "; ".join(personas) or "-"],
        ["styles", ", ".join(plan.get("styles") or axes.get("styles") or [])],
        ["lengths", ", ".join(plan.get("lengths") or axes.get("lengths") or [])]]))
    for note in plan.get("notes") or []:
        parts.append(f"> Planner note: {note}")
    parts.append("### Filters and judge")
    filters = r.get("filters") or {}
    parts.append(table(["filter setting", "value"], [[k, v] for k, v in filters.items()]) if filters
                 else "Default filters.")
    judge = r.get("judge")
    if judge:
        parts.append(table(["judge setting", "value"], [[k, v] for k, v in (judge.items() if isinstance(judge, dict)
                                                                              else [("judge", judge)])]))
    parts.append(_verdict_summary(c) if c.verdicts else
                 ("No LLM judge verdicts are stored for this run: the samples passed the filters above only."))
    return "\n\n".join(parts)


def _count_text(count: dict[str, Any]) -> str:
    if count.get("per_category"):
        return f"{count['per_category']} per category"
    return f"{count.get('total', '?')} in total"


def _verdict_summary(c: CardInputs) -> str:
    summary = judge_summary([v for vs in c.verdicts.values() for v in vs])
    lines = [f"The judge ({', '.join(f'`{j}`' for j in summary['judges'])}) gave {summary['verdicts']} verdicts;"
             f" {summary['passed']} passed ({pct(summary['passed'], summary['verdicts'])})."]
    rows = []
    for name, dist in summary["scores"].items():
        given = [int(k) for k, n in dist.items() if n]
        rows.append([name, f"{summary['score_means'][name]:.2f}", min(given), max(given), sum(dist.values())])
    if rows:
        lines.append(table(["score (1-5)", "mean", "min", "max", "verdicts"], rows))
    if summary["checks_true"]:
        lines.append(table(["check", "yes"], [[k, f"{100 * v:.1f}%"] for k, v in summary["checks_true"].items()]))
    if summary["label_agreement"] is not None:
        lines.append(f"The judge's own label agreed with the sample's label in {100 * summary['label_agreement']:.1f}%"
                     " of the verdicts.")
    return "\n\n".join(lines)


def _funnel(c: CardInputs) -> str:
    counts, example = fates(c.samples)
    total = sum(counts.values())
    rows = [["generated (parsed or not)", total, "100%", "", ""]]
    rows.append(["accepted", counts.get("accepted", 0), pct(counts.get("accepted", 0), total), "", ""])
    for fate, n in counts.most_common():
        if fate != "accepted":
            rows.append([f"rejected: {fate}", n, pct(n, total), FILTER_DOCS.get(fate, ""), example.get(fate, "")])
    stats = c.run.stats or {}
    calls = c.calls or {}
    facts = [f"model calls: {calls.get('calls', stats.get('calls', '?'))}",
             f"completion tokens: {calls.get('completion_tokens', stats.get('completion_tokens', '?'))}",
             f"rounds: {stats.get('rounds', '?')}"]
    u = stats.get("usage") or {}
    if u.get("by_phase"):
        facts.append("tokens by phase: " + ", ".join(f"{k} {v['prompt_tokens'] + v['completion_tokens']:,}"
                                                     for k, v in u["by_phase"].items()))
    if u.get("cost") is not None:
        facts.append(f"cost: {u['cost']:.4g} (from the recipe's budget.prices)")
    if stats.get("generation_seconds"):
        facts.append(f"generation time: {stats['generation_seconds']} s"
                     f" ({stats.get('completion_tokens_per_second') or '-'} tokens/s)")
    parts = ["## Acceptance funnel",
             "Every sample the teacher produced is kept in the run store with its fate. Of those:",
             table(["fate", "samples", "share", "what it means", "first reason recorded"], rows),
             " · ".join(facts)]
    short = [(k, v) for k, v in (stats.get("per_category") or {}).items() if v.get("accepted", 0) < v.get("target", 0)]
    if short:
        parts.append(f"**Shortfall:** {stats.get('shortfall', sum(v['target'] - v['accepted'] for _, v in short))}"
                     " samples missing against the plan's target, in "
                     + ", ".join(f"`{k}` ({v['accepted']}/{v['target']})" for k, v in short) + ".")
    return "\n\n".join(parts)


def _demote(markdown: str) -> str:
    """Shift headings two levels down so a report's `# Title` sits under this card's `## Quality report`."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"^#{1,4} ", line):
            line = "##" + line
        out.append(line)
    return "\n".join(out)


def _report(c: CardInputs) -> str:
    parts = ["## Quality report"]
    shown = set()
    if c.report_md:
        parts.append("From the run's [`report.md`](report.md):")
        parts.append(_demote(c.report_md.strip()))
        shown = {p for p in c.images if p in c.report_md}
    rest = [p for p in c.images if p not in shown]
    if rest:
        parts.append("### Plots")
        parts += [f"![{Path(p).stem.replace('_', ' ')}]({p})" for p in rest]
    if len(parts) == 1:
        stats = c.run.stats or {}
        per = stats.get("per_category") or {}
        if not per:
            return ""
        parts.append("No report.md was found in the run; the run's own statistics (stats.json):")
        parts.append(table(["category", "target", "accepted"], [[k, v.get("target"), v.get("accepted")]
                                                                 for k, v in per.items()]))
    return "\n\n".join(parts)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and len(value) > 10:
        return [(prefix, f"[{len(value)} values]")]
    if isinstance(value, float):
        return [(prefix, round(value, 4))]
    return [(prefix, value)]


def _tstr(c: CardInputs) -> str:
    head = "## Train on synthetic, test on real"
    if c.run.eval is None:
        return (f"{head}\n\nNot measured for this release: the run has no eval.json. With a real labelled test set,"
                " `synthwright eval` trains a standard classifier on this data and scores it on the real data.")
    rows = flatten(c.run.eval)
    more = f"\n\n…and {len(rows) - 40} more values." if len(rows) > 40 else ""
    return (f"{head}\n\nA classifier trained on this synthetic data and scored on a real labelled test set"
            f" (all numbers from [`eval.json`](eval.json)):\n\n" + table(["metric", "value"], [list(r) for r in rows[:40]])
            + more)


def _limitations(c: CardInputs) -> str:
    r = c.run.frozen
    teacher = (r.get("teacher") or {}).get("model", "default")
    judged = bool(c.verdicts)
    stats = c.run.stats or {}
    bullets = [
        f"- Every sample was written by `{teacher}`. It inherits that model's knowledge, errors, biases and style;"
        " synthetic text is usually cleaner and less varied than what real people write.",
        "- Labels are the categories the teacher was *asked* to write for, not judgements by a person. "
        + ("An LLM judge checked the samples, but judges make mistakes too." if judged else
           "No LLM judge checked them, so some samples may not match their label."),
        "- Personas and scenarios are invented by the recipe and the teacher; they do not describe real people.",
        f"- The data is in `{r.get('language', 'en')}` only.",
        "- Filters remove exact duplicates and bad lengths, but not every near-duplicate, factual error or"
        " personal-data lookalike the model may have produced.",
    ]
    if stats.get("shortfall"):
        bullets.append(f"- The run fell {stats['shortfall']} samples short of its target, so classes are not perfectly balanced.")
    bullets.append("- The teacher model's own license and terms of use may restrict what its outputs may be used for;"
                   " check them before using this dataset commercially.")
    parts = [
        "## Intended use and limitations",
        "**Intended use:** training and prototyping models for the task the recipe describes, for example to"
        " bootstrap a classifier before real data exists, to augment rare classes, or to test a pipeline end to end.",
        "**Not intended for:** measuring how a model will do on real users; evaluate on real, labelled data.",
        "**Limitations:**\n\n" + "\n".join(bullets),
    ]
    if c.license == "other":
        parts.append("**License:** the publisher has not chosen a license for this dataset yet (see [`LICENSE`](LICENSE));"
                     " ask before reusing it.")
    return "\n\n".join(parts)


def _reproduce(c: CardInputs) -> str:
    r = c.run.frozen
    teacher = (r.get("teacher") or {}).get("model", "default")
    notes = [f"The run used the teacher `{teacher}` and seed {r.get('seed', 0)}."]
    if r.get("seeds"):
        notes.append(f"The recipe reads seed examples from `{r['seeds']}`, which is not part of this dataset.")
    if r.get("documents"):
        notes.append(f"It grounds questions in the documents under `{r['documents'].get('path')}`, which are not part of this dataset.")
    notes.append("Sampling is seeded, but a different model build, library version or hardware can still change the text.")
    return f"""
## How to reproduce it

```bash
pip install synthwright
synthwright run recipe.yaml --out runs/{c.run.name}
synthwright export runs/{c.run.name} --to {c.run.name}-export
```

{' '.join(notes)} `synthwright view runs/{c.run.name}` writes a page to browse every sample, accepted or rejected.
"""


def _files(c: CardInputs) -> str:
    rows = [["README.md", "this card"], ["recipe.yaml", "the frozen recipe the run used"],
            ["plan.json", "the plan: scenarios, personas and slots"], ["stats.json", "the run's statistics"]]
    rows += [[p, f"the {n} split"] for n, ps in c.shards.items() for p in ps]
    if c.report_md:
        rows.append(["report.md", "the run's quality report"])
    rows += [[p, "a plot from the report"] for p in c.images]
    if c.has_eval:
        rows.append(["eval.json", "train-on-synthetic, test-on-real results"])
    if c.license == "other":
        rows.append(["LICENSE", "a note that no license has been chosen"])
    return "## Files\n\n" + table(["file", "what it is"], rows)


# --- validation ---------------------------------------------------------------------------------------------
