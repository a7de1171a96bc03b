"""How good is a synthetic table? Fidelity, utility and privacy against the real one.

All scores are in [0, 1] with 1 best, unless named otherwise:

- column shape: 1 − KS statistic (numeric, datetime) or 1 − total-variation distance (categorical)
- pair trend: 1 − |Spearman ρ_real − ρ_synth| / 2 for two numeric columns, else 1 − TVD of the
  two columns' joint distribution (numbers binned at the real data's deciles)
- detection: ROC AUC of a gradient-boosted classifier telling real rows from synthetic ones
  (0.5 = indistinguishable); score = 1 − 2·(max(AUC, 0.5) − 0.5)
- utility: a classifier (or regressor) trained on synthetic rows and tested on real holdout rows,
  against the same model trained on real rows (train-synthetic-test-real)
- minority: the rarest class's recall and F1 on real holdout rows, for a classifier trained on
  real rows against one trained on real rows plus synthetic rows of that class
- privacy: distance to the closest real training record (DCR, Gower-style: numbers scaled by the
  real range, a category mismatch counts 1, averaged over columns) for synthetic rows against
  real holdout rows, and the share of synthetic rows that are exact copies of a training row
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthwright.core.errors import ConfigError
from synthwright.modalities.tabular_data import _looks_datetime, _to_seconds

N_BINS = 10
MAX_ROWS = 10_000  # detection, utility and DCR subsample to this: their estimates settle well before


class _Frame:
    """Real and synthetic columns as numbers (continuous) or shared integer codes (categorical)."""

    def __init__(self, real: pd.DataFrame, synth: pd.DataFrame):
        missing = [c for c in real.columns if c not in synth.columns]
        if missing:
            raise ConfigError(f"The synthetic table lacks column '{missing[0]}' of the real table; sample from a model fitted on this table.")
        self.columns = [str(c) for c in real.columns]
        self.continuous: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # categorical codes, or decile bins of numbers
        self.n_codes: dict[str, int] = {}
        for c in self.columns:
            r, s = real[c], synth[c]
            if _looks_datetime(r) or (pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r)):
                rv, sv = (_to_seconds(r), _to_seconds(s)) if _looks_datetime(r) else (pd.to_numeric(r, errors="coerce"), pd.to_numeric(s, errors="coerce"))
                rv, sv = rv.to_numpy("float64"), sv.to_numpy("float64")
                self.continuous[c] = (rv, sv)
                edges = np.unique(np.nanquantile(rv, np.linspace(0, 1, N_BINS + 1)[1:-1])) if np.isfinite(rv).any() else np.array([])
                bins = lambda v: np.where(np.isnan(v), len(edges) + 1, np.searchsorted(edges, v, side="right"))  # noqa: E731
                self.codes[c], self.n_codes[c] = (bins(rv), bins(sv)), len(edges) + 2
            else:
                both = pd.concat([r, s], ignore_index=True).astype("object").where(lambda x: x.notna(), None).map(lambda v: "<missing>" if v is None else str(v))
                codes, uniques = pd.factorize(both)
                self.codes[c], self.n_codes[c] = (codes[: len(r)], codes[len(r) :]), len(uniques)

    def is_continuous(self, c: str) -> bool:
        return c in self.continuous

    def features(self, which: int) -> np.ndarray:
        """(n, n_columns) model inputs: numbers as they are (NaN kept), categories as integer codes."""
        cols = [self.continuous[c][which] if c in self.continuous else self.codes[c][which].astype("float64") for c in self.columns]
        return np.stack(cols, 1)


def _tvd(a: np.ndarray, b: np.ndarray, n: int) -> float:
    pa, pb = np.bincount(a, minlength=n) / max(len(a), 1), np.bincount(b, minlength=n) / max(len(b), 1)
    return 0.5 * float(np.abs(pa - pb).sum())


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame, frame: _Frame | None = None) -> dict[str, float]:
    """Per column: 1 − KS (numeric) or 1 − TVD (categorical)."""
    from scipy.stats import ks_2samp

    f = frame or _Frame(real, synth)
    out = {}
    for c in f.columns:
        if f.is_continuous(c):
            r, s = (v[~np.isnan(v)] for v in f.continuous[c])
            out[c] = 1.0 - float(ks_2samp(r, s).statistic) if len(r) and len(s) else 0.0
        else:
            out[c] = 1.0 - _tvd(*f.codes[c], f.n_codes[c])
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3:
        return 0.0
    rx, ry = pd.Series(x[ok]).rank().to_numpy(), pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def pair_trends(real: pd.DataFrame, synth: pd.DataFrame, frame: _Frame | None = None) -> dict[str, dict[str, Any]]:
    """Per column pair 'a | b': the score, how it was measured, and the real and synthetic values."""
    f = frame or _Frame(real, synth)
    out: dict[str, dict[str, Any]] = {}
    for i, a in enumerate(f.columns):
        for b in f.columns[i + 1 :]:
            if f.is_continuous(a) and f.is_continuous(b):
                rr = _spearman(f.continuous[a][0], f.continuous[b][0])
                ss = _spearman(f.continuous[a][1], f.continuous[b][1])
                out[f"{a} | {b}"] = {"metric": "correlation", "score": 1 - abs(rr - ss) / 2, "real": rr, "synthetic": ss}
            else:
                nb = f.n_codes[b]
                joint = [f.codes[a][k] * nb + f.codes[b][k] for k in (0, 1)]
                out[f"{a} | {b}"] = {"metric": "contingency", "score": 1 - _tvd(*joint, f.n_codes[a] * nb)}
    return out


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x[rng.choice(len(x), n, replace=False)] if len(x) > n else x


def detection(real: pd.DataFrame, synth: pd.DataFrame, seed: int = 0, frame: _Frame | None = None) -> dict[str, float]:
    """Cross-validated ROC AUC of a classifier separating real from synthetic rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    f = frame or _Frame(real, synth)
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synth), MAX_ROWS // 2)
    if n < 10:
        return {"auc": float("nan"), "score": float("nan")}
    x = np.concatenate([_subsample(f.features(0), n, rng), _subsample(f.features(1), n, rng)])
    y = np.r_[np.zeros(n), np.ones(n)]
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    auc = float(np.mean(cross_val_score(model, x, y, cv=3, scoring="roc_auc")))
    return {"auc": auc, "score": 1 - 2 * (max(auc, 0.5) - 0.5)}


