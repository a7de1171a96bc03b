"""Evol-Instruct (WizardLM, Xu et al., 2023): instructions made deeper and wider over generations.

Generation g evolves every instruction generation g-1 accepted (generation 0: the seed tasks), each by one
operation drawn from the recipe's: in-depth (add constraints, deepen, concretize, more reasoning steps, complicate
the input) or in-breadth (a new, rarer task of the same domain). An evolution is eliminated when it brings no new
information (fewer than `min_new_words` new content words, or a ROUGE-L with its parent at the novelty threshold),
copies words of the evolving prompt ("given prompt", "rewritten prompt"), or the model cannot answer it (a short
apology, or only punctuation and stop words). ROUGE-L novelty is checked within each batch (ancestors share words by
design). Survivors go through the run's filters and judge. Every attempt is
stored with its lineage (parent, operation, generation), so a resumed run never repeats an evolution.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from synthwright.core.prompts import render
from synthwright.core.samples import _Sample
from synthwright.engines import ChatRequest, Engine
from synthwright.evaluators.novelty import NoveltyIndex, rouge_l, rouge_tokens
from synthwright.make.method_run import MethodRun, content_words

HOW = {
    "constraints": "Add one more constraint or requirement to the given prompt.",
    "deepen": "If the given prompt asks about a certain issue, increase the depth and breadth of the inquiry.",
    "concretize": "Replace general concepts in the given prompt with more specific ones.",
    "reasoning": "If the given prompt can be solved with a few simple thinking steps, rewrite it to explicitly ask"
                 " for multiple-step reasoning.",
    "complicate_input": "Make the input the prompt works on more complex: longer, with more cases or details.",
    "breadth": "",
}
COPIED = re.compile(r"(given|rewritten|new|created) prompt|#\s*(given|rewritten|created) prompt\s*#", re.I)
SORRY = re.compile(r"\b(sorry|i cannot|i can't|i am unable|i'm unable|as an ai)\b", re.I)


class Evolved(_Sample):
    instruction: str = Field(min_length=1, max_length=500, description="The evolved prompt.")


def check_engine(engine: Engine) -> None:
    """Any engine can run evol_instruct."""


def parents(run: MethodRun, generation: int) -> list[dict[str, Any]]:
    """What generation `generation` evolves: the seed tasks (generation 1), else what the previous one accepted."""
    if generation == 1:
        return [{"instruction": s.instruction, "input": s.input, "category": s.category, "generation": 0}
                for s in run.seeds]
    return [r for r in run.accepted if r.get("generation") == generation - 1]


def attempted(run: MethodRun, generation: int) -> set[str]:
    """Parents already evolved in `generation` (accepted or not): a resumed run must not evolve them again."""
    return {s["data"]["parent"] for s in run.store.samples()
            if s["data"].get("generation") == generation and s["data"].get("parent") is not None}


def eliminated(parent: str, child: str, cfg: Any) -> str | None:
    """Why an evolution failed, by WizardLM's elimination rules, or None."""
    if COPIED.search(child):
        return "it copies words of the evolving prompt"
    new = content_words(child) - content_words(parent)
    if len(new) < cfg.min_new_words:
        return f"no new information: {len(new)} new content word(s) over its parent"
    score = rouge_l(rouge_tokens(parent), rouge_tokens(child))
    if score >= max(cfg.novelty_threshold, 0.9):
        return f"no new information: ROUGE-L {score:.2f} with its parent"
    return None


def unanswerable(output: str) -> str | None:
    if SORRY.search(output) and len(output.split()) < 80:
        return "the model could not answer it (a short apology)"
    if not content_words(output):
        return "the answer is only punctuation and stop words"
    return None


def step(run: MethodRun, index: int) -> bool:
    recipe, cfg = run.recipe, run.cfg
    todo, generation = [], 0
    for g in range(1, cfg.generations + 1):
        done = attempted(run, g)
        todo = [p for p in parents(run, g) if p["instruction"] not in done]
        if todo:
            generation = g
            break
    if not todo:
        return False
    room = run.room()
    n = min(cfg.batch_size, run.requests_left(), len(todo))
    if n <= 0 or not room:
        return False
    batch = sorted(todo, key=lambda p: -room.get(p["category"], 0))[:n]  # parents whose category has room first
    requests, ops = [], []
    for p in batch:
        seed = run.seed_of(generation, p["instruction"])
        op = cfg.operations[seed % len(cfg.operations)]
        shown = p["instruction"] + (f"\n\nInput:\n{p['input']}" if p.get("input") else "")
        prompt = render("evol_instruct", operation=op, how=HOW[op], instruction=shown)
        requests.append(ChatRequest.user(prompt, seed=seed))
        ops.append(op)
    gens = run.engine.generate(requests, schema=Evolved, sampling=recipe.sampling)

    calls, samples, survivors = [], [], []
    fresh = NoveltyIndex(cfg.novelty_threshold)
    for k, (p, op, request, gen) in enumerate(zip(batch, ops, requests, gens)):
        calls.append(run.call(run.slots[p["category"]]["slot_id"], index, request, gen))
        lineage = {"parent": p["instruction"], "operation": op, "generation": generation}
        if gen.parsed is None:
            samples.append([run.rejected({**run.record("", "", "", p["category"], **lineage), "raw": gen.text},
                                         "parse", gen.error)])
            continue
        # complicate_input may move the input into the prompt: the evolved prompt is the whole user turn
        record = run.record(gen.parsed.instruction, "" if op in ("complicate_input", "breadth") else p.get("input", ""),
                            "", p["category"], **lineage)
        why = eliminated(p["instruction"], record["instruction"], cfg)
        if why is not None:
            samples.append([run.rejected(record, "evolution", why)])
            continue
        # an in-depth evolution shares most words with its own ancestors by design: novelty is checked within the
        # batch only; the run's exact and near-duplicate filters still see every accepted sample
        gate = run.gate(record["instruction"], fresh, against_run=False)
        if gate is not None:
            samples.append([run.rejected(record, *gate)])
            continue
        fresh.add(record["instruction"])
        samples.append([])
        survivors.append((record, k))

    budget = max(0, run.requests_left() - len(requests))
    for record, k in survivors[budget:]:
        samples[k].append(run.rejected(record, "budget", "the request budget ran out before it was answered"))
    answered = survivors[:budget]
    answer_requests, answers = run.answer([(r["instruction"], r["input"]) for r, _ in answered], index)
    live, fates = [], []
    for (record, _), gen in zip(answered, answers):
        if gen.parsed is None:
            fates.append(run.rejected(record, "parse", f"the answer: {gen.error}"))
            continue
        record["output"] = gen.parsed.output.strip()
        record["messages"][-1]["content"] = record["output"]
        why = unanswerable(record["output"])
        if why is not None:
            fates.append(run.rejected(record, "evolution", why))
            continue
        c = run.candidate(record)
        live.append(c)
        fates.append(c)
    run.settle(live)
    for (record, _), request, gen, fate in zip(answered, answer_requests, answers, fates):
        calls.append(run.call(run.slots[record["category"]]["slot_id"], index, request, gen))
        samples.append([run.settled(fate) if not isinstance(fate, dict) else fate])
    run.commit(calls, samples, live)
    return True
