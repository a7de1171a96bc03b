"""The student's model card (README.md): what it is, what it was trained on, how well, how to use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthwright.engines.model_source import hub_id


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _front(base: str, tags: str) -> list[str]:
    hub_base = hub_id(base)
    return ["---", "library_name: peft", "pipeline_tag: text-generation", f"tags: [{tags}]"] + (
        [f"base_model: {hub_base}"] if hub_base else []) + ["---"]


def _training_tables(config: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """The card's two tables: the settings it was trained with, and what training did."""
    rows = [
        ("LoRA rank / alpha / dropout", f"{config['rank']} / {config['alpha']} / {config['dropout']}"),
        ("target modules", ", ".join(config["target_modules"]) if isinstance(config["target_modules"], list)
         else config["target_modules"]),
        ("learning rate / schedule", f"{config['learning_rate']} / {config['lr_scheduler']}"),
        ("batch size × accumulation", f"{config['batch_size']} × {config['gradient_accumulation_steps']}"),
        ("epochs / max steps", f"{config['epochs']} / {config['max_steps'] or '-'}"),
        ("QLoRA (4-bit base)", config["qlora"]),
        ("device / base dtype", f"{config['device']} / {config['dtype']}"),
        ("early stopping patience", config["patience"]),
    ]
    result = [
        ("steps (planned)", f"{metrics['steps']} ({metrics['planned_steps']})"),
        ("stopped early", metrics["stopped_early"]),
        ("validation loss before training", _fmt(metrics["initial_val_loss"])),
        ("best validation loss (kept)", f"{_fmt(metrics['best_val_loss'])} at step {metrics['best_step']}"),
        ("last train loss", _fmt(metrics["final_train_loss"])),
        ("trainable / total parameters", f"{metrics['trainable_params']:,} / {metrics['total_params']:,}"),
        ("training time", f"{metrics['train_seconds']} s"),
    ]
    return ["| setting | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "",
            "| result | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in result]]


def write_card(folder: Path, manifest: dict[str, Any], config: dict[str, Any], metrics: dict[str, Any]) -> Path:
    """The distilled student's card: base, teacher run, splits, training settings and results, use, files."""
    teacher = manifest["teacher"]
    samples = manifest["samples"]
    left_out = ", ".join(f"{k} {v}" for k, v in samples["left_out"].items() if v) or "none"
    engines = ", ".join(f"`{e}`" for e in teacher["engines"]) or "-"
    merged = ("`merged/` holds the base with the adapter merged in: a plain model folder, usable as an engine spec"
              " or with `AutoModelForCausalLM.from_pretrained`." if manifest.get("merged") else
              "No merged copy was written (run `synthwright distill … --merge` for one).")
    schema = manifest.get("schema")
    lines = _front(manifest["base"], "synthwright, distillation, lora, synthetic-data") + [
        "",
        f"# Student of `{teacher['recipe']}`",
        "",
        f"A LoRA adapter on `{manifest['base']}` ({manifest['base_model']}, {manifest['model_type']}) trained by"
        " `synthwright distill` to write what the teacher wrote: given the executor prompt of a plan slot, it"
        " answers with the JSON object of the generation schema, without constrained decoding.",
        "",
        "## Training data",
        "",
        f"- teacher run: `{teacher['run']}`",
        f"- recipe: `{teacher['recipe']}` ({teacher['task']})",
        f"- teacher engine: {engines}",
        f"- accepted samples: {samples['accepted']}; trained on {samples['train']}, validated on"
        f" {samples['validation']} (held out, spread over the categories); left out: {left_out}",
        "- input: the exact chat messages the executor sent for the sample's slot; target: the accepted sample as"
        " the dataset holds it (filtered, PII redacted), as the generation schema's JSON. The loss is on the target tokens only.",
        "",
        "## Training",
        "",
        *_training_tables(config, metrics),
        "",
        "## Use",
        "",
        "This folder (STUDENT_DIR below) is an engine spec: the transformers engine loads the base and applies the adapter.",
        "",
        "```",
        f"synthwright run RECIPE.yaml --teacher STUDENT_DIR --out STUDENT_RUN   # RECIPE: the recipe of `{teacher['recipe']}`",
        f"synthwright compare {teacher['run']} STUDENT_RUN",
        "```",
        "",
        merged,
        "",
        "## Files",
        "",
        "- `adapter_config.json`, `adapter_model.safetensors`: the LoRA adapter; `base_model_name_or_path` is the"
        " engine spec of the base",
        "- tokenizer files and `chat_template.jinja`: the base's tokenizer and chat template the student was trained with",
        "- `distill_config.json`: the resolved training config; `metrics.json`: losses per step",
        "- `student.json`: provenance (teacher run, sample ids of each split, the generation schema)",
        "",
        "## Limitations",
        "",
        "- The student imitates one teacher run: its categories, prompts and schema. Other recipes need their own run.",
        "- Without constrained decoding some outputs may still fail to parse; the pipeline rejects those"
        " (filter `parse`), so keep constrained decoding on when the engine supports it.",
        "- Quality is bounded by the teacher's samples; compare the runs with `synthwright compare`.",
    ]
    if schema:
        lines += ["", "## Generation schema", "", "```json", json.dumps(schema, indent=2), "```"]
    path = folder / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_dpo_card(folder: Path, manifest: dict[str, Any], config: dict[str, Any]) -> Path:
    """The card of a DPO-refined student: its reference, its rounds with their pairs and rewards, how to use it."""
    rounds = ["| round | policy | pairs | why the rejected sides lost | steps | loss first → last | reward accuracy | margin |",
              "|---|---|---|---|---|---|---|---|"]
    for r in manifest["rounds"]:
        m = r["metrics"]
        reasons = ", ".join(f"{k} {v}" for k, v in r["reasons"].items()) or "-"
        rounds.append(f"| {r['round']} | `{r['policy']}` | {r['pair_count']} | {reasons} | {m['steps']} |"
                      f" {_fmt(m['first_loss'])} → {_fmt(m['final_loss'])} | {_fmt(m['final_reward_accuracy'])} |"
                      f" {_fmt(m['final_reward_margin'])} |")
    lines = _front(manifest["base"], "synthwright, dpo, lora, synthetic-data") + [
        "",
        f"# DPO student of `{manifest['teacher'].get('recipe')}`", "",
        f"A LoRA adapter trained by `synthwright distill --method dpo` with TRL's DPOTrainer (beta {config['beta']}) on"
        " preference pairs from the student's own runs: for one plan slot, an accepted sample (chosen) and one the"
        " run's filters or judge rejected. `reference/` is the policy before this round (its earlier adapter merged"
        f" into `{manifest['base']}`) and the DPO reference; the adapter here is trained on top of it.", "",
        "## Rounds", "", *rounds, "",
        "## Training", "",
        "| setting | value |", "|---|---|",
        f"| LoRA rank / alpha | {config['rank']} / {config['alpha']} |",
        f"| learning rate / schedule | {config['learning_rate']} / {config['lr_scheduler']} |",
        f"| batch size × accumulation | {config['batch_size']} × {config['gradient_accumulation_steps']} |",
        f"| epochs / max steps | {config['epochs']} / {config['max_steps'] or '-'} |",
        f"| device / dtype | {config['device']} / {config['dtype']} |", "",
        "## Use", "",
        "This folder is an engine spec: `synthwright run RECIPE.yaml --teacher THIS_FOLDER --out RUN`.", "",
        "## Files", "",
        "- `adapter_config.json`, `adapter_model.safetensors`: the DPO adapter; its base is `reference/`",
        "- `reference/`: the merged policy before this round (a plain model folder)",
        "- `student.json`: provenance and every round's pair counts and metrics; `metrics.json`: this round's losses"
        " and rewards per step", "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path