def _is_classification(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values) or values.nunique() <= 10


def utility(real_train: pd.DataFrame, real_test: pd.DataFrame, synth: pd.DataFrame, target: str, seed: int = 0) -> dict[str, Any]:
    """Train on real vs train on synthetic, both tested on real held-out rows."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    if target not in real_train.columns:
        raise ConfigError(f"Target column '{target}' is not in the table; use one of: {', '.join(map(str, real_train.columns))}.")
    rng = np.random.default_rng(seed)
    features = [c for c in real_train.columns if c != target]
    both = pd.concat([real_train, real_test], ignore_index=True)
    f = _Frame(both[features], synth[features])
    x_real, x_synth = f.features(0), f.features(1)
    x_train, x_test = x_real[: len(real_train)], x_real[len(real_train) :]
    classify = _is_classification(real_train[target])
    if classify:
        y_all = pd.concat([both[target], synth[target]], ignore_index=True).astype("object").map(str)
        y_codes = pd.factorize(y_all)[0]
        y_train, y_test, y_synth = y_codes[: len(real_train)], y_codes[len(real_train) : len(both)], y_codes[len(both) :]
    else:
        y_train, y_test = pd.to_numeric(real_train[target]).to_numpy(), pd.to_numeric(real_test[target]).to_numpy()
        y_synth = pd.to_numeric(synth[target], errors="coerce").to_numpy()

    def score(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        keep = _subsample(np.arange(len(x)), MAX_ROWS, rng)
        x, y = x[keep], y[keep]
        if classify:
            if len(np.unique(y)) < 2:
                return {"accuracy": float("nan"), "macro_f1": float("nan")}
            pred = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(x, y).predict(x_test)
            return {"accuracy": float(accuracy_score(y_test, pred)), "macro_f1": float(f1_score(y_test, pred, average="macro"))}
        ok = ~np.isnan(y)
        pred = HistGradientBoostingRegressor(max_iter=100, random_state=seed).fit(x[ok], y[ok]).predict(x_test)
        return {"r2": float(r2_score(y_test, pred))}

    real_score, synth_score = score(x_train, y_train), score(x_synth, y_synth)
    key = "macro_f1" if classify else "r2"
    ratio = synth_score[key] / real_score[key] if real_score[key] and real_score[key] > 0 else float("nan")
    return {"target": target, "task": "classification" if classify else "regression", "metric": key,
            "train_real": real_score, "train_synthetic": synth_score, "ratio": float(ratio)}


def minority_boost(real_train: pd.DataFrame, real_test: pd.DataFrame, synth: pd.DataFrame, target: str, seed: int = 0) -> dict[str, Any] | None:
    """Does adding synthetic rows of the rarest class help? Minority recall and F1 on real held-out rows,
    of a classifier trained on real rows alone against the same classifier on real rows plus synthetic
    rows of that class (as many as close the gap to the largest class, or all there are)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import f1_score, recall_score

    y_train = real_train[target].astype("object").map(str)
    counts = y_train.value_counts()
    if len(counts) < 2:
        return None
    minority = str(counts.index[-1])
    pool = synth[synth[target].astype("object").map(str) == minority]
    add = pool.iloc[: max(int(counts.iloc[0] - counts.iloc[-1]), 0)]
    features = [c for c in real_train.columns if c != target]
    f = _Frame(pd.concat([real_train, real_test], ignore_index=True)[features], add[features])
    x_real, x_add = f.features(0), f.features(1)
    x_train, x_test = x_real[: len(real_train)], x_real[len(real_train) :]
    y_test = (real_test[target].astype("object").map(str) == minority).to_numpy()

    def scores(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        pred = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(x, y).predict(x_test)
        return {"recall": float(recall_score(y_test, pred, zero_division=0)), "f1": float(f1_score(y_test, pred, zero_division=0))}

    y = (y_train == minority).to_numpy()
    return {"target": target, "class": minority, "real_share": float(counts.iloc[-1] / len(y_train)),
            "synthetic_rows_added": len(add), "synthetic_rows_available": len(pool),
            "train_real": scores(x_train, y),
            "train_real_plus_synthetic": scores(np.concatenate([x_train, x_add]), np.r_[y, np.ones(len(add), bool)])}


def _gower_matrix(df: pd.DataFrame, ref: pd.DataFrame) -> np.ndarray:
    """Rows as vectors whose L1 distance / n_columns is a Gower distance (scaled by `ref`)."""
    parts = []
    for c in ref.columns:
        r = ref[c]
        if _looks_datetime(r) or (pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r)):
            conv = _to_seconds if _looks_datetime(r) else (lambda s: pd.to_numeric(s, errors="coerce"))
            rv, v = conv(r).to_numpy("float64"), conv(df[c]).to_numpy("float64")
            lo, hi = np.nanmin(rv), np.nanmax(rv)
            scaled = (v - lo) / (hi - lo if hi > lo else 1.0)
            parts.append(np.where(np.isnan(scaled), -1.0, scaled)[:, None])  # missing sits 1 away from any value
        else:
            cats = pd.Index(r.astype("object").map(str).unique())
            codes = cats.get_indexer(df[c].astype("object").map(str))
            onehot = np.zeros((len(df), len(cats) + 1))
            onehot[np.arange(len(df)), codes] = 0.5  # two entries differ by 0.5 each: a mismatch costs 1
            parts.append(onehot)
    return np.concatenate(parts, 1)


