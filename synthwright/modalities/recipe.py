"""Recipe kind `tabular`: fit a model on a table, sample rows, evaluate them, write a report.

    kind: tabular
    data: data/adult_sample.csv      # relative to the recipe file
    model: ctgan
    epochs: 100
    rows: 1000
    constraints: {age: {min: 17, max: 90, integer: true}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthwright.core.errors import ConfigError
from synthwright.core.rowfiles import read_text
from synthwright.modalities.tabular_data import ColumnConstraint
from synthwright.rundir.lock import writes_to


class TabularRecipe(BaseModel):
    """A synthetic-table run: what to learn from, which model, how many rows, which rules rows obey."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["tabular"] = Field(description="Recipe kind; always 'tabular' here.")
    data: str = Field(description="Real table to learn from (.csv, .tsv, .parquet, .jsonl); a relative path is read from the recipe file's folder.")
    model: Literal["ctgan", "tvae", "copula"] = Field("ctgan", description="Generator: 'ctgan' (conditional GAN, best fidelity), 'tvae' (variational autoencoder, faster and steadier) or 'copula' (Gaussian copula, no training: the cheap baseline).")
    epochs: int = Field(300, ge=1, description="Training passes over the table (ctgan, tvae).")
    batch_size: int = Field(500, ge=10, description="Rows per training step (the GAN rounds it down to a multiple of 10).")
    rows: int = Field(1000, ge=1, description="How many synthetic rows to write.")
    dp_epsilon: Optional[float] = Field(None, gt=0, description="Train ctgan/tvae with DP-SGD to this ε; the report and card say what the (ε, δ) covers.")
    dp_delta: Optional[float] = Field(None, gt=0, lt=1, description="δ of the DP guarantee; 0.1 / rows when left out.")
    constraints: dict[str, ColumnConstraint] = Field(default_factory=dict, description="Per-column rules {min, max, integer, allowed}; ranges and categories not given are taken from the data.")
    target: Optional[str] = Field(None, description="Column the utility test predicts; the last column when left out.")
    holdout: float = Field(0.2, ge=0.0, lt=0.9, description="Share of real rows kept away from the generator, for honest utility and privacy scores (0 = use all rows).")
    seed: int = Field(0, description="Seed for the split, training and sampling: the same recipe gives the same rows.")
    output: str = Field("runs/tabular", description="Output folder (model/, synthetic.parquet, report/); a relative path is read from the current folder.")


def is_tabular_recipe(path: Union[str, Path]) -> bool:
    """True for a YAML file whose top level says `kind: tabular` (cheap: no validation)."""
    import yaml

    try:
        raw = yaml.safe_load(read_text(path, "recipe"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == "tabular"


def load_tabular_recipe(path: Union[str, Path]) -> tuple[TabularRecipe, Path]:
    """Read and validate a recipe YAML file; returns the recipe and the folder its relative data path starts from."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Recipe '{path}' does not exist; check the path.")
    try:
        raw = yaml.safe_load(read_text(path, "recipe"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"Recipe '{path}' is not valid YAML ({str(exc).splitlines()[0]}); fix the syntax.") from None
    return parse_tabular_recipe(raw, where=str(path)), path.parent


def parse_tabular_recipe(raw: Any, where: str = "recipe") -> TabularRecipe:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a YAML mapping with at least 'kind: tabular' and 'data'.")
    try:
        return TabularRecipe.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{where}: field '{loc}' is invalid ({first['msg']}); see the TabularRecipe fields in synthwright/modalities/recipe.py.") from None


def data_path_of(recipe: TabularRecipe, base_dir: Union[str, Path, None]) -> Path:
    """The recipe's table: a relative `data` path starts at `base_dir` (the recipe's folder)."""
    path = Path(recipe.data)
    return Path(base_dir) / path if not path.is_absolute() and base_dir is not None else path


def check_target(recipe: TabularRecipe, df: Any, data_path: Path) -> None:
    if recipe.target is not None and recipe.target not in df.columns:
        raise ConfigError(f"Recipe target '{recipe.target}' is not a column of '{data_path}'; use one of: {', '.join(map(str, df.columns))}.")


def check_tabular_recipe(recipe: TabularRecipe, base_dir: Union[str, Path, None] = None) -> tuple[TabularRecipe, int]:
    """Read the recipe's table and check its target, without fitting; returns the recipe and the column count."""
    from synthwright.modalities._io import read_table

    path = data_path_of(recipe, base_dir)
    df = read_table(path)
    check_target(recipe, df, path)
    return recipe, len(df.columns)


@writes_to(lambda a: a["out_dir"] if a["out_dir"] is not None else a["recipe"].output)
def run_tabular_recipe(recipe: TabularRecipe, out_dir: Union[str, Path, None] = None, *,
                       base_dir: Union[str, Path, None] = None, device: str = "auto", progress: bool = True) -> dict[str, Any]:
    """Fit, sample, evaluate. Writes out_dir/model/, out_dir/synthetic.parquet, out_dir/report/ and the dataset
    card out_dir/README.md; returns the stats.

    `out_dir` defaults to `recipe.output`; relative data paths start at `base_dir` (the recipe's folder).
    """
    import numpy as np

    from synthwright.modalities._io import read_table, write_json
    from synthwright.modalities.tabular import eval_tabular, fit_tabular, sample_tabular

    data_path = data_path_of(recipe, base_dir)
    out = Path(out_dir if out_dir is not None else recipe.output)
    df = read_table(data_path)  # fails before anything is written
    check_target(recipe, df, data_path)
    holdout = None
    if recipe.holdout > 0:
        idx = np.random.default_rng(recipe.seed).permutation(len(df))
        cut = len(df) - int(round(len(df) * recipe.holdout))
        df, holdout = df.iloc[idx[:cut]].reset_index(drop=True), df.iloc[idx[cut:]].reset_index(drop=True)
    trained = recipe.model != "copula"
    model = fit_tabular(df, model=recipe.model, out=out / "model", epochs=recipe.epochs if trained else None,
                        batch_size=recipe.batch_size if trained else None, constraints=recipe.constraints, seed=recipe.seed,
                        device=device, progress=progress, dp_epsilon=recipe.dp_epsilon, dp_delta=recipe.dp_delta)
    rows = sample_tabular(model, recipe.rows, out=out / "synthetic.parquet", seed=recipe.seed)
    write_json(out / "recipe.json", recipe.model_dump(mode="json") | {"data": str(data_path)})
    extra = {"model": {"name": recipe.model, "fit_seconds": model.fit_seconds, "epochs": recipe.epochs if trained else None,
                       "dp": getattr(model, "dp", None)}}
    stats = eval_tabular(df, rows, out=out / "report", holdout=holdout, target=recipe.target, seed=recipe.seed, extra=extra)
    from synthwright.modalities.report import write_tabular_card

    write_tabular_card(stats, out / "README.md")
    return stats


__all__ = ["TabularRecipe", "is_tabular_recipe", "load_tabular_recipe", "parse_tabular_recipe", "run_tabular_recipe"]
