"""ROUGE-L novelty: is a new instruction too close to one already accepted? (Self-Instruct's filter, threshold 0.7.)

ROUGE-L F1 of token lists a, b is 2·LCS(a, b) / (|a| + |b|), on the tokens of rouge-score's default tokenizer
(lower case, runs of [a-z0-9]). Comparing a new instruction with every accepted one is quadratic over a run, so the
index uses prefix filtering (as in set-similarity joins, e.g. PPJoin): F1 ≥ t needs an LCS, hence a shared multiset
of tokens, of at least o = t·|a|/(2−t) tokens; under any fixed order of tokens, two multisets sharing ≥ o tokens
have their first two shared elements among the first |a| − o + 2 of each. So the index keeps a posting list per
pair of prefix elements (`Postings`), and a query reads the lists of its own prefix pairs. The order puts the
common words of English and of instructions (a fixed list) last and, among the others, tokens first seen late
first (they are the rare ones), so the pairs hold rare tokens and their lists stay short; a positional filter
(`NoveltyIndex.candidates`) then drops candidates whose shared prefix elements sit too late to reach the threshold.
The exact LCS of the candidates left is computed by rapidfuzz (C++). Without the two work limits the answer is
exact: the pre-filters drop only pairs that cannot reach the threshold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import LCSseq

from .postings import Postings

TOKEN = re.compile(r"[a-z0-9]+")
# Most frequent first. Any fixed order keeps the index exact; this one keeps common words out of the prefixes.
COMMON = """the a to of and in is for you that it with on this be are as your an or can what how i me my by at from
do not have if will we all about any some more which one two three so use using into than then its their they
them write explain describe give list provide create make generate summarize tell suggest find identify classify
rewrite draft compose help what why when where who following given text sentence sentences paragraph words word
short brief example examples new each other these those there here should would could please way ways best
based between under over after before up down out only also just like well very""".split()
RANK = {w: i for i, w in enumerate(dict.fromkeys(COMMON))}
ALONE = 0xFFFFFFFF  # the second half of the posting key of a single element
SINGLE = 1 << 30  # tags a single element's posting key (the rest of the tag is its prefix position)


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

    Two instructions that can reach the threshold share two elements of their prefixes (`_prefix`), so the index
    keeps one posting list per pair of prefix elements: its lists are short even where a single common token's list
    would hold a large share of the index, and a query reads a few entries whatever the index's size.

    Two limits bound the work of a query. `probe_limit`: the query's pair lists are read shortest first and reading
    stops before the list that would take the entries read past this many (`cut` counts those queries); a near copy
    is missed only when every pair of prefix elements it shares with the query is that common. `verify_limit`: of the
    candidates left, only this many, those on the most of the query's lists (they share the most prefix elements),
    get the exact LCS (`capped` counts those queries). `benchmarks/instruction_methods.py` measures what the limits
    miss against a full scan. None for both: exact.
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
        self.elements: dict[int, int] = {}  # prefix element (sort key << 20 | occurrence) → a dense id
        # (id of the earlier element << 32 | id of the later one, or ALONE) → instruction << 16 | its position
        self.postings = Postings()
        self._last: tuple | None = None  # the last query's text, tokens, prefix, string and keys (None: some new)
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
        others newest first, then the common words, most common last. Two instructions that can reach the threshold
        share at least o tokens, and the first two they share in this order lie among the first |ids| − o + 2 of
        each. (Where one shared token can be enough, `_keys` also indexes the elements alone.)"""
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

    def _keys(self, dense: list[int | None], length: int) -> tuple[list[int], list[int]]:
        """The posting keys of a prefix (dense element ids; None: unknown to the index, in no key), each with a tag:
        for each pair of elements, the prefix position of its later element; and where the instruction is short
        enough to reach the threshold with another sharing one token (t·(|a| + 1) ≤ 2), for each element alone,
        SINGLE | its position."""
        keys, tags = [], []
        known = [(y, b) for y, b in enumerate(dense) if b is not None]
        for x, (_, a) in enumerate(known):
            for y, b in known[x + 1:]:
                keys.append(a << 32 | b)
                tags.append(min(y, 0xFFFF))
        if math.ceil(self.threshold * (length + 1) / 2.0 - 1e-9) <= 1:
            keys += [b << 32 | ALONE for _, b in known]
            tags += [SINGLE | min(y, 0xFFFF) for y, _ in known]
        return keys, tags

    def add(self, text: str) -> None:
        last, self._last = self._last, None
        if last is not None and last[0] == text and min(last[1], default=0) >= 0:  # no token new to the index
            _, ids, prefix, string, keys = last
        else:
            ids = self._ids(text, grow=True)
            prefix, string, keys = self._prefix(ids), "".join(map(_char, ids)), None
        n = len(self.texts)
        if n == len(self._lengths):
            self._lengths = np.resize(self._lengths, 2 * n)
            grown = np.empty(2 * n, dtype=object)
            grown[:n] = self._strings
            self._strings = grown
        self.texts.append(text)
        self._strings[n] = string
        self._lengths[n] = len(ids)
        if keys is None:  # some prefix element is new to the index
            elements = self.elements
            keys = self._keys([elements.setdefault(e, len(elements)) for e in prefix], len(ids))
        self.postings.append(keys[0], [n << 16 | (y & ~SINGLE) for y in keys[1]])

    def candidates(self, ids: list[int], prefix: list[int] | None = None,
                   keys: tuple[list[int], list[int]] | None = None) -> np.ndarray:
        """Indexed instructions that could reach the threshold against token ids `ids` (see the two limits).

        A candidate is on one of the query's pair lists. Positional filter (PPJoin): one sharing A prefix elements
        with the query (on A·(A − 1)/2 of its lists), the last at query position i and its own position j, shares at
        most A + min(|a| − i − 1, |b| − j − 1) tokens, and the LCS is no more; it must reach t·(|a| + |b|)/2. A short
        query is also matched on single elements against instructions short enough to need only one."""
        la, t = len(ids), self.threshold
        prefix = self._prefix(ids) if prefix is None else prefix
        keys, tags = self._keys(list(map(self.elements.get, prefix)), la) if keys is None else keys
        entry, tag, cut = self.postings.read(keys, tags, self.probe_limit)  # entry: instruction << 16 | position
        self.cut += cut
        alone = tag >= SINGLE
        if alone.any():
            found_alone = np.unique(entry[alone] >> 16)
            found_alone = found_alone[np.ceil(t * (la + self._lengths[found_alone]) / 2.0 - 1e-9) <= 1]
            entry, tag = entry[~alone], tag[~alone]
        else:
            found_alone = np.empty(0, dtype=np.int64)
        found, shared = self._positional(la, entry, tag)
        if len(found_alone):
            found_alone = np.setdiff1d(found_alone, found)
            found, shared = np.concatenate([found, found_alone]), np.concatenate([shared, np.ones(len(found_alone))])
        if self.verify_limit is not None and len(found) > self.verify_limit:
            self.capped += 1
            found = found[np.argpartition(-shared, self.verify_limit)[:self.verify_limit]]
        return found

    def _positional(self, la: int, entry: np.ndarray, tag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The instructions of pair-list entries that pass the positional filter, and how many prefix elements
        each shares with the query."""
        if not len(entry):
            return np.empty(0, dtype=np.int64), np.empty(0)
        key = (entry >> 16) << 32 | tag << 16 | (entry & 0xFFFF)
        key.sort()  # by instruction, then query position (the instruction's position rises with it)
        doc = key >> 32
        last = np.flatnonzero(np.append(doc[1:] != doc[:-1], True))
        found, hits = doc[last], np.diff(last, prepend=-1)
        shared = np.round((1 + np.sqrt(1 + 8 * hits)) / 2)  # A from A·(A − 1)/2 lists
        i, j = (key[last] >> 16) & 0xFFFF, key[last] & 0xFFFF
        lb = self._lengths[found]
        f = shared + np.minimum(la - i - 1, lb - j - 1) >= np.ceil(self.threshold * (la + lb) / 2.0 - 1e-9)
        return found[f], shared[f]

    def nearest(self, text: str, *, exact: bool = False) -> Match:
        from rapidfuzz.process import cdist

        ids = self._ids(text, grow=False)
        prefix = self._prefix(ids)
        dense = list(map(self.elements.get, prefix))
        keys = self._keys(dense, len(ids))
        string = "".join(map(_char, ids))
        self._last = (text, ids, prefix, string, None if None in dense else keys)
        pool = np.arange(len(self.texts)) if exact else self.candidates(ids, prefix, keys)
        if not len(pool) or not ids:
            return Match(0.0, None)
        self.compared += len(pool)
        lcs = cdist([string], self._strings[pool].tolist(), scorer=LCSseq.similarity, dtype=np.int32)[0]
        f1 = 2.0 * lcs / (len(ids) + self._lengths[pool])
        k = int(np.argmax(f1))
        return Match(round(float(f1[k]), 4), self.texts[pool[k]] if f1[k] > 0 else None)

    def is_novel(self, text: str) -> tuple[bool, Match]:
        m = self.nearest(text)
        return m.score < self.threshold, m
