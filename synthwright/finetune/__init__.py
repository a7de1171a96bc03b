"""Finetune: distill a teacher run into a LoRA student (`distill`), build preference pairs from a run
(`preferences`), refine a student with DPO on its own runs (`refine_with_dpo`, `train_dpo`), and compare
two runs (`compare_runs`)."""

from __future__ import annotations

from synthwright.core.lazy import lazy_getattr

__all__ = ["DistillConfig", "DistillResult", "build_preferences", "compare_runs", "distill", "load_distill_config",
           "preferences", "refine_with_dpo", "schema_valid_rate", "train_dpo"]

_LAZY = {
    "DistillConfig": "synthwright.finetune.config",
    "load_distill_config": "synthwright.finetune.config",
    "DistillResult": "synthwright.finetune.distiller",
    "distill": "synthwright.finetune.distiller",
    "schema_valid_rate": "synthwright.finetune.validity",
    "compare_runs": "synthwright.reports.compare",
    "build_preferences": "synthwright.finetune.preferences",
    "preferences": "synthwright.finetune.preferences",
    "train_dpo": "synthwright.finetune.dpo",
    "refine_with_dpo": "synthwright.finetune.dpo_loop",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