def _canon(v: Any) -> str:
    if pd.isna(v):
        return "<missing>"
    if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)):
        return repr(round(float(v), 6))  # 3, 3.0 and np.int64(3) are the same value
    return str(v)


def _row_hashes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    canon = pd.DataFrame({c: df[c].astype("object").map(_canon) for c in columns})
    return pd.util.hash_pandas_object(canon, index=False).to_numpy()


def privacy(real_train: pd.DataFrame, real_holdout: pd.DataFrame, synth: pd.DataFrame, seed: int = 0,
            seen: pd.DataFrame | None = None) -> dict[str, float]:
    """DCR of synthetic rows vs of real unseen rows, and exact-copy rates.

    `seen` is every row the generator may have seen (default: `real_train`); copies count against it.
    """
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    cols = [str(c) for c in real_train.columns]
    train = real_train.iloc[_subsample(np.arange(len(real_train)), MAX_ROWS, rng)]
    hold = real_holdout.iloc[_subsample(np.arange(len(real_holdout)), 2000, rng)]
    syn = synth.iloc[_subsample(np.arange(len(synth)), 2000, rng)]
    nn = NearestNeighbors(n_neighbors=1, metric="manhattan").fit(_gower_matrix(train, real_train))
    dcr_syn = nn.kneighbors(_gower_matrix(syn, real_train))[0][:, 0] / len(cols)
    dcr_hold = nn.kneighbors(_gower_matrix(hold, real_train))[0][:, 0] / len(cols)
    train_keys = _row_hashes(real_train if seen is None else seen, cols)
    p5 = float(np.percentile(dcr_hold, 5))
    return {
        "dcr_synthetic_median": float(np.median(dcr_syn)),
        "dcr_holdout_median": float(np.median(dcr_hold)),
        "dcr_ratio": float(np.median(dcr_syn) / np.median(dcr_hold)) if np.median(dcr_hold) > 0 else float("nan"),
        "exact_copy_rate": float(np.isin(_row_hashes(synth, cols), train_keys).mean()),
        "holdout_exact_copy_rate": float(np.isin(_row_hashes(real_holdout, cols), _row_hashes(real_train, cols)).mean()),
        "closer_than_holdout_p5": float(np.mean(dcr_syn < p5)),
        "dcr_synthetic_quantiles": np.quantile(dcr_syn, np.linspace(0, 1, 21)).tolist(),
        "dcr_holdout_quantiles": np.quantile(dcr_hold, np.linspace(0, 1, 21)).tolist(),
    }


