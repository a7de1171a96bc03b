"""Read a run directory: the one way every reader (report, eval, review page, export and card, compare,
distill) opens a run. `open_run` gives the validated recipe, its task kind, the plan, the stats, the report
files other tools may have added (report.md, plots, eval.json) and, through `store()`, the run store.

Everything here only reads; the optional files are looked for and never required.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import yaml
from pydantic import ValidationError

from synthwright.core.errors import ConfigError

if TYPE_CHECKING:
    from synthwright.core.store import RunStore
    from synthwright.recipe.model import Recipe
    from synthwright.tasks import Task

SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # what `datasets` accepts as a split name in file patterns
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp")
# Where plots may live, relative to the run directory; other folders (dataset/, data/, previous-*) are not looked at.
IMAGE_FOLDERS = (".", "plots", "figures", "report")
# Keys whose values are secrets (api_key, openai_api_key, hf_token, client_secret…), not max_new_tokens.
SECRET_KEY = re.compile(r"(^|[_-])(api[_-]?key|token|secret|password|passwd|authorization|credentials?)$", re.IGNORECASE)
REDACTED = "<redacted>"


@dataclass
class RunDir:
    """What a run directory holds, read once; the store is opened on demand (`with run.store() as store`)."""

    path: Path
    frozen: dict[str, Any]  # the recipe as the run froze it, secrets redacted: what a card or an export shows
    stored_recipe: dict[str, Any] = field(default_factory=dict, repr=False)  # the same, unredacted
    plan: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    report_md: str | None = None
    eval: Any = None
    images: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.frozen.get("name") or self.path.name

    @cached_property
    def recipe(self) -> Recipe:
        """The frozen recipe, validated; ConfigError when this synthwright cannot read it."""
        from synthwright.recipe.model import Recipe

        try:
            return Recipe.model_validate(self.stored_recipe or self.frozen)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(f"The recipe stored in '{self.path}' does not validate with this synthwright"
                              f" ({'.'.join(map(str, first['loc']))}: {first['msg']}); read it with the version"
                              " that wrote it, or run the recipe again with --restart.") from None

    @property
    def task(self) -> Task:
        from synthwright.tasks import task_for

        return task_for(self.frozen.get("task", "classification"))

    @property
    def kind(self) -> str:
        return self.task.kind

    @property
    def category_key(self) -> str:
        return self.task.category_field

    def split_names(self) -> list[str]:
        return list((self.frozen.get("output") or {}).get("splits") or {"train": 1.0})

    @contextmanager
    def store(self) -> Iterator[RunStore]:
        from synthwright.core.store import RunStore

        store = RunStore(self.path / "run.sqlite")
        try:
            yield store
        finally:
            store.close()


def redact(value: Any) -> Any:
    """A copy of `value` with the values of secret-looking keys (api_key, token, password…) replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def open_run(path: str | Path) -> RunDir:
    """Read the run directory at `path`; ConfigError when it is not one."""
    path = Path(path)
    if not (path / "run.sqlite").is_file():
        what = "does not exist" if not path.exists() else "is not a synthwright run directory (it has no run.sqlite)"
        raise ConfigError(f"'{path}' {what}; pass the --out directory of a `synthwright run`.")
    stored = _store_meta(path, "recipe")  # opening the store refuses a file that is not a run store, first
    recipe = stored
    if not isinstance(recipe, dict) and (path / "recipe.yaml").is_file():
        try:
            recipe = yaml.safe_load((path / "recipe.yaml").read_text(encoding="utf-8"))
        except yaml.YAMLError:
            recipe = None
    if not isinstance(recipe, dict):
        raise ConfigError(f"The run in '{path}' has no readable recipe; run `synthwright run` on it again to rewrite it.")
    plan = _read_json(path / "plan.json") or {}
    stats = _read_json(path / "stats.json") or {}
    report = path / "report.md"
    evaluation = _read_json(path / "eval.json") if (path / "eval.json").is_file() else None
    return RunDir(path=path, frozen=redact(recipe), stored_recipe=recipe, plan=plan, stats=stats,
                  report_md=report.read_text(encoding="utf-8") if report.is_file() else None,
                  eval=evaluation, images=find_images(path))


