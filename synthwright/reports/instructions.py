"""The report's section for instruction data: lengths, verb–object diversity, ROUGE-L to the seeds, lineage.

Verb–object pairs follow the Self-Instruct paper's analysis (the root verb and its first direct object), read
here without a parser: instructions are imperatives, so the verb is the first word after politeness ("please",
"can you…") and the object the first following word that is not a function word. That is a heuristic; it agrees
with a parser on plain imperatives ("Write a poem…" → write/poem) and misreads questions ("What is…").
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from synthwright.evaluators.novelty import NoveltyIndex, rouge_tokens

POLITE = ("please", "kindly", "can you", "could you", "would you", "will you", "i want you to", "i need you to",
          "help me", "i would like you to")
FUNCTION = frozenset("""a an the this that these those my your our their his her its some any each every one two three
four five six seven eight nine ten few several many all of to for about on in with from by at into me us him them it
short brief simple new following given more most very""".split())
BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def verb_object(instruction: str) -> tuple[str, str | None] | None:
    text = " ".join(rouge_tokens(instruction))
    for p in POLITE:
        if text.startswith(p + " "):
            text = text[len(p) + 1:]
    words = text.split()
    if not words:
        return None
    obj = next((w for w in words[1:6] if w not in FUNCTION and not w.isdigit()), None)
    return words[0], obj


def verb_objects(instructions: list[str], top: int = 10) -> dict[str, Any]:
    pairs = [vo for vo in map(verb_object, instructions) if vo is not None]
    verbs = Counter(v for v, _ in pairs)
    by_verb: dict[str, Counter] = {}
    for v, o in pairs:
        if o is not None:
            by_verb.setdefault(v, Counter())[o] += 1
    distinct = len({p for p in pairs if p[1] is not None})
    return {"distinct_verbs": len(verbs), "distinct_pairs": distinct,
            "pair_ratio": round(distinct / len(pairs), 4) if pairs else None,
            "top": [{"verb": v, "count": n, "objects": [o for o, _ in by_verb.get(v, Counter()).most_common(4)]}
                    for v, n in verbs.most_common(top)]}


def rouge_to_seeds(instructions: list[str], seeds: list[str]) -> dict[str, Any] | None:
    """Each instruction's highest ROUGE-L F1 with a seed task: its distribution in ten bins."""
    if not seeds or not instructions:
        return None
    index = NoveltyIndex(1.0)
    for s in seeds:
        index.add(s)
    best = [index.nearest(t, exact=True).score for t in instructions]
    hist = [0] * (len(BINS) - 1)
    for b in best:
        hist[min(int(b * 10), 9)] += 1
    return {"n": len(best), "mean": round(statistics.fmean(best), 4), "median": round(statistics.median(best), 4),
            "max": round(max(best), 4), "bins": [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(BINS, BINS[1:])],
            "histogram": hist}


def instruction_metrics(rows: list[dict[str, Any]], seeds: list[str]) -> dict[str, Any]:
    instructions = [r["instruction"] for r in rows]

    def words(texts: list[str]) -> dict[str, Any] | None:
        n = [len(t.split()) for t in texts]
        return {"mean": round(statistics.fmean(n), 1), "median": statistics.median(n), "max": max(n)} if n else None

    return {
        "instruction_words": words(instructions), "output_words": words([r["output"] for r in rows]),
        "with_input": sum(1 for r in rows if r.get("input")),
        "verb_object": verb_objects(instructions),
        "rouge_to_seeds": rouge_to_seeds(instructions, seeds),
        "methods": dict(Counter(r.get("method", "topics") for r in rows)),
        "operations": dict(Counter(r["operation"] for r in rows if r.get("operation"))),
        "generations": {str(k): v for k, v in sorted(Counter(r.get("generation", 0) for r in rows).items())},
    }


def render_instruction(m: dict[str, Any] | None) -> list[str]:
    if not m:
        return []
    iw, ow, vo, rs = m["instruction_words"], m["output_words"], m["verb_object"], m["rouge_to_seeds"]
    out = ["## Instructions", ""]
    if iw:
        out += [f"Method: {', '.join(f'{k} ({v})' for k, v in m['methods'].items())}. Instruction words: mean {iw['mean']},"
                f" median {iw['median']}, max {iw['max']}; response words: mean {ow['mean']}, median {ow['median']},"
                f" max {ow['max']}; {m['with_input']} with an input.", ""]
    out += [f"Verb–object diversity (first verb and its object, a parser-free heuristic): {vo['distinct_verbs']} verbs,"
            f" {vo['distinct_pairs']} distinct verb–object pairs"
            + (f" ({vo['pair_ratio']:.0%} of instructions)." if vo["pair_ratio"] is not None else "."), ""]
    if vo["top"]:
        out += ["| verb | instructions | most common objects |", "|---|---|---|"]
        out += [f"| {t['verb']} | {t['count']} | {', '.join(t['objects']) or '–'} |" for t in vo["top"]] + [""]
    if rs:
        out += [f"ROUGE-L F1 with the nearest seed task: mean {rs['mean']}, median {rs['median']}, max {rs['max']}"
                " (lower: further from the seeds).", "",
                "| ROUGE-L | " + " | ".join(rs["bins"]) + " |", "|---" * (len(rs["bins"]) + 1) + "|",
                "| instructions | " + " | ".join(map(str, rs["histogram"])) + " |", ""]
    if m["operations"]:
        out += ["Evolutions: " + ", ".join(f"{k} {v}" for k, v in sorted(m["operations"].items()))
                + "; by generation: " + ", ".join(f"{k}: {v}" for k, v in m["generations"].items()) + ".", ""]
    return out
