"""Preference pairs from a run: for one slot, an accepted sample (chosen) and a sample the filters or the judge
rejected (rejected), with the exact executor prompt and the reason the rejected side lost.

Each rejected sample makes one pair; its chosen side is an accepted sample of the same slot, preferably one
written under the same prompt, taken in turn so that a slot's accepted samples share the work. Left out:
samples rejected only for room (`quota`, `limit`) or set aside by the quality loop (they are not worse),
parse failures unless asked for, samples the PII filter rejected, and rejected samples that still hold
personal data the run's PII check finds (a filter before `pii` rejected them first) unless the run redacts,
in which case the pair holds the redacted text. The files are TRL's conversational DPO format.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.engines.model_source import NAMED_MODELS
from synthwright.finetune.data import schema_json
from synthwright.rundir.reader import open_run

PAIRS_FILE = "train.jsonl"
META_FILE = "preferences.json"
FORMAT = "synthwright-preferences"
# Fates that say nothing about the sample's quality: room ran out, or the quality loop rebalanced the labels.
NOT_WORSE = frozenset({"quota", "limit", "quality_loop"})


@dataclass
class Pair:
    slot_id: str
    category: str
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    chosen_id: int
    rejected_id: int
    rejected_filter: str
    rejected_reason: str
    same_prompt: bool
    redacted: bool = False

    def row(self) -> dict[str, Any]:
        """TRL's conversational preference row, and where each side came from."""
        return {"prompt": self.prompt, "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}], "slot_id": self.slot_id,
                "category": self.category, "chosen_id": self.chosen_id, "rejected_id": self.rejected_id,
                "rejected_filter": self.rejected_filter, "rejected_reason": self.rejected_reason,
                "same_prompt": self.same_prompt, "redacted": self.redacted}


@dataclass
class Preferences:
    run: Path
    recipe: str
    task: str
    pairs: list[Pair]
    engines: list[str]
    bases: list[str]
    left_out: dict[str, int] = field(default_factory=dict)
    include_parse: bool = False

    @property
    def reasons(self) -> dict[str, int]:
        return dict(Counter(p.rejected_filter for p in self.pairs).most_common())

    def meta(self) -> dict[str, Any]:
        from synthwright import __version__

        return {"format": FORMAT, "format_version": 1, "synthwright_version": __version__, "run": str(self.run),
                "recipe": self.recipe, "task": self.task, "engines": self.engines, "bases": self.bases,
                "pairs": len(self.pairs), "reasons": self.reasons, "left_out": self.left_out,
                "include_parse": self.include_parse, "slots": len({p.slot_id for p in self.pairs})}


def build_preferences(run_dir: str | Path, *, include_parse: bool = False) -> Preferences:
    """The pairs of the run in `run_dir`; ConfigError when it has none to offer."""
    run = open_run(run_dir)
    task = run.task
    pii = run.recipe.filters.pii
    with run.store() as store:
        rows = store.executor_samples()
    accepted: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] == "accepted":
            accepted.setdefault(r["slot_id"], []).append(r)
    left = Counter()
    turn: Counter = Counter()
    pairs: list[Pair] = []
    for r in rows:
        if r["status"] == "accepted":
            continue
        fate = r["filter"] or "rejected"
        if fate in NOT_WORSE:
            left[f"not_worse_{fate}"] += 1
            continue
        if fate == "parse" and not include_parse:
            left["parse"] += 1
            continue
        if fate == "pii":
            left["pii"] += 1
            continue
        options = accepted.get(r["slot_id"])
        if not options:
            left["no_accepted_in_slot"] += 1
            continue
        text = r["data"].get("raw", r["response"]) if fate == "parse" else schema_json(task, r["data"])
        if not text.strip():  # a failed call wrote nothing: no answer to prefer another to
            left["empty"] += 1
            continue
        text, redacted, refused = _without_pii(text, pii, run.recipe.language)
        if refused:
            left["pii_unredacted"] += 1
            continue
        same = [a for a in options if a["request"]["messages"] == r["request"]["messages"]]
        pool = same or options
        chosen = pool[turn[r["slot_id"]] % len(pool)]
        turn[r["slot_id"]] += 1
        pairs.append(Pair(slot_id=r["slot_id"], category=r["category"], prompt=r["request"]["messages"],
                          chosen=schema_json(task, chosen["data"]), rejected=text, chosen_id=chosen["sample_id"],
                          rejected_id=r["sample_id"], rejected_filter=fate, rejected_reason=r["reason"] or "",
                          same_prompt=bool(same), redacted=redacted))
    if not pairs:
        found = ", ".join(f"{k} {v}" for k, v in left.items()) or "no rejected samples"
        raise ConfigError(f"Run '{run_dir}' has no preference pairs (left out: {found}); a pair needs a slot with an"
                          " accepted sample and one the filters or judge rejected"
                          + ("" if include_parse else ", or pass --include-parse to use parse failures") + ".")
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    return Preferences(run=Path(run_dir).resolve(), recipe=run.name, task=run.kind, pairs=pairs, engines=engines,
                       bases=list(dict.fromkeys(policy_base(e) for e in engines)), left_out=dict(left),
                       include_parse=include_parse)


