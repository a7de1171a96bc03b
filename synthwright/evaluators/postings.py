"""Append-only posting lists keyed by int64, for indexes that add one item at a time and query between adds."""

from __future__ import annotations

import numpy as np


class Postings:
    """Posting lists of int64 values keyed by int64, append-only: a numpy run sorted by key (each key once in
    `distinct`, its values from `starts`) plus a dict of recent entries, merged into the run once it holds a quarter
    of the run's size (at least `min_flush`, at most `max_flush` entries), so an entry is copied a bounded number of
    times up to a run of 4·max_flush entries, and a lookup is a binary search and a dict probe."""

    def __init__(self, min_flush: int = 1 << 16, max_flush: int = 1 << 20):
        self.values = np.empty(0, dtype=np.int64)
        self.distinct = np.empty(0, dtype=np.int64)  # the keys once each, and where each one's values start
        self.starts = np.zeros(1, dtype=np.int64)
        self.recent: dict[int, list[int]] = {}
        self.pending = 0
        self.min_flush, self.max_flush = min_flush, max_flush

    def append(self, keys: list[int], values: list[int]) -> None:
        for k, v in zip(keys, values):
            got = self.recent.get(k)
            if got is None:
                self.recent[k] = [v]
            else:
                got.append(v)
        self.pending += len(keys)
        if self.pending >= max(self.min_flush, min(len(self.values) // 4, self.max_flush)):
            self._flush()

    def _flush(self) -> None:
        keys = np.fromiter(self.recent, dtype=np.int64, count=len(self.recent))
        sizes = np.fromiter(map(len, self.recent.values()), dtype=np.int64, count=len(keys))
        values = np.fromiter((v for vs in self.recent.values() for v in vs), dtype=np.int64, count=self.pending)
        keys = np.repeat(keys, sizes)
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        old = np.repeat(self.distinct, np.diff(self.starts))
        at = np.searchsorted(old, keys, side="right")
        merged, self.values = np.insert(old, at, keys), np.insert(self.values, at, values)
        starts = np.flatnonzero(np.diff(merged, prepend=-1))
        self.distinct, self.starts = merged[starts], np.append(starts, len(merged))
        self.recent, self.pending = {}, 0

    def read(self, keys: list[int], tags: list[int], limit: int | None) -> tuple[np.ndarray, np.ndarray, bool]:
        """The values of the lists of `keys`, read shortest first until the next would take the count past `limit`
        (the first is always read), each with its key's tag; and whether a list was left unread."""
        q = np.array(keys, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.distinct, q), len(self.distinct) - 1)
        hit = self.distinct[at] == q if len(self.distinct) else np.zeros(len(q), dtype=bool)
        lo = self.starts[at]
        stored = np.where(hit, self.starts[at + 1] - lo, 0)
        recent = list(map(self.recent.get, keys))
        sizes = stored + np.fromiter((len(r) if r else 0 for r in recent), dtype=np.int64, count=len(keys))
        order = np.argsort(sizes, kind="stable")
        order = order[sizes[order] > 0]
        cut = False
        if limit is not None and len(order):
            within = np.cumsum(sizes[order]) <= limit
            within[0] = True
            cut = not within.all()
            order = order[within]
        n = stored[order]
        start = np.repeat(lo[order] - (np.cumsum(n) - n), n)
        more, more_tags = [], []
        for k in order.tolist():
            if recent[k]:
                more += recent[k]
                more_tags += [tags[k]] * len(recent[k])
        values = np.concatenate([self.values[start + np.arange(len(start))], np.array(more, dtype=np.int64)])
        tagged = np.concatenate([np.repeat(np.array(tags, dtype=np.int64)[order], n), np.array(more_tags, dtype=np.int64)])
        return values, tagged, cut
