"""Differential privacy for the trained table models: DP-SGD through opacus, one RDP accountant, an honest scope.

What the (ε, δ) covers, for `ctgan` and `tvae` fitted with `dp_epsilon`:

- every gradient step that reads real rows (the VAE, the GAN's critic) runs DP-SGD: Poisson-sampled
  batches, each row's gradient clipped to `max_grad_norm`, Gaussian noise added (opacus);
- the GAN's category frequencies (its conditioning, at training and sampling time) are a Gaussian
  histogram, accounted in the same RDP accountant as the steps;
- the mode-specific normalisation reads no value: its modes are spread evenly over each column's range.

What it does not cover, and is named in model.json and the report: the table's *schema*, whenever a
column's range or categories are not declared in the constraints — min/max of numeric columns,
category lists, and whether a column is integer or has missing values are then read from the raw
data. Declaring them (`--constraints`) makes the guarantee cover the whole model.

Neighbouring tables differ by adding or removing one row (opacus's Poisson-sampling setting).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Optional

import numpy as np

from synthwright.core.errors import ConfigError

# Refuse rather than train noise: above this, the noise on a batch's mean gradient (std σ·C / batch, per
# coordinate) outweighs the mean gradient itself (norm at most C).
MAX_NOISE_PER_BATCH_ROW = 1.0
HISTOGRAM_SHARE = 0.1  # share of ε the GAN's category histogram may cost on its own
ACCOUNTANT = "rdp"
# opacus's default RDP orders plus larger ones: small ε (the histogram's share of it) is only reached at high orders
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 100, 128, 192, 256, 512, 1024, 2048, 4096]


@dataclass
class DPSettings:
    """What the user asked for; JSON-able, saved in model.json under "dp"."""

    epsilon: float
    delta: Optional[float] = None  # None: 0.1 / rows
    max_grad_norm: float = 1.0


@dataclass
class DPRecord:
    """What was spent: enough to recompute ε with opacus's accountant (see `epsilon_of`)."""

    target_epsilon: float
    delta: float
    epsilon: float  # the accountant's ε for the steps actually taken
    accountant: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    history: list[list[float]]  # [noise multiplier, sample rate, steps] per mechanism
    alphas: list[float]  # the RDP orders the accountant minimised over
    scope: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_settings(settings: DPSettings, rows: int) -> float:
    """The δ to use; a ConfigError for values no accountant can honour."""
    if not settings.epsilon > 0:
        raise ConfigError(f"--dp-epsilon must be above 0, got {settings.epsilon}.")
    delta = settings.delta if settings.delta is not None else 0.1 / rows
    if not 0 < delta < 1 / rows:
        raise ConfigError(f"--dp-delta {delta:g} must be above 0 and below 1/rows = {1 / rows:.2g}; a larger δ lets a mechanism publish whole rows.")
    if not settings.max_grad_norm > 0:
        raise ConfigError(f"The gradient clipping norm must be above 0, got {settings.max_grad_norm}.")
    return delta


def epsilon_of(history: list[tuple[float, float, int]], delta: float, alphas: list[float] = ALPHAS) -> float:
    """ε of a sequence of (sub)sampled Gaussian mechanisms, by opacus's RDP accountant at RDP orders `alphas`."""
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = [tuple(h) for h in history]
    with warnings.catch_warnings():  # "optimal order is the largest alpha": the bound is then looser, never wrong
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        return float(acc.get_epsilon(delta, alphas=alphas))


def _smallest_noise(eps_for, target: float, what: str, limit: float) -> float:
    """Smallest noise multiplier σ with eps_for(σ) ≤ target (ε falls as σ grows), to 0.5%."""
    lo, hi = 0.0, 1.0
    while eps_for(hi) > target:
        lo, hi = hi, hi * 2
        if hi > limit * 2:
            raise ConfigError(f"ε = {target:g} cannot be met {what}: it needs a noise multiplier above {limit:g}, where the noise outweighs the gradients; give a larger --dp-epsilon, fewer --epochs or more rows.")
    while hi - lo > 0.005 * hi:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if eps_for(mid) > target else (lo, mid)
    return hi


