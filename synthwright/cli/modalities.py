"""`synthwright tabular …` and `synthwright image …`: thin typer wrappers over the modality library."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from synthwright.cli.errors import cli_command
from synthwright.core.errors import ConfigError
from synthwright.core.rowfiles import read_text

tabular_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                          help="Synthetic tables: fit a GAN (ctgan), VAE (tvae) or Gaussian copula (copula), sample rows, evaluate them.")
image_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                        help="Synthetic small images: fit a DCGAN or conditional VAE, sample images, evaluate them.")
out = Console()

DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda.")
SEED = typer.Option(0, "--seed", help="Random seed: the same seed gives the same model and samples.")


def _read_constraints(path: Optional[Path]) -> dict[str, Any] | None:
    if path is None:
        return None
    import yaml

    if not path.is_file():
        raise ConfigError(f"Constraints file '{path}' does not exist; give a YAML or JSON mapping of column to {{min, max, integer, allowed}}.")
    try:
        raw = yaml.safe_load(read_text(path, "constraints file"))  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise ConfigError(f"Constraints file '{path}' is not valid YAML/JSON ({str(exc).splitlines()[0]}); fix the syntax.") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"Constraints file '{path}' must map column names to {{min, max, integer, allowed}}, such as age: {{min: 18}}.")
    return raw


def _summary(rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for k, v in rows:
        table.add_row(k, v)
    out.print(table)


# ---- tables -----------------------------------------------------------------------------------


@tabular_app.command("fit")
@cli_command
def tabular_fit(
    data: Path = typer.Argument(..., help="Real table: .csv, .tsv, .parquet or .jsonl."),
    model: str = typer.Option("ctgan", "--model", "-m", help="ctgan (conditional GAN), tvae (variational autoencoder) or copula (Gaussian copula, no training)."),
    model_dir: Path = typer.Option(..., "--out", "-o", help="Folder to save the model in."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training passes over the table (default 300)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Rows per step (default 500)."),
    constraints: Optional[Path] = typer.Option(None, "--constraints", help="YAML/JSON file: column → {min, max, integer, allowed}."),
    dp_epsilon: Optional[float] = typer.Option(None, "--dp-epsilon", help="Train ctgan/tvae with DP-SGD (opacus) to this ε."),
    dp_delta: Optional[float] = typer.Option(None, "--dp-delta", help="δ of the DP guarantee (default 0.1 / rows)."),
    seed: int = SEED,
    device: str = DEVICE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fit a tabular generator on DATA and save it to --out."""
    from synthwright.modalities.tabular import fit_tabular

    fitted = fit_tabular(data, model=model, out=model_dir, epochs=epochs, batch_size=batch_size,
                         constraints=_read_constraints(constraints), seed=seed, device=device, progress=not quiet,
                         dp_epsilon=dp_epsilon, dp_delta=dp_delta)
    out.print(f"fitted {model} on {len(fitted.encoder.columns)} columns in {fitted.fit_seconds:.1f} s → {model_dir}")
    dp = getattr(fitted, "dp", None)
    if dp:
        left = len(dp["scope"]["read_from_raw_data"])
        out.print(f"differential privacy: ε = {dp['epsilon']:.3f}, δ = {dp['delta']:.2g} ({dp['accountant']} accountant, {dp['steps']} steps)"
                  + (f"; {left} columns' ranges or categories were read from the raw data and are not covered (see model.json)" if left else ""))


@tabular_app.command("sample")
@cli_command
def tabular_sample(
    model_dir: Path = typer.Argument(..., help="Folder written by `tabular fit`."),
    n: int = typer.Option(1000, "-n", help="Rows to make."),
    rows_path: Path = typer.Option(Path("synthetic.parquet"), "--out", "-o", help="Output table: .parquet, .csv or .jsonl."),
    condition: Optional[list[str]] = typer.Option(None, "--condition", "-c", help="Only rows with column=value (repeatable; all must hold)."),
    rebalance: Optional[str] = typer.Option(None, "--rebalance", help="COLUMN[:ratio]: add rows of the rarer classes until each has ratio × the largest class's count (default 1)."),
    seed: int = SEED,
    device: str = DEVICE,
) -> None:
    """Write N synthetic rows from a fitted model (plus the top-up rows of --rebalance)."""
    from synthwright.modalities.tabular import sample_tabular

    rows = sample_tabular(model_dir, n, out=rows_path, seed=seed, device=device, conditions=condition, rebalance=rebalance)
    out.print(f"wrote {len(rows)} rows × {rows.shape[1]} columns → {rows_path}")