def _without_pii(text: str, pii: Any, language: str) -> tuple[str, bool, bool]:
    """(text, redacted, refused): the run's own PII check on a rejected side it may never have reached."""
    from synthwright.evaluators.pii import find_pii, redact

    if pii.mode == "off" or not pii.kinds:
        return text, False, False
    found = find_pii(text, pii.kinds, region=pii.phone_region, language=language)
    if not found:
        return text, False, False
    if pii.mode == "redact":
        return redact(text, found), True, False
    return text, False, True


def policy_base(spec: str) -> str:
    """The base model a policy is trained from: a student artifact's recorded base, else the spec itself
    (a local path resolved), so pairs and the student they train can be matched."""
    path = Path(spec).expanduser()
    manifest = path / "student.json"
    if manifest.is_file():
        try:
            return json.loads(manifest.read_text())["base"]
        except (ValueError, KeyError):
            return str(path.resolve())
    if spec not in NAMED_MODELS and path.exists():
        return str(path.resolve())
    return spec


def write_preferences(prefs: Preferences, out: str | Path, *, overwrite: bool = False) -> Path:
    """`out/train.jsonl` (TRL's conversational DPO rows), `out/preferences.json` and a README.md card."""
    from synthwright.finetune.distiller import check_out_dir

    out_dir = Path(out)
    check_out_dir(out_dir, overwrite, marker=META_FILE, made_by="a preference set from `synthwright preferences`",
                  holds="a preference set")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / PAIRS_FILE, "w", encoding="utf-8") as f:
        for p in prefs.pairs:
            f.write(json.dumps(p.row(), ensure_ascii=False) + "\n")
    (out_dir / META_FILE).write_text(json.dumps(prefs.meta(), indent=2, ensure_ascii=False))
    write_preference_card(out_dir, prefs)
    return out_dir


def write_preference_card(folder: Path, prefs: Preferences) -> Path:
    reasons = "\n".join(f"| {name} | {n} |" for name, n in prefs.reasons.items())
    left = ", ".join(f"{k} {v}" for k, v in prefs.left_out.items()) or "none"
    engines = ", ".join(f"`{e}`" for e in prefs.engines) or "-"
    lines = [
        "---", "tags: [synthwright, preference, dpo, synthetic-data]", "configs:",
        "- config_name: default", "  data_files:", "  - split: train", "    path: train.jsonl", "---", "",
        f"# Preference pairs of `{prefs.recipe}`", "",
        f"{len(prefs.pairs)} pairs from {len({p.slot_id for p in prefs.pairs})} plan slots of the run `{prefs.run}`"
        f" ({prefs.task}), written by {engines}.", "",
        "- `prompt`: the exact chat messages the executor sent for the rejected sample's call",
        "- `chosen`: an accepted sample of the same slot, as the dataset holds it (filtered, PII redacted), in the"
        " generation schema's JSON",
        "- `rejected`: a sample of the same slot that a filter or the judge rejected"
        + (", or a parse failure's raw text" if prefs.include_parse else "")
        + "; `rejected_filter` and `rejected_reason` say why it lost",
        "- `same_prompt`: whether the chosen sample was written under the very same prompt (else another call of"
        " the slot); `redacted`: the run's PII check redacted the rejected side here", "",
        "## Why the rejected side lost", "", "| filter | pairs |", "|---|---|", reasons, "",
        f"Left out: {left}. Samples rejected only for room (quota, limit) or set aside by the quality loop are not"
        " worse and never make a pair; nor do samples the PII filter rejected.", "",
        "## Use", "",
        "The rows are TRL's conversational preference format (`prompt`, `chosen`, `rejected` as message lists):", "",
        "```python", "from datasets import load_dataset",
        "pairs = load_dataset(\"json\", data_files=\"train.jsonl\", split=\"train\")",
        "# trl.DPOTrainer(model=..., train_dataset=pairs.select_columns([\"prompt\", \"chosen\", \"rejected\"]), ...)",
        "```", "",
        "or `synthwright distill RUN --method dpo --student STUDENT --pairs THIS_FOLDER` (the student must share the"
        " base of the model that wrote the pairs).", "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path


def preferences(run_dir: str | Path, out: str | Path, *, include_parse: bool = False,
                overwrite: bool = False) -> Preferences:
    """Build the run's pairs and write them to `out`: what `synthwright preferences` does."""
    prefs = build_preferences(run_dir, include_parse=include_parse)
    write_preferences(prefs, out, overwrite=overwrite)
    return prefs


def read_preferences(folder: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(meta, rows) of a folder `write_preferences` wrote."""
    folder = Path(folder)
    if not (folder / META_FILE).is_file() or not (folder / PAIRS_FILE).is_file():
        raise ConfigError(f"'{folder}' is not a preference set (no {META_FILE} and {PAIRS_FILE}); write one with"
                          " `synthwright preferences RUN --out DIR`.")
    meta = json.loads((folder / META_FILE).read_text())
    rows = [json.loads(line) for line in (folder / PAIRS_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
    return meta, rows
