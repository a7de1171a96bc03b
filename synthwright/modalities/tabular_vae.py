"""A tabular variational autoencoder of the TVAE family (Xu et al., 2019), written from the paper.

    rows ─▶ TableEncoder ─▶ x (B, D) ─▶ encoder ─▶ μ, log σ² (B, E) ─▶ z ─▶ decoder ─▶ x̂ (B, D)
    sample: z ~ N(0, I) ─▶ decoder ─▶ tanh offsets (+ learned noise) and span argmaxes ─▶ rows

It reads and writes the same encoded matrix as the GAN. Continuous offsets get a Gaussian
likelihood with a learned per-entry σ, spans a cross-entropy; no adversary, so it trains
faster and more steadily than the GAN, at some cost on complex joint distributions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from synthwright.modalities._io import load_checkpoint, save_checkpoint
from synthwright.modalities._train import (
    adam,
    autocast,
    pick_device,
    seed_all,
    training_progress,
    use_bf16,
)
from synthwright.modalities.tabular_data import (
    ColumnConstraint,
    SpanLayout,
    TableEncoder,
    parse_constraints,
)
from synthwright.modalities.tabular_dp import (
    DPSettings,
    make_private,
    plan_noise,
    private_schema,
    quiet_training,
    record,
    require_opacus,
    schema_scope,
)


@dataclass
class TabularVAEConfig:
    epochs: int = 300
    batch_size: int = 500
    embedding_dim: int = 128  # latent size
    compress_dims: tuple[int, ...] = (128, 128)
    decompress_dims: tuple[int, ...] = (128, 128)
    lr: float = 1e-3
    weight_decay: float = 1e-5
    loss_factor: float = 2.0  # weight of reconstruction against KL; >1 favours fidelity over a smooth latent
    precision: str = "auto"  # auto: bfloat16 matmuls where the hardware runs them fast (CUDA, CPUs with AMX), else float32
    seed: int = 0
    dp_epsilon: float | None = None  # train with DP-SGD to this ε (see tabular_dp.py); None = not private
    dp_delta: float | None = None  # None: 0.1 / rows
    dp_max_grad_norm: float = 1.0  # per-row gradient clipping norm under DP


def mlp(i: int, dims: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers = []
    for h in dims:
        layers += [nn.Linear(i, h), nn.ReLU()]
        i = h
    return nn.Sequential(*layers), i


class VAE(nn.Module):
    def __init__(self, data_dim: int, n_tanh: int, cfg: TabularVAEConfig):
        super().__init__()
        self.enc, h = mlp(data_dim, cfg.compress_dims)
        self.mu, self.logvar = nn.Linear(h, cfg.embedding_dim), nn.Linear(h, cfg.embedding_dim)
        body, h = mlp(cfg.embedding_dim, cfg.decompress_dims)
        self.dec = nn.Sequential(body, nn.Linear(h, data_dim))
        self.sigma = nn.Parameter(torch.full((n_tanh,), 0.1))  # noise of each tanh offset, learned

    def forward(self, x):  # (B, D) → raw reconstruction (B, D), μ (B, E), log σ² (B, E)
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation
        return self.dec(z), mu, logvar


class TabularVAE:
    """fit(table) → sample(n) → save(folder) / TabularVAE.load(folder)."""

    kind = "tvae"

    def __init__(self, config: TabularVAEConfig | None = None, device: str = "auto"):
        self.config = config or TabularVAEConfig()
        self.device = pick_device(device)
        self.bf16 = use_bf16(self.config.precision, self.device)
        self.encoder: TableEncoder | None = None
        self.vae: VAE | None = None
        self.history: list[dict[str, float]] = []
        self.fit_seconds = 0.0
        self.dp: dict | None = None  # the DPRecord of a private fit

    def _build(self) -> None:
        self.layout = SpanLayout(self.encoder.spans, self.device)
        self.vae = VAE(self.encoder.dim, self.layout.n_tanh, self.config).to(self.device)

    def fit(self, df: pd.DataFrame, constraints: dict[str, ColumnConstraint] | None = None, progress: bool = True) -> "TabularVAE":
        cfg, t0 = self.config, time.perf_counter()
        df = df.rename(columns=str)  # checkpoints are JSON: column names must be strings
        seed_all(cfg.seed)
        private = cfg.dp_epsilon is not None
        if private:
            require_opacus()
            settings = DPSettings(cfg.dp_epsilon, cfg.dp_delta, cfg.dp_max_grad_norm)
            plan = plan_noise(settings, len(df), cfg.batch_size, cfg.epochs, histogram=False)  # refuses before any work
            self.encoder = private_schema(TableEncoder.fit(df, constraints, seed=cfg.seed, modes="even"))
        else:
            self.encoder = TableEncoder.fit(df, constraints, seed=cfg.seed)
        self._build()
        data = torch.from_numpy(self.layout.pack(self.encoder.transform(df, seed=cfg.seed))).to(self.device)  # (n, D) packed
        if private:  # opacus computes per-row gradients layer by layer; σ is no layer, so it stays at its start value
            self.vae.sigma.requires_grad_(False)
        opt = adam([p for p in self.vae.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
        model, bf16, steps = self.vae, self.bf16 and not private, 0
        if private:
            model, opt, loader = make_private(self.vae, opt, [data], cfg.batch_size, plan["noise"], cfg.dp_max_grad_norm, cfg.seed)

        def batches():
            if private:
                return (x for (x,) in loader)  # Poisson-sampled: each row is in each batch with probability q
            return data[torch.randperm(len(data), device=self.device)].split(cfg.batch_size)  # (B, D) views, no gather per step

        t = self.layout.n_tanh  # packed: offsets are columns [0, t), span scores the rest
        recon = kl = torch.zeros(())
        with training_progress("dp-tvae" if private else "tvae", cfg.epochs, progress, self.history) as bar, quiet_training(private):
            for epoch in range(cfg.epochs):
                for x in batches():
                    steps += 1
                    if len(x) == 0:
                        continue
                    with autocast(self.device, bf16):
                        raw, mu, logvar = model(x)
                    raw, mu, logvar = raw.float(), mu.float(), logvar.float()
                    sigma = self.vae.sigma
                    gauss = ((x[:, :t] - torch.tanh(raw[:, :t])) ** 2 / (2 * sigma**2)).sum() + torch.log(sigma).sum() * len(x)
                    recon = (gauss + self.layout.cross_entropy(raw, x).sum()) / len(x)
                    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp()) / len(x)
                    loss = cfg.loss_factor * recon + kl
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    self.vae.sigma.data.clamp_(0.01, 1.0)
                losses = {"recon": recon.item(), "KL": kl.item()}
                bar.update(losses=losses)
        if private:
            model.remove_hooks()
            self.dp = record(settings, plan, steps, schema_scope(self.encoder.columns, parse_constraints(constraints))).as_dict()
        self.fit_seconds = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000) -> pd.DataFrame:
        cfg = self.config
        seed_all(cfg.seed if seed is None else seed)
        t = self.layout.n_tanh
        self.vae.eval()
        parts = []
        for start in range(0, n, batch_size):
            raw = self.vae.dec(torch.randn(min(batch_size, n - start), cfg.embedding_dim, device=self.device))  # (B, D)
            # offsets get the learned noise back; spans keep raw scores, the encoder takes their argmax
            raw[:, :t] = torch.tanh(raw[:, :t]) + torch.randn_like(raw[:, :t]) * self.vae.sigma
            parts.append(raw.cpu().numpy())
        self.vae.train()
        x = np.concatenate(parts) if parts else np.zeros((0, self.encoder.dim), np.float32)
        return self.encoder.inverse(self.layout.unpack(x))

    def save(self, folder: str | Path) -> Path:
        meta = {"model": self.kind, "config": asdict(self.config), "encoder": self.encoder.state(),
                "fit_seconds": self.fit_seconds, "history": self.history, "dp": self.dp}
        return save_checkpoint(folder, meta, {"vae": self.vae.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "TabularVAE":
        meta, state = load_checkpoint(folder, (cls.kind,))
        cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
        self = cls(TabularVAEConfig(**cfg), device)
        self.encoder = TableEncoder.from_state(meta["encoder"])
        self.history, self.fit_seconds, self.dp = meta["history"], meta["fit_seconds"], meta.get("dp")
        self._build()
        self.vae.load_state_dict(state["vae"])
        return self
