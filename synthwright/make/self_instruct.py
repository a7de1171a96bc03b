"""Self-Instruct (Wang et al., 2023): seed tasks bootstrapped into many.

Each request shows a mix of seed tasks (by default 6) and instructions already accepted (2), and asks for new ones;
each new instruction passes the gate (length, Self-Instruct's keyword filter, ROUGE-L below the threshold against
every seed, accepted and same-batch instruction), then is answered in a second request and goes through the run's
filters and judge.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, Field, create_model

from synthwright.core.prompts import render
from synthwright.core.samples import _Sample
from synthwright.engines import ChatRequest, Engine
from synthwright.evaluators.novelty import NoveltyIndex
from synthwright.make.method_run import MethodRun


class NewTask(_Sample):
    instruction: str = Field(min_length=1, max_length=400, description="The new task's instruction.")
    input: str = Field(default="", max_length=500, description="The task's input, or empty when it needs none.")


def proposal_schema(per_request: int) -> type[BaseModel]:
    return create_model("NewTasks", __base__=_Sample,
                        tasks=(list[NewTask], Field(min_length=1, max_length=per_request, description="The new tasks.")))


def check_engine(engine: Engine) -> None:
    """Any engine can run self_instruct."""


def prompt_examples(run: MethodRun, category: str, rng: random.Random) -> list[str]:
    cfg = run.cfg
    human = [s for s in run.seeds if s.category == category] or run.seeds
    mine = [r for r in run.accepted if r["category"] == category] or run.accepted
    shown = [_show(s.instruction, s.input) for s in rng.sample(human, min(cfg.human_examples, len(human)))]
    shown += [_show(r["instruction"], r["input"]) for r in rng.sample(mine, min(cfg.generated_examples, len(mine)))]
    rng.shuffle(shown)
    return shown


def _show(instruction: str, input_: str) -> str:
    return f"{instruction} (input: {input_[:120]})" if input_ else instruction


def step(run: MethodRun, index: int) -> bool:
    recipe, cfg = run.recipe, run.cfg
    room = run.room()
    left = run.requests_left()
    n = min(cfg.batch_size, left)
    if n <= 0 or not room:
        return False
    categories = sorted(room, key=lambda c: -room[c])
    descriptions = {c.name: c.description or c.name for c in recipe.categories}
    requests, cats = [], []
    for k in range(n):
        category = categories[k % len(categories)]
        seed = run.seed_of(index, k)
        prompt = render("self_instruct", description=recipe.description, count=cfg.per_request,
                        category=descriptions.get(category), examples=prompt_examples(run, category, random.Random(seed)))
        requests.append(ChatRequest.user(prompt, system=run.system(), seed=seed))
        cats.append(category)
    gens = run.engine.generate(requests, schema=proposal_schema(cfg.per_request), sampling=recipe.sampling)

    calls, samples = [], []
    fresh = NoveltyIndex(cfg.novelty_threshold)  # the batch's own new instructions, so two alike are not both kept
    survivors: list[tuple[dict[str, Any], int]] = []
    for k, (request, gen, category) in enumerate(zip(requests, gens, cats)):
        calls.append(run.call(run.slots[category]["slot_id"], index, request, gen))
        mine: list[dict[str, Any]] = []
        if gen.parsed is None:
            mine.append({"category": category, "data": {"raw": gen.text}, "dedup_key": "", "status": "rejected",
                         "filter": "parse", "reason": gen.error})
        else:
            for t in gen.parsed.tasks:
                record = run.record(t.instruction, t.input, "", category, generation=index)
                why = run.gate(record["instruction"], fresh)
                if why is not None:
                    mine.append(run.rejected(record, *why))
                else:
                    fresh.add(record["instruction"])
                    survivors.append((record, k))
        samples.append(mine)

    budget = max(0, run.requests_left() - len(requests))
    answered, unanswered = survivors[:budget], survivors[budget:]
    for record, k in unanswered:
        samples[k].append(run.rejected(record, "budget", "the request budget ran out before it was answered"))
    answer_requests, answers = run.answer([(r["instruction"], r["input"]) for r, _ in answered], index)
    cands = []
    for (record, _), gen in zip(answered, answers):
        if gen.parsed is None:
            cands.append(None)
            continue
        record["output"] = gen.parsed.output.strip()
        record["messages"][-1]["content"] = record["output"]
        cands.append(run.candidate(record))
    live = [c for c in cands if c is not None]
    run.settle(live)
    for (record, _), request, gen, c in zip(answered, answer_requests, answers, cands):
        calls.append(run.call(run.slots[record["category"]]["slot_id"], index, request, gen))
        samples.append([run.settled(c)] if c is not None else
                       [run.rejected(record, "parse", f"the answer: {gen.error}")])
    run.commit(calls, samples, live)
    return True
