"""One step of the quality loop: measure what was accepted, decide, and store the decision with its slots.

The signal (evaluators/signal.py) is computed on the accepted samples in acceptance order; with a dev set
the teacher describes, in one phrase, the situation of each dev example the classifier gets wrong (those
calls are stored as phase 'loop'; a situation that copies its dev text is dropped). The re-planner
(agents/replanner.py) turns the signal into a decision, and the store writes the step in one transaction.
"""

from __future__ import annotations

from typing import Any, Callable

from synthwright.agents.planner import PhraseAsker
from synthwright.agents.replanner import decide
from synthwright.core.progress import RunProgress
from synthwright.core.prompts import render
from synthwright.core.records import LoopDecision
from synthwright.core.store import RunStore
from synthwright.engines import Engine, Sampling
from synthwright.evaluators.minhash import shingles
from synthwright.evaluators.signal import quality_signal
from synthwright.make.rounds import RoundContext, fill
from synthwright.recipe.model import Recipe
from synthwright.tasks import task_for

SITUATION_COPY = 0.5  # a situation this similar (Jaccard of character 5-grams) to its dev text quotes it


def measure(store: RunStore, recipe: Recipe, dev: list[dict[str, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cfg = recipe.quality
    accepted = store.samples("accepted")
    task = task_for(recipe.task)
    signal = quality_signal([task.signal_text(s["data"]) for s in accepted], [s["category"] for s in accepted],
                            dev=dev or None,
                            folds=cfg.folds, embedder=cfg.embedder, seed=recipe.seed,
                            min_confidence=cfg.replace_confidence, realism_quantile=cfg.realism_quantile)
    return signal, accepted


def dev_situations(engine: Engine, store: RunStore, recipe: Recipe, dev: list[dict[str, str]], errors: list[dict[str, Any]],
                   step: int, on_progress: Callable[[int, int, int], None] | None = None) -> dict[int, str]:
    """The teacher's one-phrase situation of each misclassified dev example; never its text. `on_progress` as the
    planner's (requests answered, requests, tokens generated so far)."""
    if not errors:
        return {}
    asker = PhraseAsker(engine, Sampling(temperature=0.3, top_p=0.95, max_new_tokens=72, seed=recipe.seed),
                        store.responses("loop"), lambda phase, reqs, gens: store.record_calls(
                            "loop", [r.model_dump() for r in reqs], gens, engine.describe()), on_progress)
    for e in errors:
        prompt = render("loop_situation", description=recipe.description, text=dev[e["index"]]["text"])
        asker.ask(str(e["index"]), prompt, "situation", 1, recipe.seed + 7919 * (step + 1) + e["index"])
    out = {}
    for key, phrases in asker.answers().items():
        text = dev[int(key)]["text"]
        for phrase in phrases:
            a, b = shingles(phrase.lower(), 5), shingles(text.lower(), 5)
            if text.lower() not in phrase.lower() and len(a & b) / max(len(a | b), 1) < SITUATION_COPY:
                out[int(key)] = phrase
                break
    return out


def next_step(store: RunStore, recipe: Recipe, dev: list[dict[str, str]], plan: dict[str, Any],
              get_engine: Callable[[], Engine], bar: RunProgress) -> LoopDecision:
    """Measure, decide and store step `len(store.loop_steps())`; returns the decision."""
    cfg = recipe.quality
    history = store.loop_steps()
    step = len(history)
    phase = bar.phase
    phase(f"quality loop, step {step}: training the classifier on what was accepted …")
    signal, accepted = measure(store, recipe, dev)
    situations: dict[int, str] = {}
    if signal.get("dev") and cfg.dev_errors and step < cfg.max_steps:
        situations = dev_situations(get_engine(), store, recipe, dev, signal["dev"]["errors"], step,
                                    lambda done, total, tokens: bar.counting(
                                        f"quality loop, step {step}: describing dev errors", "phrases", done, total, tokens))
        bar.stop()
    neighbours = {c["name"]: c.get("neighbours", []) for c in plan["categories"]}
    made = decide(step, signal, history, accepted=accepted, slots=store.slots(), target=plan["total"], cfg=cfg,
                  neighbours=neighbours, dev_situations=situations, round_start=store.rounds_done(),
                  max_rounds=recipe.budget.max_rounds)
    stored_signal = {k: v for k, v in signal.items() if k not in ("misclassified", "unrealistic")}
    stored_signal["misclassified"] = len(signal.get("misclassified", []))
    stored_signal["unrealistic"] = len(signal.get("unrealistic", []))
    stored_signal["sample_ids"] = [s["sample_id"] for s in accepted]  # what this step measured, to score it later
    if stored_signal.get("dev"):
        stored_signal["dev"] = {k: v for k, v in stored_signal["dev"].items() if k != "errors"}
        stored_signal["dev"]["errors"] = len(signal["dev"]["errors"])
    store.save_loop_step(step, stored_signal, made)
    d = made.decision
    head = f"quality loop, step {step}: score {_fmt(d.score)} ({d.source})"
    if d.action == "rollback":
        phase(f"{head}; {d.stop_reason}")
    elif d.action == "stop":
        phase(f"{head}; stop — {d.stop_reason}")
    else:
        phase(f"{head}; re-planning {len(made.new_slots)} samples ({d.replaced} replaced, {d.extra} extra;"
              f" weak: {', '.join(d.weak_labels) or 'none'})")
    return d


def _fmt(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.3f}"


def run_quality_loop(ctx: RoundContext, teachers: Callable[[int], Engine], dev: list[dict[str, str]],
                     plan: dict[str, Any]) -> bool:
    """Steps of the loop until a decision stops it: each step measures, decides and stores; a re-planning step's
    new slots are filled before the next. True when --limit or a budget cap stopped the filling."""
    while True:
        steps = ctx.store.loop_steps()
        last = steps[-1].decision if steps else None
        if last is not None and last.action != "replan":
            return False
        if last is not None and fill(ctx, teachers, last.round_start, last.round_limit):
            return True
        next_step(ctx.store, ctx.recipe, dev, plan, teachers, ctx.bar)
