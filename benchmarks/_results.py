"""What every results file records beside its figures: the commit, the machine, the date."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor() or platform.machine()


def header(benchmark: str, *, model: str, seeds: str) -> dict:
    """The fields a results file starts with; `benchmark` is the script's path from the repository root."""
    from synthwright.engines.hardware import BF16_FLAGS, cpu_flags

    bf16 = sorted(BF16_FLAGS & cpu_flags())
    return {"benchmark": benchmark, "commit": commit(), "date": time.strftime("%Y-%m-%d"),
            "machine": f"{cpu_name()}, {os.cpu_count()} cores, bf16 instructions: {', '.join(bf16) or 'none'}",
            "python": sys.version.split()[0], "model": model, "seeds": seeds}
