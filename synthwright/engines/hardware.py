"""Device and dtype choices for local models."""

from __future__ import annotations

from functools import lru_cache

import torch

from synthwright.core.errors import ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    """AMX tiles make bf16 matmuls about twice as fast as fp32 on CPU; without them bf16 is slower."""
    try:
        with open("/proc/cpuinfo") as f:
            return "amx_bf16" in f.read()
    except OSError:
        return False


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device '{device}' was requested but CUDA is not available; use --device cpu or auto.")
    return device


def pick_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigError(f"Unknown dtype '{dtype}'; choose auto, {', '.join(DTYPES)}.")
        return DTYPES[dtype]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_amx() else torch.float32
