"""Small images: fit a model, sample images, evaluate them. The library behind `synthwright image …`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from synthwright.core.errors import ConfigError
from synthwright.modalities._io import model_kind
from synthwright.modalities.image_data import (
    ImageSet,
    load_images,
    save_grid,
    save_images,
)
from synthwright.rundir.lock import writes_to

MODELS = ("dcgan", "cvae")


def _model_class(model: str):
    """(model class, its config class) by name; torch loads only here."""
    if model == "dcgan":
        from synthwright.modalities.dcgan import DCGAN, DCGANConfig

        return DCGAN, DCGANConfig
    if model == "cvae":
        from synthwright.modalities.image_vae import ImageVAE, ImageVAEConfig

        return ImageVAE, ImageVAEConfig
    raise ConfigError(f"Unknown image model '{model}'; use one of: {', '.join(MODELS)}.")


@writes_to("out", beside=True)
def fit_images(data: Union[str, Path, ImageSet], *, model: str = "dcgan", out: Union[str, Path, None] = None,
               epochs: int | None = None, batch_size: int | None = None, size: int | None = None,
               seed: int = 0, device: str = "auto", progress: bool = True):
    """Fit a class-conditional DCGAN or VAE on a class-per-subfolder folder, a .npz/.npy file or an ImageSet."""
    cls, cfg_cls = _model_class(model)
    images = data if isinstance(data, ImageSet) else load_images(data, size)
    if len(images.images) < 2:
        raise ConfigError(f"Only {len(images.images)} image found; fitting needs at least 2.")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}.")
    h, w, c = images.shape
    options = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if v is not None}
    cfg = cfg_cls(height=h, width=w, channels=c, n_classes=len(images.classes), seed=seed, **options)
    fitted = cls(cfg, device=device, classes=images.classes).fit(images, progress=progress)
    if out is not None:
        fitted.save(out)
    return fitted


def load_image_model(folder: Union[str, Path], device: str = "auto"):
    """Load a model saved by fit_images (either kind)."""
    return _model_class(model_kind(folder, MODELS, "image fit"))[0].load(folder, device=device)


def sample_images(model: Union[str, Path, Any], n: int, *, out: Union[str, Path, None] = None,
                  class_name: str | None = None, seed: int = 0, device: str = "auto") -> ImageSet:
    """n images (of one class, or at the training class mix); `out` is a folder (class subfolders + grid.png) or a .npz."""
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}.")
    if out is not None and Path(out).suffix and Path(out).suffix.lower() != ".npz":
        raise ConfigError(f"Output '{out}' has suffix '{Path(out).suffix}'; give a folder name or a .npz file.")
    fitted = load_image_model(model, device) if isinstance(model, (str, Path)) else model
    label = None
    if class_name is not None:
        if class_name not in fitted.classes:
            raise ConfigError(f"Class '{class_name}' is not one the model knows; use one of: {', '.join(fitted.classes)}.")
        label = fitted.classes.index(class_name)
    images = fitted.sample(n, label=label, seed=seed)
    if out is not None:
        save_images(images, out)
        grid = Path(out).with_suffix(".png") if Path(out).suffix else Path(out) / "grid.png"
        save_grid(images.images, images.labels, images.classes, grid, title=f"Synthetic samples ({fitted.kind})")
    return images


def eval_images(real: Union[str, Path, ImageSet], synth: Union[str, Path, ImageSet], *, out: Union[str, Path, None] = None,
                size: int | None = None, seed: int = 0, judge_epochs: int = 15) -> dict[str, Any]:
    """Score synthetic images against real ones; with `out`, write report.md, stats.json and plots."""
    from synthwright.modalities.image_metrics import evaluate_images

    real_set = real if isinstance(real, ImageSet) else load_images(real, size)
    synth_set = synth if isinstance(synth, ImageSet) else load_images(synth, size or real_set.shape[0])
    stats = evaluate_images(real_set, synth_set, seed=seed, judge_epochs=judge_epochs)
    if out is not None:
        from synthwright.modalities.report import write_image_report

        write_image_report(stats, real_set, synth_set, out)
    return stats


__all__ = ["eval_images", "fit_images", "load_image_model", "load_images", "sample_images"]
