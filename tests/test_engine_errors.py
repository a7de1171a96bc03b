"""Every engine fails in one sentence: a hosted teacher without its API key, an endpoint nobody listens on, a model
the server does not have, an unwritable call cache or run directory.

Each case goes through the real CLI against a run that has already accepted samples: one sentence naming the
problem and the fix, the exit code of its error class, no traceback, and the accepted samples still there (the same
run finishes once a model answers). The engine-level tests pin the contract: one failed request is a
`Generation` with its error; a batch in which every request failed in a way that fails every call raises.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.errors import (
    ConfigError,
    CredentialsError,
    EndpointError,
    EngineError,
    ModelNotFoundError,
)
from synthwright.engines import ChatRequest, load_engine
from synthwright.engines.langchain_engine import LangChainEngine
from synthwright.engines.retry import every_call_fails, is_retryable
from synthwright.rundir.reader import open_run

from .openai_server import FakeOpenAI
from .scripted import ScriptedEngine, recipe_dict

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {"lost_card": ["I lost my card on the bus this morning", "My wallet with the card was stolen at lunch",
                       "The card fell out of my pocket at the station"],
         "refund": ["The refund for my returned shoes never came", "I sent the kettle back and got no money",
                    "Why has my hotel refund not reached my account"]}
FAST = {"max_retries": 1, "backoff_base": 0.01, "backoff_cap": 0.02, "timeout": 5.0}  # the test ends in seconds
FILTERS = {"label_noise": {"mode": "off"}, "language": False, "label_fidelity": {"enabled": False}}


def free_port() -> int:
    """A localhost port nobody listens on (bound, read and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepted(out: Path) -> list[str]:
    with open_run(out).store() as store:
        return sorted(s["data"]["text"] for s in store.samples("accepted"))


def half_done_run(tmp: Path, teacher: dict) -> tuple[Path, Path]:
    """A recipe with `teacher` and a run of it that accepted 2 of its 6 samples (made by the scripted engine)."""
    recipe = tmp / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recipe_dict(teacher=teacher, filters=FILTERS)), encoding="utf-8")
    out = tmp / "run"
    synthwright.run(str(recipe), out=out, engine=ScriptedEngine({k: list(v) for k, v in TEXTS.items()}), limit=2)
    assert len(accepted(out)) == 2
    return recipe, out


def one_sentence(result, exit_code: int) -> str:
    text = " ".join(result.output.split())
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and text.count("error:") == 1, result.output
    return text[text.index("error:"):]


# the CLI, case by case ----------------------------------------------------------------------------------------

def test_hosted_teacher_without_its_api_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    recipe, out = half_done_run(tmp_path, {"model": "openai:gpt-4o-mini"})
    before = accepted(out)
    said = one_sentence(CliRunner().invoke(app, ["run", str(recipe), "--out", str(out)]), CredentialsError.exit_code)
    assert "OPENAI_API_KEY is not set" in said and "openai:gpt-4o-mini" in said and "export OPENAI_API_KEY=" in said
    assert "--teacher default" in said  # the local way out
    assert accepted(out) == before


def test_anthropic_without_its_key_names_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recipe_dict()), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(tmp_path / "run"),
                                      "--teacher", "anthropic:claude-3-5-haiku-latest"])
    said = one_sentence(result, CredentialsError.exit_code)
    assert "ANTHROPIC_API_KEY is not set" in said and "anthropic:claude-3-5-haiku-latest" in said


def test_the_issue_command_in_a_subprocess():
    """`synthwright run recipes/banking-intents.yaml --teacher openai:gpt-4o-mini` with no key: the console script."""
    script = Path(sys.executable).with_name("synthwright")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "synthwright.cli.app"]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"} | {"COLUMNS": "1000"}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([*command, "run", str(ROOT / "recipes" / "banking-intents.yaml"), "--teacher",
                               "openai:gpt-4o-mini", "--out", str(Path(tmp) / "run")],
                              capture_output=True, text=True, cwd=tmp, env=env, timeout=300, check=False)
    assert proc.returncode == CredentialsError.exit_code, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "OPENAI_API_KEY is not set" in errors[0], proc.stderr[-2000:]


def test_endpoint_nobody_listens_on(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    base = f"http://127.0.0.1:{free_port()}/v1"
    recipe, out = half_done_run(tmp_path, {"model": "openai:tiny", "options": {"base_url": base, "api_key": "k", **FAST}})
    before = accepted(out)
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(out)])
    assert time.perf_counter() - started < 30
    said = one_sentence(result, EndpointError.exit_code)
    assert f"Cannot reach {base}" in said and "base_url" in said and "run the same command again" in said
    assert accepted(out) == before
    # nothing was lost: the same run finishes once a model answers
    rest = {k: [t for t in v if t not in before] for k, v in TEXTS.items()}
    synthwright.run(str(recipe), out=out, engine=ScriptedEngine(rest))
    assert len(accepted(out)) == 6 and set(before) <= set(accepted(out))


