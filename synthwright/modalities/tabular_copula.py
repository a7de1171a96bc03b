"""A Gaussian-copula table synthesizer: one fitted marginal per column, joined by one correlation matrix.

    rows ─▶ per column u = F(x) ∈ (0, 1) ─▶ z = Φ⁻¹(u) ─▶ Σ = corr(z)                     (fit)
    z ~ N(0, Σ) ─▶ u = Φ(z) ─▶ x = F⁻¹(u) ─▶ clip, round, cast back                     (sample)

- Numeric and datetime columns: the best of a few scipy families (normal, gamma, beta and uniform
  on the column's range) by Kolmogorov–Smirnov distance; when even the best is further from the
  data than KS_FALLBACK, the empirical quantile function instead (spikes such as capital_gain = 0
  need it). Datetimes are numbers of seconds.
- Categorical and boolean columns: each category owns an interval of (0, 1) as wide as its share
  of rows, most frequent first; a row's u is drawn uniformly inside its category's interval.
- A numeric column with missing values gets a missing/present indicator, itself a two-category
  column of the copula, so missingness keeps its correlation with the other columns.

No torch, no training loop: fitting is a few scipy fits and one correlation matrix. Conditions on
categorical columns are met exactly, by drawing z for the conditioned columns inside their
categories' intervals and the rest from the Gaussian conditioned on them.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthwright.modalities._io import write_json
from synthwright.modalities.tabular_data import (
    Column,
    ColumnConstraint,
    TableEncoder,
    allowed_mask,
    category_index,
    continuous_values,
    finish_categorical,
    finish_continuous,
)

FAMILIES = ("norm", "gamma", "beta", "uniform")
KS_FALLBACK = 0.03  # a parametric fit further than this (KS statistic) from the data loses to the empirical one
FIT_ROWS = 5_000  # marginals are fitted on at most this many values; the correlation on every row
QUANTILES = 513  # points of the stored empirical quantile function
EPS = 1e-6


@dataclass
class GaussianCopulaConfig:
    families: tuple[str, ...] = FAMILIES  # parametric candidates for numeric columns; () = always empirical
    seed: int = 0


@dataclass
class Marginal:
    """How one copula dimension maps a column's values to (0, 1) and back; JSON-able."""

    column: str
    kind: str  # parametric | empirical | categories | missing
    family: str | None = None
    params: list[float] | None = None
    quantiles: list[float] | None = None  # empirical: values at probabilities linspace(0, 1, QUANTILES)
    ks: float | None = None
    cuts: list[float] | None = None  # categories / missing: interval edges, len(order) + 1
    order: list[int] | None = None  # categories: category index owning each interval


def _dist(family: str):
    import scipy.stats as st

    return getattr(st, family)


def _fit_family(family: str, x: np.ndarray, lo: float, hi: float) -> list[float]:
    span = hi - lo
    if family == "norm":
        return [float(x.mean()), float(x.std() or 1.0)]
    if family == "uniform":
        return [lo, span]
    pad = span * 1e-3
    if family == "beta":  # on the column's range, padded so the end points stay inside the support
        a, b, _, _ = _dist("beta").fit(x, floc=lo - pad, fscale=span + 2 * pad)
        return [float(a), float(b), lo - pad, span + 2 * pad]
    if family == "gamma":
        a, loc, scale = _dist("gamma").fit(x, floc=lo - pad)
        return [float(a), float(loc), float(scale)]
    raise ValueError(family)


def _fit_numeric(col: Column, x: np.ndarray, families: tuple[str, ...], rng: np.random.Generator) -> Marginal:
    from scipy.stats import kstest

    fit_x = rng.choice(x, FIT_ROWS, replace=False) if len(x) > FIT_ROWS else x
    lo, hi = float(fit_x.min()), float(fit_x.max())
    best: tuple[float, str, list[float]] | None = None
    if hi > lo and len(np.unique(fit_x)) > 2:
        for family in families:
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    params = _fit_family(family, fit_x, lo, hi)
                    ks = float(kstest(fit_x, family, args=params).statistic)
            except (ValueError, RuntimeError, FloatingPointError):
                continue
            if np.isfinite(ks) and (best is None or ks < best[0]):
                best = (ks, family, params)
    if best is not None and best[0] <= KS_FALLBACK:
        return Marginal(col.name, "parametric", family=best[1], params=best[2], ks=best[0])
    return Marginal(col.name, "empirical", quantiles=np.quantile(x, np.linspace(0, 1, QUANTILES)).tolist(),
                    ks=None if best is None else best[0])


