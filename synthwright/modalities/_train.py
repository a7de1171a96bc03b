"""What every modality trainer shares: seeding and a rich progress bar with losses."""

from __future__ import annotations

import contextlib
import random
import re
from typing import Iterator

import numpy as np


def seed_all(seed: int) -> np.random.Generator:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def pick_device(device: str) -> str:
    """auto / cpu / cuda[:N] → a torch device string; anything else is a ConfigError, not a torch traceback."""
    from synthwright.core.errors import ConfigError
    from synthwright.engines.hardware import pick_device as resolve

    if device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigError(f"Unknown device '{device}'; use auto, cpu or cuda.")
    return resolve(device)


def use_bf16(precision: str, device: str) -> bool:
    """bfloat16 autocast pays off only where matmuls run natively in it: CUDA, or CPUs with AMX tiles."""
    import torch

    from synthwright.core.errors import ConfigError
    from synthwright.engines.hardware import cpu_has_amx

    if precision not in ("auto", "float32", "bfloat16"):
        raise ConfigError(f"Unknown precision '{precision}'; use auto, float32 or bfloat16.")
    if precision != "auto":
        return precision == "bfloat16"
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return cpu_has_amx()


def autocast(device: str, bf16: bool):
    import torch

    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)


def adam(params, **kwargs):
    """Adam with the fused kernel: one op per step instead of a dozen per parameter tensor."""
    import torch

    return torch.optim.Adam(params, fused=True, **kwargs)


@contextlib.contextmanager
def training_progress(title: str, epochs: int, enabled: bool, history: list[dict[str, float]]) -> Iterator[object]:
    """Per epoch, `bar.update(losses=...)` appends {"epoch", **losses} to `history` and, when enabled,
    advances a rich bar whose description carries the latest losses."""
    if not enabled:
        yield _EpochLog(history)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[losses]}"))
    with Progress(*columns) as progress:
        task = progress.add_task(title, total=epochs, losses="")
        yield _EpochLog(history, lambda losses: progress.update(
            task, advance=1, losses="  ".join(f"{k} {v:+.3f}" for k, v in losses.items())))


class _EpochLog:
    def __init__(self, history: list[dict[str, float]], show=None):
        self.history, self.show, self.epoch = history, show, 0

    def update(self, losses: dict[str, float]) -> None:
        self.epoch += 1
        self.history.append({"epoch": self.epoch, **losses})
        if self.show is not None:
            self.show(losses)
