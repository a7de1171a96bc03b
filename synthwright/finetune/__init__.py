"""Finetune: distill a teacher run into a LoRA student (`distill`), and compare the two runs (`compare_runs`)."""

from __future__ import annotations

from .._lazy import lazy_getattr

__all__ = ["DistillConfig", "DistillResult", "compare_runs", "distill", "load_distill_config", "schema_valid_rate"]

_LAZY = {
    "DistillConfig": "synthwright.finetune.config",
    "load_distill_config": "synthwright.finetune.config",
    "DistillResult": "synthwright.finetune.distiller",
    "distill": "synthwright.finetune.distiller",
    "schema_valid_rate": "synthwright.finetune.validity",
    "compare_runs": "synthwright.finetune.compare",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