def _intervals(counts: np.ndarray) -> tuple[list[float], list[int]]:
    order = np.argsort(-counts, kind="stable")  # most frequent first
    share = counts[order] / counts.sum()
    return np.concatenate([[0.0], np.cumsum(share)]).clip(0, 1).tolist(), order.tolist()


class GaussianCopula:
    """fit(table) → sample(n) → save(folder) / GaussianCopula.load(folder)."""

    kind = "copula"

    def __init__(self, config: GaussianCopulaConfig | None = None, device: str = "auto"):
        self.config = config or GaussianCopulaConfig()
        self.encoder: TableEncoder | None = None
        self.marginals: list[Marginal] = []
        self.corr: np.ndarray | None = None
        self.fit_seconds = 0.0
        self.history: list[dict[str, float]] = []

    # ---- fitting ---------------------------------------------------------------------------

    def fit(self, df: pd.DataFrame, constraints: dict[str, ColumnConstraint] | None = None, progress: bool = True) -> "GaussianCopula":
        t0 = time.perf_counter()
        df = df.rename(columns=str)
        rng = np.random.default_rng(self.config.seed)
        self.encoder = TableEncoder.fit(df, constraints, seed=self.config.seed, modes="none")
        self.marginals, scores = [], []
        for col in self._progress(self.encoder.columns, progress):
            s = df[col.name]
            if col.continuous:
                x = continuous_values(col, s)
                isna = np.isnan(x)
                m = _fit_numeric(col, x[~isna], tuple(self.config.families), rng)
                self.marginals.append(m)
                scores.append(self._to_normal(m, np.where(isna, np.nanmedian(x), x), rng))
                if col.missing:
                    cuts, order = _intervals(np.bincount(isna.astype(int), minlength=2).astype(float))
                    miss = Marginal(col.name, "missing", cuts=cuts, order=order)
                    self.marginals.append(miss)
                    scores.append(self._to_normal(miss, isna.astype(int), rng))
            else:
                codes = category_index(col, s)
                cuts, order = _intervals(np.bincount(codes, minlength=len(col.categories)).astype(float))
                m = Marginal(col.name, "categories", cuts=cuts, order=order)
                self.marginals.append(m)
                scores.append(self._to_normal(m, codes, rng))
        z = np.stack(scores, 1)  # (n, d)
        self.corr = _nearest_correlation(np.corrcoef(z, rowvar=False) if z.shape[1] > 1 else np.ones((1, 1)))
        self.fit_seconds = time.perf_counter() - t0
        return self

    @staticmethod
    def _progress(columns: list[Column], enabled: bool):
        if not enabled:
            return columns
        from rich.progress import track

        return track(columns, description="copula marginals", transient=True)

    def _to_normal(self, m: Marginal, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Column values (numbers, or category / missing codes) → standard normal scores."""
        from scipy.stats import norm

        if m.kind == "parametric":
            u = _dist(m.family).cdf(values, *m.params)
        elif m.kind == "empirical":  # ranks with random tie-breaking: a spike spreads over its share of (0, 1)
            order = np.lexsort((rng.random(len(values)), values))
            u = np.empty(len(values))
            u[order] = (np.arange(len(values)) + 0.5) / len(values)
        else:
            cuts, pos = np.asarray(m.cuts), np.argsort(m.order)  # pos[category] = its interval
            lo, hi = cuts[pos[values]], cuts[pos[values] + 1]
            u = lo + rng.random(len(values)) * (hi - lo)
        return norm.ppf(np.clip(u, EPS, 1 - EPS))

    # ---- sampling --------------------------------------------------------------------------

    def sample(self, n: int, seed: int | None = None, conditions: dict[str, Any] | None = None) -> pd.DataFrame:
        """n rows; `conditions` maps categorical columns to one value each (already validated), met exactly."""
        rng = np.random.default_rng(self.config.seed if seed is None else seed)
        d = len(self.marginals)
        z = rng.standard_normal((n, d)) @ np.linalg.cholesky(self.corr).T  # (n, d)
        if conditions:
            z = self._condition(z, conditions, rng)
        return self._decode(z, rng)

    def _condition(self, z: np.ndarray, conditions: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Replace z by draws from N(0, Σ) given each conditioned dimension inside its category's interval."""
        from scipy.stats import norm

        cols = {c.name: c for c in self.encoder.columns}
        dims, lo, hi = [], [], []
        for name, value in conditions.items():
            j = next(k for k, m in enumerate(self.marginals) if m.column == name and m.kind == "categories")
            m, code = self.marginals[j], category_index(cols[name], pd.Series([value], dtype="object"))[0]
            i = m.order.index(int(code))
            dims.append(j)
            lo.append(norm.ppf(max(m.cuts[i], EPS)))
            hi.append(norm.ppf(min(m.cuts[i + 1], 1 - EPS)))
        dims, lo, hi = np.array(dims), np.array(lo), np.array(hi)
        rest = np.setdiff1d(np.arange(len(self.marginals)), dims)
        s_cc = self.corr[np.ix_(dims, dims)]
        chol_cc = np.linalg.cholesky(s_cc)
        # the conditioned block by rejection in its own few dimensions: cheap even when the box is rare
        zc, need = [], len(z)
        for _ in range(200):
            draw = rng.standard_normal((max(4 * need, 1000), len(dims))) @ chol_cc.T
            ok = draw[np.all((draw >= lo) & (draw <= hi), 1)]
            zc.append(ok[:need])
            need -= len(zc[-1])
            if need <= 0:
                break
        zc = np.concatenate(zc)
        if len(zc) < len(z):  # the box has almost no mass: fill with clipped draws, rows are re-checked by the caller
            zc = np.concatenate([zc, np.clip(rng.standard_normal((len(z) - len(zc), len(dims))), lo, hi)])
        out = np.empty_like(z)
        out[:, dims] = zc
        if len(rest):
            s_rc = self.corr[np.ix_(rest, dims)]
            gain = s_rc @ np.linalg.inv(s_cc)  # (r, c)
            cov = self.corr[np.ix_(rest, rest)] - gain @ s_rc.T
            out[:, rest] = zc @ gain.T + rng.standard_normal((len(z), len(rest))) @ np.linalg.cholesky(_psd(cov)).T
        return out

    def _decode(self, z: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        from scipy.stats import norm

        u = np.clip(norm.cdf(z), EPS, 1 - EPS)  # (n, d)
        by_col: dict[str, dict[str, np.ndarray]] = {}
        for j, m in enumerate(self.marginals):
            if m.kind == "parametric":
                v = _dist(m.family).ppf(u[:, j], *m.params)
            elif m.kind == "empirical":
                v = np.interp(u[:, j], np.linspace(0, 1, len(m.quantiles)), m.quantiles)
            else:
                v = np.asarray(m.order)[np.searchsorted(m.cuts, u[:, j], side="right").clip(1, len(m.order)) - 1]
            by_col.setdefault(m.column, {})[m.kind] = v
        out = {}
        for col in self.encoder.columns:
            got = by_col[col.name]
            if col.continuous:
                v = got.get("parametric", got.get("empirical"))
                isna = got["missing"] == 1 if "missing" in got else np.zeros(len(v), bool)
                out[col.name] = finish_continuous(col, v, isna)
            else:
                out[col.name] = finish_categorical(col, self._allowed_codes(col, got["categories"], u, rng))
        return pd.DataFrame(out)

    def _allowed_codes(self, col: Column, codes: np.ndarray, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Disallowed categories are redrawn from the allowed ones, in proportion to their frequencies."""
        mask = allowed_mask(col)
        bad = ~mask[codes]
        if bad.any():
            m = next(m for m in self.marginals if m.column == col.name and m.kind == "categories")
            share = np.diff(m.cuts)[np.argsort(m.order)] * mask  # per category
            codes = codes.copy()
            codes[bad] = rng.choice(len(share), bad.sum(), p=share / share.sum())
        return codes

    # ---- checkpoints -----------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"model": self.kind, "config": asdict(self.config), "encoder": self.encoder.state(),
                "marginals": [asdict(m) for m in self.marginals], "correlation": self.corr.tolist(),
                "fit_seconds": self.fit_seconds, "history": self.history}
        write_json(folder / "model.json", meta)  # no weights.pt: the whole model is these numbers
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "GaussianCopula":
        import json

        meta = json.loads((Path(folder) / "model.json").read_text())
        cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
        self = cls(GaussianCopulaConfig(**cfg))
        self.encoder = TableEncoder.from_state(meta["encoder"])
        self.marginals = [Marginal(**m) for m in meta["marginals"]]
        self.corr = np.asarray(meta["correlation"])
        self.fit_seconds, self.history = meta["fit_seconds"], meta["history"]
        return self


def _psd(m: np.ndarray, floor: float = 1e-9) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.maximum(w, floor)) @ v.T


def _nearest_correlation(c: np.ndarray) -> np.ndarray:
    """A usable correlation matrix: NaN (constant columns) → 0, eigenvalues floored, unit diagonal."""
    c = np.nan_to_num(c, nan=0.0)
    np.fill_diagonal(c, 1.0)
    c = _psd(c, 1e-6)
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)
