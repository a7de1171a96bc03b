"""Rows that meet conditions ("y=yes"), and rebalancing a rare class, for every tabular model.

Each model generates conditionally where it can — the copula draws the conditioned categorical
columns inside their categories' intervals, the GAN feeds one categorical condition to its
generator as it was trained to take — and every row is then checked, with rejection sampling
for whatever is left (the VAE has no condition input at all). A condition the model cannot meet
(an unknown value, a value outside the column's range) is refused before sampling.
"""

from __future__ import annotations

import math
from typing import Any, Union

import numpy as np
import pandas as pd

from synthwright.core.errors import ConfigError
from synthwright.modalities.tabular_data import Column, allowed_mask

MAX_DRAWS = 2_000_000  # rows drawn at most while looking for matches
MIN_DRAWS = 100_000


def _describe(col: Column) -> str:
    if col.continuous:
        return f"numbers from {col.min:g} to {col.max:g}" + (" (whole numbers)" if col.integer else "")
    values = [c for c, ok in zip(col.categories, allowed_mask(col)) if ok and c is not None]
    shown = ", ".join(map(str, values[:10])) + (", …" if len(values) > 10 else "")
    return f"only {shown}"


def condition_value(col: Column, text: Any) -> Any:
    """A condition's value typed as the column's: a category, a boolean or a number; a ConfigError when impossible."""
    raw = str(text).strip()
    if col.kind == "datetime" or (col.continuous and not col.integer):
        raise ConfigError(f"Condition '{col.name}={raw}' asks for one exact value of a continuous column, which no sampled row hits; condition on a categorical or whole-number column.")
    if col.continuous:
        try:
            v = float(raw)
        except ValueError:
            v = math.nan
        if not (v == round(v) and col.min <= v <= col.max):
            raise ConfigError(f"Condition '{col.name}={raw}' cannot be met: column '{col.name}' takes {_describe(col)}.")
        return int(v)
    for cat, ok in zip(col.categories, allowed_mask(col)):
        if cat is None or not ok:
            continue
        if str(cat) == raw or (isinstance(cat, (bool, np.bool_)) and raw.lower() == str(cat).lower()):
            return cat
    raise ConfigError(f"Condition '{col.name}={raw}' cannot be met: column '{col.name}' takes {_describe(col)}.")


def parse_conditions(conditions: Union[list[str], dict[str, Any], None], columns: list[Column]) -> dict[str, Any]:
    """["col=value", …] or {col: value} → {col: typed value}, checked against the model's columns."""
    if not conditions:
        return {}
    by_name = {c.name: c for c in columns}
    pairs = []
    if isinstance(conditions, dict):
        pairs = list(conditions.items())
    else:
        for item in conditions:
            if "=" not in item:
                raise ConfigError(f"Condition '{item}' has no '='; write it as column=value, such as y=yes.")
            name, value = item.split("=", 1)
            pairs.append((name.strip(), value))
    out = {}
    for name, value in pairs:
        if name not in by_name:
            raise ConfigError(f"Condition names column '{name}', which the model does not have; use one of: {', '.join(by_name)}.")
        out[name] = condition_value(by_name[name], value)
    return out


def matching(rows: pd.DataFrame, conditions: dict[str, Any]) -> np.ndarray:
    """Boolean mask of the rows meeting every condition."""
    keep = np.ones(len(rows), bool)
    for name, value in conditions.items():
        s = rows[name]
        if isinstance(value, (bool, np.bool_)):
            keep &= s.astype("object").map(lambda v: isinstance(v, (bool, np.bool_)) and bool(v) == bool(value)).to_numpy(bool)
        elif isinstance(value, (int, float)) and pd.api.types.is_numeric_dtype(s):
            keep &= (pd.to_numeric(s, errors="coerce") == value).fillna(False).to_numpy(bool)
        else:
            keep &= (s.astype("object").map(str) == str(value)).to_numpy(bool) & s.notna().to_numpy(bool)
    return keep


def _draw(synth, n: int, conditions: dict[str, Any], seed: int) -> pd.DataFrame:
    """n rows from the model, conditioned where the model knows how."""
    categorical = {k: v for k, v in conditions.items() if not next(c for c in synth.encoder.columns if c.name == k).continuous}
    if synth.kind == "copula" and categorical:
        return synth.sample(n, seed=seed, conditions=categorical)
    if synth.kind == "ctgan" and categorical:
        name, value = next(iter(categorical.items()))
        return synth.sample(n, seed=seed, condition=(name, value))
    return synth.sample(n, seed=seed)


def sample_matching(synth, n: int, conditions: dict[str, Any], seed: int = 0) -> pd.DataFrame:
    """Exactly n rows meeting `conditions` (typed by parse_conditions), or a ConfigError naming why not."""
    budget = min(max(50 * n, MIN_DRAWS), MAX_DRAWS)
    found, have, drawn, batch, k = [], 0, 0, n, 0
    while have < n and drawn < budget:
        rows = _draw(synth, batch, conditions, seed + k)
        hit = rows[matching(rows, conditions)]
        found.append(hit)
        have, drawn, k = have + len(hit), drawn + batch, k + 1
        rate = max(have / drawn, 1 / drawn)
        batch = int(min(max(math.ceil((n - have) / rate * 1.2), 100), budget - drawn, 200_000))
    said = ", ".join(f"{k}={v}" for k, v in conditions.items())
    if have == 0:
        raise ConfigError(f"No row out of {drawn} sampled met {said}: the model gives it almost no probability; check the condition, or fit on more rows that meet it.")
    if have < n:
        raise ConfigError(f"Only {have} of {drawn} sampled rows met {said}, fewer than the {n} asked for; ask for at most {have} rows.")
    return pd.concat(found, ignore_index=True).iloc[:n].reset_index(drop=True)


def parse_rebalance(spec: str, columns: list[Column]) -> tuple[Column, float]:
    """"column" or "column:ratio" → (the column, ratio in (0, 1]): each class is topped up to ratio × the largest."""
    name, _, ratio_text = spec.partition(":")
    by_name = {c.name: c for c in columns}
    if name not in by_name:
        raise ConfigError(f"--rebalance names column '{name}', which the model does not have; use one of: {', '.join(by_name)}.")
    col = by_name[name]
    if col.continuous:
        raise ConfigError(f"--rebalance column '{name}' is numeric; rebalance a categorical or boolean column.")
    try:
        ratio = float(ratio_text) if ratio_text else 1.0
    except ValueError:
        ratio = math.nan
    if not 0 < ratio <= 1:
        raise ConfigError(f"--rebalance ratio '{ratio_text}' must be a number above 0 and at most 1, such as {name}:0.5.")
    return col, ratio


def rebalance(synth, rows: pd.DataFrame, spec: str, seed: int = 0, conditions: dict[str, Any] | None = None) -> pd.DataFrame:
    """`rows` plus conditionally generated rows (meeting `conditions` too), so every allowed class of the
    column has at least ratio × the largest class's count."""
    col, ratio = parse_rebalance(spec, synth.encoder.columns)
    classes = [c for c, ok in zip(col.categories, allowed_mask(col)) if ok and c is not None]
    counts = {i: int(matching(rows, {col.name: c}).sum()) for i, c in enumerate(classes)}
    goal = math.ceil(ratio * max(counts.values()))
    extra = [sample_matching(synth, goal - have, {**(conditions or {}), col.name: classes[i]}, seed=seed + 1000 * (i + 1))
             for i, have in counts.items() if have < goal]
    return pd.concat([rows, *extra], ignore_index=True) if extra else rows
