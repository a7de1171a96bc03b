"""`validate` is a library function (`synthwright.make.validate.validate_recipe`) with the CLI a thin wrapper: it checks
what a run of the recipe would need and describes each task kind in its own words."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.core.errors import ConfigError, CredentialsError, EngineSpecError
from synthwright.make.validate import Validation, validate_recipe

from .scripted import recipe_dict

ROOT = Path(__file__).resolve().parent.parent
SEED_TASKS = ["Write a polite reply to a late-parcel complaint.", "Summarize this complaint in one sentence.",
              "List three questions to ask about a damaged item."]


def instruction(method: str, **changes) -> dict:
    data = recipe_dict(task="instruction", method=method, categories=[], count={"total": 12})
    data.update(changes)
    return data


def write(tmp: Path, data: dict) -> Path:
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("data, words", [
    (recipe_dict(), ("classification: 2 labels", "target 6")),
    (recipe_dict(task="qa"), ("qa: 2 topics", "target 6")),
    (recipe_dict(task="dialogue", turns={"min": 2, "max": 6}, roles={"user": "guest", "assistant": "concierge"}),
     ("dialogue: 2 goals", "2-6 messages between guest and concierge", "target 6")),
    (recipe_dict(task="instruction"), ("instruction: 2 topics", "target 6")),
    (instruction("self_instruct", instruction={"seed_tasks": SEED_TASKS, "max_requests": 40}),
     ("instruction by self_instruct: 3 seed tasks", "target 12", "at most 40 model calls")),
    (instruction("evol_instruct", instruction={"seed_tasks": SEED_TASKS, "generations": 2}),
     ("instruction by evol_instruct: 3 seed tasks", "evolved over 2 generations", "target 12")),
    (instruction("magpie"), ("instruction by magpie", "chat template", "target 12")),
], ids=["classification", "qa-topics", "dialogue", "instruction-topics", "self_instruct", "evol_instruct", "magpie"])
def test_each_kind_is_described_in_its_own_words(data, words, tmp_path):
    result = validate_recipe(write(tmp_path, data))
    assert isinstance(result, Validation) and result.kind == data["task"]
    for word in words:
        assert word in result.description, (word, result.description)
    assert "categories" not in result.description  # the old one-size-fits-all wording
    assert "fields" in result.checked and any(c.startswith("engine default") for c in result.checked)


def test_qa_from_documents_counts_its_chunks(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("The router's light turns blue when it is online.\n\nPress reset for 10 s.")
    (tmp_path / "docs" / "b.txt").write_text("Refunds take five working days.")
    result = validate_recipe(write(tmp_path, recipe_dict(task="qa", categories=[], documents={"path": "docs"},
                                                         count={"per_category": 4})))
    assert "qa grounded in documents: 2 chunks of 2 files in docs, target 8" in result.description
    assert "documents docs" in result.checked


def test_seed_tasks_from_a_file_are_counted(tmp_path):
    (tmp_path / "seeds.jsonl").write_text("".join(f'{{"instruction": "{t}"}}\n' for t in SEED_TASKS))
    data = instruction("self_instruct", instruction={"seed_tasks": ["Draft a short apology for a billing error."],
                                                     "seed_file": "seeds.jsonl"})
    result = validate_recipe(write(tmp_path, data))
    assert "4 seed tasks" in result.description and "4 seed tasks" in result.checked


@pytest.mark.parametrize("method", ["self_instruct", "evol_instruct"])
def test_a_method_that_grows_seed_tasks_needs_some(method, tmp_path):
    path = write(tmp_path, instruction(method))
    with pytest.raises(ConfigError, match=f"method {method} grows instructions from seed tasks and the recipe has none"):
        validate_recipe(path)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "instruction.seed_tasks" in result.output and "Traceback" not in result.output
    assert "ok" not in result.output


def test_magpie_needs_a_local_teacher(tmp_path):
    path = write(tmp_path, instruction("magpie", teacher={"model": "openai:gpt-4o-mini", "options": {"api_key": "k"}}))
    with pytest.raises(ConfigError, match="magpie .* local model's raw chat template") as info:
        validate_recipe(path)
    assert "\n" not in str(info.value) and "teacher: {model: default}" in str(info.value)
    assert "a local teacher for magpie" in validate_recipe(write(tmp_path, instruction("magpie"))).checked


def test_a_method_runs_one_teacher(tmp_path):
    data = instruction("self_instruct", instruction={"seed_tasks": SEED_TASKS},
                       teacher=[{"model": "default"}, {"model": "hf:HuggingFaceTB/SmolLM2-135M-Instruct"}])
    with pytest.raises(ConfigError, match="runs one teacher"):
        validate_recipe(write(tmp_path, data))


def test_engine_specs_and_api_keys_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CredentialsError, match="OPENAI_API_KEY is not set"):
        validate_recipe(write(tmp_path, recipe_dict(teacher={"model": "openai:gpt-4o-mini"})))
    with pytest.raises(CredentialsError, match="OPENAI_API_KEY is not set"):  # the judge's own model too
        validate_recipe(write(tmp_path, recipe_dict(judge={"enabled": True, "model": "openai:gpt-4o-mini"})))
    with pytest.raises(CredentialsError, match="OPENAI_API_KEY is not set"):  # and the label check's
        validate_recipe(write(tmp_path, recipe_dict(label_check={"enabled": True, "model": "openai:gpt-4o-mini"})))
    with pytest.raises(EngineSpecError, match="warp:drive"):
        validate_recipe(write(tmp_path, recipe_dict(teacher={"model": "warp:drive"})))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    result = validate_recipe(write(tmp_path, recipe_dict(teacher={"model": "openai:gpt-4o-mini"})))
    assert "engine openai:gpt-4o-mini (langchain)" in result.checked and result.teachers == ["openai:gpt-4o-mini"]


def test_the_command_is_a_thin_wrapper(tmp_path):
    path = write(tmp_path, instruction("self_instruct", instruction={"seed_tasks": SEED_TASKS}))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert said.startswith(f"ok: {validate_recipe(path).summary}")
    assert "checked: fields, engine default (transformers), 3 seed tasks" in said


@pytest.mark.parametrize("name", ["banking-intents", "review-sentiment", "support-qa", "support-dialogue",
                                  "support-instructions", "support-evol", "tabular-adult"])
def test_shipped_recipes_validate(name):
    result = validate_recipe(ROOT / "recipes" / f"{name}.yaml")
    assert result.description and result.checked
