"""ROUGE-L novelty: is a new instruction too close to one already accepted? (Self-Instruct's filter, threshold 0.7.)

ROUGE-L F1 of token lists a, b is 2·LCS(a, b) / (|a| + |b|), on the tokens of rouge-score's default tokenizer
(lower case, runs of [a-z0-9]). Comparing a new instruction with every accepted one is quadratic over a run, so an
inverted index finds the only instructions that can reach the threshold: the LCS is at most the tokens two lists
share, so a match must share at least one of the query's rarest tokens (those whose removal leaves too few to reach
the bound), and its length must lie in a band around the query's. The exact LCS of those candidates is computed
by rapidfuzz (C++). The answer is exact: the pre-filter drops only pairs that cannot reach the threshold.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from rapidfuzz.distance import LCSseq

TOKEN = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def rouge_l(a: list, b: list) -> float:
    """ROUGE-L F1 of two token lists."""
    if not a or not b:
        return 0.0
    return 2.0 * LCSseq.similarity(a, b) / (len(a) + len(b))


@dataclass
class Match:
    score: float  # the highest ROUGE-L F1 against the index
    text: str | None  # the indexed text that reached it (None: nothing in the index shares enough)


class NoveltyIndex:
    """Instructions accepted so far; `nearest(text)` is the highest ROUGE-L among those that can reach `threshold`.

    Scores below `threshold` are reported as computed for the candidates found, so a score under the threshold is a
    lower bound of the true maximum (enough to decide novelty); `exact=True` compares against everything.
    """

    def __init__(self, threshold: float = 0.7):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("the ROUGE-L threshold must be in (0, 1]")
        self.threshold = threshold
        self.vocab: dict[str, int] = {}
        self.texts: list[str] = []
        self.tokens: list[list[int]] = []
        self.postings: dict[int, list[int]] = defaultdict(list)
        self.compared = 0  # exact LCS computations done (the pre-filter's work saved is len(index) per query minus this)

    def __len__(self) -> int:
        return len(self.texts)

    def _ids(self, text: str, grow: bool) -> list[int]:
        out = []
        for tok in rouge_tokens(text):
            i = self.vocab.get(tok)
            if i is None:
                if not grow:
                    i = -1 - len(out)  # unseen: matches nothing indexed
                else:
                    i = self.vocab[tok] = len(self.vocab)
            out.append(i)
        return out

    def add(self, text: str) -> None:
        ids = self._ids(text, grow=True)
        n = len(self.texts)
        self.texts.append(text)
        self.tokens.append(ids)
        for t in set(ids):
            self.postings[t].append(n)

    def candidates(self, ids: list[int]) -> set[int]:
        """Indexed instructions that could reach the threshold against token ids `ids`."""
        la, t = len(ids), self.threshold
        if not la:
            return set()
        # LCS ≥ t(la+lb)/2 and LCS ≤ lb give LCS ≥ t·la/(2-t): at least that many shared tokens are needed.
        need = math.ceil(t * la / (2.0 - t) - 1e-9)
        counts = Counter(ids)
        by_rarity = sorted(counts, key=lambda tok: len(self.postings.get(tok, ())))
        remaining, prefix = la, []
        for tok in by_rarity:  # a match must contain a token of the prefix: the rest alone are too few
            if remaining < need:
                break
            prefix.append(tok)
            remaining -= counts[tok]
        low, high = t * la / (2.0 - t), (2.0 - t) * la / t
        found: set[int] = set()
        for tok in prefix:
            for j in self.postings.get(tok, ()):
                if low - 1e-9 <= len(self.tokens[j]) <= high + 1e-9:
                    found.add(j)
        return found

    def nearest(self, text: str, *, exact: bool = False) -> Match:
        ids = self._ids(text, grow=False)
        pool = range(len(self.texts)) if exact else self.candidates(ids)
        best, best_j = 0.0, None
        for j in pool:
            self.compared += 1
            s = rouge_l(ids, self.tokens[j])
            if s > best:
                best, best_j = s, j
        return Match(round(best, 4), self.texts[best_j] if best_j is not None else None)

    def is_novel(self, text: str) -> tuple[bool, Match]:
        m = self.nearest(text)
        return m.score < self.threshold, m
