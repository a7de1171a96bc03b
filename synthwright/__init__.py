"""synthwright: clean, labelled, documented training datasets from models on your own hardware."""

from __future__ import annotations

from ._lazy import lazy_getattr

__version__ = "0.1.0"

__all__ = [
    "ChatRequest", "ClassificationSample", "DialogueSample", "Engine", "Generation", "QASample",
    "Recipe", "Sampling", "SynthwrightError", "Turn", "build_report", "evaluate_on_real", "generate_samples", "load_engine",
    "load_recipe", "plan_run", "run",
]

_LAZY = {
    "ChatRequest": "synthwright.engines.base",
    "Engine": "synthwright.engines.base",
    "Generation": "synthwright.engines.base",
    "Sampling": "synthwright.engines.base",
    "load_engine": "synthwright.engines.registry",
    "ClassificationSample": "synthwright.samples",
    "QASample": "synthwright.samples",
    "DialogueSample": "synthwright.samples",
    "Turn": "synthwright.samples",
    "SynthwrightError": "synthwright.errors",
    "generate_samples": "synthwright.generate",
    "Recipe": "synthwright.recipe",
    "load_recipe": "synthwright.recipe",
    "run": "synthwright.pipeline",
    "plan_run": "synthwright.pipeline",
    "build_report": "synthwright.evaluators.report",
    "evaluate_on_real": "synthwright.evaluators.tstr",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
