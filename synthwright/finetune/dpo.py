"""DPO: refine a student (a base model, or a `distill` artifact) with TRL's DPOTrainer on preference pairs.

The reference is the student as it is: its SFT adapter (if any) is merged into the base, the merged model is
saved in the artifact as `reference/`, and a new LoRA adapter is trained on top of it. TRL computes the
reference log-probabilities with that adapter disabled, so no second copy of the model is held in memory.
The artifact is a student like `distill`'s (an engine spec): its adapter names `reference/` as its base.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError
from synthwright.finetune.config import DistillConfig, target_modules_for
from synthwright.finetune.distiller import (
    FORMAT,
    MANIFEST,
    check_out_dir,
    check_vocabulary,
    point_adapter_at,
)
from synthwright.finetune.preferences import policy_base, read_preferences
from synthwright.rundir.lock import writes_to

REFERENCE = "reference"


@dataclass
class DPOResult:
    out_dir: Path
    metrics: dict[str, Any]
    manifest: dict[str, Any]


def check_policy(student: str, meta: dict[str, Any], pairs: str | Path) -> str:
    """The student's base; ConfigError when the pairs were written by a model on another base."""
    mine = policy_base(student)
    if mine not in meta.get("bases", []):
        raise ConfigError(f"Student '{student}' (base {mine}) does not match the pairs in '{pairs}', which were written"
                          f" by a model on base {', '.join(meta.get('bases') or ['unknown'])}; DPO learns from the"
                          " policy's own samples, so run this student on the recipe and build the pairs from that run.")
    return mine


@writes_to(lambda a: a["out"], beside=True)
def train_dpo(student: str, pairs: str | Path, out: str | Path, config: DistillConfig | None = None, *,
              overwrite: bool = False, progress: bool = False, round_info: dict[str, Any] | None = None) -> DPOResult:
    """One DPO round: `student` trained on the preference set in `pairs`, written to `out` as a student artifact.

    `round_info` is added to this round's record in the manifest (the loop adds the run's acceptance)."""
    import torch

    cfg = config or DistillConfig()
    meta, rows = read_preferences(pairs)
    base = check_policy(student, meta, pairs)
    out_dir = Path(out)
    check_out_dir(out_dir, overwrite)
    before = _manifest_of(student)
    torch.manual_seed(cfg.seed)
    engine = load_policy(student, cfg)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        try:
            check_vocabulary(engine, student)
            model_type = engine.model.config.model_type
            engine.model.save_pretrained(str(staging / REFERENCE))
            engine.tokenizer.save_pretrained(str(staging / REFERENCE))
            trained, metrics = _train(engine, rows, cfg, model_type, staging, progress)
            trained.save_pretrained(str(staging))
            engine.tokenizer.save_pretrained(str(staging))
            targets = target_modules_for(model_type, cfg.target_modules)
            resolved = {**cfg.model_dump(mode="json"), "method": "dpo", "target_modules": targets,
                        "device": engine.device, "dtype": str(engine.dtype).replace("torch.", "")}
            this_round = {"round": len(before.get("rounds", [])) + 1, "policy": student, "pairs": str(Path(pairs).resolve()),
                          "run": meta.get("run"), "pair_count": len(rows), "reasons": meta.get("reasons", {}),
                          "metrics": {k: metrics[k] for k in ("steps", "train_seconds", "first_loss", "final_loss",
                                                              "final_reward_accuracy", "final_reward_margin")},
                          **(round_info or {})}
            manifest = {
                "format": FORMAT, "format_version": 1, "method": "dpo",
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "base": base, "base_model": engine.source.label, "model_type": model_type, "reference": REFERENCE,
                "teacher": before.get("teacher") or {"run": meta.get("run"), "recipe": meta.get("recipe"),
                                                     "task": meta.get("task"), "engines": meta.get("engines", [])},
                "sft": before.get("sft") or ({"student": student, "metrics_file": "metrics.json"}
                                             if before.get("method", "sft") == "sft" and before else None),
                "schema": before.get("schema"), "rounds": before.get("rounds", []) + [this_round],
            }
            (staging / "distill_config.json").write_text(json.dumps(resolved, indent=2))
            (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            from synthwright.finetune.card import write_dpo_card

            write_dpo_card(staging, manifest, resolved)
        finally:
            engine.close()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    point_adapter_at(out_dir, str((out_dir / REFERENCE).resolve()))
    return DPOResult(out_dir=out_dir, metrics=metrics, manifest=manifest)


def _manifest_of(student: str) -> dict[str, Any]:
    path = Path(student).expanduser() / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def load_policy(student: str, cfg: DistillConfig):
    """The student with any adapter merged into its base: the policy to refine and, frozen, its reference."""
    from synthwright.engines.model_source import resolve_local
    from synthwright.engines.registry import engine_kind
    from synthwright.engines.transformers_engine import TransformersEngine

    if engine_kind(student) != "transformers":
        raise ConfigError(f"Student '{student}' is not a local transformers model; pass 'smollm2', a model directory,"
                          " a student folder from `synthwright distill` or hf:ORG/NAME.")
    return TransformersEngine(resolve_local(student), spec=student, device=cfg.device, dtype=cfg.dtype,
                              merge_adapter=True, pack_weights=False)


def _train(engine: Any, rows: list[dict[str, Any]], cfg: DistillConfig, model_type: str, workdir: Path,
           progress: bool) -> tuple[Any, dict[str, Any]]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer

    from synthwright.finetune.callbacks import RichProgress

    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                      target_modules=target_modules_for(model_type, cfg.target_modules), bias="none",
                      task_type="CAUSAL_LM", fan_in_fan_out=model_type == "gpt2")
    data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows])
    with warnings.catch_warnings():  # trl and peft use names transformers renamed; nothing a user can change
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        args = DPOConfig(
            output_dir=str(workdir / ".trainer"), seed=cfg.seed, data_seed=cfg.seed, beta=cfg.beta,
            num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
            per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio,
            weight_decay=cfg.weight_decay, max_length=cfg.max_length, logging_steps=1, save_strategy="no",
            eval_strategy="no", report_to=[], disable_tqdm=True, use_cpu=engine.device == "cpu", bf16=False,
            fp16=False, gradient_checkpointing=False, dataloader_num_workers=0)
        trainer = DPOTrainer(model=engine.model, args=args, train_dataset=data, processing_class=engine.tokenizer,
                             peft_config=lora, callbacks=[RichProgress()] if progress else [])
        trainer.remove_callback(PrinterCallback)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    shutil.rmtree(workdir / ".trainer", ignore_errors=True)
    history = [{"step": h["step"], "loss": h["loss"], "reward_accuracy": h.get("rewards/accuracies"),
                "reward_margin": h.get("rewards/margins"), "reward_chosen": h.get("rewards/chosen"),
                "reward_rejected": h.get("rewards/rejected")} for h in trainer.state.log_history if "loss" in h]
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    metrics = {"steps": trainer.state.global_step, "pairs": len(rows), "train_seconds": round(seconds, 2),
               "first_loss": history[0]["loss"] if history else None,
               "final_loss": history[-1]["loss"] if history else None,
               "final_reward_accuracy": history[-1]["reward_accuracy"] if history else None,
               "final_reward_margin": history[-1]["reward_margin"] if history else None,
               "trainable_params": trainable, "beta": cfg.beta, "history": history}
    return trainer.model, metrics
