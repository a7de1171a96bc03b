"""Small recipes for the tiny model."""

from __future__ import annotations

from pathlib import Path


def classification_recipe(model_dir: Path, **changes) -> dict:
    recipe = {
        "name": "tiny-intents", "task": "classification",
        "description": "Messages that bank customers send to support.",
        "categories": [
            {"name": "lost_card", "description": "The customer lost their card.", "examples": ["I lost my card yesterday"]},
            {"name": "refund", "description": "The customer wants money back."},
            {"name": "fees", "description": "The customer asks about fees."},
        ],
        "count": {"per_category": 8},
        "axes": {"personas": ["a student", "a retiree", "a nurse"], "styles": ["casual", "formal"],
                 "lengths": ["short", "long"], "scenarios_per_category": 2},
        "teacher": {"model": str(model_dir), "options": {"dtype": "float32", "batch_size": 8}},
        "sampling": {"max_new_tokens": 3000, "temperature": 1.0},
        # the random tiny model writes gibberish that the gibberish and label-fidelity gates rightly reject
        # (tests/test_junk.py) and QA grounding / dialogue goal checks (tests/test_grounding.py, tests/test_dialogue_check.py)
        "filters": {"min_chars": 1, "label_fidelity": False, "gibberish": False, "grounding": False, "dialogue": False},
        # The random tiny model fails the language filter about a third of the time; a generous round
        # budget keeps "exact quotas" independent of how unlucky one machine's floats are.
        "budget": {"max_rounds": 8},
        "output": {"splits": {"train": 0.5, "validation": 0.25, "test": 0.25}},
        # exact-quota tests: the quality loop (which adds quota) has tests of its own
        "quality": {"enabled": False},
    }
    recipe.update(changes)
    return recipe
