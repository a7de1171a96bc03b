"""Tokens and cost by phase and engine, and budget caps that stop a run cleanly and resume when raised."""

from __future__ import annotations

import json

import pytest

import synthwright
from synthwright.core.errors import ConfigError
from synthwright.recipe.load import load_recipe

from .scripted import ScriptedEngine, recipe_dict

TEXTS = {"lost_card": [f"I lost my card number {i} at the station" for i in range(1, 9)],
         "refund": [f"My refund number {i} for the shoes never arrived" for i in range(1, 9)]}
FILTERS = {"language": False, "label_fidelity": {"enabled": False}, "label_noise": {"mode": "off"},
           "near_duplicates": {"enabled": False}}


@pytest.fixture(autouse=True)
def _tfidf(monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")


def verdict(label, text):
    return {"reason": "fine", "label": label, "naturalness": 4, "fit": 5}


def test_usage_by_phase_and_engine_with_prices(tmp_path):
    recipe = recipe_dict(count={"per_category": 4}, judge={"enabled": True}, filters=FILTERS,
                         budget={"max_rounds": 1, "prices": {"scripted": {"input": 2.0, "output": 10.0}}})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(TEXTS, verdict=verdict))
    u = result.stats["usage"]
    assert set(u["by_phase"]) == {"planner", "executor", "judge"}
    ex = u["by_phase"]["executor"]
    assert ex["calls"] == 8 and ex["cost"] == pytest.approx((ex["prompt_tokens"] * 2 + ex["completion_tokens"] * 10) / 1e6)
    assert u["by_phase"]["judge"]["calls"] == 8 and u["unpriced_engines"] == []
    assert u["cost"] == pytest.approx(sum(p["cost"] for p in u["by_phase"].values()))
    assert u["tokens"] == sum(p["prompt_tokens"] + p["completion_tokens"] for p in u["by_phase"].values())
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["usage"] == json.loads(json.dumps(u))
    assert "## Tokens and cost" in (tmp_path / "run" / "report.md").read_text()


def test_max_tokens_stops_cleanly_and_a_higher_cap_goes_on(tmp_path):
    out = tmp_path / "run"

    def recipe(cap):
        return recipe_dict(count={"per_category": 8}, filters=FILTERS, budget={"max_rounds": 1, "max_tokens": cap})

    engine = ScriptedEngine(TEXTS)
    planned = synthwright.run(recipe(10_000_000), out=tmp_path / "probe", engine=ScriptedEngine(TEXTS)).stats["usage"]
    planner_tokens = planned["by_phase"]["planner"]["prompt_tokens"] + planned["by_phase"]["planner"]["completion_tokens"]
    per_call = (planned["tokens"] - planner_tokens) / 16
    cap = int(planner_tokens + 5 * per_call)  # room for about five samples: the first batch of four, then one more
    first = synthwright.run(recipe(cap), out=out, engine=engine)
    assert first.stats["stopped_by_budget"].startswith("budget.max_tokens reached")
    assert 4 <= first.stats["accepted"] < 16 and first.stats["shortfall"] == 16 - first.stats["accepted"]
    again = synthwright.run(recipe(cap), out=out, engine=engine)  # the same cap: nothing more
    assert again.stats["accepted"] == first.stats["accepted"] and again.stats["stopped_by_budget"]
    raised = synthwright.run(recipe(10_000_000), out=out, engine=engine)
    assert raised.stats["accepted"] == 16 and raised.stats["stopped_by_budget"] is None


def test_max_cost_needs_prices():
    with pytest.raises(ConfigError, match="max_cost needs prices"):
        load_recipe(recipe_dict(budget={"max_cost": 1.0}))
