"""The library's `run` and the CLI's run / plan / validate take every recipe kind, tabular included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.errors import ConfigError

from ._modality_data import one_thread

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "recipes" / "tabular-adult.yaml"


def quick_recipe(tmp_path: Path) -> Path:
    """The shipped tabular recipe, shortened to seconds, beside its data."""
    raw = yaml.safe_load(SHIPPED.read_text())
    raw.update(epochs=2, rows=60, data=str(SHIPPED.parent / raw["data"]), output=str(tmp_path / "run"))
    path = tmp_path / "tabular.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def said(result) -> str:
    return " ".join(result.output.split())


def test_library_run_takes_a_tabular_recipe(tmp_path):
    with one_thread():
        result = synthwright.run(quick_recipe(tmp_path))
    assert result.out_dir == tmp_path / "run" and len(result.dataset["train"]) == 60
    assert set(result.dataset["train"]["income"]) <= {"<=50K", ">50K"}
    assert result.stats["utility"]["target"] == "income" and (tmp_path / "run" / "report" / "report.md").is_file()
    with pytest.raises(ConfigError, match="teacher does not apply"):
        synthwright.run(quick_recipe(tmp_path), teacher="default")


def test_validate_and_plan_take_the_shipped_tabular_recipe():
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(SHIPPED)])
    assert result.exit_code == 0 and "ok: tabular, ctgan" in said(result), result.output
    result = runner.invoke(app, ["plan", str(SHIPPED)])
    assert result.exit_code == 0 and "it has no plan" in said(result), result.output


def test_validate_names_a_missing_target(tmp_path):
    raw = yaml.safe_load(SHIPPED.read_text())
    raw.update(data=str(SHIPPED.parent / raw["data"]), target="salary")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2 and "target 'salary' is not a column" in said(result) and "Traceback" not in result.output


def test_stats_json_is_what_run_returns(tmp_path, monkeypatch):
    """One writer: the file holds every key the result does (the planner's notes, the report) and no other."""
    import json

    from .scripted import ScriptedEngine, recipe_dict

    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    texts = {"lost_card": ["I lost my card at the station", "My wallet with my card was stolen", "My card fell out"],
             "refund": ["The shop never refunded me", "Where is the money for the shoes", "My refund is missing"]}
    recipe = recipe_dict(filters={"language": False, "label_fidelity": {"enabled": False}, "label_noise": {"mode": "off"}})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    on_disk = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert on_disk == json.loads(json.dumps(result.stats)) and {"planner_notes", "report", "stopped_by_limit"} <= set(on_disk)