def find_images(path: Path) -> list[Path]:
    """Plot images in the run directory (top level, plots/, figures/, report/), sorted by path."""
    found: set[Path] = set()
    for folder in IMAGE_FOLDERS:
        base = path / folder
        if base.is_dir():
            pattern = "*" if folder == "." else "**/*"
            found.update(p for p in base.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


def _store_meta(path: Path, key: str) -> Any:
    from synthwright.core.store import RunStore

    store = RunStore(path / "run.sqlite")
    try:
        return store.get(key)
    finally:
        store.close()


def load_splits(run: RunDir):
    """The run's dataset as a DatasetDict, in the recipe's split order.

    Read from what the run wrote (`dataset/`, else `data/*.parquet`, else `data/*.jsonl`), so an export
    is exactly the dataset the run reported; ConfigError when the run has no accepted samples yet.
    """
    from datasets import Dataset, DatasetDict

    order = run.split_names()
    data = run.path / "data"
    if (run.path / "dataset" / "dataset_dict.json").is_file():
        splits = _load_saved_splits(run.path / "dataset")
    elif list(data.glob("*.parquet")):
        import pyarrow.parquet as pq

        splits = {p.stem: Dataset(pq.read_table(p)) for p in data.glob("*.parquet")}
    elif list(data.glob("*.jsonl")):
        splits = {}
        for p in data.glob("*.jsonl"):
            rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
            splits[p.stem] = Dataset.from_list(rows)
        _type_empty_splits(splits)
    else:
        raise ConfigError(f"The run in '{run.path}' has no dataset yet (no accepted samples);"
                          " run `synthwright run` until it accepts some, then try again.")
    for name in splits:
        if not SPLIT_NAME.match(name):
            raise ConfigError(f"Split name '{name}' cannot be used on the Hub; rename it in output.splits to letters,"
                              " digits and underscores (e.g. validation) and run again.")
    ordered = [n for n in order if n in splits] + sorted(n for n in splits if n not in order)
    return DatasetDict({name: splits[name] for name in ordered})


def _load_saved_splits(folder: Path) -> dict[str, Any]:
    """A `save_to_disk` DatasetDict, split by split: an empty split that older runs wrote without any data file
    (datasets then fails with an IndexError) is read as an empty dataset with the features it recorded."""
    from datasets import Dataset, Features, load_from_disk

    names = (_read_json(folder / "dataset_dict.json") or {}).get("splits") or []
    splits = {}
    for name in names:
        state = _read_json(folder / name / "state.json") or {}
        if state.get("_data_files"):
            splits[name] = load_from_disk(str(folder / name))
            continue
        info = _read_json(folder / name / "dataset_info.json") or {}
        features = Features.from_dict(info["features"]) if info.get("features") else None
        splits[name] = Dataset.from_dict({k: [] for k in features or {}}, features=features)
    return splits


def _type_empty_splits(splits: dict[str, Any]) -> None:
    """An empty JSONL split has no columns; give it the features of a split that has rows."""
    from datasets import Dataset

    typed = next((ds.features for ds in splits.values() if len(ds)), None)
    if typed is None:
        return
    for name, ds in splits.items():
        if len(ds) == 0:
            splits[name] = Dataset.from_dict({k: [] for k in typed}, features=typed)


def read_store(run: RunDir) -> tuple[list[dict[str, Any]], dict[int, list[Any]], list[dict[str, Any]], dict]:
    """(every sample with its fate, verdicts by sample id, slots, call stats) from the run store."""
    with run.store() as store:
        verdicts: dict[int, list[Any]] = {}
        for v in store.verdicts():
            verdicts.setdefault(v.sample_id, []).append(v)
        return store.samples(), verdicts, store.slots(), store.call_stats()
