"""A class-conditional VAE (Sohn et al., 2015) for small images, 8×8 to 64×64.

    image (B, C, H, W) ⊕ class maps (B, K, H, W) ─▶ [conv stride 2]^n ─▶ μ, log σ² (B, Z)
    z (B, Z) ⊕ one-hot class (B, K) ─▶ linear ─▶ 4×4 ─▶ [conv-transpose ×2]^n ─▶ resize to H×W ─▶ sigmoid

Pixels in [0, 1] get a Bernoulli likelihood (binary cross-entropy), the usual choice for small
images. Samples are the decoder's mean image: smoother than a GAN's, never mode-collapsed.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from synthwright.modalities._io import load_checkpoint, save_checkpoint
from synthwright.modalities._train import adam, pick_device, seed_all, training_progress
from synthwright.modalities.image_data import ImageSet


@dataclass
class ImageVAEConfig:
    height: int = 32
    width: int = 32
    channels: int = 1
    n_classes: int = 1
    z_dim: int = 16
    base: int = 32
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0  # weight of the KL term
    seed: int = 0

    @property
    def side(self) -> int:
        return 2 ** math.ceil(math.log2(max(self.height, self.width, 8)))

    @property
    def n_down(self) -> int:
        return int(math.log2(self.side // 4))


class CVAE(nn.Module):
    def __init__(self, cfg: ImageVAEConfig):
        super().__init__()
        self.cfg = cfg
        layers, ch = [], cfg.channels + cfg.n_classes
        for i in range(cfg.n_down):
            out = cfg.base * 2**i
            layers += [nn.Conv2d(ch, out, 4, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            ch = out
        self.enc = nn.Sequential(*layers)
        self.mu, self.logvar = nn.Linear(ch * 16, cfg.z_dim), nn.Linear(ch * 16, cfg.z_dim)
        self.ch0 = ch
        self.fc = nn.Sequential(nn.Linear(cfg.z_dim + cfg.n_classes, ch * 16), nn.ReLU())
        layers = []
        for i in range(cfg.n_down):
            out = cfg.channels if i == cfg.n_down - 1 else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1))
            if i < cfg.n_down - 1:
                layers += [nn.BatchNorm2d(out), nn.ReLU()]
            ch = out
        self.dec = nn.Sequential(*layers)

    def encode(self, x, y):  # (B, C, H, W), (B,) → μ, log σ² (B, Z)
        onehot = F.one_hot(y, self.cfg.n_classes).float()
        if x.shape[-2:] != (self.cfg.side, self.cfg.side):
            x = F.interpolate(x, size=(self.cfg.side, self.cfg.side), mode="bilinear", align_corners=False)
        maps = onehot[:, :, None, None].expand(-1, -1, *x.shape[-2:])  # the class, as constant image planes
        h = self.enc(torch.cat([x, maps], 1)).flatten(1)
        return self.mu(h), self.logvar(h)

    def decode(self, z, y):  # (B, Z), (B,) → pixel logits (B, C, H, W)
        h = self.fc(torch.cat([z, F.one_hot(y, self.cfg.n_classes).float()], 1)).view(-1, self.ch0, 4, 4)
        x = self.dec(h)
        if x.shape[-2:] != (self.cfg.height, self.cfg.width):
            x = F.interpolate(x, size=(self.cfg.height, self.cfg.width), mode="bilinear", antialias=True, align_corners=False)
        return x


class ImageVAE:
    """fit(ImageSet) → sample(n, label) → save(folder) / ImageVAE.load(folder)."""

    kind = "cvae"

    def __init__(self, config: ImageVAEConfig, device: str = "auto", classes: list[str] | None = None):
        self.config = config
        self.device = pick_device(device)
        self.classes = classes or [str(i) for i in range(config.n_classes)]
        self.class_freq = [1 / config.n_classes] * config.n_classes
        seed_all(config.seed)  # the same seed must give the same initial weights
        self.vae = CVAE(config).to(self.device)
        self.history: list[dict[str, float]] = []
        self.fit_seconds = 0.0

    def fit(self, data: ImageSet, progress: bool = True) -> "ImageVAE":
        cfg, t0 = self.config, time.perf_counter()
        seed_all(cfg.seed)
        self.class_freq = (np.bincount(data.labels, minlength=cfg.n_classes) / len(data.labels)).tolist()
        x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float().div(255).to(self.device)  # (N, C, H, W) in [0, 1]
        y = torch.from_numpy(data.labels).to(self.device)
        opt = adam(self.vae.parameters(), lr=cfg.lr)
        with training_progress("cvae", cfg.epochs, progress, self.history) as bar:
            for epoch in range(cfg.epochs):
                for idx in torch.randperm(len(x), device=self.device).split(cfg.batch_size):
                    real, label = x[idx], y[idx]
                    mu, logvar = self.vae.encode(real, label)
                    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                    recon = F.binary_cross_entropy_with_logits(self.vae.decode(z, label), real, reduction="sum") / len(idx)
                    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp()) / len(idx)
                    loss = recon + cfg.beta * kl
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                losses = {"recon": recon.item(), "KL": kl.item()}
                bar.update(losses=losses)
        self.fit_seconds = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> ImageSet:
        """n images of class `label`, or with classes drawn at the training frequencies."""
        rng = seed_all(self.config.seed if seed is None else seed)
        labels = np.full(n, label) if label is not None else rng.choice(self.config.n_classes, n, p=self.class_freq)
        self.vae.eval()
        out = []
        for chunk in np.array_split(labels, max(1, math.ceil(n / 512))):
            y = torch.from_numpy(chunk.astype(np.int64)).to(self.device)
            out.append(torch.sigmoid(self.vae.decode(torch.randn(len(y), self.config.z_dim, device=self.device), y)).cpu())
        self.vae.train()
        x = torch.cat(out) if out else torch.zeros(0, self.config.channels, self.config.height, self.config.width)
        images = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return ImageSet(images, labels.astype(np.int64), self.classes)

    def save(self, folder: str | Path) -> Path:
        meta = {"model": self.kind, "config": asdict(self.config), "classes": self.classes, "class_freq": self.class_freq,
                "fit_seconds": self.fit_seconds, "history": self.history}
        return save_checkpoint(folder, meta, {"vae": self.vae.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "ImageVAE":
        meta, state = load_checkpoint(folder, (cls.kind,))
        self = cls(ImageVAEConfig(**meta["config"]), device, meta["classes"])
        self.class_freq, self.history, self.fit_seconds = meta["class_freq"], meta["history"], meta["fit_seconds"]
        self.vae.load_state_dict(state["vae"])
        return self
