"""Malformed recipes: one sentence per problem, with the YAML line, exit code 2."""

import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.recipe.load import load_recipe

GOOD = """\
name: demo
task: classification
description: Bank messages.
categories:
  - name: lost_card
    description: Lost card.
  - name: refund
count:
  per_category: 3
"""


def write(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_recipe_loads(tmp_path):
    recipe = load_recipe(write(tmp_path, GOOD))
    assert recipe.count.for_categories(2) == [3, 3]
    assert recipe.fingerprint() == load_recipe(write(tmp_path, GOOD, "copy.yaml")).fingerprint()


CASES = [
    ("bad yaml", GOOD.replace("count:\n  per_category: 3", "count: [per_category: 3"), "not valid YAML at line"),
    ("unknown task", GOOD.replace("task: classification", "task: poetry"), "line 2: task: Input should be"),
    ("negative count", GOOD.replace("per_category: 3", "per_category: -4"), "line 9: count.per_category: Input should be greater than or equal to 1"),
    ("unknown field", GOOD + "colour: blue\n", "line 10: colour: unknown field"),
    ("misspelt nested field", GOOD.replace("  - name: refund", "  - name: refund\n    descripton: x"), "categories.1.descripton: unknown field"),
    ("missing count", GOOD.replace("count:\n  per_category: 3\n", ""), "count: required field is missing"),
    ("both counts", GOOD.replace("per_category: 3", "per_category: 3\n  total: 9"), "give exactly one of per_category or total"),
    ("duplicate labels", GOOD.replace("name: refund", "name: lost_card"), "category names must be unique"),
    ("missing docs folder", GOOD.replace("task: classification", "task: qa") + "documents: {path: nowhere}\n", "documents.path 'nowhere' is not a folder"),
    ("missing seed file", GOOD + "seeds: nope.jsonl\n", "Seed file 'nope.jsonl' does not exist"),
    ("splits do not sum to 1", GOOD + "output: {splits: {train: 0.5, test: 0.2}}\n", "split fractions must be positive and sum to 1"),
    ("bad sampling", GOOD + "sampling: {temperature: 9}\n", "sampling.temperature: Input should be less than or equal to 2"),
]


@pytest.mark.parametrize("name, text, message", CASES, ids=[c[0] for c in CASES])
def test_malformed_recipes(tmp_path, name, text, message):
    with pytest.raises(ConfigError) as info:
        load_recipe(write(tmp_path, text))
    assert message in str(info.value)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2 and message.split(":")[0] in result.output and "Traceback" not in result.output


def test_unknown_label_in_seed_file(tmp_path):
    (tmp_path / "seeds.jsonl").write_text('{"text": "hi", "label": "refund"}\n{"text": "x", "label": "mortgage"}\n')
    with pytest.raises(ConfigError, match="Seed on line 2 of 'seeds.jsonl' has label 'mortgage', which is not a category"):
        load_recipe(write(tmp_path, GOOD + "seeds: seeds.jsonl\n"))


def test_unknown_engine_and_missing_file_via_cli(tmp_path):
    write(tmp_path, GOOD + "teacher: {model: 'warp:drive'}\n")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2 and "Unknown engine spec 'warp:drive'" in result.output
    result = CliRunner().invoke(app, ["run", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize("path", ["recipes/banking-intents.yaml", "recipes/review-sentiment.yaml",
                                  "recipes/support-qa.yaml", "recipes/support-dialogue.yaml",
                                  "recipes/support-instructions.yaml", "recipes/support-evol.yaml"])
def test_shipped_recipes_validate(path):
    from pathlib import Path

    recipe = load_recipe(Path(__file__).parent.parent / path)
    if recipe.name == "banking-intents":
        assert len(recipe.categories) >= 20
