"""The Gaussian copula: seeded round trips, marginals chosen by fit, constraints, missing values, correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthwright.core.errors import ConfigError
from synthwright.modalities.tabular import fit_tabular, load_tabular, sample_tabular

from ._modality_data import mixed_table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return mixed_table(600)


def test_same_seed_same_rows_and_save_load_round_trip(tmp_path, table):
    a = fit_tabular(table, model="copula", out=tmp_path / "m", seed=3, progress=False)
    b = fit_tabular(table, model="copula", seed=3, progress=False)
    pd.testing.assert_frame_equal(a.sample(200, seed=1), b.sample(200, seed=1))
    pd.testing.assert_frame_equal(load_tabular(tmp_path / "m").sample(200, seed=1), a.sample(200, seed=1))
    assert not a.sample(200, seed=1).equals(a.sample(200, seed=2))
    assert not (tmp_path / "m" / "weights.pt").exists()  # the whole model is model.json


def test_marginals_are_chosen_by_goodness_of_fit():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"gauss": rng.normal(5, 2, 3000), "spiky": np.where(rng.random(3000) < 0.8, 0.0, rng.exponential(1000, 3000)),
                       "label": rng.choice(["x", "y"], 3000)})
    m = fit_tabular(df, model="copula", progress=False)
    kinds = {mg.column: (mg.kind, mg.family) for mg in m.marginals}
    assert kinds["gauss"] == ("parametric", "norm")
    assert kinds["spiky"][0] == "empirical"  # 80% zeros: no family fits
    rows = m.sample(3000, seed=0)
    assert abs((rows["spiky"] == 0).mean() - 0.8) < 0.04
    assert abs(rows["gauss"].mean() - 5) < 0.2 and abs(rows["gauss"].std() - 2) < 0.2


def test_constraints_dtypes_and_missing_values(table):
    m = fit_tabular(table, model="copula", constraints={"age": {"min": 40}, "group": {"allowed": ["a", "b"]}}, progress=False)
    rows = m.sample(2000, seed=0)
    assert list(rows.columns) == list(table.columns)
    assert rows["age"].min() >= 40 and rows["age"].dtype == np.int64
    assert set(rows["group"]) == {"a", "b"}
    assert rows["active"].dtype == bool
    assert 0.05 < rows["income"].isna().mean() < 0.15  # the real table has 10% missing
    assert 0.05 < rows["city"].isna().mean() < 0.15
    assert pd.api.types.is_datetime64_any_dtype(rows["joined"]) and (rows["joined"].dt.hour == 0).all()


def test_correlation_between_columns_is_kept():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 2000)
    df = pd.DataFrame({"x": x, "y": 3 * x + rng.normal(0, 0.5, 2000), "flag": np.where(x + rng.normal(0, 0.3, 2000) > 0, "hi", "lo")})
    rows = fit_tabular(df, model="copula", progress=False).sample(2000, seed=0)
    assert rows["x"].corr(rows["y"], method="spearman") > 0.9
    # real: ±0.77; frequency intervals soften a category's link to the numbers, but keep its sign and most of its size
    assert rows.loc[rows["flag"] == "hi", "x"].mean() > 0.3 and rows.loc[rows["flag"] == "lo", "x"].mean() < -0.3


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 10}, "not trained in epochs"),
    ({"dp_epsilon": 1.0}, "no differentially private variant"),
])
def test_copula_refuses_what_it_has_not(table, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fit_tabular(table, model="copula", progress=False, **kwargs)


def test_sample_tabular_reads_a_copula_folder(tmp_path, table):
    fit_tabular(table, model="copula", out=tmp_path / "m", progress=False)
    rows = sample_tabular(tmp_path / "m", 50, out=tmp_path / "rows.csv")
    assert len(pd.read_csv(tmp_path / "rows.csv")) == len(rows) == 50


def test_recipe_with_the_copula_writes_rows_report_and_a_card(tmp_path, table):
    from synthwright.modalities.recipe import parse_tabular_recipe, run_tabular_recipe

    table.to_csv(tmp_path / "real.csv", index=False)
    recipe = parse_tabular_recipe({"kind": "tabular", "data": str(tmp_path / "real.csv"), "model": "copula", "rows": 300, "target": "group"})
    stats = run_tabular_recipe(recipe, tmp_path / "run", progress=False)
    assert len(pd.read_parquet(tmp_path / "run" / "synthetic.parquet")) == 300 and stats["model"]["name"] == "copula"
    card = (tmp_path / "run" / "README.md").read_text()
    assert "`copula` model" in card and "trained without differential privacy" in card
    assert "## Rare class: group = c" in (tmp_path / "run" / "report" / "report.md").read_text()
