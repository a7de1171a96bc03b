"""The quality loop's re-planner: a signal over the accepted samples → the next step's decision.

A step may (1) set aside accepted samples that the classifier confidently gives another label, or
that read most unlike the real texts, and move their quota to new slots of the same label (only when the signal
comes from a dev set of real texts, or with `quality.cv_sets_aside`); (2) give weak labels extra quota, within `quality.extra_fraction` of the target over the whole
loop; (3) make new slots *contrastive* (the prompt names the label they are confused with and asks for a
message that could not be mistaken for it), seed them with the situation of a dev example the
classifier got wrong (the situation, never the text), and carry the realism hints (what gives the
synthetic texts away). The loop stops when the signal stops improving by `min_improvement`, when the
step budget is spent, or when there is nothing left to improve; a step that made a dev set's signal worse is
undone (its samples set aside, the samples it replaced restored), so the loop never leaves the data
worse by that measure. Decisions are plain data: the run
store keeps them, so a resumed run repeats none and changes none.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import cycle
from typing import Any

from synthwright.agents.allocation import slot_id
from synthwright.core.records import LoopDecision, LoopStep, Replan
from synthwright.recipe.model import QualityConfig


def stop_reason(step: int, score: float | None, history: list[LoopStep], cfg: QualityConfig) -> str | None:
    if score is None:
        return "no signal: fewer than two labels with enough accepted samples"
    previous = [h.signal["score"] for h in history if h.signal.get("score") is not None]
    if previous and score < max(previous) + cfg.min_improvement:
        return (f"plateau: score {score:.3f} is not {cfg.min_improvement:g} above the best so far"
                f" ({max(previous):.3f})")
    if step >= cfg.max_steps:
        return f"step budget spent ({cfg.max_steps} re-planning steps)"
    return None


def rollback(step: int, score: float | None, history: list[LoopStep], accepted: list[dict[str, Any]],
             slots: list[dict[str, Any]], decision: LoopDecision) -> Replan | None:
    """Undo the previous step when it made the score worse: set aside what its slots added, restore what it replaced."""
    if not history or score is None:
        return None
    prev = history[-1]
    before = prev.signal.get("score")
    if prev.decision.action != "replan" or before is None or score >= before:
        return None
    added = {s["slot_id"] for s in slots if s.get("loop_step") == step}
    reason = f"set aside: the quality loop's step {step - 1} made the score worse ({before:.3f} → {score:.3f})"
    rejections = [(s["sample_id"], reason) for s in accepted if s["slot_id"] in added]
    quota_moves = {sid: -q for sid, q in ((s["slot_id"], s["quota"]) for s in slots if s["slot_id"] in added) if q}
    for sid, delta in prev.decision.quota_moves.items():
        quota_moves[sid] = quota_moves.get(sid, 0) - delta
    undone = decision.model_copy(update={"action": "rollback", "stop_reason": reason.removeprefix("set aside: ")
                                         + "; it was undone", "score_after": before, "undone": len(rejections),
                                         "restored": len(prev.decision.replaced_ids)})
    return Replan(undone, quota_moves=quota_moves, rejections=rejections, restore=list(prev.decision.replaced_ids))


def _partner(label: str, confusions: list[dict[str, Any]], neighbours: dict[str, list[str]]) -> str | None:
    """The label `label` is most often mistaken for, else its nearest neighbour."""
    for c in confusions:
        if c["label"] == label:
            return c["predicted"]
    near = neighbours.get(label) or []
    return near[0] if near else None


def decide(step: int, signal: dict[str, Any], history: list[LoopStep], *, accepted: list[dict[str, Any]],
           slots: list[dict[str, Any]], target: int, cfg: QualityConfig, neighbours: dict[str, list[str]],
           dev_situations: dict[int, str] | None = None, round_start: int, max_rounds: int) -> Replan:
    """The decision for `step` (0 = after the first pass over the plan).

    `accepted` are the accepted samples in the order the signal saw them (its `misclassified` and
    `unrealistic` indices point into it); `dev_situations` maps dev-example indices to the situation
    the teacher described for them.
    """
    score = signal.get("score")
    decision = LoopDecision(step=step, score=score, source=signal.get("source"), action="stop",
                            stop_reason=stop_reason(step, score, history, cfg))
    # a signal from the run's own samples rises when hard samples go: it sets nothing aside unless the recipe says so
    sets_aside = signal.get("source") == "dev" or cfg.cv_sets_aside
    undo = rollback(step, score, history, accepted, slots, decision) if sets_aside else None
    if undo is not None:
        return undo
    if decision.stop_reason:
        return Replan(decision)
    source = signal["dev"] if signal.get("dev") else signal["cv"]
    f1 = source["f1_per_label"]
    confusions = source["confusions"]
    per_label = Counter(s["category"] for s in accepted)

    replaced = replacements(step, signal, accepted, per_label, cfg) if sets_aside else {}
    weak, extra = extra_quota(f1, per_label, history, target, cfg)
    if not replaced and not extra:
        decision.stop_reason = "nothing to improve: no label under weak_f1 and no confidently misclassified sample"
        return Replan(decision)
    return new_slots_for(step, signal, decision, replaced, extra, weak, f1, confusions, accepted=accepted, slots=slots,
                         cfg=cfg, neighbours=neighbours, dev_situations=dev_situations, round_start=round_start,
                         max_rounds=max_rounds)


def replacements(step: int, signal: dict[str, Any], accepted: list[dict[str, Any]], per_label: Counter,
                 cfg: QualityConfig) -> dict[int, tuple[str, str | None]]:
    """Accepted samples to set aside (index → (reason, contrast label)): confidently misclassified, then (dev set)
    least realistic; at most `replace_fraction` of a label."""
    cap = {label: int(cfg.replace_fraction * n) for label, n in per_label.items()}
    replaced: dict[int, tuple[str, str | None]] = {}  # accepted index → (reason, contrast label)
    for m in signal.get("misclassified", []):
        label = m["label"]
        if m["confidence"] >= cfg.replace_confidence and cap.get(label, 0) > 0 and m["index"] not in replaced:
            cap[label] -= 1
            replaced[m["index"]] = (f"the quality loop's classifier (step {step}) says {m['predicted']!r}"
                                    f" with probability {m['confidence']:.2f}", m["predicted"])
    for u in signal.get("unrealistic", []) if cfg.replace_unrealistic else []:
        label = accepted[u["index"]]["category"]
        if cap.get(label, 0) > 0 and u["index"] not in replaced:
            cap[label] -= 1
            replaced[u["index"]] = (f"reads unlike the real dev texts (step {step}: a real-vs-synthetic classifier"
                                    f" finds it more synthetic than {cfg.realism_quantile:.0%} of them)", None)
    return replaced


def extra_quota(f1: dict[str, float], per_label: Counter, history: list[LoopStep], target: int,
                cfg: QualityConfig) -> tuple[dict[str, float], Counter]:
    """(weak labels, extra quota per label): weak labels get quota in proportion to 1 - F1, within the loop's whole
    budget (`extra_fraction` of the target) spread over its steps."""
    budget = int(cfg.extra_fraction * target)
    spent = sum(h.decision.extra for h in history)
    this_step = min(budget - spent, math.ceil(budget / max(cfg.max_steps, 1)))
    weak = {label: v for label, v in f1.items() if v < cfg.weak_f1 and label in per_label}
    extra: Counter = Counter()
    if this_step > 0 and weak:
        weights = {label: 1.0 - v for label, v in weak.items()}
        total = sum(weights.values()) or 1.0
        shares = {label: this_step * w / total for label, w in weights.items()}
        extra.update({label: int(s) for label, s in shares.items()})
        for label in sorted(shares, key=lambda x: shares[x] - int(shares[x]), reverse=True)[: this_step - sum(extra.values())]:
            extra[label] += 1
    return weak, extra


def new_slots_for(step: int, signal: dict[str, Any], decision: LoopDecision, replaced: dict[int, tuple[str, str | None]],
                  extra: Counter, weak: dict[str, float], f1: dict[str, float], confusions: list[dict[str, Any]], *,
                  accepted: list[dict[str, Any]], slots: list[dict[str, Any]], cfg: QualityConfig,
                  neighbours: dict[str, list[str]], dev_situations: dict[int, str] | None, round_start: int,
                  max_rounds: int) -> Replan:
    """The new slots, one sample each, axis values taken round-robin from the label's own slots; contrastive where a
    label is confused with another, seeded with a dev error's situation where the teacher described one."""
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in slots:
        if not s.get("loop_step"):
            by_label[s["category"]].append(s)
    axes = {label: cycle(sorted(v, key=lambda s: s["slot_id"])) for label, v in by_label.items()}
    situations: dict[str, list[tuple[str, str]]] = defaultdict(list)  # label → [(situation, predicted)]
    if signal.get("dev") and dev_situations:
        for e in signal["dev"]["errors"]:
            if e["index"] in dev_situations:
                situations[e["label"]].append((dev_situations[e["index"]], e["predicted"]))
    hints = (signal.get("realism") or {}).get("hints", [])[: cfg.max_hints] if cfg.realism else []
    new_slots: list[dict[str, Any]] = []
    quota_moves: Counter = Counter()
    rejections = []

    def add(label: str, kind: str, contrast: str | None) -> None:
        base = next(axes[label])
        scenario = base["scenario"]
        if situations[label]:
            scenario, contrast = situations[label].pop(0)
            kind = "dev_error"
        sid = slot_id("loop", step, label, kind, len(new_slots))
        new_slots.append({"slot_id": sid, "category": label, "scenario": scenario, "persona": base["persona"],
                          "style": base["style"], "length": base["length"], "quota": 1, "context": None,
                          "loop_step": step + 1, "kind": kind, "contrast": contrast, "hints": hints,
                          "teacher": base.get("teacher", 0)})

    for index, (reason, predicted) in sorted(replaced.items()):
        sample = accepted[index]
        rejections.append((sample["sample_id"], reason))
        quota_moves[sample["slot_id"]] -= 1
        label = sample["category"]
        add(label, "replace", predicted or _partner(label, confusions, neighbours))
    for label, n in sorted(extra.items()):
        for _ in range(n):
            add(label, "extra", _partner(label, confusions, neighbours))
    decision = decision.model_copy(update={
        "action": "replan", "stop_reason": None, "replaced": len(rejections), "extra": sum(extra.values()),
        "weak_labels": {label: f1[label] for label in sorted(weak)}, "extra_per_label": dict(sorted(extra.items())),
        "contrast_pairs": [list(p) for p in sorted({(s["category"], s["contrast"]) for s in new_slots if s["contrast"]})],
        "slot_kinds": dict(Counter(s["kind"] for s in new_slots)), "hints": hints, "round_start": round_start,
        "round_limit": round_start + max_rounds, "replaced_ids": [sid for sid, _ in rejections],
        "quota_moves": dict(quota_moves),
    })
    return Replan(decision, new_slots, dict(quota_moves), rejections)
