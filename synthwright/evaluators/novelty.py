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

    Only candidates that pass the pre-filters are scored, so a score under the threshold is a lower bound of the true
    maximum (enough to decide novelty); `exact=True` compares against everything.

    One limit bounds the work of a query: `probe_limit`: the prefix's posting lists are read shortest first, and
    once this many entries were read the longer lists are only looked up for the candidates already found (`cut`
    counts those queries). Every such list belongs to a token more common than every token read, so a near copy is
    missed only when it shares none of the query's rarer prefix tokens. `verify_limit`: of the candidates left, only
    this many, those sharing the most prefix elements with the query, get the exact LCS (`capped` counts those
    queries). `benchmarks/instruction_methods.py` measures what the limits miss against a full scan. None for both:
    exact.
    """

    def __init__(self, threshold: float = 0.7, probe_limit: int | None = 1000, verify_limit: int | None = 100):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("the ROUGE-L threshold must be in (0, 1]")
        self.threshold = threshold
        self.probe_limit = probe_limit
        self.verify_limit = verify_limit
        self.vocab: dict[str, int] = {}
        self.order: list[int] = []  # token id → its fixed sort key: newer tokens first, the common words last
        self.texts: list[str] = []
        self._strings = np.empty(64, dtype=object)  # each instruction's tokens as one code point each
        self._lengths = np.empty(64, dtype=np.int32)
        # prefix element (sort key << 20 | occurrence) → (indexed instructions, its position in each one's prefix)
        self.postings: dict[int, tuple[array, array]] = {}
        self._last: tuple[str, list[int], list[int]] | None = None  # the last query's tokens and prefix, for add()
        self.compared = 0  # exact LCS computations done
        self.cut = 0  # queries whose reading stopped at probe_limit
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
                    self.order.append(2**32 + len(RANK) - RANK[tok] if tok in RANK else 2**31 - i)
                else:
                    i = -1 - len(out)  # unseen: matches nothing indexed
            out.append(i)
        return out

    def _need(self, n):
        """The fewest shared tokens with which an instruction of n tokens (an int or an array) can reach the threshold."""
        x = self.threshold * n / (2.0 - self.threshold) - 1e-9
        return math.ceil(x) if isinstance(n, int) else np.ceil(x)

    def _prefix(self, ids: list[int]) -> list[int]:
        """The first |ids| − o + 2 elements (token, occurrence) in the index's fixed order: unseen tokens, then the
        others newest first, then the common words, most common last. (The first |ids| − o + 1 hold a shared
        element of any instruction that can reach the threshold; one more holds a second one.)"""
        order, seen, elements = self.order, {}, []
        for t in ids:
            if t < 0:
                elements.append(t)
                continue
            c = seen.get(t, 0)
            seen[t] = c + 1
            elements.append(order[t] << 20 | c)
        elements.sort()
        return elements[:max(0, len(ids) - self._need(len(ids)) + 2)]

    def add(self, text: str) -> None:
        last, self._last = self._last, None
        if last is not None and last[0] == text and min(last[1], default=0) >= 0:  # no token new to the index
            ids, prefix = last[1], last[2]
        else:
            ids = self._ids(text, grow=True)
            prefix = self._prefix(ids)
        n = len(self.texts)
        if n == len(self._lengths):
            self._lengths = np.resize(self._lengths, 2 * n)
            grown = np.empty(2 * n, dtype=object)
            grown[:n] = self._strings
            self._strings = grown
        self.texts.append(text)
        self._strings[n] = "".join(map(_char, ids))
        self._lengths[n] = len(ids)
        for j, e in enumerate(prefix):
            posting = self.postings.get(e)
            if posting is None:
                posting = self.postings[e] = (array("i"), array("i"))
            posting[0].append(n)
            posting[1].append(j)

    def candidates(self, ids: list[int], prefix: list[int] | None = None) -> np.ndarray:
        """Indexed instructions that could reach the threshold against token ids `ids` (see the two limits).

        Positional filter (PPJoin): a candidate sharing A prefix elements with the query, the last at query position
        i and its own position j, shares at most A + min(|a| − i − 1, |b| − j − 1) tokens, and the LCS is no more.
        And two instructions that need two shared tokens share two elements of these prefixes (the first two shared
        in the common order), so a candidate must be on two of the query's lists, hence on one but the longest: the
        longest is only looked up, like the lists past `probe_limit`, for the candidates the others gave."""
        la, t = len(ids), self.threshold
        none = np.empty(0, dtype=np.int64)
        if not la:
            return none
        prefix = self._prefix(ids) if prefix is None else prefix
        lists = sorted(((len(p[0]), i, p) for i, p in enumerate(map(self.postings.get, prefix)) if p),
                       key=lambda x: x[0])
        need_a = self._need(la)
        two = need_a >= 2  # then every candidate needs two (a shorter one needs as many as the query)
        read = reading = 0
        for size, _, _ in lists[:len(lists) - 1 if two else len(lists)]:
            if self.probe_limit is not None and read and read + size > self.probe_limit:
                self.cut += 1
                break
            read += size
            reading += 1
        if not reading:
            return none
        lists, looked_up = lists[:reading], lists[reading:]
        key = np.concatenate([np.frombuffer(p[0], dtype=np.int32) for _, _, p in lists]).astype(np.int64) << 32
        key |= np.repeat(np.array([i for _, i, _ in lists], dtype=np.int64) << 16, [s for s, _, _ in lists])
        key |= np.concatenate([np.frombuffer(p[1], dtype=np.int32) for _, _, p in lists])
        key.sort()  # by candidate, then query position (and the candidate's position rises with it)
        doc = key >> 32
        last = np.flatnonzero(np.append(doc[1:] != doc[:-1], True))
        found, shared = doc[last], np.diff(last, prepend=-1)
        i, j = (key[last] >> 16) & 0xFFFF, key[last] & 0xFFFF
        lb = self._lengths[found]
        lcs = np.ceil(t * (la + lb) / 2.0 - 1e-9)
        atleast = np.minimum(2, np.maximum(need_a, self._need(lb)))

        def fits(more: int) -> np.ndarray:
            return (shared + more + np.minimum(la - i - 1, lb - j - 1) >= lcs) & (shared + more >= atleast)

        if looked_up:  # first as if every looked-up list held every candidate, then with what they hold
            f = fits(len(looked_up))
            found, shared, i, j, lb, lcs, atleast = (x[f] for x in (found, shared, i, j, lb, lcs, atleast))
            for _, at_i, (d, dj) in looked_up:  # lists are sorted by instruction
                dv = np.frombuffer(d, dtype=np.int32)
                pos = np.minimum(np.searchsorted(dv, found), len(dv) - 1)
                hit = dv[pos] == found
                shared = shared + hit
                later = hit & (at_i > i)
                i, j = np.where(later, at_i, i), np.where(later, np.frombuffer(dj, dtype=np.int32)[pos], j)
                del dv  # a view pins the array's buffer; add() appends to it
        f = fits(0)
        found, shared = found[f], shared[f]
        if self.verify_limit is not None and len(found) > self.verify_limit:
            self.capped += 1
            found = found[np.argpartition(-shared, self.verify_limit)[:self.verify_limit]]
        return found

    def nearest(self, text: str, *, exact: bool = False) -> Match:
        from rapidfuzz.process import cdist

        ids = self._ids(text, grow=False)
        prefix = self._prefix(ids)
        self._last = (text, ids, prefix)
        pool = np.arange(len(self.texts)) if exact else self.candidates(ids, prefix)
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
