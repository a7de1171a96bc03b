"""One real tiny-model run shared by the publish tests (export, push, view), and ways to dress up a copy of it.

The run is made once per test session (about 10 s on 2 cores): 2 labels, 3 splits, and a token budget tight
enough that the tiny random model gets both accepted samples and rejected ones (cut-off JSON → `parse`).
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path

RECIPE = {
    "name": "tiny-intents",
    "task": "classification",
    "description": "Short messages customers type into a bank's support chat.",
    "categories": [{"name": "lost_card", "description": "The card was lost or stolen."},
                   {"name": "refund", "description": "A refund has not arrived."}],
    "count": {"per_category": 5},
    "axes": {"scenarios_per_category": 1, "personas": ["a student", "a retiree"], "styles": ["casual"],
             "lengths": ["one short sentence"]},
    "sampling": {"temperature": 1.0, "max_new_tokens": 48, "seed": 0},
    "budget": {"max_rounds": 3, "overgenerate": 1.0},
    "output": {"splits": {"train": 0.6, "validation": 0.2, "test": 0.2}},
    # the random tiny model writes gibberish that the gibberish and label-fidelity gates rightly reject (tests/test_junk.py)
    "filters": {"label_fidelity": False, "gibberish": False},
    "quality": {"enabled": False},
}
# A 1×1 PNG, standing in for the plots the report writes.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
HOSTILE = "</script><script>document.title='pwned'</script><!-- & \u2028"

_runs: dict[str, Path] = {}


def tiny_run(model_dir: Path, base: Path) -> Path:
    """The shared run directory (made on first use). Tests must copy it before changing anything in it."""
    key = str(model_dir)
    if key not in _runs:
        import synthwright

        recipe = {**RECIPE, "teacher": {"model": str(model_dir), "options": {"dtype": "float32", "batch_size": 16}}}
        result = synthwright.run(recipe, out=base / "tiny-run")
        assert result.stats["accepted"] > 0 and result.stats["funnel"].get("parse", 0) > 0, result.stats
        _runs[key] = result.out_dir
    return _runs[key]


def copy_run(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("run.sqlite-wal", "run.sqlite-shm", "review.html"))
    return dest


def add_report(run_dir: Path) -> None:
    """What the report/eval tools put in a run directory: report.md with a plot, plots/*.png, eval.json."""
    (run_dir / "plots").mkdir(exist_ok=True)
    (run_dir / "plots" / "label_balance.png").write_bytes(PNG)
    (run_dir / "length_hist.png").write_bytes(PNG)
    (run_dir / "report.md").write_text("# Report for tiny-intents\n\n## Balance\n\nEvery label has samples.\n\n"
                                       "![label balance](plots/label_balance.png)\n\n| metric | value |\n|---|---|\n"
                                       "| distinct-2 | 0.83 |\n", encoding="utf-8")
    (run_dir / "eval.json").write_text(json.dumps({"classifier": "tfidf-logreg", "real_test_set": "bank77-subset",
                                                   "metrics": {"accuracy": 0.8125, "macro_f1": 0.7931}}))


def add_verdicts_and_hostile_text(run_dir: Path) -> dict:
    """Verdicts of the real judge (a scripted engine behind it) on one accepted and one rejected sample, and a
    rejected sample whose text tries to break out of the page's script tag. Returns their sample ids."""
    from synthwright.core.store import RunStore
    from synthwright.evaluators.filters import Candidate
    from synthwright.evaluators.judge import Judge
    from synthwright.recipe.load import load_recipe

    from .scripted import ScriptedEngine

    store = RunStore(run_dir / "run.sqlite")
    try:
        recipe = load_recipe({**store.get("recipe"), "judge": {"enabled": True}})
        accepted = store.samples("accepted")[0]
        rejected, *_, hostile = store.samples("rejected")
        other = {"lost_card": "refund", "refund": "lost_card"}
        answers = {accepted["sample_id"]: {"reason": "Clearly about its label.", "label": accepted["category"],
                                           "naturalness": 4, "fit": 5},
                   rejected["sample_id"]: {"reason": "Gibberish, not a customer message.",
                                           "label": other[rejected["category"]], "naturalness": 1, "fit": 1}}
        verdicts = []
        for s in (accepted, rejected):
            text = s["data"].get("text") or s["data"].get("raw", "")
            cand = Candidate(data={"text": text}, text=text, category=s["category"], slot_id=s["slot_id"])
            engine = ScriptedEngine(verdict=lambda label, t, a=answers[s["sample_id"]]: a, spec="hf:tiny-judge")
            Judge(recipe, engine).evaluate([cand])
            verdicts.append((s["sample_id"], cand.features["verdict"]))
        store.add_verdicts(verdicts)
    finally:
        store.close()
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        db.execute("UPDATE samples SET data = ? WHERE sample_id = ?", (json.dumps({"raw": HOSTILE}), hostile["sample_id"]))
        db.commit()
    finally:
        db.close()
    return {"accepted": accepted["sample_id"], "rejected": rejected["sample_id"], "hostile": hostile["sample_id"]}
