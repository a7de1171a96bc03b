"""A conditional tabular GAN of the CTGAN family (Xu et al., 2019), written from the paper.

    rows ─▶ TableEncoder ─▶ (n, D) ──┐
    cond vector (one category of one column) ─▶ G(z ⊕ cond) ─▶ fake (B, D) ─▶ D(pac rows ⊕ cond) ─▶ score

- Training-by-sampling: each step picks a categorical column, then one of its categories with
  probability ∝ log(frequency), and the real rows shown to the critic carry that category, so
  rare categories are learned too. The generator is also told, by a cross-entropy term, to
  output the category it was asked for.
- WGAN-GP critic that scores `pac` rows at a time: seeing several rows at once lets it notice
  a generator that makes the same row over and over (mode collapse).

Same networks, losses and sampling scheme as the reference code; what differs is for speed:
- the sampler, the per-span (Gumbel-)softmax and the conditional loss are a few batched tensor
  ops on a packed layout (see SpanLayout), not Python loops over columns and rows;
- each step draws one fake batch and uses it for both the critic and the generator update (the
  DCGAN recipe), where the reference draws a second one: three generator passes a step, not four;
- matmuls run in bfloat16 (autocast) where the hardware has native support (CUDA, CPUs with
  AMX), `precision="float32"` turns that off;
- the Gaussian mixtures are fitted on at most 5k values per column.
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
    category_index,
    parse_constraints,
)
from synthwright.modalities.tabular_dp import (
    DPSettings,
    make_private,
    noisy_frequencies,
    plan_noise,
    private_schema,
    quiet_training,
    record,
    require_opacus,
    schema_scope,
)


@dataclass
class TabularGANConfig:
    epochs: int = 300  # passes over the table; one step sees `batch_size` rows
    batch_size: int = 500  # must be a multiple of pac
    embedding_dim: int = 128  # noise size
    generator_dims: tuple[int, ...] = (256, 256)
    discriminator_dims: tuple[int, ...] = (256, 256)
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    weight_decay: float = 1e-6
    pac: int = 10
    gp_weight: float = 10.0
    tau: float = 0.2  # Gumbel-softmax temperature: low, so spans come out nearly one-hot
    precision: str = "auto"  # auto: bfloat16 matmuls where the hardware runs them fast (CUDA, CPUs with AMX), else float32
    seed: int = 0
    dp_epsilon: float | None = None  # train the critic with DP-SGD to this ε (see tabular_dp.py); None = not private
    dp_delta: float | None = None  # None: 0.1 / rows
    dp_max_grad_norm: float = 1.0  # per-row gradient clipping norm under DP


class Residual(nn.Module):
    """Linear → BN → ReLU, with the input passed through alongside: (B, i) → (B, i + o)."""

    def __init__(self, i: int, o: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x):
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    def __init__(self, in_dim: int, dims: tuple[int, ...], data_dim: int):
        super().__init__()
        layers, d = [], in_dim
        for h in dims:
            layers.append(Residual(d, h))
            d += h
        self.body = nn.Sequential(*layers, nn.Linear(d, data_dim))

    def forward(self, z):  # (B, E + C) → (B, D) raw scores, activated by SpanLayout.activate
        return self.body(z)


class Critic(nn.Module):
    def __init__(self, in_dim: int, dims: tuple[int, ...], pac: int):
        super().__init__()
        self.pac = pac
        layers, d = [], in_dim * pac
        for h in dims:
            layers += [nn.Linear(d, h), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            d = h
        self.body = nn.Sequential(*layers, nn.Linear(d, 1))

    def forward(self, x):  # (B, D + C) → (B / pac, 1)
        return self.body(x.reshape(-1, self.pac * x.shape[1]))

    def gradient_penalty(self, real, fake, weight: float):
        """WGAN-GP on points between real and fake pac-groups: push ‖∇D‖ towards 1."""
        b, d = real.shape
        alpha = torch.rand(b // self.pac, 1, 1, device=real.device).expand(-1, self.pac, d).reshape(b, d)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self(mixed).sum(), mixed, create_graph=True)
        norm = grad.reshape(-1, self.pac * d).norm(2, dim=1)  # (B / pac,)
        return weight * ((norm - 1) ** 2).mean()


class CondSampler:
    """Condition vectors and matching real rows, all vectorised over the batch."""

    def __init__(self, codes: np.ndarray, widths: list[int], rng: np.random.Generator):
        n, c = codes.shape
        self.rng, self.widths = rng, widths
        self.offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64) if c else np.zeros(0, np.int64)
        self.dim = int(sum(widths))
        w = max(widths, default=1)
        counts = np.zeros((c, w))
        for j in range(c):
            counts[j, : widths[j]] = np.bincount(codes[:, j], minlength=widths[j])
        self.freq = counts / max(n, 1)  # (C, W) for sampling at generation time
        logf = np.where(np.arange(w) < np.array(widths)[:, None], np.log(counts + 1), 0.0) if c else counts
        self.train_cum = np.cumsum(logf / np.maximum(logf.sum(1, keepdims=True), 1e-12), 1)  # (C, W)
        self.order = np.argsort(codes, axis=0, kind="stable").T if c else np.zeros((0, n), np.int64)  # (C, n)
        self.starts = np.cumsum(counts, 1) - counts  # (C, W) first position of each category in `order`
        self.counts, self.n = counts, n

    @classmethod
    def for_sampling(cls, freq: list[list[float]], rng: np.random.Generator) -> "CondSampler":
        self = cls.__new__(cls)
        self.rng, self.widths = rng, [len(f) for f in freq]
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)[:-1]]).astype(np.int64) if freq else np.zeros(0, np.int64)
        self.dim = int(sum(self.widths))
        w = max(self.widths, default=1)
        self.freq = np.array([f + [0.0] * (w - len(f)) for f in freq]) if freq else np.zeros((0, w))
        return self

    def sample_cond(self, b: int, cum: np.ndarray, column: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """→ cond (b, C_dim) one-hot, chosen column (b,) (a random one, or always `column`), chosen category (b,)."""
        if not self.widths:
            return np.zeros((b, 0), np.float32), np.zeros(b, np.int64), np.zeros(b, np.int64)
        col = self.rng.integers(len(self.widths), size=b) if column is None else np.full(b, column)
        cat = (cum[col] < self.rng.random((b, 1))).sum(1).clip(max=np.array(self.widths)[col] - 1)
        cond = np.zeros((b, self.dim), np.float32)
        cond[np.arange(b), self.offsets[col] + cat] = 1
        return cond, col, cat

    def sample_rows(self, col: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """A uniformly drawn real row having category `cat` in column `col`, per batch entry."""
        if len(self.widths) == 0:
            return self.rng.integers(self.n, size=len(col))
        pick = self.starts[col, cat] + np.floor(self.rng.random(len(col)) * self.counts[col, cat])
        return self.order[col, pick.astype(np.int64)]


class TabularGAN:
    """fit(table) → sample(n) → save(folder) / TabularGAN.load(folder)."""

    kind = "ctgan"

    def __init__(self, config: TabularGANConfig | None = None, device: str = "auto"):
        self.config = config or TabularGANConfig()
        self.device = pick_device(device)
        self.bf16 = use_bf16(self.config.precision, self.device)
        self.encoder: TableEncoder | None = None
        self.generator: Generator | None = None
        self.cond_freq: list[list[float]] = []
        self.history: list[dict[str, float]] = []
        self.fit_seconds = 0.0
        self.dp: dict | None = None  # the DPRecord of a private fit

    def _build(self) -> None:
        cfg = self.config
        self.layout = SpanLayout(self.encoder.spans, self.device)
        self.cond_dim = sum(self.layout.cond_widths)
        self.generator = Generator(cfg.embedding_dim + self.cond_dim, cfg.generator_dims, self.encoder.dim).to(self.device)

    def fit(self, df: pd.DataFrame, constraints: dict[str, ColumnConstraint] | None = None, progress: bool = True) -> "TabularGAN":
        cfg, t0 = self.config, time.perf_counter()
        df = df.rename(columns=str)  # checkpoints are JSON: column names must be strings
        if cfg.dp_epsilon is not None:
            self._fit_private(df, constraints, progress)
            self.fit_seconds = time.perf_counter() - t0
            return self
        rng = seed_all(cfg.seed)
        self.encoder = TableEncoder.fit(df, constraints, seed=cfg.seed)
        self._build()
        data = torch.from_numpy(self.layout.pack(self.encoder.transform(df, seed=cfg.seed))).to(self.device)  # (n, D) packed
        sampler = CondSampler(self.encoder.category_codes(df), self.layout.cond_widths, rng)
        self.cond_freq = [row[:w].tolist() for row, w in zip(sampler.freq, sampler.widths)]
        critic = Critic(self.encoder.dim + self.cond_dim, cfg.discriminator_dims, cfg.pac).to(self.device)
        opt_g = adam(self.generator.parameters(), lr=cfg.generator_lr, betas=(0.5, 0.9), weight_decay=cfg.weight_decay)
        opt_d = adam(critic.parameters(), lr=cfg.discriminator_lr, betas=(0.5, 0.9), weight_decay=cfg.weight_decay)
        b = max(cfg.pac, cfg.batch_size // cfg.pac * cfg.pac)
        steps = max(len(df) // b, 1)

        def condition() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
            cond, col, cat = sampler.sample_cond(b, sampler.train_cum)
            return torch.from_numpy(cond).to(self.device), col, cat

        with training_progress("ctgan", cfg.epochs, progress, self.history) as bar:
            for epoch in range(cfg.epochs):
                for _ in range(steps):
                    # one fake batch serves both steps (as in the DCGAN recipe): the critic sees it
                    # detached, then the generator is scored on it by the updated critic
                    cond, col, cat = condition()
                    with autocast(self.device, self.bf16):
                        raw = self.generator(torch.cat([torch.randn(b, cfg.embedding_dim, device=self.device), cond], 1))  # (B, D) packed
                        fake_in = torch.cat([self.layout.activate(raw, cfg.tau), cond], 1)  # (B, D + C)

                    # critic step: real rows are drawn for a shuffled copy of the conditions, as in CTGAN
                    perm = rng.permutation(b)
                    real = data[torch.from_numpy(sampler.sample_rows(col[perm], cat[perm])).to(self.device)]
                    real_in = torch.cat([real, cond[perm]], 1)
                    with autocast(self.device, self.bf16):
                        loss_d = critic(fake_in.detach()).mean() - critic(real_in).mean()
                        penalty = critic.gradient_penalty(real_in, fake_in.detach(), cfg.gp_weight)
                    opt_d.zero_grad(set_to_none=True)
                    (loss_d + penalty).backward()
                    opt_d.step()

                    # generator step: fool the critic and produce the requested category
                    with autocast(self.device, self.bf16):
                        loss_g = -critic(fake_in).mean()
                        if self.cond_dim:
                            span = self.layout.cond_logits(raw, torch.from_numpy(col).to(self.device))  # (B, W)
                            loss_g = loss_g + nn.functional.cross_entropy(span.float(), torch.from_numpy(cat).to(self.device))
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                losses = {"G": loss_g.item(), "D": loss_d.item()}
                bar.update(losses=losses)
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _fit_private(self, df: pd.DataFrame, constraints: dict[str, ColumnConstraint] | None, progress: bool) -> None:
        """DP-GAN: only the critic reads real rows, so only it runs DP-SGD; the generator learns from its scores.

        What differs from `fit`, and why:
        - real rows come Poisson-sampled, each conditioned on its own category of a random column
          (training-by-sampling picks rows by category, which no DP-SGD accountant covers);
        - the generator's conditions come from a Gaussian histogram of the category counts;
        - logistic (non-saturating) losses and no gradient penalty: opacus's per-row gradients
          do not extend to the penalty's double backward; one row per critic input (pac = 1).
        """
        cfg = self.config
        require_opacus()
        settings = DPSettings(cfg.dp_epsilon, cfg.dp_delta, cfg.dp_max_grad_norm)
        b = cfg.batch_size
        rng = seed_all(cfg.seed)
        self.encoder = private_schema(TableEncoder.fit(df, constraints, seed=cfg.seed, modes="even"))
        self._build()
        widths = self.layout.cond_widths
        plan = plan_noise(settings, len(df), b, cfg.epochs, histogram=bool(widths))
        data = torch.from_numpy(self.layout.pack(self.encoder.transform(df, seed=cfg.seed)))  # (n, D) packed
        codes = self.encoder.category_codes(df)  # (n, C)
        self.cond_freq = noisy_frequencies(codes, widths, plan["histogram_noise"], rng) if widths else []
        sampler = CondSampler.for_sampling(self.cond_freq, rng)
        cum = np.cumsum(sampler.freq, 1)
        offsets = torch.from_numpy(sampler.offsets)
        critic = Critic(self.encoder.dim + self.cond_dim, cfg.discriminator_dims, 1).to(self.device)
        opt_g = adam(self.generator.parameters(), lr=cfg.generator_lr, betas=(0.5, 0.9), weight_decay=cfg.weight_decay)
        opt_d = adam(critic.parameters(), lr=cfg.discriminator_lr, betas=(0.5, 0.9), weight_decay=cfg.weight_decay)
        critic, opt_d, loader = make_private(critic, opt_d, [data, torch.from_numpy(codes)], b, plan["noise"],
                                             cfg.dp_max_grad_norm, cfg.seed)
        softplus, steps = nn.functional.softplus, 0
        loss_g = loss_d = torch.zeros(())
        with training_progress("dp-ctgan", cfg.epochs, progress, self.history) as bar, quiet_training(True):
            for epoch in range(cfg.epochs):
                for real, real_codes in loader:
                    steps += 1
                    m = len(real)
                    if m == 0:
                        continue
                    real, real_codes = real.to(self.device), real_codes.to(self.device)
                    real_cond = torch.zeros(m, self.cond_dim, device=self.device)
                    if widths:
                        col = torch.from_numpy(rng.integers(len(widths), size=m)).to(self.device)
                        real_cond[torch.arange(m), offsets.to(self.device)[col] + real_codes.gather(1, col[:, None])[:, 0]] = 1
                    cond_np, col_f, cat_f = sampler.sample_cond(b, cum)
                    cond = torch.from_numpy(cond_np).to(self.device)
                    raw = self.generator(torch.cat([torch.randn(b, cfg.embedding_dim, device=self.device), cond], 1))
                    fake_in = torch.cat([self.layout.activate(raw, cfg.tau), cond], 1)  # (b, D + C)

                    # critic step: one DP-SGD step over real and fake rows together (fake rows cost no privacy)
                    opt_d.zero_grad(set_to_none=True)
                    scores = critic(torch.cat([torch.cat([real, real_cond], 1), fake_in.detach()]))[:, 0]  # (m + b,)
                    loss_d = softplus(-scores[:m]).mean() + softplus(scores[m:]).mean()
                    loss_d.backward()
                    opt_d.step()

                    # generator step: through the critic with its per-row hooks off (nothing private is read)
                    critic.disable_hooks()
                    loss_g = softplus(-critic(fake_in)[:, 0]).mean()
                    if self.cond_dim:
                        span = self.layout.cond_logits(raw, torch.from_numpy(col_f).to(self.device))
                        loss_g = loss_g + nn.functional.cross_entropy(span, torch.from_numpy(cat_f).to(self.device))
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    critic.enable_hooks()
                bar.update(losses={"G": loss_g.item(), "D": loss_d.item()})
        critic.remove_hooks()
        self.dp = record(settings, plan, steps, schema_scope(self.encoder.columns, parse_constraints(constraints))).as_dict()

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000,
               condition: tuple[str, object] | None = None) -> pd.DataFrame:
        """n synthetic rows; conditions are drawn from the real category frequencies, or, with
        `condition=(column, value)`, always ask for that category (rows may still miss it)."""
        cfg = self.config
        rng = seed_all(cfg.seed if seed is None else seed)
        freq, j = self.cond_freq, None
        if condition is not None:  # all the mass on one category of one column: sample_cond can only draw that
            cats = [c for c in self.encoder.columns if not c.continuous]
            j = next(i for i, c in enumerate(cats) if c.name == condition[0])
            code = int(category_index(cats[j], pd.Series([condition[1]], dtype="object"))[0])
            freq = [f if i != j else [float(k == code) for k in range(len(f))] for i, f in enumerate(freq)]
        sampler = CondSampler.for_sampling(freq, rng)
        cum = np.cumsum(sampler.freq, 1)
        self.generator.eval()
        parts = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, cfg.embedding_dim, device=self.device)
            cond = torch.from_numpy(sampler.sample_cond(m, cum, None if condition is None else j)[0]).to(self.device)
            parts.append(self.layout.activate(self.generator(torch.cat([z, cond], 1)), cfg.tau).cpu().numpy())
        self.generator.train()
        x = np.concatenate(parts) if parts else np.zeros((0, self.encoder.dim), np.float32)
        return self.encoder.inverse(self.layout.unpack(x))

    def save(self, folder: str | Path) -> Path:
        meta = {"model": self.kind, "config": asdict(self.config), "encoder": self.encoder.state(),
                "cond_freq": self.cond_freq, "fit_seconds": self.fit_seconds, "history": self.history, "dp": self.dp}
        return save_checkpoint(folder, meta, {"generator": self.generator.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "TabularGAN":
        meta, state = load_checkpoint(folder, (cls.kind,))
        cfg = meta["config"]
        self = cls(TabularGANConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}), device)
        self.encoder = TableEncoder.from_state(meta["encoder"])
        self.cond_freq, self.history, self.fit_seconds = meta["cond_freq"], meta["history"], meta["fit_seconds"]
        self.dp = meta.get("dp")
        self._build()
        self.generator.load_state_dict(state["generator"])
        return self
