"""Finetune: distill a teacher run into a LoRA student (`distill`), and compare the two runs (`compare_runs`)."""

from __future__ import annotations

from typing import Any

__all__ = ["DistillConfig", "DistillResult", "compare_runs", "distill", "load_distill_config", "schema_valid_rate"]

_LAZY = {
    "DistillConfig": "synthwright.finetune.config",
    "load_distill_config": "synthwright.finetune.config",
    "DistillResult": "synthwright.finetune.distiller",
    "distill": "synthwright.finetune.distiller",
    "schema_valid_rate": "synthwright.finetune.validity",
    "compare_runs": "synthwright.finetune.compare",
}


def __getattr__(name: str) -> Any:
    """torch, transformers, peft and trl load on first use, not on import."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'synthwright.finetune' has no attribute {name!r}")
