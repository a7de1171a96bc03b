"""The card (README.md) of a preference set: where the pairs come from, why each rejected side lost, how to load it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .preferences import Preferences


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
