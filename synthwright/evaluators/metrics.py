"""The dataset metrics the report, compare, the card and the teacher comparison share."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

from synthwright.core.store_rows import StoredVerdict

WORD = re.compile(r"\w+", re.UNICODE)
MAX_SIMILARITY_TEXTS = 2000  # pairwise TF-IDF similarity is quadratic; a seeded sample of this size is plenty


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Distinct n-grams over all n-grams of the texts (Li et al., 2016); 1.0 is no repetition at all."""
    grams: Counter = Counter()
    for t in texts:
        toks = words(t)
        grams.update(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    total = sum(grams.values())
    return round(len(grams) / total, 4) if total else None


def mean_offdiag(sim: np.ndarray) -> float:
    n = sim.shape[0]
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1))) if n > 1 else float("nan")


def self_similarity(texts: Sequence[str], seed: int = 0) -> float | None:
    """Mean pairwise cosine of TF-IDF vectors: 1 = all alike, 0 = nothing shared (lower is more varied)."""
    if len(texts) < 2:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = list(texts)
    if len(texts) > MAX_SIMILARITY_TEXTS:
        texts = random.Random(seed).sample(texts, MAX_SIMILARITY_TEXTS)
    try:
        x = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    except ValueError:  # no words at all
        return None
    return round(mean_offdiag((x @ x.T).toarray()), 4)


def lexical(texts: Sequence[str]) -> dict[str, Any]:
    return {"distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
            "self_similarity_tfidf": self_similarity(texts)}


def reason_pattern(reason: str) -> str:
    """A reason with its particulars (quoted text, numbers) blanked, to group alike reasons."""
    reason = re.sub(r"\s*\(judge: .*\)$", "", reason or "", flags=re.S)  # the judge's own words differ every time
    reason = re.sub(r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\"", "'…'", reason)
    return re.sub(r"\d+(?:\.\d+)?", "N", reason)


def judge_summary(verdicts: Sequence[StoredVerdict]) -> dict[str, Any] | None:
    """Pass rate, label agreement, each score's distribution and mean, each check's yes-rate, failed criteria."""
    if not verdicts:
        return None
    parsed = [v for v in verdicts if v.verdict]
    distribution: dict[str, Counter] = {}
    checks: dict[str, list[bool]] = {}
    for v in parsed:
        for name, value in v.scores.items():
            distribution.setdefault(name, Counter())[value] += 1
        for name, value in v.checks.items():
            checks.setdefault(name, []).append(value)
    labelled = [v for v in parsed if v.label is not None]
    passed = sum(v.passed for v in verdicts)
    failed = Counter(reason_pattern(f) for v in verdicts for f in v.failed)
    return {
        "judges": sorted({v.judge for v in verdicts}), "verdicts": len(verdicts), "unusable": len(verdicts) - len(parsed),
        "passed": passed, "pass_rate": round(passed / len(verdicts), 4),
        "label_agreement": round(sum(v.label == v.category for v in labelled) / len(labelled), 4) if labelled else None,
        "scores": {name: {str(k): c.get(k, 0) for k in range(1, 6)} for name, c in sorted(distribution.items())},
        "score_means": {name: round(sum(k * n for k, n in c.items()) / sum(c.values()), 4)
                        for name, c in sorted(distribution.items())},
        "checks_true": {name: round(sum(x) / len(x), 4) for name, x in sorted(checks.items())},
        "failed_criteria": dict(failed.most_common(10)),
        "completion_tokens": sum(v.completion_tokens for v in verdicts),
    }
