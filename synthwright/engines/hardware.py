"""Device and dtype choices for local models."""

from __future__ import annotations

import ctypes
import sys
from functools import lru_cache

import torch

from synthwright.core.errors import ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them (empty where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []))
    except OSError:
        return frozenset()


def cpu_has_amx() -> bool:
    """AMX tiles make bf16 matmuls about twice as fast as fp32 on CPU (training, embeddings)."""
    return "amx_bf16" in cpu_flags()


BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})  # AMX tiles, AVX512-BF16 dot products


def cpu_decodes_bf16_fast() -> bool:
    """A CPU with bf16 instructions (BF16_FLAGS): batched decoding in bf16 is 1.7x faster than in fp32 on such a CPU
    (docs/benchmarks.md), and slower without them."""
    return bool(BF16_FLAGS & cpu_flags())


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)


@lru_cache(maxsize=1)
def keep_freed_memory_for_reuse() -> bool:
    """Make glibc keep freed memory in the heap instead of returning it to the OS.

    By default every block of 128 KiB or more is mmap-ed and given back on free, so a batched forward pass on the CPU
    page-faults its activations (tens of MB a layer) in again at every step; in a virtual machine each fault is dear.
    With mmap off and the heap never trimmed, a block freed by one step is reused by the next. The price: the process
    keeps its peak heap. Returns whether the setting took (glibc on Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)) and bool(libc.mallopt(M_MMAP_MAX, 0))
    except (OSError, AttributeError):
        return False


def pick_device(device: str) -> str:
    """'auto' (CUDA when there is one, else CPU), 'cpu', 'cuda' or 'cuda:N' for a GPU this machine has."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not (device == "cuda" or device.startswith("cuda:") and device[5:].isdigit()):
        raise ConfigError(f"Unknown device '{device}'; use auto, cpu, cuda or cuda:N.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"Device '{device}' was requested but CUDA is not available; use --device cpu or auto.")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ConfigError(f"Device '{device}' does not exist: this machine has {count} GPU{'s' * (count != 1)}"
                          f" (cuda:0 … cuda:{count - 1}); use one of those or auto.")
    return device


def pick_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigError(f"Unknown dtype '{dtype}'; choose auto, {', '.join(DTYPES)}.")
        return DTYPES[dtype]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_decodes_bf16_fast() else torch.float32


def training_dtype(dtype: str, device: str) -> str:
    """The dtype of a frozen base that a LoRA adapter trains on: `auto` is bf16 on GPUs and on CPUs with AMX tiles,
    float32 on other CPUs (bf16 decoding is measured faster with AVX512-BF16 alone; training is not)."""
    if dtype != "auto" or device.startswith("cuda"):
        return dtype
    return "bfloat16" if cpu_has_amx() else "float32"
