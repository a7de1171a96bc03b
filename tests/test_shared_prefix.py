"""Prefix sharing: the tokens every prompt of a batch starts with are computed once, and the outputs stay the same."""

from __future__ import annotations

import pytest

from synthwright import ChatRequest, ClassificationSample, Sampling, load_engine
from synthwright.engines.decoding import MIN_SHARED_PREFIX, shared_prefix_length

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
