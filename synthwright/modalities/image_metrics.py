"""How good are synthetic images? A judge classifier, a feature-space distance, copy checks.

- judge: a small CNN trained on real images (80%); its accuracy on the other 20% is the ceiling.
  On synthetic images it reports, per class, how often it sees the class the image was asked
  for (accuracy) and how sure it is (mean probability of that class).
- FID-style distance: Fréchet distance between Gaussians fitted to the judge's penultimate
  features of real and synthetic images; the real-holdout-vs-real-train distance is the floor.
- copies: pixel distance (RMS, 0–1 scale) from each synthetic image to its nearest real training
  image, against the same for real holdout images; exact copies (pixel-identical to any real
  image) and near copies (closer than 99% of real holdout images are).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthwright.core.errors import ConfigError
from synthwright.modalities.image_data import ImageSet


def _tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)  # (N, C, H, W) in [0, 1]


def _judge(channels: int, n_classes: int):
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 64): the feature space for the Fréchet distance
        nn.Linear(64, n_classes),
    )


def train_judge(images: np.ndarray, labels: np.ndarray, n_classes: int, epochs: int = 15, seed: int = 0):
    """A small CNN classifier; returns (model, feature extractor = all layers but the last)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = _judge(images.shape[-1], n_classes)
    x, y = _tensor(images), torch.from_numpy(labels)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(128):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval(), model[:-1]


def _predict(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """→ class probabilities (N, K), features (N, 64)."""
    import torch

    with torch.no_grad():
        x = _tensor(images)
        feats = torch.cat([model[:-1](b) for b in x.split(512)]) if len(x) else torch.zeros(0, 64)
        return torch.softmax(model[-1](feats), 1).numpy(), feats.numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½), as in FID."""
    import warnings

    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # fewer images than features: singular, handled below
        covmean = linalg.sqrtm(cov_a @ cov_b)  # (SciPy 1.16 deprecates disp=False and its error estimate)
    if not np.isfinite(covmean).all():  # near-singular product: nudge both diagonals
        eps = np.eye(len(cov_a)) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean.real))


def nearest_distances(query: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """RMS pixel distance (0–1 scale) from each query image to its nearest reference image."""
    from sklearn.metrics import pairwise_distances_argmin_min

    q = query.reshape(len(query), -1).astype("float32") / 255
    r = ref.reshape(len(ref), -1).astype("float32") / 255
    _, d = pairwise_distances_argmin_min(q, r)
    return d / np.sqrt(q.shape[1])


def _hashes(images: np.ndarray) -> np.ndarray:
    """One 64-bit hash per image's exact pixels (float distances are never exactly 0)."""
    import hashlib

    return np.array([int.from_bytes(hashlib.blake2b(im.tobytes(), digest_size=8).digest(), "little") for im in images], dtype=np.uint64)


def evaluate_images(real: ImageSet, synth: ImageSet, *, seed: int = 0, judge_epochs: int = 15) -> dict[str, Any]:
    """Judge accuracy/confidence per class, FID-style distance and copy checks, as one JSON-able dict."""
    if len(real.images) < 10 or len(synth.images) == 0:
        raise ConfigError("Image evaluation needs at least 10 real images and 1 synthetic image; give larger sets.")
    if synth.shape != real.shape:
        raise ConfigError(f"Synthetic images are {synth.shape} (H, W, C) but real ones are {real.shape}; sample from a model fitted on these images.")
    unknown = [c for c in synth.classes if c not in real.classes]
    if unknown:
        raise ConfigError(f"Synthetic class '{unknown[0]}' is not a real class; real classes are: {', '.join(real.classes)}.")
    synth_labels = np.array([real.classes.index(synth.classes[i]) for i in synth.labels], dtype=np.int64)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(real.images))
    cut = int(len(idx) * 0.8)
    tr, ho = idx[:cut], idx[cut:]
    model, _ = train_judge(real.images[tr], real.labels[tr], len(real.classes), judge_epochs, seed)
    p_hold, f_hold = _predict(model, real.images[ho])
    p_syn, f_syn = _predict(model, synth.images)
    _, f_train = _predict(model, real.images[tr])

    per_class = {}
    for k, name in enumerate(real.classes):
        m = synth_labels == k
        if m.any():
            per_class[name] = {"n": int(m.sum()), "accuracy": float((p_syn[m].argmax(1) == k).mean()),
                               "confidence": float(p_syn[m, k].mean()),
                               "real_holdout_accuracy": float((p_hold[real.labels[ho] == k].argmax(1) == k).mean()) if (real.labels[ho] == k).any() else float("nan")}
    d_syn = nearest_distances(synth.images[: 2000], real.images[tr])
    d_hold = nearest_distances(real.images[ho][: 2000], real.images[tr])
    p1 = float(np.percentile(d_hold, 1))
    n_fid = min(len(f_syn), len(f_hold))  # same count on both sides: FID grows as samples shrink
    f_syn = f_syn[rng.permutation(len(f_syn))]  # files come sorted by class: take a fair subset
    return {
        "rows": {"real": len(real.images), "synthetic": len(synth.images), "real_holdout": len(ho)},
        "classes": real.classes,
        "judge": {
            "real_holdout_accuracy": float((p_hold.argmax(1) == real.labels[ho]).mean()),
            "synthetic_accuracy": float((p_syn.argmax(1) == synth_labels).mean()),
            "synthetic_confidence": float(p_syn[np.arange(len(p_syn)), synth_labels].mean()),
            "per_class": per_class,
        },
        "fid": {"synthetic": frechet_distance(f_syn[:n_fid], f_train) if n_fid > 1 else float("nan"),
                "real_holdout": frechet_distance(f_hold[:n_fid], f_train) if n_fid > 1 else float("nan")},
        "copies": {
            "exact_copy_rate": float(np.isin(_hashes(synth.images), _hashes(real.images)).mean()),
            "near_copy_rate": float((d_syn < p1).mean()),
            "nn_synthetic_median": float(np.median(d_syn)),
            "nn_holdout_median": float(np.median(d_hold)),
            "nn_synthetic_quantiles": np.quantile(d_syn, np.linspace(0, 1, 21)).tolist(),
            "nn_holdout_quantiles": np.quantile(d_hold, np.linspace(0, 1, 21)).tolist(),
        },
    }
