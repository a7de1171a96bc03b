"""Append-only posting lists: what was appended is read back, across merges, shortest lists first under a limit."""

import random
from collections import defaultdict

from synthwright.evaluators.postings import Postings


def test_lists_read_back_whole_across_merges():
    rng = random.Random(0)
    postings, truth = Postings(min_flush=20, max_flush=150), defaultdict(list)
    for item in range(600):
        keys = rng.sample(range(2**40, 2**40 + 80), rng.randint(1, 6))
        postings.append(keys, [item] * len(keys))
        for k in keys:
            truth[k].append(item)
    assert len(postings.values) > 0 and postings.recent  # some entries merged into the sorted run, some recent
    for k, items in truth.items():
        values, tags, cut = postings.read([k, 7], [5, 9], None)  # 7 was never appended
        assert sorted(values.tolist()) == items and set(tags.tolist()) == {5} and not cut


def test_the_limit_reads_shortest_first_and_says_it_cut():
    postings = Postings()
    postings.append([1] * 5 + [2] * 2 + [3] * 9, list(range(16)))
    values, tags, cut = postings.read([3, 1, 2], [30, 10, 20], 8)
    assert sorted(tags.tolist()) == [10] * 5 + [20] * 2 and cut  # 2 then 1 fit in 8; 3 would take it to 16
    values, tags, cut = postings.read([3], [30], 4)
    assert len(values) == 9 and not cut  # the first list is always read
