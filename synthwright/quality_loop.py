"""One step of the quality loop: measure what was accepted, decide, and store the decision with its slots.

The signal (evaluators/signal.py) is computed on the accepted samples in acceptance order; with a dev set
the teacher describes, in one phrase, the situation of each dev example the classifier gets wrong (those
calls are stored as phase 'loop'; a situation that copies its dev text is dropped). The re-planner
(agents/replanner.py) turns the signal into a decision, and the store writes the step in one transaction.
"""

from __future__ import annotations

from typing import Any, Callable

from .agents.planner import PhraseAsker
from .agents.replanner import decide
from .engines import Engine, Sampling
from .evaluators.minhash import shingles
from .evaluators.signal import quality_signal
from .prompts import render
from .store import RunStore

SITUATION_COPY = 0.5  # a situation this similar (Jaccard of character 5-grams) to its dev text quotes it


def measure(store: RunStore, recipe: Any, dev: list[dict[str, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cfg = recipe.quality
    accepted = store.samples("accepted")
    signal = quality_signal([signal_text(recipe.task, s["data"]) for s in accepted], [s["category"] for s in accepted],
                            dev=dev or None,
                            folds=cfg.folds, embedder=cfg.embedder, seed=recipe.seed,
                            min_confidence=cfg.replace_confidence, realism_quantile=cfg.realism_quantile)
    return signal, accepted


def signal_text(task: str, data: dict[str, Any]) -> str:
    """What the loop's classifier reads of a sample: a classification text, or a dialogue's user messages (so that
    goals whose dialogues read like another goal are weak labels, and those dialogues are replaced contrastively)."""
    if task == "dialogue":
        from .evaluators.dialogue_check import user_text

        return user_text(data)
    return data["text"]


def dev_situations(engine: Engine, store: RunStore, recipe: Any, dev: list[dict[str, str]], errors: list[dict[str, Any]],
                   step: int) -> dict[int, str]:
    """The teacher's one-phrase situation of each misclassified dev example; never its text."""
    if not errors:
        return {}
    asker = PhraseAsker(engine, Sampling(temperature=0.3, top_p=0.95, max_new_tokens=72, seed=recipe.seed),
                        store.responses("loop"), lambda phase, reqs, gens: store.record_calls(
                            "loop", [r.model_dump() for r in reqs], gens, engine.describe()))
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


def next_step(store: RunStore, recipe: Any, dev: list[dict[str, str]], plan: dict[str, Any],
              get_engine: Callable[[], Engine], phase: Callable[[str], None]) -> dict[str, Any]:
    """Measure, decide and store step `len(store.loop_steps())`; returns the decision."""
    cfg = recipe.quality
    history = store.loop_steps()
    step = len(history)
    phase(f"quality loop, step {step}: training the classifier on what was accepted …")
    signal, accepted = measure(store, recipe, dev)
    situations: dict[int, str] = {}
    if signal.get("dev") and cfg.dev_errors and step < cfg.max_steps:
        situations = dev_situations(get_engine(), store, recipe, dev, signal["dev"]["errors"], step)
    neighbours = {c["name"]: c.get("neighbours", []) for c in plan["categories"]}
    made = decide(step, signal, history, accepted=accepted, slots=store.slots(), target=plan["total"], cfg=cfg,
                  neighbours=neighbours, dev_situations=situations, round_start=store.rounds_done(),
                  max_rounds=recipe.budget.max_rounds)
    stored_signal = {k: v for k, v in signal.items() if k not in ("misclassified", "unrealistic")}
    stored_signal["misclassified"] = len(signal.get("misclassified", []))
    stored_signal["unrealistic"] = len(signal.get("unrealistic", []))
    if stored_signal.get("dev"):
        stored_signal["dev"] = {k: v for k, v in stored_signal["dev"].items() if k != "errors"}
        stored_signal["dev"]["errors"] = len(signal["dev"]["errors"])
    store.save_loop_step(step, stored_signal, made["decision"], made["new_slots"], made["quota_moves"], made["rejections"],
                         made.get("restore", []))
    d = made["decision"]
    if d["action"] == "rollback":
        phase(f"quality loop, step {step}: score {_fmt(d['score'])} ({d['source']}); {d['stop_reason']}")
    elif d["action"] == "stop":
        phase(f"quality loop, step {step}: score {_fmt(d['score'])} ({d['source']}); stop — {d['stop_reason']}")
    else:
        phase(f"quality loop, step {step}: score {_fmt(d['score'])} ({d['source']}); re-planning {len(made['new_slots'])}"
              f" samples ({d['replaced']} replaced, {d['extra']} extra; weak: {', '.join(d['weak_labels']) or 'none'})")
    return d


def _fmt(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.3f}"


def loop_summary(store: RunStore) -> dict[str, Any] | None:
    """What stats.json and the report show of the loop: the score per step and each decision."""
    steps = store.loop_steps()
    if not steps:
        return None
    rows = []
    for s in steps:
        sig, d = s["signal"], s["decision"]
        source = sig.get("dev") or sig.get("cv") or {}
        rows.append({"step": s["step"], "score": sig.get("score"), "source": sig.get("source"), "samples": sig.get("samples"),
                     "cv_macro_f1": (sig.get("cv") or {}).get("macro_f1"),
                     "dev_macro_f1": (sig.get("dev") or {}).get("macro_f1"),
                     "realism_auc": (sig.get("realism") or {}).get("auc"),
                     "f1_per_label": source.get("f1_per_label", {}),
                     "action": d["action"], "stop_reason": d.get("stop_reason"), "replaced": d.get("replaced", 0),
                     "extra": d.get("extra", 0), "contrast_pairs": d.get("contrast_pairs", []), "hints": d.get("hints", []),
                     "slot_kinds": d.get("slot_kinds", {})})
    last = steps[-1]["decision"]
    final = last.get("score_after", rows[-1]["score"]) if last["action"] == "rollback" else rows[-1]["score"]
    return {"steps": rows, "final_score": final, "first_score": rows[0]["score"]}
