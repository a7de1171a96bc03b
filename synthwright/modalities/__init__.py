"""Tables and small images: GAN, VAE and Gaussian-copula generators with fidelity, utility and privacy metrics.

    from synthwright.modalities import fit_tabular, sample_tabular, eval_tabular
    model = fit_tabular("train.csv", model="ctgan", out="model/", epochs=300)
    rows = sample_tabular(model, 1000, out="rows.parquet")
    stats = eval_tabular("train.csv", rows, out="report/")

torch loads on first use, not on import.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ColumnConstraint", "ImageSet", "TabularRecipe", "eval_images", "eval_tabular", "fit_images", "fit_tabular",
    "load_image_model", "load_images", "load_tabular", "load_tabular_recipe", "run_tabular_recipe",
    "sample_images", "sample_tabular",
]

_LAZY = {
    "ColumnConstraint": "tabular_data", "ImageSet": "image_data", "load_images": "image_data",
    "eval_tabular": "tabular", "fit_tabular": "tabular", "load_tabular": "tabular", "sample_tabular": "tabular",
    "eval_images": "images", "fit_images": "images", "load_image_model": "images", "sample_images": "images",
    "TabularRecipe": "recipe", "load_tabular_recipe": "recipe", "run_tabular_recipe": "recipe",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
