"""The GPU path, run once on a CUDA machine: CUDA engine, 4/8-bit loading, QLoRA distill, `pytest -m gpu`.

Everything runs on the tiny random chat model the test suite builds (`synthwright.testing.build_tiny_chat_model`):
real weights cannot travel to the GPU machine, where a call carries at most 64 MiB of files. Checks, one line each
(`ok CHECK …`, `FAIL CHECK: the error in one line`, or `skip CHECK: why it cannot run here`):

  engine_cuda_bf16   the transformers engine on CUDA in bf16: batched free and schema-constrained generation
  quant_4bit         the same model loaded in 4-bit NF4 through bitsandbytes, constrained generation
  quant_8bit         likewise in 8-bit (LLM.int8)
  distill_qlora      a scripted teacher run (tests/scripted.py) distilled with qlora=on (4-bit base), merged, and
                     the student run on CUDA
  pytest_gpu         `pytest -m gpu` on the test files that hold CUDA tests
  vllm               the vLLM engine on the tiny model, where vllm is importable

then the batched engine's tokens/s on CUDA against the CPU figure of the same model and requests, measured in the same
run, and the results file benchmarks/gpu_check.results.json (checks, figures, commit, machine, python, date). It is
sized to finish well inside 5 minutes on one H100, and exits 1 if a check failed. Without CUDA it prints one line saying
so, writes no results file and exits 0. Usage: python benchmarks/gpu_check.py [--results PATH]

The device machine has Python 3.12 with torch, transformers, accelerate, peft, tokenizers, scikit-learn, pandas,
pyarrow, typer, rich, jinja2, pyyaml and pytest, and no package registry. Carry these 14 wheels (53 MiB together,
under the 64 MiB a call carries with the working tree):

  bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl                             41.1 MiB (CUDA 11.8-13.2 kernels)
  apache_tvm_ffi-0.1.15.post2-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl  3.2 MiB (for xgrammar)
  rapidfuzz-3.14.6-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl       3.0 MiB (the pipeline)
  pydantic_core-2.46.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl    2.0 MiB
  xgrammar-0.2.9-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl         1.3 MiB
  trl-1.16.0, datasets-5.2.0, pydantic-2.13.4, multiprocess-0.70.19 (py312), dill-0.4.1, datasketch-2.0.0,
  typing_extensions-4.16.0, typing_inspection-0.4.5, annotated_types-0.8.0 (py3-none-any, 2.4 MiB together)

Fetch them here, in the repo root (.whl/ is git-ignored):

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl bitsandbytes==0.50.2 \
      apache-tvm-ffi==0.1.15.post2 rapidfuzz==3.14.6 pydantic-core==2.46.4 xgrammar==0.2.9 trl==1.16.0 \
      datasets==5.2.0 pydantic==2.13.4 multiprocess==0.70.19 dill==0.4.1 datasketch==2.0.0 \
      typing-extensions==4.16.0 typing-inspection==0.4.5 annotated-types==0.8.0

and run it there with carry [".whl"] and timeout_s 420, as this one command:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    && export PYTHONPATH=/tmp/site || exit; PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py
    --results "$OUT/gpu_check.results.json"

then copy the gpu_check.results.json that comes back to benchmarks/. vLLM cannot be checked there: its wheel
(vllm-0.34.0-cp38-abi3-manylinux_2_28_x86_64.whl) is 239 MB alone, and the machine reaches no package registry.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GPU_TEST_FILES = ["tests/test_gpu_check.py", "tests/test_engine_transformers.py", "tests/test_cli_generate.py",
                  "tests/test_distill.py"]
NO_VLLM = ("vllm is not importable: its wheel (vllm-0.34.0-cp38-abi3-manylinux_2_28_x86_64.whl) is 239 MB, over the"
           " 64 MiB a device call carries, and the device machine reaches no package registry")
TEXT_WORDS = ("card lost stolen wallet blocked bus station shop refund money back parcel kettle shoes hotel"
              " booking returned account week month still never arrived").split()


class Skip(Exception):
    """A check that cannot run on this machine; the message says why."""


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:400]}"


def run_check(results: list[dict[str, Any]], name: str, check: Callable[[], str]) -> None:
    """Run one check, print its line and record it; an exception is a FAIL (or a skip), never a traceback."""
    started = time.perf_counter()
    try:
        status, detail = "ok", check()
    except Skip as exc:
        status, detail = "skip", str(exc)
    except Exception as exc:  # noqa: BLE001 (every failure is reported as one line)
        status, detail = "FAIL", one_line(exc)
    seconds = round(time.perf_counter() - started, 2)
    print(f"{status} {name}: {detail} ({seconds} s)" if status != "ok" else f"ok {name} {detail} ({seconds} s)",
          flush=True)
    results.append({"name": name, "status": status, "detail": detail, "seconds": seconds})


def requests(n: int) -> list[Any]:
    from synthwright import ChatRequest

    return [ChatRequest.user("card " * (1 + i % 9) + f"refund request {i}", seed=i) for i in range(n)]


def constrained(engine: Any, n: int, max_new_tokens: int = 3000) -> str:
    """Generate `n` ClassificationSamples under the grammar; every one must parse (the grammar ends each in time)."""
    from synthwright import ClassificationSample, Sampling

    gens = engine.generate(requests(n), schema=ClassificationSample, sampling=Sampling(max_new_tokens=max_new_tokens))
    bad = [g.error for g in gens if not isinstance(g.parsed, ClassificationSample)]
    if bad:
        raise AssertionError(f"{len(bad)} of {n} constrained generations did not parse, e.g. {bad[0]}")
    return f"{n}/{n} schema-valid"


def check_engine(model_dir: Path) -> str:
    from synthwright import Sampling, load_engine

    engine = load_engine(str(model_dir), batch_size=16)
    info = engine.describe()
    if not (info["device"].startswith("cuda") and info["dtype"] == "bfloat16"):
        raise AssertionError(f"expected cuda in bfloat16, the engine chose {info['device']} in {info['dtype']}")
    gens = engine.generate(requests(40), sampling=Sampling(max_new_tokens=32, temperature=1.0))
    failed = [g.error for g in gens if g.error]
    if failed:
        raise AssertionError(f"{len(failed)} of 40 free generations failed, e.g. {failed[0]}")
    return f"{info['device']} {info['dtype']}, 40 free generations in batches of 16, " + constrained(engine, 32)


def check_quantized(model_dir: Path, bits: str) -> str:
    from synthwright import load_engine

    engine = load_engine(str(model_dir), batch_size=16, quantization=bits)
    layer = {"4bit": "Linear4bit", "8bit": "Linear8bitLt"}[bits]
    count = sum(type(m).__name__ == layer for m in engine.model.modules())
    if not count:
        raise AssertionError(f"no {layer} layer in the loaded model: it was not quantized")
    return f"{count} {layer} layers on {engine.model.device}, " + constrained(engine, 16)


def teacher_run(out: Path, per_category: int = 12) -> Path:
    """A classification run whose teacher is the test suite's scripted engine: fixed, distinct texts."""
    import random

    import synthwright
    from tests.scripted import ScriptedEngine, recipe_dict

    rng = random.Random(0)
    texts = {label: [" ".join(rng.sample(TEXT_WORDS, 9)).capitalize() + f", case {i}." for i in range(per_category)]
             for label in ("lost_card", "refund")}  # distinct, and never naming a label (the label_leak filter)
    off = {"near_duplicates": False, "seed_copies": False, "language": False, "pii": {"mode": "off"},
           "label_fidelity": False, "label_noise": {"mode": "off"}}
    recipe = recipe_dict(count={"per_category": per_category}, filters=off)
    accepted = synthwright.run(recipe, out=out, engine=ScriptedEngine(texts)).stats["accepted"]
    if accepted != 2 * per_category:
        raise AssertionError(f"the scripted teacher run accepted {accepted} of {2 * per_category} samples")
    return out


