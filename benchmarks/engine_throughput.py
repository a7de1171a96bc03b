"""Tokens/s of new text: a naive `model.generate` loop vs the engine, unconstrained and constrained.

All runs share one process and one prompt set. The naive loop is what a user writes first: the
model as transformers loads it, one request at a time. The engine runs in its default dtype
(bf16 on CPUs with bf16 instructions, AMX or AVX512-BF16, else fp32) and, for an apples-to-apples figure, in fp32
as well. The engine shares the prompts' common start (computed once per batch); row (bn) turns that off. The prompts are, by
default, what a run's executor sends for the shipped banking recipe. The figures go to a results file
(benchmarks/engine_throughput.results.json, or --json).

    python benchmarks/engine_throughput.py [--model default] [--requests 64] [--max-new-tokens 48] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _results import header

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOPICS = ["a lost card", "mortgage rates", "a refund", "a transfer abroad", "account fees", "a savings account",
          "a credit limit", "a fraud alert"]


PERSONAS = ["a student", "a retiree", "a nurse", "a small-business owner"]
STYLES = ["casual", "formal", "terse"]


def build_requests(n: int, shape: str):
    """`short`: a one-line user message each; `run`: what a run's executor sends for the shipped banking recipe (its
    system prompt and the recipe's description first, then the slot: label, scenario, persona, style, examples)."""
    from synthwright import ChatRequest

    if shape == "short":
        return [ChatRequest.user(f"Write a short message from a bank customer about {TOPICS[i % len(TOPICS)]}."
                                 f" Reply as JSON with fields text and label. (#{i})") for i in range(n)]
    from synthwright.agents.executor import Executor
    from synthwright.recipe.load import load_recipe
    from synthwright.recipe.seeds import read_seeds
    from synthwright.tasks import task_for

    recipe = load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "banking-intents.yaml")
    executor = Executor(recipe, task_for(recipe.task), read_seeds(recipe))
    cats = recipe.categories
    slots = [{"slot_id": f"s{i}", "category": cats[i % len(cats)].name, "scenario": TOPICS[i % len(TOPICS)],
              "persona": PERSONAS[i % len(PERSONAS)], "style": STYLES[i % len(STYLES)], "length": "one sentence"}
             for i in range(n)]
    return [executor.request(slot, 0, 0)[0] for slot in slots]


def naive_loop(engine, requests, max_new_tokens: int, temperature: float) -> tuple[int, float]:
    """One request at a time through `model.generate`, with the model in fp32 as transformers loads it.

    `engine` must be a float32 engine; only its model and tokenizer are used."""
    import torch

    model = engine.model
    tokens, started = 0, time.perf_counter()
    for i, r in enumerate(requests):
        ids = torch.tensor([engine.encode(r)])
        torch.manual_seed(i)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=True, temperature=temperature, pad_token_id=engine.tokenizer.pad_token_id)
        tokens += out.shape[1] - ids.shape[1]
    return tokens, time.perf_counter() - started


