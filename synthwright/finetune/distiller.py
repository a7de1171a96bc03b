"""`distill`: a teacher run's accepted samples → a LoRA student that writes them without constrained decoding.

Input of each example: the exact chat messages the executor sent for the sample's slot. Target: the
accepted sample as stored (filtered, PII redacted) in the generation schema's JSON. The loss is on the target only (prompt
tokens are labelled -100). Prompts are tokenized by the engine's own `encode`, so the student is
trained on exactly the token sequence it will see when it runs as an engine.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError, HardwareError, require
from synthwright.engines.model_source import NAMED_MODELS, SMOLLM2
from synthwright.engines.base import ChatRequest
from synthwright.finetune.config import DistillConfig, target_modules_for
from synthwright.finetune.data import Example, TeacherRun, read_teacher_run, split
from synthwright.rundir.lock import writes_to

MANIFEST = "student.json"
FORMAT = "synthwright-student"
# Share of teacher samples the student's tokenizer may fail to reproduce before the base is refused.
MAX_UNREPRESENTABLE = 0.10


@dataclass
class DistillResult:
    """Where the student was written, with its training metrics."""

    out_dir: Path
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    merged_dir: Path | None = None


@dataclass
class Tokenized:
    """Examples as token ids, and the ones left out with the reason."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    kept: list[Example] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=lambda: {"too_long": 0, "unrepresentable": 0, "no_stop": 0,
                                                              "template": 0})


