"""Prefix sharing: the tokens every prompt of a batch starts with are computed once, and the outputs stay the same."""

from __future__ import annotations

import pytest

from synthwright import ChatRequest, ClassificationSample, Sampling, load_engine
from synthwright.engines.decoding import (
    MIN_PREFILL_GROUP,
    MIN_SHARED_PREFIX,
    PREFILL_PASS_COST,
    decode_batch,
    prefill_groups,
    shared_prefix_length,
)

SYSTEM = ("You write realistic, varied training data for machine-learning models. Reply with one JSON object and"
          " nothing else. The domain: short messages that customers of a retail bank type into its support chat.")
TAILS = ["my card is gone", "why was I charged twice for the same coffee this morning", "pin reset", "refund?",
         "the transfer to my landlord from last friday still has not arrived", "close my account please"]


def test_the_shared_prefix_leaves_every_prompt_a_token_of_its_own():
    shared = list(range(40))
    assert shared_prefix_length([shared + [1, 2], shared + [3], shared + [4, 5, 6]]) == 40
    assert shared_prefix_length([shared, shared + [7]]) == 39  # the shorter prompt keeps its last token
    assert shared_prefix_length([shared + [1]]) == 0  # one prompt: nothing to share
    assert shared_prefix_length([list(range(MIN_SHARED_PREFIX - 1)) + [1], list(range(MIN_SHARED_PREFIX - 1)) + [2]]) == 0
    assert shared_prefix_length([[9] + shared, shared + [1]]) == 0


@pytest.fixture(scope="module")
def engines(tiny_model_dir):
    return (load_engine(str(tiny_model_dir), batch_size=8, dtype="float32"),
            load_engine(str(tiny_model_dir), batch_size=8, dtype="float32", share_prefix=False))


def requests() -> list[ChatRequest]:
    return [ChatRequest.user(f"Write one message. About: {t}", system=SYSTEM, seed=i) for i, t in enumerate(TAILS)]


def test_the_batch_really_shares_a_long_prefix(engines):
    shared, _ = engines
    assert shared_prefix_length([shared.encode(r) for r in requests()]) >= 40


@pytest.mark.parametrize("schema", [None, ClassificationSample])
def test_greedy_outputs_are_the_same_with_and_without_sharing(engines, schema):
    shared, plain = engines
    sampling = Sampling(temperature=0.0, max_new_tokens=24)
    a = shared.generate(requests(), schema=schema, sampling=sampling)
    b = plain.generate(requests(), schema=schema, sampling=sampling)
    assert [g.text for g in a] == [g.text for g in b]
    assert [g.prompt_tokens for g in a] == [g.prompt_tokens for g in b]  # the usage counts every prompt's tokens


def test_sampled_outputs_are_the_same_with_and_without_sharing(engines):
    shared, plain = engines
    sampling = Sampling(temperature=0.9, top_p=0.95, max_new_tokens=24, seed=3)
    assert [g.text for g in shared.generate(requests(), sampling=sampling)] == \
        [g.text for g in plain.generate(requests(), sampling=sampling)]


def test_rows_of_very_different_lengths_are_prefilled_in_groups():
    assert prefill_groups([10] * 8) == [list(range(8))]
    short_and_long = [5, 100, 6, 101, 5, 99, 7, 100]
    assert prefill_groups(short_and_long, pass_cost=32) == [[0, 4, 2, 6], [5, 1, 7, 3]]
    assert prefill_groups(short_and_long, pass_cost=10**6) == [[0, 4, 2, 6, 5, 1, 7, 3]]  # a pass dearer than the pads
    assert prefill_groups([5, 100, 6]) == [[0, 2, 1]]  # groups under MIN_PREFILL_GROUP rows are not split off
    assert all(len(g) >= MIN_PREFILL_GROUP for g in prefill_groups(list(range(0, 400, 9))))


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("schema", [None, ClassificationSample])
def test_outputs_are_the_same_prefilled_in_groups_or_in_one_pass(engines, share, schema):
    """Pads inserted between the shared prefix and a shorter group's tokens are masked like any pad."""
    engine, _ = engines
    long_tails = [t + ", and " + " and ".join(TAILS[:4]) for t in TAILS]
    batch = [ChatRequest.user(f"Write one message. About: {t}", system=SYSTEM, seed=i)
             for i, t in enumerate(TAILS + long_tails)]
    prompts = [engine.encode(r) for r in batch]
    shared = shared_prefix_length(prompts) if share else 0
    assert len(prefill_groups([len(p) - shared for p in prompts], PREFILL_PASS_COST + shared)) > 1
    for sampling in (Sampling(temperature=0.0, max_new_tokens=16), Sampling(temperature=0.9, max_new_tokens=16)):
        texts = []
        for pass_cost in (PREFILL_PASS_COST, 10**9):
            matchers = engine.grammar.matchers(schema, len(prompts)) if schema is not None else None
            rows = decode_batch(engine.model, prompts, sampling=sampling, seeds=list(range(len(prompts))),
                                stop_ids=engine.stop_ids, pad_id=engine.tokenizer.pad_token_id,
                                grammar=engine.grammar if schema is not None else None, matchers=matchers,
                                share_prefix=share, prefill_pass_cost=pass_cost)
            texts.append([row.tokens for row in rows])
        assert texts[0] == texts[1]


@pytest.mark.parametrize("schema", [None, ClassificationSample])
def test_a_prompt_that_rows_repeat_is_computed_once_with_the_same_outputs(engines, schema, monkeypatch):
    """The planner asks each question several times with other seeds: one prefill row per distinct prompt."""
    import synthwright.engines.decoding as decoding

    engine, _ = engines
    distinct = [engine.encode(r) for r in requests()[:3]]
    prompts = [distinct[i % 3] for i in range(9)]
    prefilled_rows: list[int] = []
    original = decoding.prefill
    monkeypatch.setattr(decoding, "prefill", lambda model, ps, *a: prefilled_rows.append(len(ps)) or original(model, ps, *a))
    sampling = Sampling(temperature=0.9, max_new_tokens=16)

    def decode(batch: list[list[int]], seeds: list[int]) -> list[list[int]]:
        matchers = engine.grammar.matchers(schema, len(batch)) if schema is not None else None
        rows = decode_batch(engine.model, batch, sampling=sampling, seeds=seeds, stop_ids=engine.stop_ids,
                            pad_id=engine.tokenizer.pad_token_id, grammar=engine.grammar if schema is not None else None,
                            matchers=matchers)
        return [row.tokens for row in rows]

    together = decode(prompts, list(range(9)))
    assert prefilled_rows == [3]
    alone = [decode([p], [seed])[0] for seed, p in enumerate(prompts)]
    assert together == alone
    assert len({tuple(t) for t in together}) > 3  # the seeds still make rows of one prompt differ