def plan_noise(settings: DPSettings, rows: int, batch_size: int, epochs: int, histogram: bool) -> dict[str, Any]:
    """Noise multipliers that reach the target ε over the planned steps; refuses when no sane one does.

    → {delta, sample_rate, steps, noise, histogram_noise (or None), history}
    """
    delta = check_settings(settings, rows)
    per_epoch = -(-rows // batch_size)  # opacus's Poisson loader: len(loader) batches of rate 1 / len(loader)
    q, steps = 1 / per_epoch, epochs * per_epoch
    what = f"with {rows} rows, batch {batch_size} and {epochs} epochs ({steps} steps)"
    hist_noise, head = None, []
    if histogram:
        hist_noise = _smallest_noise(lambda s: epsilon_of([(s, 1.0, 1)], delta) if s > 0 else np.inf,
                                     HISTOGRAM_SHARE * settings.epsilon, what, limit=1e5)  # counts of many rows bear much noise
        head = [(hist_noise, 1.0, 1)]
    limit = MAX_NOISE_PER_BATCH_ROW * q * rows
    noise = _smallest_noise(lambda s: epsilon_of(head + [(s, q, steps)], delta) if s > 0 else np.inf, settings.epsilon, what, limit)
    if noise > limit:
        raise ConfigError(f"ε = {settings.epsilon:g} cannot be met {what}: it needs noise multiplier {noise:.1f}, above {limit:g} (the expected batch), where the noise outweighs the gradients; give a larger --dp-epsilon, fewer --epochs or more rows.")
    return {"delta": delta, "sample_rate": q, "steps": steps, "noise": noise, "histogram_noise": hist_noise,
            "history": head + [(noise, q, steps)]}


def noisy_frequencies(codes: np.ndarray, widths: list[int], noise: float, rng: np.random.Generator) -> list[list[float]]:
    """Per categorical column, category shares from counts plus Gaussian noise.

    One row moves one count in each of the C columns, so the L2 sensitivity is √C and the noise
    std is noise · √C: one Gaussian mechanism of multiplier `noise`, as `plan_noise` accounted it.
    """
    std = noise * np.sqrt(max(len(widths), 1))
    out = []
    for j, w in enumerate(widths):
        counts = np.bincount(codes[:, j], minlength=w).astype(float) + rng.normal(0, std, w)
        counts = np.clip(counts, 0, None) + 1e-3  # post-processing: no category gets zero chance
        out.append((counts / counts.sum()).tolist())
    return out


def schema_scope(columns, constraints: dict[str, Any]) -> dict[str, Any]:
    """Which parts of the schema were declared (public) and which were read from the raw data."""
    from_data: dict[str, list[str]] = {}
    for col in columns:
        con = constraints.get(col.name)
        read = []
        if col.continuous:
            if con is None or con.min is None or con.max is None:
                read.append("min/max")
            if col.kind == "numeric" and (con is None or con.integer is None):
                read.append("integer-ness")
            if col.kind == "datetime":
                read.append("date or time resolution")
        elif con is None or con.allowed is None:
            read.append("category list")
        if read:
            from_data[col.name] = read
    covered = ["network weights (DP-SGD)", "mode-specific normalisation (even modes over the range, no value read)",
               "missing values (every numeric column gets a learned missing indicator)"]
    if any(not c.continuous for c in columns):
        covered.append("category frequencies (ctgan: a Gaussian histogram in the same accountant)")
    return {"covered": covered, "read_from_raw_data": from_data,
            "noise_source": "torch's pseudo-random generator (opacus secure_mode off)",
            "note": ("the (ε, δ) covers the whole model" if not from_data
                     else "the (ε, δ) does not cover the schema parts listed under read_from_raw_data; declare them in the constraints to cover them")}


def private_schema(encoder):
    """The encoder with a missing indicator on every continuous column, so whether one has gaps is learned, not read."""
    from dataclasses import replace

    return type(encoder)([replace(c, missing=True) if c.continuous else c for c in encoder.columns])


def make_private(module, optimizer, tensors, batch_size: int, noise: float, max_grad_norm: float, seed: int):
    """opacus PrivacyEngine around (module, optimizer) with a Poisson-sampled loader over the rows of `tensors`.

    → (private module, DP optimizer, loader yielding one batch per tensor)
    """
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(*tensors), batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        engine = PrivacyEngine(accountant=ACCOUNTANT)  # secure_mode off: noise from torch's PRNG (recorded in the scope)
        return engine.make_private(module=module, optimizer=optimizer, data_loader=loader, noise_multiplier=noise,
                                   max_grad_norm=max_grad_norm, poisson_sampling=True)


@contextlib.contextmanager
def quiet_training(private: bool) -> Iterator[None]:
    """opacus's hooks make torch warn about full backward hooks on every fit; the warning is about them, not us."""
    with warnings.catch_warnings():
        if private:
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def record(settings: DPSettings, plan: dict[str, Any], steps_taken: int, scope: dict[str, Any]) -> DPRecord:
    history = [list(h) for h in plan["history"][:-1]] + [[plan["noise"], plan["sample_rate"], steps_taken]]  # lists: as JSON reads back
    return DPRecord(target_epsilon=settings.epsilon, delta=plan["delta"], epsilon=epsilon_of(history, plan["delta"]),
                    accountant=ACCOUNTANT, noise_multiplier=plan["noise"], sample_rate=plan["sample_rate"],
                    steps=steps_taken, max_grad_norm=settings.max_grad_norm, history=history, alphas=ALPHAS, scope=scope)


def require_opacus() -> None:
    try:
        import opacus  # noqa: F401
    except ImportError:
        raise ConfigError("Differential privacy needs opacus; install it with `pip install 'synthwright[dp]'`.") from None