# The student folder is replaced as a whole, so its writer lock sits beside it.
@writes_to(lambda a: a["out"] if a["out"] is not None else Path(a["run_dir"]) / "student", beside=True)
def distill(
    run_dir: str | Path,
    student: str = SMOLLM2,
    out: str | Path | None = None,
    config: DistillConfig | None = None,
    *,
    merge: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> DistillResult:
    """Train a LoRA adapter on `student` (an engine spec for a local model) from the teacher run in `run_dir`.

    Writes the student artifact to `out` (default: RUN_DIR/student): adapter, tokenizer, config, metrics,
    model card and, with `merge`, a plain merged model in `out/merged`. The artifact is an engine spec:
    `synthwright run RECIPE --teacher OUT`.
    """
    import torch

    cfg = config or DistillConfig()
    run = read_teacher_run(run_dir)
    out_dir = Path(out) if out is not None else run.path / "student"
    check_out_dir(out_dir, overwrite)
    base_ref = base_reference(student)
    qlora = resolve_qlora(cfg)
    torch.manual_seed(cfg.seed)

    engine = load_base(base_ref, cfg, qlora)
    try:
        model_type = engine.model.config.model_type
        check_vocabulary(engine, base_ref)
        data = tokenize(run.examples, engine, cfg)
        check_left_out(data, run, base_ref)
        train, val = split(data.kept, cfg.val_fraction, cfg.seed)
        by_id = {e.sample_id: r for e, r in zip(data.kept, data.rows)}
        out_dir.parent.mkdir(parents=True, exist_ok=True)  # staging lives beside out, so the final rename is atomic
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
        try:
            trained = train_adapter(engine, [by_id[e.sample_id] for e in train], [by_id[e.sample_id] for e in val],
                                    cfg, model_type, qlora, staging, progress)
            trained.model.save_pretrained(str(staging))
            engine.tokenizer.save_pretrained(str(staging))
            point_adapter_at(staging, base_ref)
            targets = target_modules_for(model_type, cfg.target_modules)
            resolved = {**cfg.model_dump(mode="json"), "target_modules": targets, "qlora": "on" if qlora else "off",
                        "device": engine.device, "dtype": str(engine.dtype).replace("torch.", "")}
            metrics = {**trained.metrics, "train_examples": len(train), "val_examples": len(val),
                       "left_out": data.left_out}
            manifest = make_manifest(run, base_ref, engine, train, val, data, merge)
            (staging / "distill_config.json").write_text(json.dumps(resolved, indent=2))
            (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            from synthwright.finetune.card import write_card

            write_card(staging, manifest, resolved, metrics)
            del trained
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        engine.close()
    try:
        if merge:
            write_merged(staging, cfg)
        if out_dir.exists():
            shutil.rmtree(out_dir)  # check_out_dir allowed this: empty, or a previous student with --overwrite
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DistillResult(out_dir=out_dir, metrics=metrics, manifest=manifest,
                         merged_dir=out_dir / "merged" if merge else None)


# checks -------------------------------------------------------------------------------------------

def check_out_dir(out_dir: Path, overwrite: bool, *, marker: str = MANIFEST,
                  made_by: str = "a student from `synthwright distill`", holds: str = "a student") -> None:
    """An output folder may be new, empty, or (with `overwrite`) what this command wrote before (it has `marker`)."""
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        return
    if not (out_dir / marker).is_file():
        raise ConfigError(f"Output folder '{out_dir}' exists and is not {made_by};"
                          " choose another --out (nothing there is overwritten).")
    if not overwrite:
        raise ConfigError(f"Output folder '{out_dir}' already holds {holds}; pass --overwrite to replace it or"
                          " choose another --out.")


def base_reference(student: str) -> str:
    """The engine spec the adapter will name as its base: an absolute path for a local folder or file."""
    from synthwright.engines.registry import engine_kind

    if engine_kind(student) != "transformers":
        raise ConfigError(f"Student base '{student}' is not a local transformers model; pass 'smollm2', a model"
                          " directory, a .gguf file or hf:ORG/NAME (a vLLM server or API model cannot be trained here).")
    path = Path(student).expanduser()
    if student not in NAMED_MODELS and path.exists():
        if (path / "adapter_config.json").is_file():
            raise ConfigError(f"Student base '{student}' is itself a LoRA adapter; pass its merged model"
                              " (distill --merge writes one to STUDENT/merged) or its base model.")
        return str(path.resolve())
    return student


def resolve_qlora(cfg: DistillConfig) -> bool:
    """Whether to load the base in 4-bit. 'on' without CUDA or bitsandbytes is an error, 'auto' just falls back."""
    import importlib.util

    import torch

    cuda = torch.cuda.is_available() and not cfg.device.startswith("cpu")
    if cfg.qlora == "on":
        if not cuda:
            raise HardwareError("--qlora needs a CUDA GPU (bitsandbytes 4-bit) and none is available;"
                                " drop --qlora to train the LoRA on a full-precision base on this machine.")
        require("bitsandbytes", extra="gpu", feature="QLoRA (--qlora)")
        return True
    return cfg.qlora == "auto" and cuda and importlib.util.find_spec("bitsandbytes") is not None


def load_base(base_ref: str, cfg: DistillConfig, qlora: bool):
    """The base as the transformers engine loads it: same weights, tokenizer, chat template and stop tokens."""
    from synthwright.engines.hardware import pick_device, training_dtype
    from synthwright.engines.model_source import resolve_local
    from synthwright.engines.transformers_engine import TransformersEngine

    dtype = training_dtype(cfg.dtype, pick_device(cfg.device))
    return TransformersEngine(resolve_local(base_ref), spec=base_ref, device=cfg.device, dtype=dtype,
                              quantization="4bit" if qlora else None, pack_weights=False)


def check_vocabulary(engine: Any, base_ref: str) -> None:
    """A tokenizer with more ids than the model has embedding rows cannot be trained: the weights and tokenizer
    do not belong together."""
    rows = engine.model.get_input_embeddings().weight.shape[0]
    if len(engine.tokenizer) > rows:
        raise ConfigError(f"Student base '{base_ref}' is incompatible: its tokenizer has {len(engine.tokenizer)} tokens"
                          f" but the model has only {rows} embedding rows; pass a model directory whose tokenizer"
                          " belongs to its weights.")


def tokenize(examples: list[Example], engine: Any, cfg: DistillConfig) -> Tokenized:
    """Prompt ids exactly as the engine encodes them; target ids up to and including the first stop token.

    Left out (counted, never silently): a template that renders the prompt differently once an answer
    follows, a turn that does not end in a token the engine stops on, a target the tokenizer cannot
    reproduce (characters it maps to <unk>), and examples longer than `max_length` or the model's context.
    """
    tok = engine.tokenizer
    limit = min(cfg.max_length, getattr(engine.model.config, "max_position_embeddings", None) or cfg.max_length)
    result = Tokenized()
    for ex in examples:
        prompt = engine.encode(ChatRequest(messages=ex.messages))
        full_text = tok.apply_chat_template(ex.messages + [{"role": "assistant", "content": ex.target}],
                                            tokenize=False)
        full = tok(full_text, add_special_tokens=False)["input_ids"]
        if full[:len(prompt)] != prompt:
            result.left_out["template"] += 1
            continue
        completion = full[len(prompt):]
        stop = next((i for i, t in enumerate(completion) if t in engine.stop_ids), None)
        if stop is None:
            result.left_out["no_stop"] += 1
            continue
        if ex.target not in tok.decode(completion[:stop], skip_special_tokens=False):
            result.left_out["unrepresentable"] += 1
            continue
        completion = completion[:stop + 1]
        if len(prompt) + len(completion) > limit:
            result.left_out["too_long"] += 1
            continue
        result.rows.append({"input_ids": prompt + completion, "labels": [-100] * len(prompt) + completion})
        result.kept.append(ex)
    return result


def check_left_out(data: Tokenized, run: TeacherRun, base_ref: str) -> None:
    total = len(run.examples)
    lost = data.left_out
    if lost["template"] == total:
        raise ConfigError(f"Student base '{base_ref}' is incompatible: its chat template renders a prompt differently"
                          " once an answer follows it, so prompts and targets cannot be split; pick a chat model"
                          " with a standard template.")
    if lost["no_stop"] == total:
        raise ConfigError(f"Student base '{base_ref}' is incompatible: its chat template ends an assistant turn with no"
                          " token that generation stops on, so the student would never stop; pick a chat or instruct"
                          " model (e.g. default).")
    if lost["unrepresentable"] > MAX_UNREPRESENTABLE * total:
        raise ConfigError(f"Student base '{base_ref}' is incompatible: its tokenizer cannot reproduce"
                          f" {lost['unrepresentable']} of {total} teacher samples (it maps their characters to unknown"
                          " tokens); pick a model with a byte-level tokenizer (e.g. default).")
    if len(data.kept) < 2:
        raise ConfigError(f"Only {len(data.kept)} of {total} teacher samples fit the student (left out: "
                          + ", ".join(f"{k} {v}" for k, v in lost.items() if v)
                          + "); raise max_length in a --config file, or generate more samples.")


# training -----------------------------------------------------------------------------------------

@dataclass
class Trained:
    model: Any
    metrics: dict[str, Any]


def train_adapter(engine: Any, train_rows: list[dict], val_rows: list[dict], cfg: DistillConfig, model_type: str,
                  qlora: bool, workdir: Path, progress: bool) -> Trained:
    """LoRA on the engine's base model with trl's SFTTrainer; loss on target tokens only (labels carry -100)."""
    from peft import LoraConfig
    from trl import SFTConfig

    model = engine.model
    if qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    targets = target_modules_for(model_type, cfg.target_modules)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM", fan_in_fan_out=model_type == "gpt2")
    steps_per_epoch = max(1, math.ceil(len(train_rows) / (cfg.batch_size * cfg.gradient_accumulation_steps)))
    total_steps = cfg.max_steps or max(1, math.ceil(steps_per_epoch * cfg.epochs))
    eval_steps = cfg.eval_steps or max(1, min(steps_per_epoch, math.ceil(total_steps / 10)))
    on_cpu = engine.device == "cpu"
    with warnings.catch_warnings():  # trl and peft use names transformers renamed; nothing a user can change
        warnings.filterwarnings("ignore", message=".*(gradient|activation)_checkpointing.*", category=FutureWarning)
        args = _sft_config(SFTConfig, workdir, cfg, eval_steps, on_cpu, qlora)
        return _train(args, model, engine, train_rows, val_rows, lora, cfg, targets, model_type, workdir, progress)


def _sft_config(SFTConfig: Any, workdir: Path, cfg: DistillConfig, eval_steps: int, on_cpu: bool, qlora: bool) -> Any:
    return SFTConfig(
        output_dir=str(workdir / ".trainer"), seed=cfg.seed, data_seed=cfg.seed,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        eval_strategy="steps", eval_steps=eval_steps, eval_on_start=True, logging_steps=eval_steps,
        save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=on_cpu,
        # The base's dtype (engine choice) sets the compute precision; no extra autocast on top.
        bf16=False, fp16=False, gradient_checkpointing=qlora,
        metric_for_best_model="eval_loss", greater_is_better=False,
        max_length=None, dataloader_num_workers=0,
    )


def _train(args: Any, model: Any, engine: Any, train_rows: list[dict], val_rows: list[dict], lora: Any,
           cfg: DistillConfig, targets: Any, model_type: str, workdir: Path, progress: bool) -> Trained:
    from datasets import Dataset
    from transformers import EarlyStoppingCallback, PrinterCallback
    from trl import SFTTrainer

    from synthwright.finetune.callbacks import KeepBest, RichProgress

    keep = KeepBest(cfg.min_delta)
    callbacks: list[Any] = [keep]
    if cfg.patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience,
                                               early_stopping_threshold=cfg.min_delta))
    if progress:
        callbacks.append(RichProgress())
    try:
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(train_rows),
                             eval_dataset=Dataset.from_list(val_rows), processing_class=engine.tokenizer,
                             peft_config=lora, callbacks=callbacks)
    except ValueError as exc:
        if "Target module" in str(exc) or "target_modules" in str(exc):
            raise ConfigError(f"LoRA target modules {targets} are not all in the student base ({model_type});"
                              " set target_modules to names of its linear layers, or 'auto'.") from None
        raise
    trainer.remove_callback(PrinterCallback)  # our own progress, or silence; never raw log dicts
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    keep.restore(trainer.model)
    shutil.rmtree(workdir / ".trainer", ignore_errors=True)
    history = [{"step": h["step"], "epoch": round(h.get("epoch", 0.0), 3), "train_loss": h["loss"]}
               for h in trainer.state.log_history if "loss" in h]
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    metrics = {
        "initial_val_loss": keep.initial, "best_val_loss": keep.best, "best_step": keep.best_step,
        "final_val_loss": keep.evals[-1]["val_loss"] if keep.evals else None,
        "final_train_loss": history[-1]["train_loss"] if history else None,
        "steps": trainer.state.global_step, "planned_steps": trainer.state.max_steps,
        "epochs": round(trainer.state.epoch or 0, 3), "stopped_early": trainer.state.global_step < trainer.state.max_steps,
        "eval_steps": args.eval_steps, "train_seconds": round(seconds, 2),
        "trainable_params": trainable, "total_params": total,
        "train_loss_history": history, "val_loss_history": keep.evals,
    }
    return Trained(model=trainer.model, metrics=metrics)


