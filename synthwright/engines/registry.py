"""Engine specs → engines. The one place that knows every spec form."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError, EngineSpecError
from synthwright.engines.base import Engine
from synthwright.engines.model_source import NAMED_MODELS

# Providers LangChain's init_chat_model knows, as written before the colon in a spec.
LANGCHAIN_PROVIDERS = {
    "openai", "anthropic", "azure_openai", "azure_ai", "google_vertexai", "google_genai", "bedrock",
    "bedrock_converse", "cohere", "fireworks", "together", "mistralai", "huggingface", "groq", "ollama",
    "google_anthropic_vertex", "deepseek", "ibm", "nvidia", "xai", "perplexity",
}
SPEC_FORMS = (
    "'default' (qwen2.5-coder-0.5b), smollm2, qwen2.5-coder-1.5b, a local model directory, a .gguf file, hf:ORG/NAME, vllm:ORG/NAME,"
    " or PROVIDER:MODEL (e.g. openai:gpt-4o-mini, ollama:llama3.2)"
)


def engine_kind(spec: str) -> str:
    """Which engine a spec string selects: 'transformers', 'vllm' or 'langchain'."""
    if not isinstance(spec, str) or not spec.strip():
        raise EngineSpecError(f"An engine spec must be a non-empty string; use {SPEC_FORMS}.")
    if spec in NAMED_MODELS or spec.startswith("hf:"):
        return "transformers"
    if spec.startswith("vllm:"):
        return "vllm"
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in LANGCHAIN_PROVIDERS and rest:
        return "langchain"
    if Path(spec).expanduser().exists() or spec.startswith((".", "/", "~")) or spec.endswith(".gguf"):
        return "transformers"
    if sep:
        raise EngineSpecError(f"Unknown engine spec '{spec}': '{prefix}' is not a known provider; use {SPEC_FORMS}.")
    if spec.count("/") == 1 and all(spec.split("/")):
        return "transformers"  # a bare Hub id
    raise EngineSpecError(f"Unknown engine spec '{spec}'; use {SPEC_FORMS}.")


def load_engine(spec: Any, **options: Any) -> Engine:
    """Build the engine a spec names. `options` go to the engine (batch_size, dtype, base_url, …).

    `spec` may also be an `Engine` (returned as is) or a LangChain chat model object.
    """
    if isinstance(spec, Engine):
        return spec
    if not isinstance(spec, str):
        from langchain_core.language_models import BaseChatModel

        if isinstance(spec, BaseChatModel):
            from synthwright.engines.langchain_engine import LangChainEngine

            return LangChainEngine(spec, **options)
        raise EngineSpecError(f"Cannot use a {type(spec).__name__} as an engine; use {SPEC_FORMS}.")
    kind = engine_kind(spec)
    if kind == "langchain":
        from synthwright.engines.langchain_engine import LangChainEngine

        return LangChainEngine(spec, **options)
    if kind == "vllm":
        from synthwright.engines.vllm_engine import VLLMEngine

        return VLLMEngine(spec[len("vllm:"):], spec=spec, **options)  # extra options go to vllm.LLM
    from synthwright.engines.model_source import resolve_local
    from synthwright.engines.transformers_engine import TransformersEngine

    check_options(TransformersEngine, options)
    return TransformersEngine(resolve_local(spec), spec=spec, **options)


def check_options(engine_class: type, options: dict[str, Any]) -> None:
    """Reject options the engine does not take, naming the ones it does."""
    params = inspect.signature(engine_class.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "spec"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"Unknown engine option(s) {', '.join(unknown)} for {engine_class.__name__}; valid options are: {', '.join(allowed)}."
        )
