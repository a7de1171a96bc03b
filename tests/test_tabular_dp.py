"""DP-SGD for ctgan and tvae: refusals, the accountant's ε against opacus, what the guarantee covers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from synthwright.core.errors import ConfigError
from synthwright.modalities.tabular import eval_tabular, fit_tabular, load_tabular
from synthwright.modalities.tabular_dp import DPSettings, plan_noise

from ._modality_data import mixed_table, one_thread

pytest.importorskip("opacus")
FAST = {"epochs": 2, "batch_size": 50, "progress": False, "device": "cpu"}
DECLARED = {"age": {"min": 18, "max": 80, "integer": True}, "amount": {"min": 0, "max": 80, "integer": False},
            "group": {"allowed": ["a", "b", "c"]}, "active": {"allowed": [True, False]}}


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread():
        yield


def numeric_table(n: int, seed: int) -> pd.DataFrame:
    return mixed_table(n, seed)[["age", "amount", "group", "active"]]


def test_epsilon_that_cannot_be_met_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="ε = 0.05 cannot be met with 40 rows.*larger --dp-epsilon"):
        fit_tabular(numeric_table(40, 0), model="tvae", out=tmp_path / "m", epochs=300, batch_size=10, dp_epsilon=0.05,
                    progress=False)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"dp_epsilon": 1.0, "dp_delta": 0.5}, "below 1/rows"),
    ({"dp_epsilon": -1.0}, "above 0"),
    ({"dp_delta": 1e-5}, "needs --dp-epsilon"),
])
def test_bad_dp_settings_are_one_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fit_tabular(numeric_table(100, 0), model="ctgan", **FAST, **kwargs)


@pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")
def test_recorded_epsilon_is_opacus_rdp_accountant_for_the_recorded_steps(tmp_path):
    from opacus.accountants import RDPAccountant
    from opacus.accountants.utils import get_noise_multiplier

    df = numeric_table(200, 0)
    fit_tabular(df, model="tvae", out=tmp_path / "m", dp_epsilon=3.0, **FAST)
    dp = json.loads((tmp_path / "m" / "model.json").read_text())["dp"]
    assert dp["steps"] == FAST["epochs"] * math.ceil(len(df) / FAST["batch_size"]) and dp["sample_rate"] == pytest.approx(0.25)
    acc = RDPAccountant()
    acc.history = [tuple(h) for h in dp["history"]]
    assert dp["epsilon"] == pytest.approx(acc.get_epsilon(dp["delta"], alphas=dp["alphas"]), rel=1e-9)
    assert dp["epsilon"] <= 3.0 and dp["epsilon"] > 2.9  # the smallest noise that meets the target, not a safe overshoot
    # opacus's own search, at its default orders, lands on nearly the same noise for the same steps
    theirs = get_noise_multiplier(target_epsilon=3.0, target_delta=dp["delta"], sample_rate=dp["sample_rate"], steps=dp["steps"], accountant="rdp")
    assert dp["noise_multiplier"] == pytest.approx(theirs, rel=0.05)


def test_gan_histogram_is_in_the_same_accountant_and_frequencies_are_noisy(tmp_path):
    df = numeric_table(300, 1)
    m = fit_tabular(df, model="ctgan", out=tmp_path / "m", dp_epsilon=1.0, constraints=DECLARED, **FAST)
    hist, sgd = m.dp["history"]
    assert hist[1:] == [1.0, 1] and sgd[2] == m.dp["steps"]  # one full-data Gaussian histogram, then the DP-SGD steps
    exact = df["group"].value_counts(normalize=True).reindex(["a", "b", "c"]).to_numpy()
    assert not np.allclose(m.cond_freq[0][:3], exact, atol=1e-6)
    assert m.dp["scope"]["read_from_raw_data"] == {}  # every range and category declared: the whole model is covered
    assert load_tabular(tmp_path / "m").dp == m.dp
    rows = m.sample(100, seed=0)  # under DP every column may be missing (whether it is, is learned, not read)
    assert rows["age"].dropna().between(18, 80).all() and set(rows["group"].dropna()) <= {"a", "b", "c"}


def test_private_schema_reads_no_value_when_everything_is_declared():
    """Two different tables with the same declarations give the same encoder: its modes come from the ranges alone."""
    from synthwright.modalities.tabular_data import TableEncoder
    from synthwright.modalities.tabular_dp import private_schema

    a, b = (private_schema(TableEncoder.fit(numeric_table(200, s), DECLARED, modes="even")).state() for s in (0, 1))
    assert a == b
    assert all(c["missing"] for c in a["columns"] if c["kind"] == "numeric")


def test_undeclared_schema_is_named_in_model_json_and_report(tmp_path):
    df = numeric_table(200, 0)
    fit_tabular(df, model="tvae", out=tmp_path / "m", dp_epsilon=10.0, **FAST)
    rows = load_tabular(tmp_path / "m").sample(200, seed=0)
    eval_tabular(df, rows, out=tmp_path / "rep", model=tmp_path / "m")
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "ε = " in report and "**Not covered**" in report and "| age | min/max, integer-ness |" in report
    eval_tabular(df, rows, out=tmp_path / "rep2", model=None)
    assert "Differential privacy" not in (tmp_path / "rep2" / "report.md").read_text()  # no model given: no claim either way


def test_a_model_without_dp_says_so_in_the_report(tmp_path):
    df = numeric_table(200, 0)
    fit_tabular(df, model="tvae", out=tmp_path / "m", **FAST)
    eval_tabular(df, load_tabular(tmp_path / "m").sample(100), out=tmp_path / "rep", model=tmp_path / "m")
    assert "trained without differential privacy" in (tmp_path / "rep" / "report.md").read_text()


def test_plan_spends_at_most_the_target():
    plan = plan_noise(DPSettings(1.0), rows=5000, batch_size=250, epochs=10, histogram=True)
    from synthwright.modalities.tabular_dp import epsilon_of

    assert 0.98 < epsilon_of(plan["history"], plan["delta"]) <= 1.0


def test_cli_fit_with_dp_epsilon_then_eval_states_the_guarantee(tmp_path):
    from typer.testing import CliRunner

    from synthwright.cli.app import app

    numeric_table(200, 0).to_csv(tmp_path / "real.csv", index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["tabular", "fit", str(tmp_path / "real.csv"), "-m", "ctgan", "-o", str(tmp_path / "m"), "--epochs", "1",
                            "--batch-size", "50", "--dp-epsilon", "5", "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "differential privacy: ε = " in text and "not covered" in text
    r = runner.invoke(app, ["tabular", "sample", str(tmp_path / "m"), "-n", "100", "-o", str(tmp_path / "rows.csv"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["tabular", "eval", str(tmp_path / "real.csv"), str(tmp_path / "rows.csv"), "--model", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "differential privacy" in r.output
    r = runner.invoke(app, ["tabular", "fit", str(tmp_path / "real.csv"), "-m", "tvae", "-o", str(tmp_path / "m2"), "--epochs", "500",
                            "--batch-size", "10", "--dp-epsilon", "0.01", "--device", "cpu", "-q"])
    assert r.exit_code == 2 and "cannot be met" in r.output and not (tmp_path / "m2").exists()