def evaluate_tabular(real: pd.DataFrame, synth: pd.DataFrame, *, holdout: pd.DataFrame | None = None,
                     target: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Every metric above in one JSON-able dict.

    `real` is what the generator was fitted on; `holdout` real rows it never saw. Without a
    holdout, 30% of `real` is split off: the utility and privacy numbers are then optimistic,
    because the generator saw those rows.
    """
    if len(real) == 0 or len(synth) == 0:
        raise ConfigError("A table to evaluate has no rows; give non-empty real and synthetic tables.")
    target = target if target is not None else str(real.columns[-1])
    if target not in real.columns:
        raise ConfigError(f"Target column '{target}' is not in the table; use one of: {', '.join(map(str, real.columns))}.")
    split_note = None
    if holdout is None:
        idx = np.random.default_rng(seed).permutation(len(real))
        cut = int(len(real) * 0.7)
        train, holdout = real.iloc[idx[:cut]], real.iloc[idx[cut:]]
        split_note = "no holdout given: 30% of the real table was held out, but the generator may have seen it"
    else:
        train = real
    synth = synth[[c for c in real.columns if c in synth.columns]]
    frame = _Frame(real, synth)
    shapes, pairs = column_shapes(real, synth, frame), pair_trends(real, synth, frame)
    shape_score = float(np.mean(list(shapes.values())))
    pair_score = float(np.mean([p["score"] for p in pairs.values()])) if pairs else float("nan")
    return {
        "rows": {"real": len(real), "synthetic": len(synth), "holdout": len(holdout)},
        "holdout_note": split_note,
        "quality": {"column_shapes": shape_score, "pair_trends": pair_score,
                    "overall": float(np.nanmean([shape_score, pair_score]))},
        "column_shapes": shapes,
        "pair_trends": pairs,
        "detection": detection(real, synth, seed, frame),
        "utility": (u := utility(train, holdout, synth, target, seed)),
        "minority": minority_boost(train, holdout, synth, target, seed) if u["task"] == "classification" else None,
        "privacy": privacy(train, holdout, synth, seed, seen=real),
    }