# artifact -----------------------------------------------------------------------------------------

def point_adapter_at(folder: Path, base_ref: str) -> None:
    """peft records the folder the base was loaded from (a cache path); the artifact names the engine spec."""
    path = folder / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base_ref
    path.write_text(json.dumps(config, indent=2, sort_keys=True))


def make_manifest(run: TeacherRun, base_ref: str, engine: Any, train: list[Example], val: list[Example],
                  data: Tokenized, merged: bool) -> dict[str, Any]:
    from synthwright import __version__

    return {
        "format": FORMAT, "format_version": 1, "synthwright_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base": base_ref, "base_model": engine.source.label, "model_type": engine.model.config.model_type,
        "teacher": {"run": str(run.path), "recipe": run.name, "task": run.task, "engines": run.teachers},
        "samples": {"accepted": len(run.examples), "train": len(train), "validation": len(val),
                    "left_out": data.left_out},
        "schema": generation_schema(run.recipe),
        "merged": "merged" if merged else None,
        "train_sample_ids": [e.sample_id for e in train], "validation_sample_ids": [e.sample_id for e in val],
    }


def generation_schema(recipe: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema the teacher wrote under (what the student learned to write), if the recipe still reads."""
    from synthwright.recipe.model import Recipe
    from synthwright.tasks import task_for

    try:
        r = Recipe.model_validate(recipe)
    except Exception:  # a recipe from an older version: the card just omits the schema
        return None
    return task_for(r.task).schema(r).model_json_schema()


def write_merged(folder: Path, cfg: DistillConfig) -> None:
    """Base + adapter merged into plain weights in `folder/merged`, loaded the way the engine loads the student.

    Merging happens in float32 on CPU (bf16 on a GPU), never into a 4-bit base, so a QLoRA student merges
    into the full-precision base it will run on.
    """
    from synthwright.engines.model_source import local_source
    from synthwright.engines.transformers_engine import TransformersEngine

    dtype = "float32" if cfg.device.startswith("cpu") or not _cuda() else ("bfloat16" if cfg.dtype == "auto" else cfg.dtype)
    engine = TransformersEngine(local_source(str(folder)), device=cfg.device, dtype=dtype, merge_adapter=True,
                                pack_weights=False)
    try:
        target = folder / "merged"
        engine.model.save_pretrained(str(target))
        engine.tokenizer.save_pretrained(str(target))
    finally:
        engine.close()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def read_manifest(student_dir: str | Path) -> dict[str, Any]:
    path = Path(student_dir) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"'{student_dir}' is not a student from `synthwright distill` (no {MANIFEST}).")
    return json.loads(path.read_text())
