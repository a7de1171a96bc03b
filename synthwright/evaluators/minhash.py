"""Near-duplicate search: MinHash signatures of character n-grams, indexed with LSH (datasketch).

Signatures use crc32 of each shingle, so they are the same in every process: an index
rebuilt from the run store on resume finds exactly what the original index found.
"""

from __future__ import annotations

import zlib
from typing import Hashable, Iterable

import numpy as np

from synthwright.evaluators.normalize import normalize


def _crc32(shingle: str) -> int:
    return zlib.crc32(shingle.encode("utf-8"))


def shingles(text: str, n: int) -> set[str]:
    """Character n-grams of the normalised text; a text shorter than n is one shingle."""
    t = normalize(text)
    if len(t) <= n:
        return {t}
    return {t[i:i + n] for i in range(len(t) - n + 1)}


class NearDuplicateIndex:
    """Texts indexed for "is there one at least `threshold` similar?" in roughly constant time per query.

    LSH gives candidates; each is confirmed with the estimated Jaccard similarity of the full
    signatures, so the answer is "similar at >= threshold", not merely "shares a band".
    """

    def __init__(self, threshold: float, num_perm: int = 128, ngram: int = 5):
        from datasketch import MinHashLSH

        self.threshold, self.num_perm, self.ngram = threshold, num_perm, ngram
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.signatures: dict[Hashable, np.ndarray] = {}
        self.snippets: dict[Hashable, str] = {}

    def empty_like(self) -> "NearDuplicateIndex":
        """A new empty index with the same settings; skips re-deriving the LSH band layout."""
        from datasketch import MinHashLSH

        other = NearDuplicateIndex.__new__(NearDuplicateIndex)
        other.threshold, other.num_perm, other.ngram = self.threshold, self.num_perm, self.ngram
        other.lsh = MinHashLSH(num_perm=self.num_perm, params=(self.lsh.b, self.lsh.r))
        other.signatures, other.snippets = {}, {}
        return other

    def sign(self, texts: Iterable[str]) -> list:
        """MinHash signatures of `texts` (datasketch MinHash objects)."""
        from datasketch import MinHash

        return MinHash.bulk([shingles(t, self.ngram) for t in texts], num_perm=self.num_perm, hashfunc=_crc32)

    def query(self, signature) -> tuple[Hashable, float] | None:
        """The most similar indexed key at or above the threshold, with its estimated similarity."""
        best: tuple[Hashable, float] | None = None
        values = signature.hashvalues
        for key in self.lsh.query(signature):
            sim = float(np.count_nonzero(self.signatures[key] == values)) / self.num_perm
            if sim >= self.threshold and (best is None or sim > best[1]):
                best = (key, sim)
        return best

    def add(self, key: Hashable, signature, text: str = "") -> None:
        if key in self.signatures:
            return
        self.lsh.insert(key, signature, check_duplication=False)
        self.signatures[key] = signature.hashvalues
        self.snippets[key] = text[:80]

    def add_texts(self, items: Iterable[tuple[Hashable, str]]) -> None:
        items = list(items)
        for (key, text), sig in zip(items, self.sign(t for _, t in items)):
            self.add(key, sig, text)

    def __len__(self) -> int:
        return len(self.signatures)
