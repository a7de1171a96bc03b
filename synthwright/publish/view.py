"""`view`: one self-contained HTML page to review a run's samples, accepted and rejected.

No external assets: the CSS and JS are inlined from `publish/review.html`, the samples are embedded as
JSON in a `<script type="application/json">` block, escaped so that no sample text can close the tag or
inject markup. Filters (status, label, split, rejecting filter, judge, search) live in the URL hash, so
`review.html#status=rejected&label=refund` opens filtered and a filtered view can be shared.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.core.store_rows import StoredVerdict
from synthwright.rundir.reader import load_splits, open_run, read_store

# In JSON these are the same string; in HTML they cannot end the script element or start a comment.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def embed_json(data: Any) -> str:
    """`data` as JSON that is safe inside `<script type="application/json">`."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _JSON_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def review_data(run_dir: str | Path) -> dict[str, Any]:
    """Every sample of the run with its fate, split, provenance and judge verdicts, for the page."""
    run = open_run(run_dir)
    samples, verdicts, slots, _ = read_store(run)
    split_of: dict[int, str] = {}
    try:
        for name, ds in load_splits(run).items():
            if "sample_id" in ds.column_names:
                split_of.update({sid: name for sid in ds["sample_id"]})
    except ConfigError:
        pass  # no dataset yet: every sample is still shown, accepted ones without a split
    slot_by_id = {s["slot_id"]: s for s in slots}
    key = run.category_key
    rows = []
    for s in samples:
        slot = slot_by_id.get(s["slot_id"], {})
        data = dict(s["data"])
        label = data.pop(key, None) or s["category"]
        rows.append({
            "id": s["sample_id"], "status": s["status"], "label": label, "split": split_of.get(s["sample_id"]),
            "filter": s.get("filter"), "reason": s.get("reason"), "fields": data,
            "slot": {k: slot.get(k) for k in ("scenario", "persona", "style", "length") if slot.get(k)},
            "round": s.get("round"), "seed": s.get("seed"), "teacher": (s.get("engine") or {}).get("spec"),
            "verdicts": [verdict_view(v) for v in verdicts.get(s["sample_id"], [])],
        })
    labels = [c["name"] for c in run.frozen.get("categories") or []]
    labels += sorted({r["label"] for r in rows} - set(labels))
    return {"name": run.name, "task": run.kind, "description": run.frozen.get("description", ""),
            "categoryKey": key, "labels": labels, "splits": run.split_names(), "samples": rows}


def verdict_view(v: StoredVerdict) -> dict[str, Any]:
    """What the page shows of a verdict: the judge's answer, and what failed or went wrong."""
    shown = dict(v.verdict or {})
    if v.failed:
        shown["failed"] = "; ".join(v.failed)
    if v.error:
        shown["error"] = v.error
    return {"judge": v.judge, "passed": v.passed, "data": shown}


def write_review_page(run_dir: str | Path, to: str | Path | None = None) -> Path:
    """Write the review page for the run in `run_dir` (default `<run_dir>/review.html`); returns its path."""
    data = review_data(run_dir)
    template = resources.files("synthwright.publish").joinpath("review.html").read_text(encoding="utf-8")
    page = (template.replace("{{TITLE}}", html.escape(f"{data['name']} · review"))
                    .replace("{{DATA}}", embed_json(data)))
    path = Path(to) if to else Path(run_dir) / "review.html"
    if path.is_dir():
        path = path / "review.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
