"""ROUGE-L novelty: is a new instruction too close to one already accepted? (Self-Instruct's filter, threshold 0.7.)

ROUGE-L F1 of token lists a, b is 2·LCS(a, b) / (|a| + |b|), on the tokens of rouge-score's default tokenizer
(lower case, runs of [a-z0-9]). Comparing a new instruction with every accepted one is quadratic over a run, so the
index uses prefix filtering (as in set-similarity joins, e.g. PPJoin): F1 ≥ t needs an LCS, hence a shared multiset
of tokens, of at least o = t·|a|/(2−t) tokens; under any fixed order of tokens, two multisets sharing ≥ o tokens
share one among the first |a| − o + 1 of each. The order puts the common words of English and of instructions
(a fixed list) last and, among the others, tokens first seen late first (they are the rare ones), so the indexed
prefixes hold rare tokens and the lists to probe stay short; a positional filter (`NoveltyIndex.candidates`) then
drops candidates whose shared prefix elements sit too late to reach the threshold. The exact LCS of the candidates
left is computed by rapidfuzz (C++). Without the two work limits the answer is exact: the pre-filters drop only
pairs that cannot reach the threshold.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import LCSseq

TOKEN = re.compile(r"[a-z0-9]+")
# Most frequent first. Any fixed order keeps the index exact; this one keeps common words out of the prefixes.
COMMON = """the a to of and in is for you that it with on this be are as your an or can what how i me my by at from
do not have if will we all about any some more which one two three so use using into than then its their they
them write explain describe give list provide create make generate summarize tell suggest find identify classify
rewrite draft compose help what why when where who following given text sentence sentences paragraph words word
short brief example examples new each other these those there here should would could please way ways best
based between under over after before up down out only also just like well very""".split()
RANK = {w: i for i, w in enumerate(dict.fromkeys(COMMON))}


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


def _char(i: int) -> str:
    """Token id → one code point, so rapidfuzz compares token lists as strings (surrogates skipped)."""
    cp = i + 0x100
    return chr(cp + 0x800 if cp >= 0xD800 else cp)


class NoveltyIndex:
    """Instructions accepted so far; `nearest(text)` is the highest ROUGE-L among those that can reach `threshold`.

    Only candidates that pass the pre-filter are scored, so a score under the threshold is a lower bound of the true
    maximum (enough to decide novelty); `exact=True` compares against everything.

    Two limits bound the work of one query, so that a pass over n instructions grows like n, not n²:
    `probe_limit`: the prefix's posting lists are read shortest first, and once this many entries were read the
    longer lists are skipped (`cut` counts those queries). Every skipped list belongs to a token more common than
    every token already probed, so a near copy is missed only when it shares none of the query's rarer prefix
    tokens. `verify_limit`: of the candidates read, only this many, those sharing the most prefix elements with the
    query, get the exact LCS (`capped` counts those queries). `benchmarks/instruction_methods.py` measures what the
    two limits miss against a full scan. None for both: exact, and quadratic on skewed vocabularies.
    """

    def __init__(self, threshold: float = 0.7, probe_limit: int | None = 1000, verify_limit: int | None = 100):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("the ROUGE-L threshold must be in (0, 1]")
        self.threshold = threshold
        self.probe_limit = probe_limit
        self.verify_limit = verify_limit
        self.vocab: dict[str, int] = {}
        self.order: list[tuple[int, int]] = []  # token id → its fixed sort key (common words last)
        self.texts: list[str] = []
        self._strings = np.empty(64, dtype=object)  # each instruction's tokens as one code point each
        self._lengths = np.empty(64, dtype=np.int32)
        # prefix element → (indexed instructions, the element's position in each one's sorted prefix)
        self.postings: dict[tuple[int, int], tuple[array, array]] = {}
        self.compared = 0  # exact LCS computations done
        self.cut = 0  # queries whose probing stopped at probe_limit
        self.capped = 0  # queries whose candidates were cut to verify_limit

    def __len__(self) -> int:
        return len(self.texts)

    def _ids(self, text: str, grow: bool) -> list[int]:
        out = []
        for tok in rouge_tokens(text):
            i = self.vocab.get(tok)
            if i is None:
                if grow:
                    i = self.vocab[tok] = len(self.vocab)
                    self.order.append((2, -RANK[tok]) if tok in RANK else (1, -i))
                else:
                    i = -1 - len(out)  # unseen: matches nothing indexed
            out.append(i)
        return out

    def _prefix(self, ids: list[int]) -> list[tuple[int, int]]:
        """The first |ids| − o + 1 (token, occurrence) elements in the index's fixed order: unseen tokens, then the
        others newest first, then the common words, most common last."""
        n = len(ids)
        need = math.ceil(self.threshold * n / (2.0 - self.threshold) - 1e-9)
        seen: Counter = Counter()
        elements = []
        for t in ids:
            elements.append((t, seen[t]))
            seen[t] += 1
        order = self.order
        elements.sort(key=lambda e: (*((0, 0) if e[0] < 0 else order[e[0]]), e[1]))
        return elements[:max(0, n - need + 1)]

    def add(self, text: str) -> None:
        ids = self._ids(text, grow=True)
        n = len(self.texts)
        if n == len(self._lengths):
            self._lengths = np.resize(self._lengths, 2 * n)
            grown = np.empty(2 * n, dtype=object)
            grown[:n] = self._strings
            self._strings = grown
        self.texts.append(text)
        self._strings[n] = "".join(map(_char, ids))
        self._lengths[n] = len(ids)
        for j, e in enumerate(self._prefix(ids)):
            posting = self.postings.get(e)
            if posting is None:
                posting = self.postings[e] = (array("i"), array("i"))
            posting[0].append(n)
            posting[1].append(j)

    def candidates(self, ids: list[int]) -> np.ndarray:
        """Indexed instructions that could reach the threshold against token ids `ids` (see the two limits).

        Positional filter (PPJoin): a candidate sharing A prefix elements with the query, the last at query position
        i and its own position j, shares at most A + min(|a| − i − 1, |b| − j − 1) tokens, and the LCS is no more;
        plus one for each posting list skipped at `probe_limit`, so the bound holds for those queries too."""
        la, t = len(ids), self.threshold
        none = np.empty(0, dtype=np.int64)
        if not la:
            return none
        lists = sorted(((i, p) for i, p in enumerate(map(self.postings.get, self._prefix(ids))) if p),
                       key=lambda ip: len(ip[1][0]))
        docs, theirs, at, read = [], [], [], 0
        for i, (d, j) in lists:
            if self.probe_limit is not None and read + len(d) > self.probe_limit and read:
                self.cut += 1
                break
            docs.append(np.frombuffer(d, dtype=np.int32))
            theirs.append(np.frombuffer(j, dtype=np.int32))
            at.append(i)
            read += len(d)
        if not docs:
            return none
        sizes = [len(d) for d in docs]
        key = np.concatenate(docs).astype(np.int64) << 24 | np.repeat(np.array(at, dtype=np.int64), sizes)
        j = np.concatenate(theirs)
        del docs, theirs  # the views pin the arrays' buffers; add() appends to them
        by = np.argsort(key, kind="stable")
        key, j = key[by], j[by]
        doc, i = key >> 24, key & 0xFFFFFF
        last = np.flatnonzero(np.append(doc[1:] != doc[:-1], True))
        found, shared = doc[last], np.diff(np.append(-1, last))
        lb = self._lengths[found]
        unread = len(lists) - len(at)  # each list skipped at probe_limit may hold one more shared element
        bound = shared + unread + np.minimum(la - i[last] - 1, lb - j[last] - 1)
        fits = bound >= np.ceil(t * (la + lb) / 2.0 - 1e-9)
        found, shared = found[fits], shared[fits]
        if self.verify_limit is not None and len(found) > self.verify_limit:
            self.capped += 1
            found = found[np.argpartition(-shared, self.verify_limit)[:self.verify_limit]]
        return found

    def nearest(self, text: str, *, exact: bool = False) -> Match:
        from rapidfuzz.process import cdist

        ids = self._ids(text, grow=False)
        pool = np.arange(len(self.texts)) if exact else self.candidates(ids)
        if not len(pool) or not ids:
            return Match(0.0, None)
        self.compared += len(pool)
        lcs = cdist(["".join(map(_char, ids))], self._strings[pool].tolist(), scorer=LCSseq.similarity,
                    dtype=np.int32)[0]
        f1 = 2.0 * lcs / (len(ids) + self._lengths[pool])
        k = int(np.argmax(f1))
        return Match(round(float(f1[k]), 4), self.texts[pool[k]] if f1[k] > 0 else None)

    def is_novel(self, text: str) -> tuple[bool, Match]:
        m = self.nearest(text)
        return m.score < self.threshold, m
