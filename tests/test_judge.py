"""The LLM judge: schema-valid verdicts from a real (tiny) model, thresholds, storage, wiring into runs."""

from __future__ import annotations

import json
import sqlite3
import typing

import pytest

import synthwright
from synthwright.evaluators.filters import Candidate
from synthwright.evaluators.judge import Judge, decide, make_judge, verdict_schema
from synthwright.recipe.load import load_recipe

from .scripted import ScriptedEngine, recipe_dict


def cands(texts_labels):
    return [Candidate(data={"text": t, "label": label}, text=t, category=label, slot_id="s") for t, label in texts_labels]


def good_verdict(label, text):
    return {"reason": "Reads like a customer.", "label": label, "naturalness": 4, "fit": 5}


def test_verdict_schema_puts_reason_first_and_bounds_everything():
    recipe = load_recipe(recipe_dict())
    schema = verdict_schema(recipe)
    assert list(schema.model_fields) == ["reason", "label", "naturalness", "fit"]
    assert typing.get_args(schema.model_fields["label"].annotation) == ("lost_card", "refund")
    from synthwright.core.samples import assert_bounded

    assert_bounded(schema)  # every string bounded: constrained decoding always terminates
    qa = load_recipe({**recipe_dict(task="qa"), "categories": [{"name": "warranty"}]})
    assert list(verdict_schema(qa).model_fields) == ["reason", "correct", "naturalness", "helpfulness"]
    dialogue = load_recipe(recipe_dict(task="dialogue"))
    assert list(verdict_schema(dialogue).model_fields)[:2] == ["reason", "goal_completed"]


@pytest.mark.parametrize("task", ["classification", "dialogue"])  # qa: see test_qa_prompt_and_schema
def test_tiny_model_gives_schema_valid_verdicts(tiny_engine, task):
    extra = {"categories": [{"name": "warranty"}, {"name": "setup"}]} if task == "qa" else {}
    recipe = load_recipe(recipe_dict(task=task, judge={"enabled": True, "min_score": 1, "max_new_tokens": 160}, **extra))
    schema = verdict_schema(recipe)
    label = recipe.categories[0].name
    data = {"classification": {"text": "I lost my card", "label": label},
            "qa": {"question": "How long is the warranty?", "answer": "Two years.", "context": "", "topic": label},
            "dialogue": {"turns": [{"role": "user", "content": "My card is gone"},
                                   {"role": "assistant", "content": "I have blocked it."}], "intent": label}}[task]
    batch = [Candidate(data=data, text=json.dumps(data), category=label, slot_id="s") for _ in range(3)]
    judge = Judge(recipe, tiny_engine)
    judge.evaluate(batch)
    for c in batch:
        v = c.features["verdict"]
        assert v.judge == str(tiny_engine.spec)
        if v.verdict is None:  # the token budget ran out: reported, and no pass
            assert c.filter == "judge" and "no usable verdict" in c.reason
            continue
        schema.model_validate(v.verdict)
        assert v.passed == (c.alive) == (not v.failed)


