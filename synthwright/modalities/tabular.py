"""Tables: fit a model, sample rows, evaluate them. The library behind `synthwright tabular …`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import pandas as pd

from synthwright.core.errors import ConfigError
from synthwright.modalities._io import model_kind, read_table, write_table
from synthwright.modalities.tabular_data import ColumnConstraint, parse_constraints
from synthwright.rundir.lock import writes_to

MODELS = ("ctgan", "tvae", "copula")
TRAINED = ("ctgan", "tvae")  # the models with epochs, batches and DP-SGD
MIN_ROWS = 10


def _model_class(model: str):
    """(model class, its config class) by name; torch loads only here."""
    if model == "ctgan":
        from synthwright.modalities.tabular_gan import TabularGAN, TabularGANConfig

        return TabularGAN, TabularGANConfig
    if model == "tvae":
        from synthwright.modalities.tabular_vae import TabularVAE, TabularVAEConfig

        return TabularVAE, TabularVAEConfig
    if model == "copula":
        from synthwright.modalities.tabular_copula import (
            GaussianCopula,
            GaussianCopulaConfig,
        )

        return GaussianCopula, GaussianCopulaConfig
    raise ConfigError(f"Unknown tabular model '{model}'; use one of: {', '.join(MODELS)}.")


@writes_to("out", beside=True)
def fit_tabular(
    data: Union[str, Path, pd.DataFrame],
    *,
    model: str = "ctgan",
    out: Union[str, Path, None] = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    constraints: dict[str, Any] | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    dp_epsilon: float | None = None,
    dp_delta: float | None = None,
):
    """Fit a ctgan, tvae or copula model on a table (a path or a DataFrame); save it to `out` when given.

    `constraints` maps column → {min, max, integer, allowed}; ranges, integer-ness and categories
    not given are taken from the data, so samples never leave what the real table shows.
    `dp_epsilon` (ctgan, tvae) trains with DP-SGD to that (ε, δ); `model.dp` then records what the
    accountant spent and which schema parts were read from the raw data (see tabular_dp.py).
    """
    df = read_table(data) if not isinstance(data, pd.DataFrame) else data
    if len(df) < MIN_ROWS:
        raise ConfigError(f"The table has {len(df)} rows; fitting needs at least {MIN_ROWS}.")
    cls, cfg_cls = _model_class(model)
    if model not in TRAINED and (epochs is not None or batch_size is not None):
        raise ConfigError(f"The {model} model is not trained in epochs or batches; drop --epochs and --batch-size.")
    if model not in TRAINED and dp_epsilon is not None:
        raise ConfigError(f"The {model} model has no differentially private variant (its marginals and correlations are read from the raw data); use --model ctgan or tvae with --dp-epsilon.")
    if dp_epsilon is None and dp_delta is not None:
        raise ConfigError("--dp-delta needs --dp-epsilon; give both, or neither for a non-private model.")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}.")
    if batch_size is not None and batch_size < 10:
        raise ConfigError(f"batch size must be at least 10, got {batch_size}.")
    given = (("epochs", epochs), ("batch_size", batch_size), ("dp_epsilon", dp_epsilon), ("dp_delta", dp_delta))
    cfg = cfg_cls(seed=seed, **{k: v for k, v in given if v is not None})
    parsed = parse_constraints(constraints)
    synth = cls(cfg, device=device).fit(df, parsed, progress=progress)
    if out is not None:
        synth.save(out)
    return synth


def load_tabular(folder: Union[str, Path], device: str = "auto"):
    """Load a model saved by fit_tabular (either kind)."""
    return _model_class(model_kind(folder, MODELS, "tabular fit"))[0].load(folder, device=device)


def sample_tabular(model: Union[str, Path, Any], n: int, *, out: Union[str, Path, None] = None,
                   seed: int = 0, device: str = "auto", conditions: Union[list[str], dict[str, Any], None] = None,
                   rebalance: str | None = None) -> pd.DataFrame:
    """n rows from a model (or a model folder); written to `out` (.parquet, .csv, .jsonl) when given.

    `conditions` (["col=value", …] or {col: value}): only rows meeting all of them. `rebalance`
    ("col" or "col:ratio"): then add rows of the rarer classes of col until each has ratio × the
    largest class's count (ratio 1 by default: balanced). See tabular_conditions.py.
    """
    from synthwright.modalities.tabular_conditions import (
        parse_conditions,
        parse_rebalance,
        sample_matching,
    )
    from synthwright.modalities.tabular_conditions import rebalance as top_up

    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}.")
    if out is not None and Path(out).suffix.lower() not in (".parquet", ".pq", ".csv", ".jsonl"):
        raise ConfigError(f"Output '{out}' has suffix '{Path(out).suffix}'; use .parquet, .csv or .jsonl.")
    synth = load_tabular(model, device) if isinstance(model, (str, Path)) else model
    wanted = parse_conditions(conditions, synth.encoder.columns)
    if rebalance is not None:
        col = parse_rebalance(rebalance, synth.encoder.columns)[0]
        if col.name in wanted:
            raise ConfigError(f"--rebalance {col.name} conflicts with the condition on '{col.name}'; use one or the other.")
    rows = sample_matching(synth, n, wanted, seed=seed) if wanted else synth.sample(n, seed=seed)
    if rebalance is not None:
        rows = top_up(synth, rows, rebalance, seed=seed, conditions=wanted)
    if out is not None:
        write_table(rows, out)
    return rows


def eval_tabular(real: Union[str, Path, pd.DataFrame], synth: Union[str, Path, pd.DataFrame], *,
                 out: Union[str, Path, None] = None, holdout: Union[str, Path, pd.DataFrame, None] = None,
                 target: str | None = None, seed: int = 0, extra: dict[str, Any] | None = None,
                 model: Union[str, Path, None] = None) -> dict[str, Any]:
    """Score a synthetic table against the real one; with `out`, write report.md, stats.json and plots.

    `model`: the folder of the model that made `synth`; the report then states its privacy (its DP (ε, δ) or none).
    """
    from synthwright.modalities.tabular_metrics import evaluate_tabular

    if model is not None:
        import json

        model_kind(model, MODELS, "tabular fit")  # a ConfigError unless it is a tabular model folder
        meta = json.loads((Path(model) / "model.json").read_text())
        extra = {"model": {"name": meta["model"], "fit_seconds": meta.get("fit_seconds"), "dp": meta.get("dp")}} | (extra or {})

    load = lambda t: t if isinstance(t, pd.DataFrame) else read_table(t)  # noqa: E731
    real_df, synth_df = load(real), load(synth)
    hold_df = load(holdout) if holdout is not None else None
    stats = evaluate_tabular(real_df, synth_df, holdout=hold_df, target=target, seed=seed)
    if extra:
        stats.update(extra)
    if out is not None:
        from synthwright.modalities.report import write_tabular_report

        write_tabular_report(stats, real_df, synth_df, out)
    return stats


__all__ = ["ColumnConstraint", "eval_tabular", "fit_tabular", "load_tabular", "sample_tabular"]