def check_distill(model_dir: Path, work: Path) -> str:
    from synthwright import load_engine
    from synthwright.finetune import DistillConfig, distill

    run = teacher_run(work / "teacher")
    cfg = DistillConfig(qlora="on", max_steps=10, batch_size=4, eval_steps=5, patience=0, learning_rate=5e-3,
                        val_fraction=0.2, seed=0)
    done = distill(run, str(model_dir), work / "student", cfg, merge=True)
    resolved = json.loads((done.out_dir / "distill_config.json").read_text())
    if resolved["qlora"] != "on" or not resolved["device"].startswith("cuda"):
        raise AssertionError(f"trained with qlora={resolved['qlora']} on {resolved['device']}, expected on and cuda")
    m = done.metrics
    student = load_engine(str(done.out_dir), batch_size=8)
    return (f"{m['steps']} steps on a 4-bit base in {m['train_seconds']} s, val loss {m['initial_val_loss']:.3f}"
            f" -> {m['best_val_loss']:.3f}, merged; student on {student.describe()['device']}: "
            + constrained(student, 8))


def check_pytest() -> str:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *GPU_TEST_FILES]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    lines = [line.strip("= ") for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else proc.stderr.strip()[-300:]
    if proc.returncode != 0 or "passed" not in summary:
        failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
        raise AssertionError(f"exit {proc.returncode}: {summary}" + (f"; first: {failed[0]}" if failed else ""))
    return summary


def check_vllm(model_dir: Path) -> str:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise Skip(NO_VLLM)
    from synthwright import load_engine

    engine = load_engine(f"vllm:{model_dir}", max_model_len=1024, gpu_memory_utilization=0.3)
    return constrained(engine, 16)


def tokens_per_second(model_dir: Path, device: str, *, n: int = 64, new_tokens: int = 128, repeats: int = 3) -> dict:
    """Free generation of `n` requests in one batch: completion tokens per second, median of `repeats` timed runs."""
    import torch

    from synthwright import Sampling, load_engine

    engine = load_engine(str(model_dir), batch_size=n, device=device)
    sampling = Sampling(max_new_tokens=new_tokens, temperature=1.0, seed=0)
    engine.generate(requests(8), sampling=sampling)  # warm-up: kernels, allocator, caches
    rates = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        gens = engine.generate(requests(n), sampling=sampling)
        rates.append(sum(g.completion_tokens for g in gens) / (time.perf_counter() - started))
    info = engine.describe()
    engine.close()
    return {"device": info["device"], "dtype": info["dtype"], "requests": n, "max_new_tokens": new_tokens,
            "tokens_per_s": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates],
            "torch_threads": torch.get_num_threads()}