@tabular_app.command("eval")
@cli_command
def tabular_eval(
    real: Path = typer.Argument(..., help="Real table the model was fitted on."),
    synth: Path = typer.Argument(..., help="Synthetic table."),
    report_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Report folder (default: SYNTH's name + '-report', beside it)."),
    holdout: Optional[Path] = typer.Option(None, "--holdout", help="Real rows the model never saw: makes utility and privacy honest."),
    target: Optional[str] = typer.Option(None, "--target", help="Column to predict in the utility and rare-class tests (default: the last column)."),
    model_dir: Optional[Path] = typer.Option(None, "--model", help="Folder of the model that made SYNTH: the report then states its privacy guarantee (DP ε, δ) or that it has none."),
    seed: int = SEED,
) -> None:
    """Score SYNTH against REAL: fidelity, detection, utility, rare class, privacy; writes report.md, plots, stats.json."""
    from synthwright.modalities.tabular import eval_tabular

    report_dir = report_dir or synth.parent / f"{synth.stem}-report"
    s = eval_tabular(real, synth, out=report_dir, holdout=holdout, target=target, seed=seed, model=model_dir)
    u, p, m = s["utility"], s["privacy"], s.get("minority")
    rows = [
        ("quality", f"{s['quality']['overall']:.3f} (column shapes {s['quality']['column_shapes']:.3f}, pair trends {s['quality']['pair_trends']:.3f})"),
        ("detection AUC", f"{s['detection']['auc']:.3f} (0.5 = indistinguishable)"),
        (f"utility {u['metric']}", f"synthetic {u['train_synthetic'][u['metric']]:.3f} vs real {u['train_real'][u['metric']]:.3f}"),
        ("privacy", f"median DCR {p['dcr_synthetic_median']:.3f} vs holdout {p['dcr_holdout_median']:.3f}; exact copies {p['exact_copy_rate']:.3f}"),
    ]
    if m:
        a, b = m["train_real"], m["train_real_plus_synthetic"]
        rows.append((f"rare class {m['target']}={m['class']}", f"recall {a['recall']:.3f} → {b['recall']:.3f}, F1 {a['f1']:.3f} → {b['f1']:.3f} "
                     f"with {m['synthetic_rows_added']} synthetic rows added"))
    dp = (s.get("model") or {}).get("dp")
    if dp:
        rows.append(("differential privacy", f"ε = {dp['epsilon']:.3f}, δ = {dp['delta']:.2g}"))
    _summary(rows + [("report", str(report_dir / "report.md"))])


@tabular_app.command("run")
@cli_command
def tabular_run(
    recipe: Path = typer.Argument(..., help="A recipe YAML with kind: tabular."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: the recipe's 'output')."),
    device: str = DEVICE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run a tabular recipe: fit, sample, evaluate, report."""
    from synthwright.modalities.recipe import load_tabular_recipe, run_tabular_recipe

    parsed, base = load_tabular_recipe(recipe)
    target = Path(out_dir if out_dir is not None else parsed.output)
    s = run_tabular_recipe(parsed, target, base_dir=base, device=device, progress=not quiet)
    out.print(f"quality {s['quality']['overall']:.3f}, detection AUC {s['detection']['auc']:.3f}; report → {target / 'report' / 'report.md'}")


# ---- images -----------------------------------------------------------------------------------


@image_app.command("fit")
@cli_command
def image_fit(
    data: Path = typer.Argument(..., help="Folder with one subfolder per class, or a .npz (x, y) / .npy file."),
    model: str = typer.Option("dcgan", "--model", "-m", help="dcgan or cvae (conditional VAE)."),
    model_dir: Path = typer.Option(..., "--out", "-o", help="Folder to save the model in."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training passes over the images (default 50)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step (default 64)."),
    size: Optional[int] = typer.Option(None, "--size", help="Resize images to SIZE×SIZE (8–64)."),
    seed: int = SEED,
    device: str = DEVICE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fit a class-conditional image generator on DATA and save it to --out."""
    from synthwright.modalities.images import fit_images

    fitted = fit_images(data, model=model, out=model_dir, epochs=epochs, batch_size=batch_size, size=size,
                        seed=seed, device=device, progress=not quiet)
    out.print(f"fitted {model} on {len(fitted.classes)} classes in {fitted.fit_seconds:.1f} s → {model_dir}")


@image_app.command("sample")
@cli_command
def image_sample(
    model_dir: Path = typer.Argument(..., help="Folder written by `image fit`."),
    n: int = typer.Option(100, "-n", help="Images to make."),
    images_out: Path = typer.Option(Path("synthetic-images"), "--out", "-o", help="Output folder (class subfolders + grid.png) or a .npz file."),
    class_name: Optional[str] = typer.Option(None, "--class", help="Only this class (default: the training class mix)."),
    seed: int = SEED,
    device: str = DEVICE,
) -> None:
    """Write N synthetic images from a fitted model, plus a sample grid PNG."""
    from synthwright.modalities.images import sample_images

    images = sample_images(model_dir, n, out=images_out, class_name=class_name, seed=seed, device=device)
    out.print(f"wrote {len(images.images)} images → {images_out}")


@image_app.command("eval")
@cli_command
def image_eval(
    real: Path = typer.Argument(..., help="Real images (folder or .npz)."),
    synth: Path = typer.Argument(..., help="Synthetic images (folder or .npz)."),
    report_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Report folder (default: SYNTH's name + '-report', beside it)."),
    size: Optional[int] = typer.Option(None, "--size", help="Resize both sets to SIZE×SIZE first."),
    seed: int = SEED,
) -> None:
    """Score SYNTH against REAL: judge accuracy per class, FID-style distance, copy checks; writes a report."""
    from synthwright.modalities.images import eval_images

    report_dir = report_dir or synth.parent / f"{synth.stem}-report"
    s = eval_images(real, synth, out=report_dir, size=size, seed=seed)
    j, f, c = s["judge"], s["fid"], s["copies"]
    _summary([
        ("judge accuracy", f"synthetic {j['synthetic_accuracy']:.3f} vs real holdout {j['real_holdout_accuracy']:.3f}"),
        ("FID-style", f"synthetic {f['synthetic']:.3f} vs real holdout {f['real_holdout']:.3f}"),
        ("copies", f"exact {c['exact_copy_rate']:.3f}, near {c['near_copy_rate']:.3f}"),
        ("report", str(report_dir / "report.md")),
    ])
