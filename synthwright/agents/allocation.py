"""Stratified allocation: spread a category's quota over scenario × persona × style × length.

Greedy least-used choice: for each sample, each axis takes the value used least so far in this
category, then least overall, then least often paired with the values already chosen for this
sample. That keeps every axis balanced to within one per category at every step, and keeps
equal-length axes from pairing the same values forever (persona A always 'formal').
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from typing import Any

AXES = ("persona", "style", "length")


def slot_id(*parts: Any) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:12]


def allocate(
    categories: list[str],
    quotas: list[int],
    scenarios: dict[str, list[str]],
    personas: list[str],
    styles: list[str],
    lengths: list[str],
    *,
    seed: int,
    contexts: dict[str, str] | None = None,
    shares: list[float] | None = None,
) -> list[dict[str, Any]]:
    """Slots (one per distinct combination, with a quota) whose quotas sum exactly to `quotas`.

    With `shares` (a mixture of teachers), each slot also names its teacher (an index into shares),
    so that every label's samples are spread over the teachers by share.
    """
    rng = random.Random(seed)
    values = {"persona": rng.sample(personas, len(personas)), "style": rng.sample(styles, len(styles)),
              "length": rng.sample(lengths, len(lengths))}
    overall = {axis: Counter() for axis in AXES}
    pairs: Counter = Counter()
    slots: list[dict[str, Any]] = []
    for category, quota in zip(categories, quotas):
        local_scenarios = rng.sample(scenarios[category], len(scenarios[category]))
        here = {axis: Counter() for axis in AXES}
        combos: Counter = Counter()
        for i in range(quota):
            chosen = [("scenario", local_scenarios[i % len(local_scenarios)])]
            for axis in AXES:
                value = min(values[axis], key=lambda v: (here[axis][v], overall[axis][v],
                                                         sum(pairs[(c, (axis, v))] for c in chosen)))
                for c in chosen:
                    pairs[(c, (axis, value))] += 1
                here[axis][value] += 1
                overall[axis][value] += 1
                chosen.append((axis, value))
            combos[tuple(v for _, v in chosen)] += 1
        here_slots = []
        for (scenario, persona, style, length), count in combos.items():
            here_slots.append({
                "slot_id": slot_id(category, scenario, persona, style, length),
                "category": category, "scenario": scenario, "persona": persona, "style": style,
                "length": length, "quota": count, "context": (contexts or {}).get(category),
            })
        if shares and len(shares) > 1:
            here_slots = spread_over_teachers(here_slots, shares)
        slots += here_slots
    return slots


def spread_over_teachers(slots: list[dict[str, Any]], shares: list[float]) -> list[dict[str, Any]]:
    """Split one label's slots into one-sample slots, each given the teacher furthest below its share."""
    total = sum(shares)
    given = [0] * len(shares)
    out = []
    for s in slots:
        for i in range(s["quota"]):
            n = sum(given) + 1
            t = max(range(len(shares)), key=lambda j: (shares[j] / total * n - given[j], -j))
            given[t] += 1
            out.append({**s, "slot_id": slot_id(s["slot_id"], "teacher", t, i),
                        "quota": 1, "teacher": t})
    return out
