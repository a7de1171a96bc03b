"""The writer's side of a run directory: where a run writes, opening its store as the directory's one writer, and
what a finished run returns."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from synthwright.core.errors import ConfigError
from synthwright.core.store import RunStore
from synthwright.recipe.model import Recipe
from synthwright.rundir.lock import hold_writer


@dataclass
class RunResult:
    out_dir: Path
    dataset: Any
    stats: dict[str, Any]
    kind: str = "text"  # or "tabular": rows sampled from a table model


def out_dir_for(recipe: Recipe, out: str | Path | None) -> Path:
    """The run directory (`out`, the recipe's output.dir, or runs/<name>), created if it is not there yet."""
    out_dir = Path(out or recipe.output.dir or Path("runs") / recipe.name)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"synthwright cannot write the run directory '{out_dir}' ({exc.strerror}); give --out (or"
                          " output.dir) a path in a folder you can write to.") from None
    return out_dir


def open_store(recipe: Recipe, out_dir: Path, restart: bool) -> RunStore:
    """Open the run's store as the directory's one writer (until the store is closed); RunDirBusy if another is."""
    writer = hold_writer(out_dir)
    try:
        store = _open_store(recipe, out_dir, restart)
    except BaseException:
        writer.release()
        raise
    store.hold(writer)
    return store


def _open_store(recipe: Recipe, out_dir: Path, restart: bool) -> RunStore:
    """Open the run's store; refuse a changed recipe unless `restart`, which sets the old run aside.

    A recipe changed only in what judges the model's output (filters, the label check, the judge's thresholds,
    output) is taken as it is, and the store is marked for a replay of its stored responses (see make/replay.py)."""
    path = out_dir / "run.sqlite"
    if path.exists():
        store = RunStore(path)
        previous = store.get("fingerprint")
        if previous == recipe.fingerprint() and not restart:
            return store
        if not restart and store.get("generation_fingerprint") == recipe.generation_fingerprint():
            with store.transaction():
                store.put("fingerprint", recipe.fingerprint())
                store.put("recipe", recipe.frozen())
                store.put("replay_pending", True)
            _write_recipe(recipe, out_dir)
            return store
        store.close()
        if not restart:
            raise ConfigError(
                f"The recipe changed since the run in '{out_dir}' started in what it asks the model, so it cannot"
                " resume; pass --restart to start over (the old run is kept) or choose another --out. (Changes to"
                " filters, the label check, the judge's thresholds and output only are re-applied to the stored"
                " responses.)"
            )
        keep = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
        keep.mkdir(parents=True)
        for name in ("run.sqlite", "run.sqlite-wal", "run.sqlite-shm", "plan.json", "recipe.yaml", "stats.json",
                     "dataset", "data"):
            if (out_dir / name).exists():
                shutil.move(str(out_dir / name), str(keep / name))
    store = RunStore(path)
    with store.transaction():
        store.put("fingerprint", recipe.fingerprint())
        store.put("generation_fingerprint", recipe.generation_fingerprint())
        store.put("recipe", recipe.frozen())
    _write_recipe(recipe, out_dir)
    return store


def _write_recipe(recipe: Recipe, out_dir: Path) -> None:
    (out_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe.frozen(), sort_keys=False, allow_unicode=True))