def test_qa_prompt_and_schema_follow_grounding(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text("The router has a two-year warranty. " * 20)
    grounded = load_recipe({**recipe_dict(task="qa", judge={"enabled": True}), "categories": [],
                            "documents": {"path": str(docs)}})
    assert list(verdict_schema(grounded).model_fields)[:3] == ["reason", "supported", "correct"]
    c = Candidate(data={"question": "How long is the warranty?", "answer": "Five years.", "context": "A two-year warranty.",
                        "topic": "warranty.md#0"}, text="How long is the warranty?\nFive years.", category="warranty.md#0",
                  slot_id="s")
    judge = Judge(grounded, ScriptedEngine())
    prompt = judge.requests([c])[0].messages[-1]["content"]
    assert "A two-year warranty." in prompt and "Answer: Five years." in prompt and "supported:" in prompt
    assert "- supported:" in judge.system and judge.system.index("- reason:") < judge.system.index("- supported:")


def test_thresholds_label_agreement_and_unusable_verdicts():
    def verdict(label, text):
        if "garbled" in text:
            return None  # the engine reports an unparseable output
        if "stiff" in text:
            return {"reason": "Too formal.", "label": label, "naturalness": 2, "fit": 5}
        if "refund" in text:
            return {"reason": "This is about a refund.", "label": "refund", "naturalness": 5, "fit": 2}
        return good_verdict(label, text)

    recipe = load_recipe(recipe_dict(judge={"enabled": True, "min_score": 3}))
    batch = cands([("I lost my card", "lost_card"), ("Where is my refund", "lost_card"),
                   ("Dear Sir, kindly block my card (stiff)", "lost_card"), ("garbled", "lost_card")])
    Judge(recipe, ScriptedEngine(verdict=verdict)).evaluate(batch)
    assert [c.filter for c in batch] == [None, "judge", "judge", "judge"]
    assert batch[1].reason.startswith("the judge's label is 'refund', not 'lost_card'; fit 2 < 3")
    assert batch[1].reason.endswith("(judge: This is about a refund.)")
    assert batch[2].reason == "naturalness 2 < 3 (judge: Too formal.)"
    assert "no usable verdict" in batch[3].reason and batch[3].features["verdict"].passed is False

    lenient = load_recipe(recipe_dict(judge={"enabled": True, "min_score": 2, "require_label_agreement": False}))
    batch = cands([("Where is my refund", "lost_card"), ("Dear Sir, kindly block my card (stiff)", "lost_card")])
    Judge(lenient, ScriptedEngine(verdict=verdict)).evaluate(batch)
    assert [c.filter for c in batch] == [None, None]


def test_boolean_checks_must_be_true():
    from pydantic import create_model

    qa = load_recipe({**recipe_dict(task="qa", judge={"enabled": True}), "categories": [{"name": "warranty"}]})
    v = verdict_schema(qa)(reason="Wrong year.", correct=False, naturalness=5, helpfulness=4)
    assert decide(v, "warranty", 3, True) == ["correct: no"]
    assert create_model  # (imported for symmetry with the judge module)


def test_judge_reuses_the_teacher_unless_it_names_another_model():
    teacher = ScriptedEngine(spec="teacher-spec")
    recipe = load_recipe(recipe_dict(teacher={"model": "default"}, judge={"enabled": True}))
    judge = make_judge(recipe, lambda: teacher)
    assert judge.engine is teacher and not judge.owns_engine
    same = load_recipe(recipe_dict(judge={"enabled": True, "model": "teacher-spec"}))
    assert make_judge(same, lambda: teacher, teacher_spec="teacher-spec").engine is teacher
    other = make_judge(load_recipe(recipe_dict(judge={"enabled": True, "model": "hf:some/other-model"})), lambda: teacher)
    assert other.owns_engine and not isinstance(other._engine, synthwright.Engine)  # loaded lazily, on first use
    assert make_judge(load_recipe(recipe_dict()), lambda: teacher) is None  # disabled by default


def test_run_stores_verdicts_and_rejects_failing_samples(tmp_path, tiny_engine, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    texts = {"lost_card": ["I lost my card at the station yesterday", "My wallet with my card was stolen on the tram",
                           "I think my card fell out of my pocket at the gym"],
             "refund": ["The shop refunded me two weeks ago but nothing arrived", "Where is the money for the shoes I returned",
                        "My refund for the cancelled flight is missing"]}

    def verdict(label, text):
        return {**good_verdict(label, text), "fit": 1} if "shoes" in text else good_verdict(label, text)

    out = tmp_path / "run"
    recipe = recipe_dict(judge={"enabled": True}, filters={"language": False, "label_noise": {"mode": "off"}})
    result = synthwright.run(recipe, out=out, engine=ScriptedEngine(texts, verdict=verdict))
    assert result.stats["accepted"] == 5 and result.stats["funnel"] == {"accepted": 5, "judge": 1}
    db = sqlite3.connect(out / "run.sqlite")
    rows = db.execute("SELECT s.status, s.filter, s.reason, v.judge, v.passed, v.data FROM verdicts v"
                      " JOIN samples s USING (sample_id) ORDER BY sample_id").fetchall()
    assert len(rows) == 6 and {r[3] for r in rows} == {"scripted"}
    failed = [r for r in rows if not r[4]]
    assert len(failed) == 1 and failed[0][:2] == ("rejected", "judge") and failed[0][2].startswith("fit 1 < 3")
    assert json.loads(failed[0][5])["verdict"]["fit"] == 1

    # a judge of its own (here the tiny model, greedy): its spec is recorded with each verdict
    out2 = tmp_path / "run2"
    recipe2 = recipe_dict(name="tinyjudge", judge={"enabled": True, "min_score": 1, "require_label_agreement": False,
                                                   "max_new_tokens": 160},
                          filters={"language": False, "label_noise": {"mode": "off"}})
    synthwright.run(recipe2, out=out2, engine=ScriptedEngine(texts), judge_engine=tiny_engine)
    judges = sqlite3.connect(out2 / "run.sqlite").execute("SELECT DISTINCT judge FROM verdicts").fetchall()
    assert judges == [(str(tiny_engine.spec),)]
