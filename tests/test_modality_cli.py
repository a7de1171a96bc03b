"""`synthwright tabular …` / `synthwright image …` end to end, bad input, and the tabular recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.modalities.image_data import save_images

from ._modality_data import digits, mixed_table, one_thread

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread():
        yield


def run(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    text = result.output + (getattr(result, "stderr", "") or "")
    return result.exit_code, " ".join(text.split())  # rich wraps long lines


def test_tabular_fit_sample_eval(tmp_path):
    mixed_table(300).to_csv(tmp_path / "real.csv", index=False)
    (tmp_path / "rules.yaml").write_text("age: {min: 40}\ngroup: {allowed: [a, b]}\n")
    code, text = run("tabular", "fit", tmp_path / "real.csv", "--model", "tvae", "--out", tmp_path / "model",
                     "--epochs", "3", "--constraints", tmp_path / "rules.yaml", "--device", "cpu", "--quiet")
    assert code == 0, text
    assert "fitted tvae" in text
    code, text = run("tabular", "sample", tmp_path / "model", "-n", "150", "--out", tmp_path / "rows.parquet", "--device", "cpu")
    assert code == 0, text
    rows = pd.read_parquet(tmp_path / "rows.parquet")
    assert len(rows) == 150 and rows["age"].min() >= 40 and set(rows["group"]) <= {"a", "b"}
    code, text = run("tabular", "eval", tmp_path / "real.csv", tmp_path / "rows.parquet", "--target", "group")
    assert code == 0, text
    report = tmp_path / "rows-report"
    assert {"report.md", "stats.json", "column_shapes.png", "distributions.png", "pair_trends.png", "dcr.png"} <= {p.name for p in report.iterdir()}
    stats = json.loads((report / "stats.json").read_text())
    assert 0 <= stats["quality"]["overall"] <= 1 and stats["utility"]["target"] == "group"
    assert "detection AUC" in (report / "report.md").read_text()


def test_image_fit_sample_eval(tmp_path):
    save_images(digits(300), tmp_path / "real")
    code, text = run("image", "fit", tmp_path / "real", "--model", "cvae", "--out", tmp_path / "m", "--epochs", "2", "--quiet", "--device", "cpu")
    assert code == 0, text
    code, text = run("image", "sample", tmp_path / "m", "-n", "60", "--out", tmp_path / "fake", "--device", "cpu")
    assert code == 0, text
    assert (tmp_path / "fake" / "grid.png").is_file()
    code, text = run("image", "eval", tmp_path / "real", tmp_path / "fake", "--out", tmp_path / "rep")
    assert code == 0, text
    assert {"report.md", "stats.json", "synthetic_grid.png", "per_class.png", "nearest_neighbour.png"} <= {p.name for p in (tmp_path / "rep").iterdir()}


@pytest.mark.parametrize("argv, message", [
    (["tabular", "fit", "{tmp}/missing.csv", "--out", "{tmp}/m"], "does not exist"),
    (["tabular", "fit", "{tmp}/real.csv", "--model", "gan9000", "--out", "{tmp}/m"], "Unknown tabular model"),
    (["tabular", "fit", "{tmp}/real.csv", "--constraints", "{tmp}/bad_rules.yaml", "--out", "{tmp}/m"], "not in the table"),
    (["tabular", "fit", "{tmp}/empty.csv", "--out", "{tmp}/m"], "no rows"),
    (["tabular", "eval", "{tmp}/real.csv", "{tmp}/real.csv", "--target", "nope"], "Target column"),
    (["image", "fit", "{tmp}/flat", "--out", "{tmp}/m"], "no class subfolders"),
    (["image", "sample", "{tmp}", "-n", "3"], "not a model folder"),
    (["tabular", "fit", "{tmp}/real.csv", "--device", "gpu", "--out", "{tmp}/m"], "Unknown device"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, argv, message):
    mixed_table(50).to_csv(tmp_path / "real.csv", index=False)
    (tmp_path / "empty.csv").write_text("a,b\n")
    (tmp_path / "bad_rules.yaml").write_text("salary: {min: 0}\n")
    (tmp_path / "flat").mkdir()
    code, text = run(*[a.format(tmp=tmp_path) for a in argv])
    assert code == 2, text
    assert message in text and "Traceback" not in text
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_a_failed_fit_leaves_the_existing_model_alone(tmp_path):
    mixed_table(100).to_csv(tmp_path / "real.csv", index=False)
    assert run("tabular", "fit", tmp_path / "real.csv", "--model", "tvae", "--out", tmp_path / "m", "--epochs", "1", "-q", "--device", "cpu")[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    (tmp_path / "bad.yaml").write_text("age: {min: 9, max: 1}\n")
    code, _ = run("tabular", "fit", tmp_path / "real.csv", "--out", tmp_path / "m", "--constraints", tmp_path / "bad.yaml")
    assert code == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before


def test_shipped_recipe_validates_and_runs(tmp_path):
    from synthwright.modalities.recipe import load_tabular_recipe, run_tabular_recipe

    recipe, base = load_tabular_recipe(ROOT / "recipes" / "tabular-adult.yaml")
    assert recipe.kind == "tabular" and (base / recipe.data).is_file()
    quick = recipe.model_copy(update={"epochs": 3, "rows": 200})
    stats = run_tabular_recipe(quick, tmp_path / "run", base_dir=base, device="cpu", progress=False)
    rows = pd.read_parquet(tmp_path / "run" / "synthetic.parquet")
    assert len(rows) == 200 and rows["age"].between(17, 90).all() and set(rows["income"]) <= {"<=50K", ">50K"}
    assert stats["rows"]["holdout"] == 80 and stats["utility"]["target"] == "income"
    assert (tmp_path / "run" / "report" / "report.md").is_file() and (tmp_path / "run" / "model" / "model.json").is_file()


def test_recipe_rejects_unknown_keys(tmp_path):
    (tmp_path / "r.yaml").write_text("kind: tabular\ndata: x.csv\nepochs: 3\nmodle: tvae\n")
    code, text = run("tabular", "run", tmp_path / "r.yaml")
    assert code == 2 and "modle" in text


def test_subprocess_error_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "synthwright.cli.app", "image", "fit", str(tmp_path / "none"), "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "COLUMNS": "1000"})
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
