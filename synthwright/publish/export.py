"""`export`: a run directory → a folder laid out the way the Hugging Face Hub expects a dataset repo.

    README.md                      dataset card (front matter + how it was made)
    data/{split}-00000-of-0000N.parquet
    recipe.yaml  plan.json  stats.json   the run's provenance (secrets redacted)
    report.md  plots/*.png  eval.json    when the run has them
    LICENSE                        when no license was chosen (license: other)

`datasets.load_dataset(folder)` reads it back with the same splits and features.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synthwright.core.errors import ConfigError
from synthwright.publish.card import CardInputs, render_card
from synthwright.publish.hub_vocab import HUB_LICENSES, _hub_languages, check_card
from synthwright.rundir.lock import writes_to
from synthwright.rundir.reader import RunDir, load_splits, open_run, read_store, redact

MAX_SHARD_BYTES = 500 * 1024 * 1024  # what `push_to_hub` uses by default
UNCHOSEN_LICENSE = """No license has been chosen for this dataset yet.

Until its publisher picks one, no permission to copy, modify or redistribute it is granted.
Publishers: re-export with `synthwright export RUN --to DIR --license <id>` (for example cc-by-4.0 or apache-2.0;
see https://huggingface.co/docs/hub/repositories-licenses) or set `license:` in the recipe.

The samples were written by a language model; its own license and terms of use may also apply.
"""


@dataclass
class ExportResult:
    """What `export_dataset` wrote."""

    path: Path
    files: list[str]  # relative to `path`, sorted
    rows: dict[str, int]  # split -> rows
    license: str
    notes: list[str] = field(default_factory=list)


@writes_to("to", beside=True, flag="--to")  # the folder is replaced as a whole: the lock sits beside it
def export_dataset(run_dir: str | Path, to: str | Path, *, license: str | None = None, repo_id: str | None = None,
                   max_shard_bytes: int = MAX_SHARD_BYTES, preferences: bool = False) -> ExportResult:
    """Write the run in `run_dir` to `to` as a Hub dataset folder (Parquet shards + README.md card).

    `license` (a Hub license id) overrides the recipe's; without either the card says `license: other`
    and a LICENSE file says none was chosen. `repo_id` only changes the loading snippet in the card.
    `to` must be new, empty, or a previous export, which is replaced as a whole. `preferences` adds the run's
    preference pairs (`synthwright preferences`) in `preferences/`, for DPO.
    """
    run = open_run(run_dir)
    license_id = license or run.frozen.get("license") or "other"
    if license_id not in HUB_LICENSES:
        raise ConfigError(f"License '{license_id}' is not a Hugging Face Hub license id; pass e.g. --license cc-by-4.0,"
                          " apache-2.0 or mit (list: https://huggingface.co/docs/hub/repositories-licenses).")
    language = run.frozen.get("language") or "en"
    known = _hub_languages()
    if known and language not in known:
        raise ConfigError(f"The recipe's language '{language}' is not an ISO 639 code the Hub knows;"
                          " set language to a code such as en, de or fr.")
    target = Path(to)
    _check_target(target, run)
    dsd, empty = _non_empty(load_splits(run), run)
    dsd = _hub_features(dsd, run)
    samples, verdicts, slots, calls = read_store(run)
    pairs = None
    if preferences:
        from synthwright.finetune.preferences import build_preferences

        pairs = build_preferences(run.path)  # fails, in one sentence, before anything is written

    staging = target.parent / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "data").mkdir(parents=True)
    try:
        shards = _write_shards(dsd, staging, max_shard_bytes)
        images = _copy_images(run, staging)
        report = _rewrite_links(run.report_md, images) if run.report_md is not None else None
        _write_provenance(run, staging, report, license_id)
        if pairs is not None:
            from synthwright.finetune.preferences import write_preferences

            write_preferences(pairs, staging / "preferences")
        from synthwright import __version__

        inputs = CardInputs(run=run, dataset=dsd, license=license_id, samples=samples, verdicts=verdicts, slots=slots,
                            calls=calls, shards=shards,
                            download_size=sum((staging / p).stat().st_size for ps in shards.values() for p in ps),
                            images=sorted(images.values()), report_md=report, has_eval=run.eval is not None,
                            version=__version__, repo_id=repo_id)
        card = render_card(inputs)
        problems = check_card(card)
        if problems:
            raise ConfigError(f"The dataset card would not pass the Hub's checks: {'; '.join(problems)}.")
        (staging / "README.md").write_text(card, encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    notes = [f"split '{name}' has no samples and was left out (load_dataset cannot read an empty split)"
             for name in empty]
    if not (license or run.frozen.get("license")):
        notes.append("no license chosen: the card says 'license: other'; pass --license (e.g. cc-by-4.0) to choose one")
    return ExportResult(path=target, files=files, rows={n: len(ds) for n, ds in dsd.items()}, license=license_id,
                        notes=notes)


def is_export(folder: Path) -> bool:
    """A folder this command wrote before: a README.md whose front matter has the `synthwright` tag."""
    readme = folder / "README.md"
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"^---\n(.*?)\n---", text, re.DOTALL)
    if not match:
        return False
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        return False
    return isinstance(meta, dict) and "synthwright" in (meta.get("tags") or [])


def _check_target(target: Path, run: RunDir) -> None:
    if target.resolve() == run.path.resolve():
        raise ConfigError(f"--to '{target}' is the run directory itself; export to a new folder, e.g. --to {run.name}-hub.")
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"--to '{target}' is a file; choose a folder that is new, empty or a previous export.")
        if any(target.iterdir()) and not is_export(target):
            raise ConfigError(f"--to '{target}' is not empty and holds no synthwright export, so it will not be"
                              " overwritten; choose a new or empty folder.")


def _non_empty(dsd: Any, run: RunDir) -> tuple[Any, list[str]]:
    from datasets import DatasetDict

    empty = [name for name, ds in dsd.items() if len(ds) == 0]
    if len(empty) == len(dsd):
        raise ConfigError(f"The run in '{run.path}' has no accepted samples, so there is nothing to export;"
                          " run `synthwright run` until it accepts some.")
    return DatasetDict({name: ds for name, ds in dsd.items() if len(ds)}), empty


def _hub_features(dsd: Any, run: RunDir) -> Any:
    """Classification labels become a ClassLabel in the recipe's category order, as Hub classifiers expect."""
    from datasets import ClassLabel, DatasetDict, Value

    names = [c["name"] for c in run.frozen.get("categories") or []]
    first = next(iter(dsd.values()))
    if not run.task.labelled or not names or first.features.get("label") != Value("string"):
        return dsd
    seen = {v for ds in dsd.values() for v in ds["label"]}
    names += sorted(seen - set(names))  # labels the recipe no longer lists keep a class of their own
    features = first.features.copy()
    features["label"] = ClassLabel(names=names)
    # keep_in_memory: a dataset loaded from the run's dataset/ folder must not get cache files written into it
    return DatasetDict({n: ds.cast(features, keep_in_memory=True) for n, ds in dsd.items()})


def _write_shards(dsd: Any, staging: Path, max_shard_bytes: int) -> dict[str, list[str]]:
    shards: dict[str, list[str]] = {}
    for name, ds in dsd.items():
        count = max(1, math.ceil(ds.data.nbytes / max_shard_bytes))
        shards[name] = []
        for i in range(count):
            rel = f"data/{name}-{i:05d}-of-{count:05d}.parquet"
            part = ds.shard(num_shards=count, index=i, contiguous=True, keep_in_memory=True) if count > 1 else ds
            part.to_parquet(str(staging / rel))
            shards[name].append(rel)
    return shards


def _copy_images(run: RunDir, staging: Path) -> dict[str, str]:
    """Copy plots into plots/ (keeping paths already under plots/); returns run-relative → export-relative."""
    mapping: dict[str, str] = {}
    for src in run.images:
        rel = src.relative_to(run.path).as_posix()
        dest = rel if rel.startswith("plots/") else "plots/" + rel.replace("/", "_")
        (staging / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, staging / dest)
        mapping[rel] = dest
    return mapping


def _rewrite_links(markdown: str, images: dict[str, str]) -> str:
    for rel, dest in images.items():
        for prefix in ("", "./"):
            markdown = markdown.replace(f"]({prefix}{rel})", f"]({dest})").replace(f'src="{prefix}{rel}"', f'src="{dest}"')
    return markdown


def _write_provenance(run: RunDir, staging: Path, report: str | None, license_id: str) -> None:
    (staging / "recipe.yaml").write_text(
        "# The frozen recipe of this run, as synthwright used it (secret values redacted).\n"
        "# Reproduce: synthwright run recipe.yaml\n"
        + yaml.safe_dump(run.frozen, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if run.plan:
        (staging / "plan.json").write_text(json.dumps(redact(run.plan), indent=2, ensure_ascii=False), encoding="utf-8")
    if run.stats:
        (staging / "stats.json").write_text(json.dumps(run.stats, indent=2, ensure_ascii=False), encoding="utf-8")
    if report is not None:
        (staging / "report.md").write_text(report, encoding="utf-8")
    if run.eval is not None:
        (staging / "eval.json").write_text(json.dumps(redact(run.eval), indent=2, ensure_ascii=False), encoding="utf-8")
    if license_id == "other":
        (staging / "LICENSE").write_text(UNCHOSEN_LICENSE, encoding="utf-8")
