"""Tabular GAN and VAE: encoding, constraints, dtypes, save/load, seeds, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthwright.core.errors import ConfigError
from synthwright.modalities.tabular import fit_tabular, load_tabular, sample_tabular
from synthwright.modalities.tabular_data import TableEncoder

from ._modality_data import mixed_table, one_thread

FAST = {"epochs": 2, "batch_size": 100, "progress": False, "device": "cpu"}


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return mixed_table()


def test_encoder_infers_kinds_and_round_trips(table):
    enc = TableEncoder.fit(table)
    kinds = {c.name: c.kind for c in enc.columns}
    assert kinds == {"age": "numeric", "amount": "numeric", "income": "numeric", "group": "categorical",
                     "city": "categorical", "active": "boolean", "joined": "datetime"}
    assert [c.integer for c in enc.columns if c.kind == "numeric"] == [True, False, False]
    assert enc.columns[2].missing and not enc.columns[0].missing
    x = enc.transform(table)
    assert x.shape == (len(table), enc.dim)
    back = enc.inverse(x)
    assert (back["age"] == table["age"]).all()
    np.testing.assert_allclose(back["amount"], table["amount"], rtol=1e-4)
    assert back["income"].isna().equals(table["income"].isna())
    np.testing.assert_allclose(back["income"].dropna(), table["income"].dropna(), rtol=1e-4)
    assert back["city"].fillna("?").tolist() == table["city"].fillna("?").tolist()
    assert (back["active"] == table["active"]).all()
    assert (back["joined"] == pd.to_datetime(table["joined"])).all()


def test_bimodal_column_gets_two_modes(table):
    enc = TableEncoder.fit(table[["amount"]])
    means = sorted(m for m, w in zip(enc.columns[0].means, enc.columns[0].weights) if w > 0.1)
    assert len(means) >= 2 and means[0] < 20 < means[-1]


@pytest.mark.parametrize("model", ["ctgan", "tvae"])
def test_samples_have_columns_dtypes_and_obey_constraints(table, model):
    constraints = {"amount": {"min": 0, "max": 40}, "group": {"allowed": ["a", "b"]}, "age": {"min": 30}}
    m = fit_tabular(table, model=model, constraints=constraints, **FAST)
    rows = m.sample(400, seed=1)
    assert list(rows.columns) == list(table.columns) and len(rows) == 400
    assert rows["age"].dtype == np.int64 and rows["age"].between(30, 79).all()
    assert rows["amount"].between(0, 40).all()
    assert set(rows["group"]) <= {"a", "b"}
    assert set(rows["city"].dropna()) <= {"Oslo", "Lima", "Pune", "Kyiv"}
    assert rows["active"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(rows["joined"])
    assert rows["joined"].min() >= pd.Timestamp("2020-01-01") and rows["joined"].max() <= pd.Timestamp("2022-09-27")
    assert rows["income"].dtype == np.float64


def test_integer_constraint_rounds_a_float_column(table):
    rows = fit_tabular(table[["amount", "group"]], model="tvae", constraints={"amount": {"integer": True}}, **FAST).sample(50)
    assert (rows["amount"] == rows["amount"].round()).all()


@pytest.mark.parametrize("model", ["ctgan", "tvae"])
def test_save_load_round_trip(tmp_path, table, model):
    m = fit_tabular(table, model=model, out=tmp_path / "m", **FAST)
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.json", "weights.pt"}
    again = load_tabular(tmp_path / "m", device="cpu")
    pd.testing.assert_frame_equal(m.sample(100, seed=3), again.sample(100, seed=3))
    rows = sample_tabular(tmp_path / "m", 20, out=tmp_path / "rows.parquet", seed=3, device="cpu")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "rows.parquet"), rows)


def test_same_seed_same_model_different_seed_different_rows(table):
    a = fit_tabular(table, model="ctgan", seed=5, **FAST).sample(100, seed=0)
    b = fit_tabular(table, model="ctgan", seed=5, **FAST).sample(100, seed=0)
    c = fit_tabular(table, model="ctgan", seed=6, **FAST).sample(100, seed=0)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_vae_learns_a_dependency_between_columns():
    """After training, the category should still tell which mode the number comes from."""
    table = mixed_table(400)[["group", "amount"]]
    rows = fit_tabular(table, model="tvae", epochs=150, batch_size=400, progress=False, device="cpu").sample(1000)
    by_group = rows.groupby("group")["amount"].mean()
    assert by_group.get("a", np.inf) < 25 < by_group.get("b", -np.inf)


def test_numpy_style_column_names_become_strings():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)))
    rows = fit_tabular(frame, model="tvae", **FAST).sample(5)
    assert list(rows.columns) == ["0", "1", "2"]


def test_wine_all_numeric_with_a_label():
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame.assign(target=lambda d: d["target"].map({0: "x", 1: "y", 2: "z"}))
    rows = fit_tabular(wine, model="ctgan", **FAST).sample(50)
    assert rows.shape == (50, wine.shape[1])
    assert all(rows[c].dtype == np.float64 for c in wine.columns if c not in ("target", "proline", "magnesium"))
    assert rows["magnesium"].dtype == np.int64  # whole numbers in the data → integers out


@pytest.mark.parametrize("bad, message", [
    ({"constraints": {"nope": {"min": 1}}}, "not in the table"),
    ({"constraints": {"amount": {"min": 5, "max": 1}}}, "above max"),
    ({"constraints": {"group": {"min": 1}}}, "categorical"),
    ({"constraints": {"group": {"allowed": ["zzz"]}}}, "none of which occurs"),
    ({"constraints": {"age": {"mni": 3}}}, "invalid"),
    ({"model": "gpt"}, "Unknown tabular model"),
    ({"epochs": 0}, "at least 1"),
])
def test_bad_input_is_one_config_error(table, bad, message):
    with pytest.raises(ConfigError, match=message) as info:
        fit_tabular(table, **{**FAST, **bad})
    assert info.value.message.count(". ") == 0  # one sentence


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        fit_tabular(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match="no rows"):
        fit_tabular(tmp_path / "empty.csv")
    with pytest.raises(ConfigError, match="not a model folder"):
        sample_tabular(tmp_path, 5)
