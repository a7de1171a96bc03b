"""Small labelled images in and out: a folder with one subfolder per class, or a NumPy file.

In memory an image set is uint8 (N, H, W, C) with C = 1 (grayscale) or 3 (RGB), integer
labels (N,) and the class names. Sides run from 8 to 64 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from synthwright.core.errors import ConfigError
from synthwright.modalities._io import atomic_write

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MIN_SIDE, MAX_SIDE = 8, 64


@dataclass
class ImageSet:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int64 index into classes
    classes: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]


def _check_side(h: int, w: int, where: str) -> None:
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ConfigError(f"Images in '{where}' are {h}×{w}; the image models take {MIN_SIDE} to {MAX_SIDE} pixels a side, so pass --size to resize them.")


def load_images(path: Union[str, Path], size: int | None = None) -> ImageSet:
    """Read a class-per-subfolder folder, or a .npz (x/images + y/labels [+ classes]) or .npy file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Image data '{path}' does not exist; give a folder with one subfolder per class, or a .npz/.npy file.")
    data = _load_folder(path, size) if path.is_dir() else _load_array(path, size)
    if len(data.images) == 0:
        raise ConfigError(f"Image data '{path}' holds no images; add image files (.png, .jpg) to the class subfolders.")
    _check_side(data.shape[0], data.shape[1], str(path))
    return data


def _load_folder(path: Path, size: int | None) -> ImageSet:
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ConfigError(f"Folder '{path}' has no class subfolders; put the images in one subfolder per class, such as {path}/cat/001.png.")
    files = [(f, i) for i, d in enumerate(class_dirs) for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ConfigError(f"The class subfolders of '{path}' hold no image files; add .png or .jpg images to them.")
    arrays, target = [], None
    for f, _ in files:
        try:
            with Image.open(f) as im:  # one file open at a time: folders can hold more images than file handles
                target = target or ((size, size) if size else im.size)  # PIL sizes are (W, H)
                im = im.convert("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
                if im.size != target:
                    im = im.resize(target, Image.Resampling.BILINEAR)
                a = np.asarray(im, dtype=np.uint8)
        except UnidentifiedImageError:
            raise ConfigError(f"'{f}' is not an image PIL can read (a damaged file or another format under an image"
                              " suffix); remove or replace it and try again.") from None
        except (OSError, SyntaxError, ValueError) as exc:  # PIL's words for a file cut short or broken inside
            raise ConfigError(f"Image '{f}' is truncated or damaged ({exc}); remove or replace it and try again.") from None
        arrays.append(a[..., None] if a.ndim == 2 else a)
    if any(a.shape[-1] == 3 for a in arrays):  # any colour image makes the whole set RGB
        arrays = [np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a for a in arrays]
    images = np.stack(arrays)
    return ImageSet(images, np.array([i for _, i in files], dtype=np.int64), [d.name for d in class_dirs])


def _load_array(path: Path, size: int | None) -> ImageSet:
    if path.suffix.lower() not in (".npz", ".npy"):
        raise ConfigError(f"Image data '{path}' is neither a folder nor a .npz/.npy file; give one of those.")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"Image data '{path}' could not be read ({exc}); save it with numpy.savez.") from None
    if isinstance(loaded, np.ndarray):
        x, y, classes = loaded, np.zeros(len(loaded), np.int64), None
    else:
        xk = next((k for k in ("x", "images", "X") if k in loaded), None)
        if xk is None:
            raise ConfigError(f"'{path}' has no 'x' or 'images' array; save it with numpy.savez(path, x=images, y=labels).")
        x = loaded[xk]
        yk = next((k for k in ("y", "labels") if k in loaded), None)
        y = loaded[yk].astype(np.int64) if yk else np.zeros(len(x), np.int64)
        classes = [str(c) for c in loaded["classes"]] if "classes" in loaded else None
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ConfigError(f"'{path}' holds an array of shape {x.shape}; images must be (N, H, W), (N, H, W, 1) or (N, H, W, 3).")
    if x.dtype != np.uint8:
        if np.issubdtype(x.dtype, np.floating) and x.min() >= 0 and x.max() <= 1:
            x = np.round(x * 255)
        elif x.min() < 0 or x.max() > 255:
            raise ConfigError(f"'{path}' has pixel values from {x.min()} to {x.max()}; use uint8 0–255 or floats 0–1.")
        x = x.astype(np.uint8)
    if len(y) != len(x) or (len(y) and y.min() < 0):
        raise ConfigError(f"'{path}' has {len(y)} labels for {len(x)} images (or a negative label); give one label index per image.")
    classes = classes or [str(i) for i in range(int(y.max()) + 1 if len(y) else 1)]
    if size and x.shape[1:3] != (size, size):
        x = resize(x, size)
    return ImageSet(x, y, classes)


def resize(images: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    mode = "L" if images.shape[-1] == 1 else "RGB"
    out = [np.asarray(Image.fromarray(im[..., 0] if mode == "L" else im, mode).resize((size, size), Image.Resampling.BILINEAR)) for im in images]
    out = np.stack(out)
    return out[..., None] if out.ndim == 3 else out


def save_images(data: ImageSet, out: Union[str, Path]) -> Path:
    """A folder (one subfolder per class, PNG files) or, for a .npz path, one NumPy file."""
    from PIL import Image

    out = Path(out)
    if out.suffix.lower() == ".npz":
        return atomic_write(out, lambda p: np.savez(p.open("wb"), x=data.images, y=data.labels, classes=np.array(data.classes)))
    if out.suffix:
        raise ConfigError(f"Output '{out}' has suffix '{out.suffix}'; give a folder name or a .npz file.")
    for i, (im, label) in enumerate(zip(data.images, data.labels)):
        target = out / data.classes[label] / f"{i:06d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        pil = Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im)
        atomic_write(target, lambda p, pil=pil: pil.save(p, format="PNG"))
    return out


def save_grid(images: np.ndarray, labels: np.ndarray, classes: list[str], path: Union[str, Path],
              title: str = "Synthetic samples", per_class: int = 8) -> Path:
    """A PNG with one row per class (up to `per_class` images each), class names on the left."""
    from synthwright.modalities._io import atomic_write
    from synthwright.modalities.plotting import pyplot

    plt = pyplot()
    rows = [c for c in range(len(classes)) if (labels == c).any()][:20]
    fig, axes = plt.subplots(len(rows), per_class, figsize=(per_class * 0.9 + 1, len(rows) * 0.9 + 0.8), squeeze=False)
    for r, c in enumerate(rows):
        idx = np.flatnonzero(labels == c)[:per_class]
        for k in range(per_class):
            ax = axes[r, k]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if k < len(idx):
                im = images[idx[k]]
                ax.imshow(im[..., 0] if im.shape[-1] == 1 else im, cmap="gray" if im.shape[-1] == 1 else None, vmin=0, vmax=255)
        axes[r, 0].set_ylabel(classes[c][:12], rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, dpi=100, format="png"))
    plt.close(fig)
    return path