def test_model_the_server_does_not_have(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    with FakeOpenAI(None, models={"tiny"}) as server:
        recipe, out = half_done_run(tmp_path, {"model": "openai:tiny-typo",
                                               "options": {"base_url": server.base_url, "api_key": "k", **FAST}})
        before = accepted(out)
        said = one_sentence(CliRunner().invoke(app, ["run", str(recipe), "--out", str(out)]),
                            ModelNotFoundError.exit_code)
        assert "has no model 'tiny-typo'" in said and "model_not_found" not in said and "/v1/models" in said
        assert all(r["model"] == "tiny-typo" for r in server.requests)
        assert len(server.requests) <= 4  # one try per request of the first batch: a 404 is not retried
    assert accepted(out) == before


def test_unwritable_call_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    recipe, out = half_done_run(tmp_path, {"model": "smollm2"})
    before = accepted(out)
    (tmp_path / "a-file").write_text("not a folder")  # a path under a regular file: unwritable even for root
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(out), "--cache", str(tmp_path / "a-file" / "sub")])
    said = one_sentence(result, ConfigError.exit_code)
    assert "call cache folder" in said and "a-file" in said and "--cache" in said
    assert accepted(out) == before


def test_unwritable_run_directory(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recipe_dict()), encoding="utf-8")
    (tmp_path / "a-file").write_text("keep me")
    result = CliRunner().invoke(app, ["run", str(recipe), "--out", str(tmp_path / "a-file" / "run")])
    said = one_sentence(result, ConfigError.exit_code)
    assert "cannot write" in said and "a-file" in said and "--out" in said
    assert (tmp_path / "a-file").read_text() == "keep me"


def test_unwritable_run_directory_from_python(tmp_path):
    import synthwright

    (tmp_path / "a-file").write_text("keep me")
    with pytest.raises(ConfigError, match="synthwright cannot write the run directory '.*a-file/run' \\(Not a directory\\)"):
        synthwright.run(recipe_dict(), out=tmp_path / "a-file" / "run")
    assert (tmp_path / "a-file").read_text() == "keep me"


# the engine's contract ---------------------------------------------------------------------------------------

class Stub:
    """A chat model that fails the requests `fails(text)` picks with `error()`, and answers the rest."""

    def __init__(self, fails, error):
        self.fails, self.error, self.calls = fails, error, 0

    def invoke(self, messages):
        self.calls += 1
        if self.fails(messages[-1]["content"]):
            raise self.error()
        from langchain_core.messages import AIMessage

        return AIMessage(content="fine")


def refused() -> Exception:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    try:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    except httpx.ConnectError:
        try:
            raise openai.APIConnectionError(request=request)
        except openai.APIConnectionError as exc:
            return exc


def status_error(cls, status: int, code: str) -> Exception:
    response = httpx.Response(status, request=httpx.Request("POST", "https://api.example.com/v1/chat/completions"))
    body = {"message": f"scripted {code}", "type": "test", "code": code}
    return cls(f"Error code: {status}", response=response, body=body)


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest.user(f"message {i}") for i in range(n)]


def test_one_failed_request_is_data_but_a_batch_that_all_fails_raises():
    some = Stub(lambda text: text.endswith("1"), refused)
    gens = LangChainEngine(some, **FAST).generate(requests(3))
    assert [g.ok for g in gens] == [True, False, True] and "APIConnectionError" in gens[1].error
    with pytest.raises(EndpointError, match="Cannot reach") as info:
        LangChainEngine(Stub(lambda text: True, refused), **FAST).generate(requests(3))
    assert info.value.retryable and "Connection refused" in str(info.value)


def test_connection_retries_are_few_until_the_endpoint_has_answered():
    stub = Stub(lambda text: True, refused)
    engine = LangChainEngine(stub, max_concurrency=1, max_retries=5, backoff_base=0.01, backoff_cap=0.02)
    with pytest.raises(EndpointError):
        engine.generate(requests(1))
    assert stub.calls == 3  # two retries, not five: a wrong URL is said at once
    stub.fails = lambda text: text.endswith("1")  # once it has answered, a dropped connection gets every retry
    gens = engine.generate(requests(2))
    assert gens[0].ok and not gens[1].ok and stub.calls == 3 + 1 + 6


@pytest.mark.parametrize("cls, status, code, error, words", [
    (openai.AuthenticationError, 401, "invalid_api_key", CredentialsError, ("refused the credentials", "OPENAI_API_KEY")),
    (openai.PermissionDeniedError, 403, "forbidden", CredentialsError, ("HTTP 403",)),
    (openai.NotFoundError, 404, "model_not_found", ModelNotFoundError, ("has no model 'gpt-9'",)),
    (openai.RateLimitError, 429, "insufficient_quota", EngineError, ("no quota left", "billing")),
])
def test_errors_that_fail_every_call(cls, status, code, error, words, monkeypatch):
    exc = status_error(cls, status, code)
    assert every_call_fails(exc) and not is_retryable(exc)
    engine = load_engine("openai:gpt-9", api_key="k", **FAST)
    stub = Stub(lambda text: True, lambda: exc)
    monkeypatch.setattr(engine, "_build", lambda sampling: stub)  # the provider's answer, without a network
    with pytest.raises(error) as info:
        engine.generate(requests(2))
    assert all(w in str(info.value) for w in words), str(info.value)
    assert stub.calls == 2  # none of them retried


def test_a_rate_limit_is_still_one_failed_request():
    exc = status_error(openai.RateLimitError, 429, "rate_limit_exceeded")
    assert every_call_fails(exc) is None and is_retryable(exc)


def test_key_given_as_an_option_or_for_a_local_server_needs_no_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert load_engine("openai:tiny", base_url="http://127.0.0.1:9/v1", api_key="none").spec == "openai:tiny"
    with pytest.raises(CredentialsError, match="api_key: none"):
        load_engine("openai:tiny", base_url="http://127.0.0.1:9/v1")
