"""A class-conditional DCGAN (Radford et al., 2015) for small images, 8×8 to 64×64.

    z (B, Z) ⊕ one-hot class (B, K) ─▶ linear ─▶ 4×4 ─▶ [conv-transpose ×2]^n ─▶ S×S ─▶ resize to H×W ─▶ tanh image
    image (B, C, H, W) ─▶ resize to S×S ─▶ [conv stride 2]^n ─▶ 4×4 features h ─▶ w·h + ⟨embed(class), h⟩

S is the power of two at or above the image side (at least 16), so any side from 8 to 64 works. The critic
uses a projection (Miyato & Koyama, 2018) to take the class: an inner product of a class
embedding with its features, which conditions more strongly than concatenating a one-hot.
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
class DCGANConfig:
    height: int = 32
    width: int = 32
    channels: int = 1
    n_classes: int = 1
    z_dim: int = 64
    base: int = 32  # channels of the largest feature map; doubles at each halving of resolution
    epochs: int = 50
    batch_size: int = 64
    lr: float = 2e-4
    seed: int = 0

    @property
    def side(self) -> int:
        # at least 16: a single up-sampling layer from 4×4 is too shallow to draw even 8×8 digits
        return 2 ** math.ceil(math.log2(max(self.height, self.width, 16)))

    @property
    def n_up(self) -> int:
        return int(math.log2(self.side // 4))  # 4×4 → side×side


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        self.ch0 = ch = cfg.base * 2 ** (cfg.n_up - 1)
        self.fc = nn.Sequential(nn.Linear(cfg.z_dim + cfg.n_classes, ch * 16), nn.BatchNorm1d(ch * 16), nn.ReLU())
        layers = []
        for i in range(cfg.n_up):
            out = cfg.channels if i == cfg.n_up - 1 else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1))
            if i < cfg.n_up - 1:
                layers += [nn.BatchNorm2d(out), nn.ReLU()]
            ch = out
        self.up = nn.Sequential(*layers)

    def forward(self, z, y):  # (B, Z), (B,) → (B, C, H, W) in [-1, 1]
        h = self.fc(torch.cat([z, F.one_hot(y, self.cfg.n_classes).float()], 1)).view(-1, self.ch0, 4, 4)
        x = self.up(h)  # (B, C, S, S)
        if x.shape[-2:] != (self.cfg.height, self.cfg.width):
            x = F.interpolate(x, size=(self.cfg.height, self.cfg.width), mode="bilinear", antialias=True, align_corners=False)
        return torch.tanh(x)


class Critic(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        layers, ch = [], cfg.channels
        for i in range(cfg.n_up):
            out = cfg.base * 2**i
            layers += [nn.Conv2d(ch, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch = out
        self.down = nn.Sequential(*layers)
        feat = ch * 16
        self.out = nn.Linear(feat, 1)
        self.embed = nn.Embedding(cfg.n_classes, feat)

    def forward(self, x, y):  # (B, C, H, W), (B,) → (B,) logits
        if x.shape[-2:] != (self.cfg.side, self.cfg.side):
            x = F.interpolate(x, size=(self.cfg.side, self.cfg.side), mode="bilinear", align_corners=False)
        h = self.down(x).flatten(1)  # (B, ch·16)
        return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)


class DCGAN:
    """fit(ImageSet) → sample(n, label) → save(folder) / DCGAN.load(folder)."""

    kind = "dcgan"

    def __init__(self, config: DCGANConfig, device: str = "auto", classes: list[str] | None = None):
        self.config = config
        self.device = pick_device(device)
        self.classes = classes or [str(i) for i in range(config.n_classes)]
        self.class_freq = [1 / config.n_classes] * config.n_classes
        seed_all(config.seed)  # the same seed must give the same initial weights
        self.generator = Generator(config).to(self.device)
        self.history: list[dict[str, float]] = []
        self.fit_seconds = 0.0

    def fit(self, data: ImageSet, progress: bool = True) -> "DCGAN":
        cfg, t0 = self.config, time.perf_counter()
        seed_all(cfg.seed)
        self.class_freq = (np.bincount(data.labels, minlength=cfg.n_classes) / len(data.labels)).tolist()
        x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(self.device)  # (N, C, H, W) in [-1, 1]
        y = torch.from_numpy(data.labels).to(self.device)
        critic = Critic(cfg).to(self.device)
        opt_g = adam(self.generator.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        opt_d = adam(critic.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        with training_progress("dcgan", cfg.epochs, progress, self.history) as bar:
            for epoch in range(cfg.epochs):
                for idx in torch.randperm(len(x), device=self.device).split(cfg.batch_size):
                    real, label = x[idx], y[idx]
                    fake = self.generator(torch.randn(len(idx), cfg.z_dim, device=self.device), label)
                    # the non-saturating loss: softplus(−D) = −log σ(D)
                    loss_d = F.softplus(-critic(real, label)).mean() + F.softplus(critic(fake.detach(), label)).mean()
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                    loss_g = F.softplus(-critic(fake, label)).mean()
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                losses = {"G": loss_g.item(), "D": loss_d.item()}
                bar.update(losses=losses)
        self.fit_seconds = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> ImageSet:
        """n images of class `label`, or with classes drawn at the training frequencies."""
        rng = seed_all(self.config.seed if seed is None else seed)
        labels = np.full(n, label) if label is not None else rng.choice(self.config.n_classes, n, p=self.class_freq)
        self.generator.eval()
        out = []
        for chunk in np.array_split(labels, max(1, math.ceil(n / 512))):
            y = torch.from_numpy(chunk.astype(np.int64)).to(self.device)
            out.append(self.generator(torch.randn(len(y), self.config.z_dim, device=self.device), y).cpu())
        self.generator.train()
        x = torch.cat(out) if out else torch.zeros(0, self.config.channels, self.config.height, self.config.width)
        images = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return ImageSet(images, labels.astype(np.int64), self.classes)

    def save(self, folder: str | Path) -> Path:
        meta = {"model": self.kind, "config": asdict(self.config), "classes": self.classes, "class_freq": self.class_freq,
                "fit_seconds": self.fit_seconds, "history": self.history}
        return save_checkpoint(folder, meta, {"generator": self.generator.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "DCGAN":
        meta, state = load_checkpoint(folder, (cls.kind,))
        self = cls(DCGANConfig(**meta["config"]), device, meta["classes"])
        self.class_freq, self.history, self.fit_seconds = meta["class_freq"], meta["history"], meta["fit_seconds"]
        self.generator.load_state_dict(state["generator"])
        return self