def check_throughput(model_dir: Path, figures: dict[str, Any]) -> str:
    """The batched engine's tokens/s on CUDA and on this machine's CPU, same model and requests, this run."""
    for device in ("cuda", "cpu"):
        figures[f"engine_{device}"] = tokens_per_second(model_dir, device)
    cuda, cpu = figures["engine_cuda"], figures["engine_cpu"]
    figures["cuda_over_cpu"] = round(cuda["tokens_per_s"] / cpu["tokens_per_s"], 2)
    return (f"{cuda['requests']} requests x {cuda['max_new_tokens']} new tokens: cuda {cuda['dtype']}"
            f" {cuda['tokens_per_s']} tokens/s, cpu {cpu['dtype']} ({cpu['torch_threads']} threads)"
            f" {cpu['tokens_per_s']} tokens/s: {figures['cuda_over_cpu']}x")


def machine() -> dict[str, Any]:
    import importlib.metadata as md
    import importlib.util

    import torch

    versions = {name: md.version(name) if importlib.util.find_spec(name) else None
                for name in ("transformers", "peft", "trl", "bitsandbytes", "xgrammar", "vllm")}
    return {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
            "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
            "cpu_count": os.cpu_count(), "platform": platform.platform(), **versions}


def commit() -> str | None:
    """`git rev-parse HEAD`, or None where there is no git or no repository (a copied working tree)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "gpu_check.results.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # the checkout, installed or not
    import torch

    if not torch.cuda.is_available():
        print("no CUDA: torch.cuda.is_available() is False on this machine; run this on a GPU machine"
              " (see the docstring); nothing was checked and no results file was written")
        return 0
    os.environ.setdefault("SYNTHWRIGHT_EMBEDDER", "tfidf")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    warnings.filterwarnings("ignore", category=FutureWarning)  # libraries' renames; our own are errors in the suite
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    from synthwright.testing import build_tiny_chat_model

    results: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        model_dir = build_tiny_chat_model(work / "tiny-model")
        run_check(results, "engine_cuda_bf16", lambda: check_engine(model_dir))
        run_check(results, "quant_4bit", lambda: check_quantized(model_dir, "4bit"))
        run_check(results, "quant_8bit", lambda: check_quantized(model_dir, "8bit"))
        run_check(results, "distill_qlora", lambda: check_distill(model_dir, work))
        run_check(results, "pytest_gpu", check_pytest)
        run_check(results, "vllm", lambda: check_vllm(model_dir))
        run_check(results, "throughput", lambda: check_throughput(model_dir, figures))
    record = {"cuda": True, "checks": results, "figures": figures, "commit": commit(), "machine": machine(),
              "python": platform.python_version(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    Path(args.results).write_text(json.dumps(record, indent=2) + "\n")
    print(f"results: {args.results}")
    return 1 if any(r["status"] == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
