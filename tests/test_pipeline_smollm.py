"""A small real run of the shipped banking recipe on SmolLM2-135M-Instruct."""

from pathlib import Path

import pytest

import synthwright

pytestmark = [pytest.mark.smollm, pytest.mark.slow]


def test_small_real_run(tmp_path):
    recipe = synthwright.load_recipe(Path(__file__).parent.parent / "recipes" / "banking-intents.yaml")
    recipe = recipe.model_copy(update={
        "categories": recipe.categories[:3], "seeds": None,
        "count": recipe.count.model_copy(update={"per_category": 3}),
        "axes": recipe.axes.model_copy(update={"scenarios_per_category": 2, "auto_personas": 2}),
        "quality": recipe.quality.model_copy(update={"enabled": False}),  # the loop on a real model: tests/test_quality_loop.py covers it on scripted ones
        # rounds until the quotas are met: this tests the pipeline on a real model, not the main job's five-minute budget
        "budget": recipe.budget.model_copy(update={"max_rounds": 4, "adaptive": True}),
    })
    result = synthwright.run(recipe, out=tmp_path / "run", teacher="smollm2")
    stats = result.stats
    assert stats["target"] == 9
    # a 135M teacher writes many rows the fidelity and role gates reject; the run may end short and says so
    assert stats["accepted"] >= 3
    assert stats["accepted"] + stats["shortfall"] == 9
    rows = [r for name in result.dataset for r in result.dataset[name]]
    assert {r["label"] for r in rows} <= {c.name for c in recipe.categories}
    assert all(len(r["text"]) >= recipe.filters.min_chars for r in rows)
    plan = (tmp_path / "run" / "plan.json").read_text()
    assert "personas" in plan
