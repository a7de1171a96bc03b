"""Replay: a recipe changed only in its filters or the judge's thresholds re-applies them to the stored
responses, without a model call, instead of demanding --restart."""

from __future__ import annotations

import json

import pytest

import synthwright
from synthwright.core.errors import ConfigError
from synthwright.core.store import RunStore
from synthwright.engines import Engine

from .scripted import ScriptedEngine, recipe_dict

TEXTS = {"lost_card": ["I lost my card at the station yesterday", "My wallet with my card was stolen on the tram",
                       "I think my card fell out of my pocket at the gym", "hi [Name], my card is gone"],
         "refund": ["The shop refunded me two weeks ago but nothing arrived", "Where is the money for the shoes I returned",
                    "My refund for the cancelled flight is missing", "refund refund refund refund"]}


@pytest.fixture(autouse=True)
def _tfidf(monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")


class Refusing(Engine):
    """An engine that fails the test if a replay asks it anything."""

    spec = "refusing"

    def generate(self, requests, *, schema=None, sampling=None):
        raise AssertionError("a replay must not call the model")


def verdict(label, text):
    fit = 3 if "shoes" in text else 5
    return {"reason": "A customer message.", "label": label, "naturalness": 4, "fit": fit}


def base(**filters):
    return recipe_dict(count={"per_category": 4}, judge={"enabled": True, "min_score": 3},
                       filters={"language": False, "label_fidelity": {"enabled": False}, "label_noise": {"mode": "off"},
                                **filters})


def rows(out):
    store = RunStore(out / "run.sqlite")
    try:
        return {s["sample_id"]: (s["status"], s["filter"], s["data"].get("text")) for s in store.samples()}
    finally:
        store.close()


def test_a_stricter_judge_threshold_replays_without_the_model(tmp_path):
    out = tmp_path / "run"
    first = synthwright.run(base(placeholders=False), out=out, engine=ScriptedEngine(TEXTS, verdict=verdict))
    assert first.stats["accepted"] == 8 and first.stats["replay"] is None
    before = rows(out)

    stricter = base(placeholders=False)
    stricter["judge"]["min_score"] = 4
    result = synthwright.run(stricter, out=out, engine=Refusing())
    after = rows(out)
    assert set(after) == set(before)  # the same sample ids: provenance holds
    shoes = next(i for i, r in after.items() if r[2] and "shoes" in r[2])
    assert after[shoes][:2] == ("rejected", "judge") and result.stats["accepted"] == 7
    assert result.stats["replay"]["responses"] == 8 and result.stats["replay"]["judged_now"] == 0
    store = RunStore(out / "run.sqlite")
    v = next(v for v in store.verdicts() if v.sample_id == shoes)
    store.close()
    assert v.passed is False and v.min_score == 4 and v.failed == ["fit 3 < 4"]
    assert "re-applied" not in json.dumps(result.stats["funnel"])
    data = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert len(data) == 7 and all("shoes" not in r["text"] for r in data)


def test_a_filter_turned_on_rejects_stored_samples_and_off_again_restores_them(tmp_path):
    out = tmp_path / "run"
    synthwright.run(base(placeholders=False), out=out, engine=ScriptedEngine(TEXTS, verdict=verdict))
    assert rows(out) and all(r[0] == "accepted" for r in rows(out).values())
    on = synthwright.run(base(placeholders=True), out=out, engine=Refusing())
    placeholder = [r for r in rows(out).values() if r[1] == "placeholder"]
    assert len(placeholder) == 1 and "[Name]" in placeholder[0][2] and on.stats["accepted"] == 7
    off = synthwright.run(base(placeholders=False), out=out, engine=Refusing())
    assert off.stats["accepted"] == 8 and all(r[0] == "accepted" for r in rows(out).values())


def test_a_change_to_what_the_model_is_asked_still_needs_restart(tmp_path):
    out = tmp_path / "run"
    synthwright.run(base(), out=out, engine=ScriptedEngine(TEXTS, verdict=verdict))
    changed = base()
    changed["description"] = "Messages to an insurer's support chat."
    with pytest.raises(ConfigError, match="in what it asks the model.*--restart"):
        synthwright.run(changed, out=out, engine=Refusing())


def test_a_replay_reads_the_embeddings_the_run_stored(tmp_path, monkeypatch):
    """Label fidelity embeds each response with MiniLM; the vectors are kept in the store, so a replay (another
    process, here a cleared cache) does not load the embedder at all."""
    from synthwright.evaluators import embed

    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "minilm")
    out = tmp_path / "run"
    recipe = base(placeholders=False, label_fidelity={"enabled": True})
    # an earlier run in this process leaves the same texts in the in-memory cache: they must reach the store too
    synthwright.run(recipe, out=tmp_path / "earlier", engine=ScriptedEngine(TEXTS, verdict=verdict))
    first = synthwright.run(recipe, out=out, engine=ScriptedEngine(TEXTS, verdict=verdict))
    store = RunStore(out / "run.sqlite")
    kept = store.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    store.close()
    assert kept >= 8
    embed._CACHE.clear()

    def no_model():
        raise AssertionError("the replay embedded a text the run had stored")

    monkeypatch.setattr(embed, "_sentence_model", no_model)
    stricter = base(placeholders=True, label_fidelity={"enabled": True})
    result = synthwright.run({**stricter, "output": {"formats": ["jsonl"], "splits": {"train": 1.0}}}, out=out,
                             engine=Refusing())
    assert result.stats["replay"]["responses"] == 8 and result.stats["accepted"] <= first.stats["accepted"]
