"""Conditional sampling, rebalancing and the rare-class eval, for every tabular model."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.modalities.tabular import eval_tabular, fit_tabular, sample_tabular

from ._modality_data import mixed_table, one_thread

TRAIN = {"copula": {}, "ctgan": {"epochs": 30, "batch_size": 100, "device": "cpu"},
         "tvae": {"epochs": 120, "batch_size": 50, "device": "cpu"}}  # fewer steps and the VAE makes only the commonest rows


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return mixed_table(500)


@pytest.fixture(scope="module", params=["copula", "ctgan", "tvae"])
def model(request, table):
    return fit_tabular(table, model=request.param, progress=False, **TRAIN[request.param])


def test_conditions_give_only_matching_rows(model):
    rows = sample_tabular(model, 60, conditions=["group=c", "active=false"])
    assert len(rows) == 60 and set(rows["group"]) == {"c"} and set(rows["active"]) == {False}
    rows = sample_tabular(model, 20, conditions={"age": 30})
    assert set(rows["age"]) == {30}


def test_rebalance_tops_up_every_class(model):
    rows = sample_tabular(model, 300, rebalance="group:0.5", seed=1)
    counts = rows["group"].value_counts()
    assert set(counts.index) == {"a", "b", "c"} and counts.min() >= 0.5 * counts.max() - 1
    base = sample_tabular(model, 300, seed=1)
    pd.testing.assert_frame_equal(rows.iloc[:300], base)  # the n rows as without --rebalance, then the top-up rows


@pytest.mark.parametrize("conditions, message", [
    (["group=z"], "Condition 'group=z' cannot be met: column 'group' takes only a, b, c."),
    (["age=200"], "takes numbers from 18 to 79"),
    (["amount=3.5"], "exact value of a continuous column"),
    (["planet=mars"], "does not have"),
    (["group"], "has no '='"),
])
def test_impossible_condition_is_one_sentence(table, conditions, message):
    m = fit_tabular(table, model="copula", progress=False)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        sample_tabular(m, 5, conditions=conditions)
    assert str(exc.value).count(". ") == 0 and "\n" not in str(exc.value)


def test_a_condition_the_model_never_produces_is_refused(table):
    m = fit_tabular(table, model="copula", progress=False, constraints={"group": {"allowed": ["a", "b"]}})
    with pytest.raises(ConfigError, match="takes only a, b"):
        sample_tabular(m, 5, conditions=["group=c"])  # in the data, but not allowed


@pytest.mark.parametrize("spec, message", [("amount", "is numeric"), ("group:2", "at most 1"), ("nope", "does not have")])
def test_bad_rebalance_is_refused(table, spec, message):
    with pytest.raises(ConfigError, match=message):
        sample_tabular(fit_tabular(table, model="copula", progress=False), 5, rebalance=spec)


def test_eval_reports_minority_recall_and_f1_with_and_without_synthetic_rows(tmp_path, table):
    train, hold = table.iloc[:350], table.iloc[350:]
    m = fit_tabular(train, model="copula", progress=False)
    extra = sample_tabular(m, 200, conditions=["group=c"])
    stats = eval_tabular(train, extra, holdout=hold, target="group", out=tmp_path / "rep")
    mino = stats["minority"]
    gap = train["group"].value_counts().max() - train["group"].value_counts().min()
    assert mino["class"] == "c" and mino["synthetic_rows_added"] == min(gap, 200) and mino["synthetic_rows_available"] == 200
    for side in ("train_real", "train_real_plus_synthetic"):
        assert 0 <= mino[side]["recall"] <= 1 and 0 <= mino[side]["f1"] <= 1
    assert "## Rare class: group = c" in (tmp_path / "rep" / "report.md").read_text()


def test_cli_sample_with_conditions_and_an_impossible_one(tmp_path, table):
    table.to_csv(tmp_path / "real.csv", index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["tabular", "fit", str(tmp_path / "real.csv"), "-m", "copula", "-o", str(tmp_path / "m"), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["tabular", "sample", str(tmp_path / "m"), "-n", "40", "-c", "group=b", "--rebalance", "active",
                            "-o", str(tmp_path / "rows.csv")])
    assert r.exit_code == 0, r.output
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert set(rows["group"]) == {"b"} and rows["active"].value_counts().min() == rows["active"].value_counts().max()
    r = runner.invoke(app, ["tabular", "sample", str(tmp_path / "m"), "-c", "group=zz", "-o", str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "cannot be met" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "none.csv").exists()
    r = runner.invoke(app, ["tabular", "eval", str(tmp_path / "real.csv"), str(tmp_path / "rows.csv"), "--target", "active",
                            "--model", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "rare class" in r.output
    stats = json.loads((tmp_path / "rows-report" / "stats.json").read_text())
    assert stats["model"]["name"] == "copula" and stats["model"]["dp"] is None
