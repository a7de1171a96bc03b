"""Table ⇄ matrix for the tabular models: column kinds, mode-specific normalisation, constraints.

Both tabular models (tabular_gan.py, tabular_vae.py) see a table only as the matrix that
`TableEncoder` makes, a row of *spans*:

    numeric / datetime   [alpha (1, tanh)] [mode one-hot (k, softmax)] [missing? (2, softmax)]
    categorical / bool   [category one-hot (n, softmax)]   (a missing value is one more category)

A continuous value is written as the Gaussian mode it belongs to (from a variational Gaussian
mixture) plus its offset inside that mode, as in CTGAN: multi-modal, long-tailed columns then
look like a few easy bumps to the network instead of one hard distribution.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthwright.core.errors import ConfigError

MAX_CATEGORIES = 1000
MAX_MODES = 10
FIT_ROWS = 2_000  # the mixture is fitted on a sample of this many values: more barely moves the modes (a 5,000-value fit costs 4x as long)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")

Scalar = Union[str, int, float, bool]


class ColumnConstraint(BaseModel):
    """What every synthetic value of one column must satisfy."""

    model_config = ConfigDict(extra="forbid")

    min: Optional[float] = Field(None, description="Smallest allowed value (numeric columns; for datetimes, seconds since 1970).")
    max: Optional[float] = Field(None, description="Largest allowed value (numeric columns; for datetimes, seconds since 1970).")
    integer: Optional[bool] = Field(None, description="Round to whole numbers (numeric columns); inferred from the data when left out.")
    allowed: Optional[list[Scalar]] = Field(None, description="The only values the column may take; on a numeric column this makes it categorical.")


def parse_constraints(raw: dict[str, Any] | None) -> dict[str, ColumnConstraint]:
    """Validate a {column: {min, max, integer, allowed}} mapping (from YAML, JSON or Python)."""
    from pydantic import ValidationError

    out = {}
    for name, spec in (raw or {}).items():
        if isinstance(spec, ColumnConstraint):
            out[str(name)] = spec
            continue
        try:
            out[str(name)] = ColumnConstraint.model_validate(spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"Constraint for column '{name}' is invalid at '{where}' ({first['msg']}); use keys min, max, integer, allowed.") from None
    return out


@dataclass
class Column:
    """One column's kind, encoding and constraints; JSON-able so a checkpoint can rebuild it."""

    name: str
    kind: str  # numeric | datetime | categorical | boolean
    dtype: str  # pandas dtype the output is cast back to
    missing: bool = False  # numeric/datetime only: a 2-way missing indicator follows the modes
    categories: list[Any] = field(default_factory=list)  # categorical/boolean, one-hot order; None = missing
    allowed: Optional[list[Any]] = None
    weights: list[float] = field(default_factory=list)  # mixture modes (numeric/datetime)
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    min: Optional[float] = None
    max: Optional[float] = None
    integer: bool = False
    step: Optional[float] = None  # datetime only: seconds to round to (86400 when the data holds dates without times)

    @property
    def continuous(self) -> bool:
        return self.kind in ("numeric", "datetime")

    @property
    def spans(self) -> list[tuple[int, str, bool]]:
        """(width, activation, conditionable) per span, in output order."""
        if self.continuous:
            return [(1, "tanh", False), (len(self.means), "softmax", False)] + ([(2, "softmax", False)] if self.missing else [])
        return [(len(self.categories), "softmax", True)]


def _is_bool_like(s: pd.Series) -> bool:
    values = s.dropna()
    return len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values.unique())


