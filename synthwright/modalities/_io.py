"""Files the modality models read and write: tables, checkpoints, atomic writes.

A checkpoint is a folder with `model.json` (everything needed to rebuild the model, readable
by a person) and `weights.pt` (state dicts only, loaded with `weights_only=True`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from synthwright.core.errors import ConfigError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write through a temp file in the same folder and rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=str) + "\n"))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or JSON(-lines) table; a missing, unreadable or empty file is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Table '{path}' does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ConfigError(f"Table '{path}' has suffix '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}.")
    try:
        if suffix in (".csv", ".tsv"):
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_json(path, lines=suffix == ".jsonl")
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except UnicodeDecodeError as exc:
        from synthwright.core.rowfiles import not_utf8

        raise not_utf8(path, "table", exc) from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Table '{path}' could not be read ({type(exc).__name__}: {exc}); check that it is a valid {suffix[1:]} file.") from None
    if df.empty or df.shape[1] == 0:
        raise ConfigError(f"Table '{path}' has no rows; give a table with a header and at least a few rows.")
    return df


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write by suffix (.parquet, .csv, .jsonl), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    writers = {
        ".parquet": lambda p: df.to_parquet(p, index=False),
        ".pq": lambda p: df.to_parquet(p, index=False),
        ".csv": lambda p: df.to_csv(p, index=False),
        ".jsonl": lambda p: df.to_json(p, orient="records", lines=True, date_format="iso"),
    }
    if suffix not in writers:
        raise ConfigError(f"Output '{path}' has suffix '{suffix}'; use .parquet, .csv or .jsonl.")
    return atomic_write(path, writers[suffix])


def save_checkpoint(folder: str | Path, meta: dict[str, Any], state: dict[str, Any]) -> Path:
    """`meta` must be JSON-able; `state` holds state dicts. Both files are replaced atomically."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "weights.pt", lambda p: torch.save(state, p))
    write_json(folder / "model.json", meta)
    return folder


def model_kind(folder: str | Path, kinds: tuple[str, ...], command: str) -> str:
    """The `model` name a checkpoint folder declares, checked against `kinds`; `command` names the fit command to point users at."""
    meta_path = Path(folder) / "model.json"
    if not meta_path.is_file():
        raise ConfigError(f"'{folder}' is not a model folder (no model.json); give the --out folder of `synthwright {command}`.")
    kind = json.loads(meta_path.read_text()).get("model")
    if kind not in kinds:
        raise ConfigError(f"'{folder}' holds a '{kind}' model, not one of {', '.join(kinds)}; give the --out folder of `synthwright {command}`.")
    return kind


def load_checkpoint(folder: str | Path, kinds: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by save_checkpoint whose `meta["model"]` is one of `kinds`."""
    import torch

    folder = Path(folder)
    if not (folder / "model.json").is_file() or not (folder / "weights.pt").is_file():
        raise ConfigError(f"'{folder}' is not a model folder (no model.json and weights.pt); give the --out folder of a fit command.")
    meta = json.loads((folder / "model.json").read_text())
    if meta.get("model") not in kinds:
        raise ConfigError(f"'{folder}' holds a '{meta.get('model')}' model, not one of {', '.join(kinds)}; give a matching model folder.")
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    return meta, state
