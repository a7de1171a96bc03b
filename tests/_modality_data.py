"""Small data the modality tests share: a generated mixed-type table and sklearn's 8×8 digits."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd


@contextlib.contextmanager
def one_thread():
    """These nets are tiny: one thread is faster, and the CI box's two cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def mixed_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numeric (bimodal, integer, with gaps), categorical with NaN, boolean and ISO-date columns."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    amount = np.where(group == "a", rng.normal(10, 1, n), rng.normal(50, 5, n))
    income = rng.lognormal(10, 0.5, n)
    income[rng.random(n) < 0.1] = np.nan
    city = rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n).astype(object)
    city[rng.random(n) < 0.1] = None
    return pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "amount": amount,
        "income": income,
        "group": group,
        "city": city,
        "active": rng.random(n) < 0.3,
        "joined": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
    }).assign(joined=lambda d: d["joined"].dt.strftime("%Y-%m-%d"))


def digits(n: int | None = None):
    from sklearn.datasets import load_digits

    from synthwright.modalities.image_data import ImageSet

    d = load_digits()
    x = np.round(d.images / 16 * 255).astype(np.uint8)[..., None]
    y = d.target.astype(np.int64)
    if n is not None:
        x, y = x[:n], y[:n]
    return ImageSet(x, y, [f"digit{i}" for i in range(10)])
