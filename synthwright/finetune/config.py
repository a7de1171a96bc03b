"""`DistillConfig`: every knob of `synthwright distill`, typed and closed. Defaults < YAML file < flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from synthwright.core.errors import ConfigError
from synthwright.core.rowfiles import read_text

# LoRA target modules per `config.model_type`. Attention and MLP projections: LoRA on the MLP as well as
# attention is what makes a small adapter learn a new output format, not only a new style.
LLAMA_LIKE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGET_MODULES: dict[str, list[str]] = {
    "llama": LLAMA_LIKE,
    "mistral": LLAMA_LIKE,
    "mixtral": ["q_proj", "k_proj", "v_proj", "o_proj"],  # experts are not plain Linear layers
    "qwen2": LLAMA_LIKE,
    "qwen3": LLAMA_LIKE,
    "gemma": LLAMA_LIKE,
    "gemma2": LLAMA_LIKE,
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gptj": ["q_proj", "k_proj", "v_proj", "out_proj", "fc_in", "fc_out"],
}
ALL_LINEAR = "all-linear"  # peft: every Linear layer except the output head


def target_modules_for(model_type: str, configured: list[str] | Literal["auto"]) -> list[str] | str:
    """The configured modules, else the table's entry for the architecture, else every linear layer."""
    if configured != "auto":
        return list(configured)
    return TARGET_MODULES.get(model_type, ALL_LINEAR)


class DistillConfig(BaseModel):
    """How `synthwright distill` trains a LoRA student on a teacher run. Unknown keys are rejected.

    The command's trainer flags are made from these fields (synthwright.cli.distill): the name gives the flag
    (`max_steps` → `--max-steps`), the type its type, the default and description its help. `json_schema_extra`
    carries the two exceptions: "flag" is an older spelling kept as the first name (`--lr`), and "switch" makes
    a two-valued on/off field a `--name/--no-name` flag (its values for the two).
    """

    model_config = ConfigDict(extra="forbid")

    # LoRA -------------------------------------------------------------------------------
    rank: int = Field(default=16, ge=1, le=512, description="LoRA rank r: the adapter's width. 8-32 suits format and style.")
    alpha: float = Field(default=32.0, gt=0, description="LoRA alpha; the update is scaled by alpha / rank.")
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA branch during training.")
    target_modules: list[str] | Literal["auto"] = Field(
        default="auto",
        description="Module names to put LoRA on; 'auto' picks attention + MLP projections for llama, mistral, qwen2,"
                    " gemma, phi3, gpt2, gpt_neox and gptj, and every linear layer for other architectures.")
    # optimisation -----------------------------------------------------------------------
    learning_rate: float = Field(default=5e-4, gt=0, le=1.0, description="Peak AdamW learning rate for the adapter.",
                                 json_schema_extra={"flag": "--lr"})
    epochs: float = Field(default=3.0, gt=0, description="Passes over the training set (ignored when max_steps is set).")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimizer steps; overrides epochs.")
    batch_size: int = Field(default=8, ge=1, description="Examples per forward pass.")
    gradient_accumulation_steps: int = Field(default=1, ge=1, description="Forward passes per optimizer step.")
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field(default="linear", description="Learning-rate schedule after warm-up.")
    warmup_ratio: float = Field(default=0.05, ge=0.0, lt=1.0, description="Share of the steps spent warming the learning rate up.")
    weight_decay: float = Field(default=0.0, ge=0.0, description="AdamW weight decay on the adapter.")
    max_length: int = Field(default=2048, ge=16, description="Longest prompt + target in tokens; longer examples are left out and counted.")
    # validation and early stopping ----------------------------------------------------------
    val_fraction: float = Field(default=0.1, gt=0.0, lt=0.9, description="Share of the accepted samples held out, per category, for validation.")
    eval_steps: int | None = Field(default=None, ge=1, description="Evaluate every this many steps; None is about 10 evaluations per run (at least every epoch).")
    patience: int = Field(default=3, ge=0, description="Stop after this many evaluations without a better validation loss; 0 never stops early.")
    min_delta: float = Field(default=0.0, ge=0.0, description="How much lower the validation loss must be to count as better.")
    # hardware -----------------------------------------------------------------------------
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="Dtype of the frozen base; auto is bf16 on GPUs and AMX CPUs, else float32. The adapter trains in float32.")
    qlora: Literal["auto", "on", "off"] = Field(
        default="auto", description="Load the base in 4-bit (bitsandbytes NF4) and train LoRA on top: 'auto' does so when CUDA and bitsandbytes are present; 'on' requires them.",
        json_schema_extra={"switch": ["on", "off"]})
    seed: int = Field(default=0, description="Seed for the split, the adapter's initialisation and data order.")
    # DPO (--method dpo) ---------------------------------------------------------------------
    beta: float = Field(default=0.1, gt=0.0, description="DPO only: how far the policy may move from its reference (higher keeps it closer).")

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, value: list[str] | str) -> list[str] | str:
        if value != "auto" and not value:
            raise ValueError("target_modules must name at least one module, or be 'auto'")
        return value


def load_distill_config(path: str | Path | None = None, **flags: Any) -> DistillConfig:
    """Defaults, then the YAML file at `path` (if any), then `flags` that are not None."""
    data: dict[str, Any] = {}
    where = "flags"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"Distill config '{path}' does not exist; pass the path to a YAML file of DistillConfig fields.")
        try:
            loaded = yaml.safe_load(read_text(p, "distill config")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"Distill config '{path}' is not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax.") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"Distill config '{path}' must be a mapping of fields (rank, alpha, learning_rate, …).")
        data.update(loaded)
        where = f"'{path}' or flags"
    data.update({k: v for k, v in flags.items() if v is not None})
    try:
        return DistillConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "config"
        msg = "unknown field; remove it or check its spelling" if first["type"] == "extra_forbidden" else first["msg"]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"Distill setting '{field}' in {where} is invalid: {msg}{more}; see docs/distill.md for the fields.") from None
