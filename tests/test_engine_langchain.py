"""The LangChain engine against a local server speaking OpenAI's chat-completions protocol."""

import pytest

from synthwright import ClassificationSample, Sampling, load_engine
from synthwright.engines import ChatRequest

from .openai_server import FakeOpenAI

SAMPLING = Sampling(max_new_tokens=600, temperature=0.8)


@pytest.fixture()
def server(tiny_engine):
    with FakeOpenAI(tiny_engine, timeout_sleep=1.5) as fake:
        yield fake


def engine_for(server, **options):
    options = {"max_concurrency": 4, "max_retries": 3, "backoff_base": 0.01, "backoff_cap": 0.05,
               "timeout": 10.0, "base_url": server.base_url, "api_key": "test-key", **options}
    return load_engine("openai:tiny", **options)


def reqs(n):
    return [ChatRequest.user(f"a customer message about refunds #{i}") for i in range(n)]


def test_structured_output_through_the_protocol(server):
    gens = engine_for(server).generate(reqs(6), schema=ClassificationSample, sampling=SAMPLING)
    assert all(isinstance(g.parsed, ClassificationSample) for g in gens), [g.error for g in gens]
    assert all(g.prompt_tokens > 0 and g.completion_tokens > 0 for g in gens)
    sent = server.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 600


def test_rate_limit_and_server_errors_are_retried(server):
    server.script = ["429", "500", "503"]
    gen = engine_for(server, max_concurrency=1).generate(reqs(1), schema=ClassificationSample, sampling=SAMPLING)[0]
    assert gen.ok, gen.error
    assert len(server.requests) == 4


def test_timeout_is_retried(server):
    # The retry is answered at once ('canned'), so a loaded machine cannot make it time out as well.
    server.script, server.timeout_sleep = ["timeout", "canned"], 12.0
    gen = engine_for(server, max_concurrency=1, timeout=2.0).generate(reqs(1), schema=ClassificationSample,
                                                                      sampling=SAMPLING)[0]
    assert gen.ok, gen.error
    assert gen.parsed.label == "refund" and len(server.requests) == 2


def test_malformed_output_is_reported_and_others_survive(server):
    server.script = ["malformed"]
    gens = engine_for(server, max_concurrency=1).generate(reqs(3), schema=ClassificationSample, sampling=SAMPLING)
    bad = [g for g in gens if not g.ok]
    assert len(bad) == 1 and bad[0].parsed is None and "JSON" in bad[0].error
    assert sum(g.ok for g in gens) == 2


def test_retries_are_bounded_and_client_errors_are_not_retried(server):
    server.script = ["500"] * 10
    gen = engine_for(server, max_concurrency=1, max_retries=2).generate(reqs(1), schema=ClassificationSample)[0]
    assert not gen.ok and "HTTP 500" in gen.error and "3 attempt" in gen.error
    assert len(server.requests) == 3
    server.script, server.requests = ["400"], []
    gen = engine_for(server, max_concurrency=1).generate(reqs(1), schema=ClassificationSample)[0]
    assert not gen.ok and "HTTP 400" in gen.error
    assert len(server.requests) == 1


def test_concurrency_is_bounded(tiny_engine):
    with FakeOpenAI(tiny_engine, serve_delay=0.2) as fake:
        engine_for(fake, max_concurrency=3).generate(reqs(9), sampling=Sampling(max_new_tokens=5))
        assert fake.peak_in_flight == 3


def test_a_chat_model_object_is_an_engine(server):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="tiny", base_url=server.base_url, api_key="test-key", max_tokens=400)
    engine = load_engine(model, max_concurrency=2)
    gens = engine.generate(reqs(2), schema=ClassificationSample)
    assert all(g.ok for g in gens), [g.error for g in gens]
    assert "api_key" not in str(engine.describe())


def test_unreachable_server_is_reported(tiny_engine):
    # Every call fails, so the batch raises one sentence (tests/test_engine_errors.py) instead of returning errors.
    from synthwright.core.errors import EndpointError

    engine = load_engine("openai:tiny", base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=1,
                         backoff_base=0.01, backoff_cap=0.02, timeout=2.0)
    with pytest.raises(EndpointError, match="Cannot reach http://127.0.0.1:9/v1"):
        engine.generate(reqs(1))