def timed(engine, requests, schema, sampling) -> tuple[int, float, float]:
    started = time.perf_counter()
    gens = engine.generate(requests, schema=schema, sampling=sampling)
    seconds = time.perf_counter() - started
    valid = sum(g.parsed is not None for g in gens) / len(gens) if schema is not None else float("nan")
    return sum(g.completion_tokens for g in gens), seconds, valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--naive-requests", type=int, default=16, help="the naive loop's rate is measured on this many")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats; the best of each is reported")
    parser.add_argument("--prompts", choices=("short", "run"), default="run",
                        help="run: the executor's requests for the shipped banking recipe; short: one-line requests")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "engine_throughput.results.json")
    args = parser.parse_args()

    import torch
    import transformers
    from rich.console import Console
    from rich.table import Table

    from synthwright import ClassificationSample, Sampling, load_engine
    from synthwright.engines.decoding import shared_prefix_length

    transformers.utils.logging.set_verbosity_error()
    requests = build_requests(args.requests, args.prompts)
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=0.95)

    engine = load_engine(args.model, batch_size=args.batch_size)
    engine.generate(requests[:4], schema=ClassificationSample, sampling=Sampling(max_new_tokens=8))  # warm-up + grammar compile
    default_dtype = str(engine.dtype).replace("torch.", "")
    fp32 = None
    if default_dtype != "float32":
        fp32 = load_engine(args.model, batch_size=args.batch_size, dtype="float32")
        fp32.generate(requests[:4], schema=ClassificationSample, sampling=Sampling(max_new_tokens=8))
    unshared = load_engine(args.model, batch_size=args.batch_size, share_prefix=False)
    modes = {
        f"(b) engine, unconstrained, {default_dtype}": lambda: timed(engine, requests, None, sampling),
        f"(bn) engine, unconstrained, {default_dtype}, no shared prefix": lambda: timed(unshared, requests, None, sampling),
        f"(c) engine, constrained to ClassificationSample, {default_dtype}":
            lambda: timed(engine, requests, ClassificationSample, sampling),
    }
    if fp32 is not None:
        modes["(b32) engine, unconstrained, float32"] = lambda: timed(fp32, requests, None, sampling)
        modes["(c32) engine, constrained, float32"] = lambda: timed(fp32, requests, ClassificationSample, sampling)
    naive_engine = fp32 or engine
    modes["(a) naive model.generate loop, float32"] = lambda: (*naive_loop(
        naive_engine, requests[:args.naive_requests], args.max_new_tokens, args.temperature), float("nan"))
    best: dict[str, tuple] = {}
    for _ in range(args.repeats):  # interleaved repeats, best of each: robust to a busy machine
        for name, fn in modes.items():
            result = fn()
            if name not in best or result[0] / result[1] > best[name][0] / best[name][1]:
                best[name] = result
    rows = [(name, *best[name]) for name in sorted(best)]
    rate = {name.split(")")[0] + ")": tok / sec for name, tok, sec, _ in rows}
    table = Table(title=f"{args.model}: {args.requests} requests, max_new_tokens={args.max_new_tokens}, "
                        f"batch {args.batch_size}, {torch.get_num_threads()} threads, best of {args.repeats}")
    for col in ("run", "new tokens", "seconds", "tokens/s", "schema-valid"):
        table.add_column(col)
    for name, tok, sec, valid in rows:
        table.add_row(name, str(tok), f"{sec:.1f}", f"{tok / sec:.1f}", "" if valid != valid else f"{valid:.0%}")
    console = Console()
    console.print(table)
    console.print(f"b/a = {rate['(b)'] / rate['(a)']:.1f}   (target >= 8)")
    console.print(f"c/b = {rate['(c)'] / rate['(b)']:.2f}  (target >= 0.85)")
    console.print(f"b/bn = {rate['(b)'] / rate['(bn)']:.2f}  (the shared prefix computed once per batch, against every row)")
    if "(b32)" in rate:
        console.print(f"b32/a = {rate['(b32)'] / rate['(a)']:.1f}   c32/b32 = {rate['(c32)'] / rate['(b32)']:.2f}"
                      f"   b/b32 = {rate['(b)'] / rate['(b32)']:.2f} (the default dtype against fp32)")
    args.json.write_text(json.dumps({
        **header("benchmarks/engine_throughput.py", model=args.model, seeds="request i samples with seed i"),
        "settings": {"prompts": args.prompts, "mean_prompt_tokens": round(sum(len(engine.encode(r)) for r in requests)
                                                                          / len(requests), 1),
                     "shared_prefix_tokens": shared_prefix_length([engine.encode(r) for r in requests[:args.batch_size]]),
                     "requests": args.requests, "naive_requests": args.naive_requests, "max_new_tokens": args.max_new_tokens,
                     "batch_size": args.batch_size, "temperature": args.temperature, "repeats": args.repeats,
                     "threads": torch.get_num_threads(), "default_dtype": default_dtype},
        "runs": [{"run": name, "new_tokens": tok, "seconds": round(sec, 2), "tokens_per_second": round(tok / sec, 1),
                  "schema_valid": None if valid != valid else round(valid, 3)} for name, tok, sec, valid in rows],
        "ratios": {"b/a": round(rate["(b)"] / rate["(a)"], 2), "c/b": round(rate["(c)"] / rate["(b)"], 3),
                   "b/bn": round(rate["(b)"] / rate["(bn)"], 2),
                   **({"b/b32": round(rate["(b)"] / rate["(b32)"], 2), "c32/b32": round(rate["(c32)"] / rate["(b32)"], 3)}
                      if "(b32)" in rate else {})},
    }, indent=2))
    console.print(f"results: {args.json}")


if __name__ == "__main__":
    main()