def _looks_datetime(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    values = s.dropna()
    head = values.iloc[:200]
    return len(head) > 0 and all(isinstance(v, str) and _ISO_DATE.match(v) for v in head)


def _to_seconds(s: pd.Series) -> pd.Series:
    ts = pd.to_datetime(s, errors="coerce", utc=False, format="ISO8601") if not pd.api.types.is_datetime64_any_dtype(s) else s
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    secs = ts.astype("datetime64[ns]").astype("int64").astype("float64") / 1e9
    return secs.where(ts.notna())


def _python(v: Any) -> Any:
    """numpy scalars → Python scalars (JSON-able); NaN/NA → None."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


class TableEncoder:
    """Fits column kinds and mixtures on a table; turns rows into a float matrix and back."""

    def __init__(self, columns: list[Column]):
        self.columns = columns
        self.spans: list[tuple[int, int, str, bool]] = []  # (start, width, activation, conditionable)
        start = 0
        for col in columns:
            for width, act, cond in col.spans:
                self.spans.append((start, width, act, cond))
                start += width
        self.dim = start

    # ---- fitting ---------------------------------------------------------------------------

    @classmethod
    def fit(cls, df: pd.DataFrame, constraints: dict[str, ColumnConstraint] | None = None, seed: int = 0,
            modes: str = "fitted") -> "TableEncoder":
        """`modes`: "fitted" (a Gaussian mixture per continuous column), "even" (MAX_MODES modes spread
        evenly over [min, max], read from no value: for DP training) or "none" (schema only)."""
        if df.empty or df.shape[1] == 0:
            raise ConfigError("The table has no rows or no columns; give a table with a header and at least a few rows.")
        constraints = parse_constraints(constraints)
        unknown = [name for name in constraints if name not in df.columns]
        if unknown:
            raise ConfigError(f"A constraint names column '{unknown[0]}', which is not in the table; use one of: {', '.join(map(str, df.columns))}.")
        rng = np.random.default_rng(seed)
        columns = [_fit_column(str(name), df[name], constraints.get(str(name)), rng, seed, modes) for name in df.columns]
        return cls(columns)

    def state(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TableEncoder":
        return cls([Column(**c) for c in state["columns"]])

    # ---- rows → matrix ---------------------------------------------------------------------

    def transform(self, df: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """Rows → float32 matrix (n, dim); the mode of each continuous value is drawn from its posterior."""
        rng = np.random.default_rng(seed)
        n = len(df)
        parts = []
        for col in self.columns:
            s = df[col.name]
            if col.continuous:
                x = continuous_values(col, s)
                isna = np.isnan(x)
                x = np.where(isna, np.asarray(col.means)[np.argmax(col.weights)], x)
                means, stds = np.asarray(col.means), np.asarray(col.stds)
                logp = np.log(np.asarray(col.weights) + 1e-12) - np.log(stds) - 0.5 * ((x[:, None] - means) / stds) ** 2  # (n, k)
                prob = np.exp(logp - logp.max(1, keepdims=True))
                prob /= prob.sum(1, keepdims=True)
                mode = (prob.cumsum(1) < rng.random((n, 1))).sum(1).clip(max=len(means) - 1)  # sample, not argmax: CTGAN's choice
                alpha = np.clip((x - means[mode]) / (4 * stds[mode]), -0.99, 0.99)
                block = [alpha[:, None], np.eye(len(means))[mode]]
                if col.missing:
                    block.append(np.eye(2)[isna.astype(int)])
                parts.extend(block)
            else:
                parts.append(np.eye(len(col.categories))[category_index(col, s)])
        return np.concatenate(parts, axis=1).astype("float32") if parts else np.zeros((n, 0), "float32")

    def category_codes(self, df: pd.DataFrame) -> np.ndarray:
        """(n, n_categorical) integer codes of the conditionable columns, for training-by-sampling."""
        cols = [c for c in self.columns if not c.continuous]
        return np.stack([category_index(c, df[c.name]) for c in cols], 1) if cols else np.zeros((len(df), 0), np.int64)

    # ---- matrix → rows ---------------------------------------------------------------------

    def inverse(self, x: np.ndarray) -> pd.DataFrame:
        """Matrix (n, dim) of tanh values and span scores (probabilities or logits) → a table.

        Constraints are applied here, so every sampler's output respects them: disallowed
        categories are masked before the argmax, numbers are clipped and rounded.
        """
        out: dict[str, Any] = {}
        i = 0
        for col in self.columns:
            if col.continuous:
                means, stds = np.asarray(col.means), np.asarray(col.stds)
                k = len(means)
                alpha = np.clip(x[:, i], -1, 1)
                mode = x[:, i + 1 : i + 1 + k].argmax(1)
                v = alpha * 4 * stds[mode] + means[mode]
                i += 1 + k
                isna = np.zeros(len(v), bool)
                if col.missing:
                    isna = x[:, i : i + 2].argmax(1) == 1
                    i += 2
                out[col.name] = finish_continuous(col, v, isna)
            else:
                scores = x[:, i : i + len(col.categories)].astype("float64")
                scores = np.where(allowed_mask(col), scores, -np.inf)
                codes = scores.argmax(1)
                i += len(col.categories)
                out[col.name] = finish_categorical(col, codes)
        return pd.DataFrame(out)


def continuous_values(col: Column, s: pd.Series) -> np.ndarray:
    """A numeric or datetime column as float64 (datetimes in seconds since 1970), NaN where missing."""
    return (_to_seconds(s) if col.kind == "datetime" else pd.to_numeric(s, errors="coerce")).to_numpy(dtype="float64")


def allowed_mask(col: Column) -> np.ndarray:
    """Per category of a categorical column: may samples take it (its `allowed` constraint)?"""
    if col.allowed is None:
        return np.ones(len(col.categories), bool)
    keep = {_key(a) for a in col.allowed}
    return np.array([_key(c) in keep for c in col.categories])


def finish_continuous(col: Column, v: np.ndarray, isna: np.ndarray) -> pd.Series:
    """Raw sampled numbers → the column as output: clipped to [min, max], rounded, cast back to its dtype."""
    if col.min is not None or col.max is not None:
        v = np.clip(v, col.min if col.min is not None else -np.inf, col.max if col.max is not None else np.inf)
    if col.integer:
        v = np.round(v)
    if col.step:
        v = np.round(v / col.step) * col.step
    return _cast_continuous(col, v, isna)


def finish_categorical(col: Column, codes: np.ndarray) -> pd.Series:
    """Category indices → the column as output, cast back to its dtype."""
    return _cast_categorical(col, [col.categories[c] for c in codes])


def category_index(col: Column, s: pd.Series) -> np.ndarray:
    """Each value's index in `col.categories` (missing → the None category; unseen → the first)."""
    lookup = {_key(v): i for i, v in enumerate(col.categories)}
    fallback = lookup.get(_key(None), 0)
    inverse, uniques = pd.factorize(s, use_na_sentinel=True)  # map each distinct value once, not each row
    codes = np.array([lookup.get(_key(_python(v)), fallback) for v in uniques] + [fallback], dtype=np.int64)
    return codes[inverse]  # the sentinel -1 picks the trailing missing code


def _key(v: Any) -> Any:
    """Category identity across JSON round trips: 1 and 1.0 and '1' stay distinct, None is missing."""
    return ("none",) if v is None else (type(v).__name__ if not isinstance(v, (bool, np.bool_)) else "bool", str(v))


def _cast_continuous(col: Column, v: np.ndarray, isna: np.ndarray) -> pd.Series:
    if col.kind == "datetime":
        ts = pd.to_datetime(np.round(v * 1e6).astype("int64"), unit="us")
        return pd.Series(ts).where(~isna)
    if col.integer:
        s = pd.Series(v.astype("int64"), dtype="Int64")
        s[isna] = pd.NA
        return s if col.missing else s.astype("int64")
    return pd.Series(np.where(isna, np.nan, v), dtype="float64")


def _cast_categorical(col: Column, values: list[Any]) -> pd.Series:
    if col.kind == "boolean":
        return pd.Series(values, dtype="boolean" if None in col.categories else "bool")
    s = pd.Series(values, dtype="object")
    if col.dtype.startswith(("int", "Int", "float", "uint")):
        return pd.to_numeric(s)
    return s.astype("str").where(s.notna()) if col.dtype in ("str", "string", "object") else s


def _fit_column(name: str, s: pd.Series, con: ColumnConstraint | None, rng: np.random.Generator, seed: int,
                modes: str = "fitted") -> Column:
    con = con or ColumnConstraint()
    values = s.dropna()
    if len(values) == 0:
        raise ConfigError(f"Column '{name}' has only missing values; drop it from the table.")
    dtype = str(s.dtype)
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if con.allowed is not None or not (numeric or _looks_datetime(s)):
        if con.min is not None or con.max is not None:
            raise ConfigError(f"Constraint on column '{name}' sets min/max, but the column is categorical; use 'allowed' for categorical columns.")
        kind = "boolean" if (pd.api.types.is_bool_dtype(s) or _is_bool_like(s)) and con.allowed is None else "categorical"
        cats = sorted({_python(v) for v in values.unique()}, key=lambda v: (type(v).__name__, v))
        if len(cats) > MAX_CATEGORIES:
            raise ConfigError(f"Column '{name}' has {len(cats)} distinct values (more than {MAX_CATEGORIES}); drop it or bin it before fitting.")
        if s.isna().any():
            cats.append(None)
        allowed = None
        if con.allowed is not None and modes == "even":  # DP: the declared list as it is, no value read
            return Column(name, kind, dtype, categories=[_python(a) for a in con.allowed] + [None])
        if con.allowed is not None:
            allowed = [a for a in con.allowed if _key(a) in {_key(c) for c in cats}]
            if not allowed:
                raise ConfigError(f"Constraint on column '{name}' allows {con.allowed}, none of which occurs in the data; list values the column has, such as {cats[:3]}.")
        return Column(name, kind, dtype, categories=cats, allowed=allowed)

    kind = "datetime" if _looks_datetime(s) else "numeric"
    x = (_to_seconds(s) if kind == "datetime" else s.astype("float64")).to_numpy(dtype="float64")
    x = x[~np.isnan(x)]
    if len(x) == 0:
        raise ConfigError(f"Column '{name}' has no value that reads as a date; fix the values or drop the column.")
    integer = con.integer if con.integer is not None else bool(kind == "numeric" and np.all(np.mod(x, 1) == 0))
    lo = con.min if con.min is not None else float(x.min())
    hi = con.max if con.max is not None else float(x.max())
    if lo > hi:
        raise ConfigError(f"Constraint on column '{name}' has min {lo} above max {hi}; swap or fix them.")
    step = next((float(u) for u in (86400, 1) if kind == "datetime" and np.all(np.mod(x, u) == 0)), None)
    weights, means, stds = (_fit_modes(x, rng, seed) if modes == "fitted" else _even_modes(lo, hi) if modes == "even"
                            else ([], [], []))
    return Column(name, kind, dtype, missing=bool(s.isna().any()), weights=weights, means=means, stds=stds,
                  min=lo, max=hi, integer=integer, step=step)


def _even_modes(lo: float, hi: float) -> tuple[list[float], list[float], list[float]]:
    """MAX_MODES equal modes whose centres split [lo, hi] evenly: the data's values are never read."""
    width = (hi - lo) / MAX_MODES or max(abs(lo) * 1e-3, 1e-3)
    means = lo + width * (np.arange(MAX_MODES) + 0.5)
    return [1.0 / MAX_MODES] * MAX_MODES, means.tolist(), [width / 2] * MAX_MODES


def _fit_modes(x: np.ndarray, rng: np.random.Generator, seed: int) -> tuple[list[float], list[float], list[float]]:
    """Variational Gaussian mixture; modes with almost no weight are dropped, as in CTGAN."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    scale = float(np.std(x)) or 1.0
    distinct = np.unique(x)
    if len(distinct) == 1:
        return [1.0], [float(distinct[0])], [max(abs(float(distinct[0])) * 1e-3, 1e-3)]
    fit_x = rng.choice(x, FIT_ROWS, replace=False) if len(x) > FIT_ROWS else x
    k = min(MAX_MODES, len(distinct))
    bgm = BayesianGaussianMixture(n_components=k, weight_concentration_prior_type="dirichlet_process",
                                  weight_concentration_prior=0.001, max_iter=100, n_init=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm.fit(fit_x.reshape(-1, 1))
    keep = bgm.weights_ > 5e-3
    w = bgm.weights_[keep]
    # a mode narrower than 1e-3 of the column's spread is a spike (e.g. capital_gain == 0): keep it tiny but finite
    stds = np.maximum(np.sqrt(bgm.covariances_.reshape(-1)[keep]), 1e-3 * scale)
    return (w / w.sum()).tolist(), bgm.means_.reshape(-1)[keep].tolist(), stds.tolist()


class SpanLayout:
    """The encoder's spans, re-ordered so that per-span work is a few batched ops on slices.

    The models work in *packed* order: all tanh offsets first, then every softmax span one after
    another. Offsets and span scores are then two contiguous slices (no gathers per step), and
    each softmax entry carries its span id for segment ops, instead of padding every span to
    the widest one (a 40-category column would make every span pay for 40 entries).
    `pack` / `unpack` move a matrix between the encoder's order and packed order.
    """

    def __init__(self, spans: list[tuple[int, int, str, bool]], device: Any = "cpu"):
        import torch

        soft = [(s, w, c) for s, w, a, c in spans if a == "softmax"]
        tanh = [s for s, w, a, c in spans if a == "tanh"]
        self.n_tanh, self.n_spans = len(tanh), len(soft)
        order = tanh + [i for s, w, _ in soft for i in range(s, s + w)]
        self.order = np.array(order, dtype=np.int64)  # packed position → encoder position
        self.seg = torch.tensor([j for j, (_, w, _) in enumerate(soft) for _ in range(w)], dtype=torch.long, device=device)
        starts = np.cumsum([self.n_tanh] + [w for _, w, _ in soft])[:-1]  # packed start of each softmax span
        cond = [(int(p), w) for p, (_, w, c) in zip(starts, soft) if c]
        self.cond_widths = [w for _, w in cond]
        width = max(self.cond_widths, default=1)
        pad = torch.zeros(len(cond), width, dtype=torch.long)
        valid = torch.zeros(len(cond), width, dtype=torch.bool)
        for j, (p, w) in enumerate(cond):
            pad[j, :w], valid[j, :w] = torch.arange(p, p + w), True
        self.cond_idx, self.cond_valid = pad.to(device), valid.to(device)  # (C, W) packed positions per categorical span

    def pack(self, x: np.ndarray) -> np.ndarray:
        return x[:, self.order]

    def unpack(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        out[:, self.order] = x
        return out

    def segment_logsumexp(self, v):
        """Softmax scores (B, n_softmax) → per-span max (B, S), shifted exp (B, n_softmax), per-span sums (B, S)."""
        import torch

        b = v.shape[0]
        top = torch.full((b, self.n_spans), -torch.inf, device=v.device, dtype=v.dtype)
        top = top.scatter_reduce(1, self.seg.expand(b, -1), v.detach(), reduce="amax")  # a constant shift: no gradient needed
        e = torch.exp(v - top[:, self.seg])
        sums = torch.zeros_like(top).index_add(1, self.seg, e)
        return top, e, sums

    def activate(self, raw, tau: float = 0.2, gumbel: bool = True):
        """Packed (B, D): tanh on the offsets, (Gumbel-)softmax on each span."""
        import torch

        v = raw[:, self.n_tanh :]
        if gumbel:
            v = v - torch.rand_like(v).clamp_(min=1e-10).log_().neg_().log_()  # + Gumbel(0, 1) = −log(−log U); faster than exponential_()
        _, e, sums = self.segment_logsumexp(v / tau)
        return torch.cat([torch.tanh(raw[:, : self.n_tanh]), e / sums[:, self.seg]], 1)

    def cross_entropy(self, raw, onehot):
        """Packed (B, D) scores and targets → per row, the sum over spans of −log softmax(span)[hot entry]: (B,)."""
        v = raw[:, self.n_tanh :]
        top, _, sums = self.segment_logsumexp(v)
        return (sums.log() + top).sum(1) - (v * onehot[:, self.n_tanh :]).sum(1)

    def cond_logits(self, raw, col):
        """Packed (B, D) scores of categorical span `col[b]` for each row: (B, W), −inf padded."""
        import torch

        idx, valid = self.cond_idx[col], self.cond_valid[col]  # (B, W)
        return raw.gather(1, idx).masked_fill(~valid, -torch.inf)
