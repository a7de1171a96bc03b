"""The dataset report: numbers checked against hand-built run stores and a scripted run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.store import RunStore
from synthwright.evaluators.filters import Candidate
from synthwright.evaluators.judge import Judge
from synthwright.make.output import write_outputs
from synthwright.recipe.load import load_recipe
from synthwright.reports.report import build_report

from .scripted import ScriptedEngine, recipe_dict

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _tfidf(monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")  # the MiniLM path is exercised in test_eval


def judged(recipe, text, answer):
    """The verdict the real Judge stores for `text` when its engine answers `answer`."""
    cand = Candidate(data={"text": text, "label": "pets"}, text=text, category="pets", slot_id="p0")
    Judge(recipe, ScriptedEngine(verdict=lambda label, t: answer, spec="hand-judge")).evaluate([cand])
    return cand.features["verdict"]


def hand_built_run(out):
    """Three accepted samples, three rejected (parse, placeholder, quota), two verdicts, label-noise results."""
    recipe = load_recipe(recipe_dict(name="hand", categories=[{"name": "pets"}, {"name": "dogs"}],
                                     output={"formats": ["jsonl"], "splits": {"train": 0.5, "test": 0.5}}))
    store = RunStore(out / "run.sqlite")
    store.put("recipe", recipe.frozen())
    slot = {"scenario": "at home", "persona": "a student", "style": "casual", "length": "short"}
    store.save_plan({"notes": []}, [{**slot, "slot_id": "p0", "category": "pets", "quota": 2},
                                    {**slot, "slot_id": "d0", "category": "dogs", "quota": 2, "style": "formal"}])
    call = {"round": 0, "seed": 1, "request": {}, "response": "", "prompt_tokens": 10, "completion_tokens": 5,
            "seconds": 0.1, "engine": {"spec": "hand"}}

    def sample(label, text, status="accepted", filter=None, reason=None, verdict=None):
        return [{"category": label, "data": {"text": text, "label": label}, "dedup_key": text if status == "accepted" else "",
                 "status": status, "filter": filter, "reason": reason, "verdict": verdict}]

    verdict = judged(recipe, "the cat sat", {"reason": "ok", "label": "pets", "naturalness": 4, "fit": 5})
    store.record_batch(
        [{**call, "slot_id": s} for s in ("p0", "p0", "d0", "p0", "p0", "d0")],
        [sample("pets", "the cat sat", verdict=verdict), sample("pets", "the cat ran", verdict=verdict),
         sample("dogs", "a dog ran"),
         [{"category": "pets", "data": {"raw": "{\"text\": \"cut"}, "dedup_key": "", "status": "rejected",
           "filter": "parse", "reason": "output is not valid JSON"}],
         sample("pets", "hi [Name]", "rejected", "placeholder", "unfilled placeholder '[Name]'"),
         sample("dogs", "woof woof", "rejected", "quota", "the slot's quota was already met")])
    store.put("label_noise", {"mode": "report", "checked": 3, "folds": 2, "embedder": "tfidf", "cv_accuracy": 0.5,
                              "min_confidence": 0.7, "flagged": 1, "rejected": 0, "skipped": None,
                              "flags": [{"sample_id": 3, "text": "a dog ran", "label": "dogs", "predicted": "pets",
                                         "confidence": 0.8, "given": 0.2}]})
    write_outputs(store, recipe, out)
    store.close()
    return recipe


def test_report_numbers_on_a_hand_built_store(tmp_path):
    hand_built_run(tmp_path)
    (tmp_path / "stats.json").write_text(json.dumps({"accepted": 3, "rounds": 1}))
    m = build_report(tmp_path)

    assert m["counts"]["per_label"] == {"pets": {"train": 1, "test": 1, "total": 2, "target": 2},
                                        "dogs": {"train": 1, "test": 0, "total": 1, "target": 2}}
    f = m["funnel"]
    assert (f["generated"], f["accepted"], f["rejected"], f["adds_up"]) == (6, 3, 3, True)
    assert [(s["stage"], s["rejected"], s["remaining"]) for s in f["stages"]] == [
        ("parse", 1, 5), ("placeholder", 1, 4), ("quota", 1, 3)]
    assert m["rejections"]["placeholder"]["reasons"][0]["examples"][0]["text"] == "hi [Name]"
    assert m["rejections"]["parse"]["reasons"][0]["examples"][0]["text"] == '{"text": "cut'

    # the cat sat / the cat ran / a dog ran: 9 words, 6 distinct; 6 bigrams, 5 distinct
    assert m["lexical"]["distinct_1"] == round(6 / 9, 4) and m["lexical"]["distinct_2"] == round(5 / 6, 4)
    assert m["lengths"]["words"] == {"n": 3, "min": 3, "mean": 3.0, "median": 3.0, "p90": 3.0, "max": 3}
    assert m["lengths"]["chars"]["min"] == 9 and m["lengths"]["chars"]["max"] == 11
    assert m["semantic"]["n"] == 3 and 0 < m["semantic"]["diversity"] < 1
    assert m["minhash"]["near_duplicates"] == 0

    j = m["judge"]
    assert (j["verdicts"], j["passed"], j["label_agreement"], j["judges"]) == (2, 2, 1.0, ["hand-judge"])
    assert j["scores"]["fit"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 2}

    cov = m["coverage"]["style"]
    assert cov["values"] == {"casual": {"planned": 2, "accepted": 2}, "formal": {"planned": 2, "accepted": 1}}
    assert m["coverage"]["scenario"]["uncovered"] == []

    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["accepted"] == 3 and stats["report"]["funnel"]["generated"] == 6  # merged, nothing dropped
    md = (tmp_path / "report.md").read_text()
    for heading in ("## Counts per label and split", "## Acceptance funnel", "## Rejection reasons", "## Lengths",
                    "## Diversity", "## Judge", "## Coverage of the plan", "## Label noise", "## Train on synthetic"):
        assert heading in md
    assert "6 generated = 3 accepted + 3 rejected" in md and "| #3 | a dog ran | dogs | pets | 0.8 |" in md
    for name in ("labels", "funnel", "lengths", "diversity", "coverage", "judge"):
        png = tmp_path / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and f"(plots/{name}.png)" in md


def test_every_run_gets_a_report_whose_funnel_accounts_for_every_sample(tmp_path):
    texts = {
        "lost_card": ["I lost my card at the station yesterday, please block it",
                      "Hi [Customer Name], my card is gone",                                   # placeholder
                      "I lost my card at the station yesterday, please block it!",             # exact duplicate
                      "Ich habe meine Karte gestern im Bus verloren, bitte sperren Sie sie.",  # language
                      "My wallet was stolen with my debit card inside, can you freeze it?",
                      "Can I reach someone at jane.doe@example.com about my missing card?"],   # pii
        "refund": ["The shop said they refunded me two weeks ago but nothing arrived",
                   "As an AI language model, I cannot write that",                               # refusal
                   "Where is the money back for the shoes I returned last month?",               # judge: wrong label
                   "The shop said they refunded me two weeks ago but nothing has arrived yet",   # near duplicate
                   "My refund for the cancelled flight still is not in my account",
                   "I returned a jacket and the refund never showed up on my statement"],
    }

    def verdict(label, text):
        wrong = "shoes" in text
        return {"reason": "Reads like lost card." if wrong else "Fine.", "label": "lost_card" if wrong else label,
                "naturalness": 4, "fit": 2 if wrong else 5}

    recipe = recipe_dict(budget={"max_rounds": 3, "overgenerate": 1.0, "adaptive": False}, judge={"enabled": True},
                         filters={"label_noise": {"mode": "off"}})
    result = synthwright.run(recipe, out=tmp_path, engine=ScriptedEngine(texts, verdict=verdict))
    stats = json.loads((tmp_path / "stats.json").read_text())
    m = stats["report"]
    f = m["funnel"]
    assert (f["generated"], f["accepted"], f["adds_up"]) == (12, 5, True)
    rejected = {s["stage"]: s["rejected"] for s in f["stages"] if s["rejected"]}
    expected = {"placeholder": 1, "refusal": 1, "language": 1, "pii": 1, "exact_duplicate": 1, "near_duplicate": 1, "judge": 1}
    if not result.stats["funnel"].get("language"):  # without lingua the German text is accepted instead of a later one
        pytest.skip("lingua is not installed")
    assert rejected == expected
    assert sum(rejected.values()) + f["accepted"] == f["generated"]
    assert m["counts"]["per_label"]["lost_card"]["total"] == 2 and m["counts"]["per_label"]["refund"]["total"] == 3
    assert m["judge"]["verdicts"] == 6 and m["judge"]["scores"]["naturalness"]["4"] == 6
    assert stats["accepted"] == 5 and "per_category" in stats  # the run's own keys are kept
    md = (tmp_path / "report.md").read_text()
    assert "### judge (1)" in md and "fit 2 < 3" in md and "Reads like lost card." in md


def test_report_command(tmp_path):
    hand_built_run(tmp_path)
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "3 of 6 generated samples accepted" in " ".join(res.output.split())
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.output.split())
    assert "Traceback" not in missing.output


def test_report_of_a_run_without_samples(tmp_path):
    recipe = load_recipe(recipe_dict())
    store = RunStore(tmp_path / "run.sqlite")
    store.put("recipe", recipe.frozen())
    store.save_plan({}, [{"slot_id": "a", "category": "lost_card", "quota": 3, "scenario": "s", "persona": "p",
                          "style": "casual", "length": "short"}])
    store.close()
    m = build_report(tmp_path)
    assert m["funnel"]["generated"] == 0 and m["funnel"]["adds_up"]
    assert m["lexical"]["distinct_1"] is None and m["semantic"]["diversity"] is None
    assert m["coverage"]["style"]["uncovered"] == ["casual"]
    assert "no samples yet" in (tmp_path / "report.md").read_text()
