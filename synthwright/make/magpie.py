"""Magpie (Xu et al., 2024): an aligned model writes the user's instruction itself.

The engine gets the chat template's text up to the start of the user turn (after an optional system message) and
continues it: what it writes until it ends the turn is an instruction of the kind it was aligned on. The
instruction passes the gate (length, keywords, ROUGE-L novelty), the same model answers it as a normal chat
request, and the pair goes through the run's filters and judge. Only engines that continue raw text can do this
(transformers, vLLM); an API engine is refused.
"""

from __future__ import annotations

from synthwright.engines import ChatRequest, Engine, Sampling
from synthwright.evaluators.novelty import NoveltyIndex
from synthwright.make.method_run import MethodRun


def check_engine(engine: Engine) -> None:
    engine.user_turn_prefix(None)  # raises ConfigError saying why for an engine that cannot


def system_prompt(run: MethodRun, category: str) -> str:
    base = run.cfg.system_prompt or run.recipe.description
    about = {c.name: c.description or c.name for c in run.recipe.categories}.get(category)
    return f"{base}\nThe user asks about: {about}." if about else base


def step(run: MethodRun, index: int) -> bool:
    recipe, cfg = run.recipe, run.cfg
    room = run.room()
    n = min(cfg.batch_size, run.requests_left())
    if n <= 0 or not room:
        return False
    categories = sorted(room, key=lambda c: -room[c])
    cats = [categories[k % len(categories)] for k in range(n)]
    prefixes = [run.engine.user_turn_prefix(system_prompt(run, c)) for c in cats]
    seeds = [run.seed_of(index, k) for k in range(n)]
    # the instruction is short: a third of the answer's budget, at least 64 tokens
    query = Sampling(**{**recipe.sampling.model_dump(), "max_new_tokens": max(64, recipe.sampling.max_new_tokens // 3)})
    gens = run.engine.continue_text(prefixes, seeds=seeds, sampling=query)

    calls, samples, survivors = [], [], []
    fresh = NoveltyIndex(cfg.novelty_threshold)
    for k, (category, prefix, seed, gen) in enumerate(zip(cats, prefixes, seeds, gens)):
        request = ChatRequest(messages=[{"role": "prefix", "content": prefix}], seed=seed)
        calls.append(run.call(run.slots[category]["slot_id"], index, request, gen))
        record = run.record(gen.text, "", "", category)
        if gen.error is not None:
            samples.append([run.rejected({**record, "raw": gen.text}, "parse", gen.error)])
            continue
        if gen.finish_reason == "length":
            samples.append([run.rejected(record, "instruction_length", "the model did not end its user turn in time")])
            continue
        why = run.gate(record["instruction"], fresh)
        if why is not None:
            samples.append([run.rejected(record, *why)])
            continue
        fresh.add(record["instruction"])
        samples.append([])
        survivors.append((record, k))

    budget = max(0, run.requests_left() - n)
    for record, k in survivors[budget:]:
        samples[k].append(run.rejected(record, "budget", "the request budget ran out before it was answered"))
    answered = survivors[:budget]
    requests = [ChatRequest(messages=[{"role": "system", "content": system_prompt(run, r["category"])},
                                      {"role": "user", "content": r["instruction"]}],
                            seed=run.seed_of("answer", index, k)) for r, k in answered]
    answers = run.engine.generate(requests, schema=None, sampling=recipe.sampling) if requests else []
    live, fates = [], []
    for (record, _), gen in zip(answered, answers):
        output = gen.text.strip()
        if gen.error is not None or not output:
            fates.append(run.rejected(record, "parse", f"the answer: {gen.error or 'empty'}"))
            continue
        record["output"] = output
        record["messages"][-1]["content"] = output
        c = run.candidate(record)
        live.append(c)
        fates.append(c)
    run.settle(live)
    for (record, _), request, gen, fate in zip(answered, requests, answers, fates):
        calls.append(run.call(run.slots[record["category"]]["slot_id"], index, request, gen))
        samples.append([fate if isinstance(fate, dict) else run.settled(fate)])
    run.commit(calls, samples, live)
    return True
