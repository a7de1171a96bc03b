"""Can the teacher write this recipe's data? Decided once, from the run's first samples, and kept in the store.

When most of what the teacher wrote fails the checks that speak of the teacher (the output did not parse, reads as
no label or another, speaks as the agent or a narrator, refuses, leaves template text, is in another language), the
run says so in one sentence with the numbers and what to do, and the closing summary repeats it. Rejections for
room (quota, limit) or repeats (duplicates, seed copies) say nothing about the teacher and do not count.
"""

from __future__ import annotations

from typing import Any

from synthwright.core.store import RunStore

MIN_SAMPLES = 8  # fewer first samples than this tell too little
LARGER_VERIFIED = "qwen2.5-coder-1.5b"
WEAK_SHARE = 0.5  # the teacher is too weak when at least this share fails its own checks
TEACHER_FAILURES = {"parse": "did not parse", "label_fidelity": "read as no label or another",
                    "gibberish": "were not words",
                    "role": "spoke as the agent or a narrator", "refusal": "refused or talked about the task",
                    "placeholder": "left template text", "language": "were in another language"}


STRICTER_GATE = (" Until then, filters.label_fidelity.reject_other_label: true keeps only the samples nearest their own"
                 " label: with the default teacher it raised SNIPS accuracy on real text from 0.75 to 0.85, though it also"
                 " refuses a quarter to a half of real messages (docs/benchmarks.md).")


def verdict(fates: dict[str, int], spec: str, *, suggest_stricter_gate: bool = False) -> dict[str, Any] | None:
    """The check over a run's sample fates (filter or status → count), or None while there are too few samples."""
    generated = sum(fates.values())
    if generated < MIN_SAMPLES:
        return None
    failed = {name: fates[name] for name in TEACHER_FAILURES if fates.get(name)}
    share = sum(failed.values()) / generated
    result: dict[str, Any] = {"teacher": spec, "generated": generated, "accepted": fates.get("accepted", 0),
                              "failed": failed, "weak": share >= WEAK_SHARE, "message": None}
    if result["weak"]:
        reasons = "; ".join(f"{n} {TEACHER_FAILURES[name]}" for name, n in sorted(failed.items(), key=lambda kv: -kv[1]))
        larger = "" if spec == LARGER_VERIFIED else f" {LARGER_VERIFIED} (verified, 2.3 times the default's size),"
        result["message"] = (
            f"The teacher {spec} looks too weak for this recipe: {sum(failed.values())} of its first {generated} samples"
            f" failed its own checks ({reasons}) and {result['accepted']} were accepted; a stronger teacher will make"
            f" this data faster and better: a local model of a few billion parameters (hf:ORG/NAME or a .gguf file),{larger}"
            " or an API model (--teacher openai:gpt-4o-mini)." + (STRICTER_GATE if suggest_stricter_gate else ""))
    return result


def check_teacher(store: RunStore, spec: str, say: Any, *, suggest_stricter_gate: bool = False) -> None:
    """Decide once the store holds enough samples; `say` hears the sentence when the teacher is too weak (and, with
    `suggest_stricter_gate`, that label fidelity can also reject samples that read as another label)."""
    if store.get("teacher_check") is not None:
        return
    result = verdict(store.fate_counts(), spec, suggest_stricter_gate=suggest_stricter_gate)
    if result is None:
        return
    store.put("teacher_check", result)
    if result["message"]:
        say(result["message"])
