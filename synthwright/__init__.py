"""synthwright: clean, labelled, documented training datasets from models on your own hardware."""

from __future__ import annotations

from synthwright.core.lazy import lazy_getattr

__version__ = "0.1.0"

__all__ = [
    "ChatRequest", "ClassificationSample", "DialogueSample", "Engine", "Generation", "QASample",
    "Recipe", "Sampling", "SynthwrightError", "Turn", "build_report", "evaluate_on_real", "generate_samples", "load_engine",
    "load_recipe", "plan_run", "estimate_run", "run",
]

_LAZY = {
    "ChatRequest": "synthwright.engines.base",
    "Engine": "synthwright.engines.base",
    "Generation": "synthwright.engines.base",
    "Sampling": "synthwright.engines.base",
    "load_engine": "synthwright.engines.registry",
    "ClassificationSample": "synthwright.core.samples",
    "QASample": "synthwright.core.samples",
    "DialogueSample": "synthwright.core.samples",
    "Turn": "synthwright.core.samples",
    "SynthwrightError": "synthwright.core.errors",
    "generate_samples": "synthwright.make.generate",
    "Recipe": "synthwright.recipe.model",
    "load_recipe": "synthwright.recipe.load",
    "run": "synthwright.make.pipeline",
    "plan_run": "synthwright.make.pipeline",
    "estimate_run": "synthwright.make.estimate",
    "build_report": "synthwright.reports.report",
    "evaluate_on_real": "synthwright.reports.tstr",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
