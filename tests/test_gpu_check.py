"""The GPU path: benchmarks/gpu_check.py and the CUDA-only errors, checked on CPU; the CUDA path itself under `-m gpu`.

The `gpu` tests run where CUDA is (`pytest -m gpu`, which benchmarks/gpu_check.py also runs); elsewhere they skip.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from synthwright import ClassificationSample, Sampling, load_engine
from synthwright.core.errors import ConfigError, HardwareError, SynthwrightError

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs CUDA")
no_cuda = pytest.mark.skipif(CUDA, reason="checks the behaviour without CUDA")


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and ". " not in message.rstrip(".")


# the script without CUDA -------------------------------------------------------------------------------

@no_cuda
def test_script_without_cuda_says_so_in_one_line_and_writes_nothing(tmp_path):
    results = tmp_path / "gpu_check.results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--results", str(results)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("no CUDA: torch.cuda.is_available() is False on this machine")
    assert len(proc.stdout.splitlines()) == 1, proc.stdout
    assert "Traceback" not in proc.stderr
    assert not results.exists()


def test_a_check_is_one_line_whatever_it_raises(gpu_check, capsys):
    results = []

    def broken():
        raise RuntimeError("CUDA error: an illegal memory access\nwas encountered")

    def impossible():
        raise gpu_check.Skip("vllm is not importable")

    gpu_check.run_check(results, "good", lambda: "3/3 schema-valid")
    gpu_check.run_check(results, "bad", broken)
    gpu_check.run_check(results, "never", impossible)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "ok good 3/3 schema-valid", "FAIL bad: RuntimeError: CUDA error: an illegal memory access was encountered",
        "skip never: vllm is not importable"]
    assert [r["status"] for r in results] == ["ok", "FAIL", "skip"]


def test_tokens_per_second_is_measured_not_assumed(gpu_check, tiny_model_dir):
    figure = gpu_check.tokens_per_second(tiny_model_dir, "cpu", n=4, new_tokens=6, repeats=2)
    assert figure["device"] == "cpu" and figure["requests"] == 4 and len(figure["runs"]) == 2
    assert figure["tokens_per_s"] > 0


def test_the_scripted_teacher_run_accepts_every_sample(gpu_check, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    run = gpu_check.teacher_run(tmp_path / "run", per_category=3)
    assert (run / "run.sqlite").is_file()


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_check_says_why_it_cannot_run(gpu_check, tiny_model_dir):
    with pytest.raises(gpu_check.Skip, match="239 MB, over the 64 MiB a device call carries"):
        gpu_check.check_vllm(tiny_model_dir)


# CUDA-only features without CUDA: one sentence, before any weights load ------------------------------------

@no_cuda
@pytest.mark.parametrize("bits", ["4bit", "8bit"])
@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_quantization_without_cuda_is_a_one_sentence_hardware_error(tiny_model_dir, monkeypatch, bits, device):
    import transformers

    def never(*args, **kwargs):
        raise AssertionError("weights were loaded before the quantization was refused")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", never)
    with pytest.raises(HardwareError) as err:
        load_engine(str(tiny_model_dir), quantization=bits, device=device)
    assert isinstance(err.value, SynthwrightError) and err.value.exit_code == 3
    assert one_sentence(str(err.value)) and f"{bits} quantization needs a CUDA GPU" in str(err.value)


@no_cuda
def test_asking_for_the_cuda_device_without_cuda_is_a_config_error(tiny_model_dir):
    with pytest.raises(ConfigError, match="Device 'cuda' was requested but CUDA is not available") as err:
        load_engine(str(tiny_model_dir), device="cuda", quantization="4bit")
    assert one_sentence(str(err.value))


@no_cuda
def test_qlora_without_cuda():
    from synthwright.finetune import DistillConfig
    from synthwright.finetune.distiller import resolve_qlora

    with pytest.raises(HardwareError, match="--qlora needs a CUDA GPU") as err:
        resolve_qlora(DistillConfig(qlora="on"))
    assert one_sentence(str(err.value))
    assert resolve_qlora(DistillConfig(qlora="auto")) is False  # auto falls back to a full-precision base


def test_an_unknown_quantization_is_a_config_error(tiny_model_dir):
    with pytest.raises(ConfigError, match="Unknown quantization '3bit'; use 4bit or 8bit"):
        load_engine(str(tiny_model_dir), quantization="3bit")


@pytest.mark.parametrize("device, message", [
    ("gpu", "Unknown device 'gpu'; use auto, cpu, cuda or cuda:N."),
    ("cuda:x", "Unknown device 'cuda:x'"),
])
def test_a_malformed_device_is_a_config_error(device, message):
    from synthwright.engines.hardware import pick_device

    with pytest.raises(ConfigError, match=re.escape(message)):
        pick_device(device)


def test_a_gpu_index_the_machine_lacks_is_one_sentence(monkeypatch):
    import torch

    from synthwright.engines.hardware import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device("cuda:0") == "cuda:0"
    with pytest.raises(ConfigError, match=r"Device 'cuda:3' does not exist: this machine has 1 GPU \(cuda:0 … cuda:0\)"):
        pick_device("cuda:3")


def test_quantization_on_the_cpu_of_a_gpu_machine_names_the_device(tiny_model_dir, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ConfigError, match="4bit quantization runs on a CUDA GPU, and this engine was asked for device 'cpu'"):
        load_engine(str(tiny_model_dir), quantization="4bit", device="cpu")


def test_decoding_dtype_follows_the_cpus_bf16_instructions(monkeypatch):
    import torch

    from synthwright.engines import hardware

    for flags, dtype in ((frozenset({"avx512f", "avx512_bf16"}), torch.bfloat16), (frozenset({"amx_bf16"}), torch.bfloat16),
                         (frozenset({"avx512f", "avx2"}), torch.float32)):
        monkeypatch.setattr(hardware, "cpu_flags", lambda flags=flags: flags)
        assert hardware.pick_dtype("auto", "cpu") == dtype
    assert hardware.pick_dtype("float32", "cpu") == torch.float32


# on CUDA (pytest -m gpu) ---------------------------------------------------------------------------------

def _all_parse(engine, n: int) -> None:
    from synthwright import ChatRequest

    reqs = [ChatRequest.user("card " * (1 + i % 7) + f"request {i}") for i in range(n)]
    gens = engine.generate(reqs, schema=ClassificationSample, sampling=Sampling(max_new_tokens=3000))
    assert [g.error for g in gens] == [None] * n
    assert all(isinstance(g.parsed, ClassificationSample) for g in gens)
    assert [g.prompt_tokens for g in gens] == [len(engine.encode(r)) for r in reqs]  # request order kept


@pytest.mark.gpu
@needs_cuda
def test_engine_on_cuda_is_bf16_batched_and_constrained(tiny_model_dir):
    engine = load_engine(str(tiny_model_dir), batch_size=8)
    info = engine.describe()
    assert info["device"] == "cuda" and info["dtype"] == "bfloat16"
    assert next(engine.model.parameters()).is_cuda
    _all_parse(engine, 20)  # three batches of up to 8


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("bits, layer", [("4bit", "Linear4bit"), ("8bit", "Linear8bitLt")])
def test_quantized_loading_on_cuda(tiny_model_dir, bits, layer):
    pytest.importorskip("bitsandbytes")
    engine = load_engine(str(tiny_model_dir), batch_size=8, quantization=bits)
    assert engine.describe()["quantization"] == bits
    assert any(type(m).__name__ == layer for m in engine.model.modules())
    _all_parse(engine, 8)


@pytest.mark.gpu
@needs_cuda
def test_cli_generate_in_4bit_on_cuda(tiny_model_dir):
    pytest.importorskip("bitsandbytes")
    from typer.testing import CliRunner

    from synthwright.cli.app import app

    result = CliRunner().invoke(app, ["generate", "--model", str(tiny_model_dir), "--schema", "classification", "-n", "3",
                                      "-p", "a bank customer", "--max-new-tokens", "3000", "--labels", "lost_card,refund",
                                      "-o", "quantization=4bit"])
    assert result.exit_code == 0, result.output
    assert len([json.loads(x) for x in result.stdout.strip().splitlines()]) == 3


@pytest.mark.gpu
@needs_cuda
def test_qlora_distill_on_cuda(gpu_check, tiny_model_dir, tmp_path, monkeypatch):
    pytest.importorskip("bitsandbytes")
    from synthwright.finetune import DistillConfig, distill

    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    run = gpu_check.teacher_run(tmp_path / "run", per_category=6)
    cfg = DistillConfig(max_steps=4, batch_size=4, eval_steps=2, patience=0, val_fraction=0.2)  # qlora: auto
    done = distill(run, str(tiny_model_dir), tmp_path / "student", cfg, merge=True)
    resolved = json.loads((done.out_dir / "distill_config.json").read_text())
    assert resolved["qlora"] == "on" and resolved["device"] == "cuda" and resolved["dtype"] == "bfloat16"
    assert done.metrics["steps"] == 4 and done.metrics["trainable_params"] < done.metrics["total_params"]
    assert (done.out_dir / "adapter_model.safetensors").is_file() and (done.merged_dir / "config.json").is_file()
    _all_parse(load_engine(str(done.out_dir), batch_size=4), 4)


def test_a_lora_base_keeps_float32_on_a_cpu_without_amx(monkeypatch):
    from synthwright.engines import hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert hardware.training_dtype("auto", "cpu") == "float32"
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert hardware.training_dtype("auto", "cpu") == "bfloat16"
    assert hardware.training_dtype("auto", "cuda") == "auto"  # the engine's CUDA rule decides
    assert hardware.training_dtype("float16", "cpu") == "float16"
