"""Hosted and server models through LangChain chat models (OpenAI, Anthropic, Ollama, any OpenAI-compatible server)."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

from synthwright.core.errors import (
    ConfigError,
    CredentialsError,
    EndpointError,
    EngineError,
    EngineSpecError,
    MissingExtraError,
    ModelNotFoundError,
    SynthwrightError,
)
from synthwright.core.samples import assert_bounded
from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)
from synthwright.engines.retry import (
    backoff_seconds,
    error_code,
    every_call_fails,
    is_retryable,
    is_unreachable,
    reason_of,
    status_of,
)

MAX_TOKENS_KEY = {"ollama": "num_predict"}
CLIENT_RETRY_KEY = {"openai": "max_retries", "anthropic": "max_retries", "azure_openai": "max_retries"}
# The environment variable each hosted provider reads its key from, when no api_key option is given.
API_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "mistralai": "MISTRAL_API_KEY",
               "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "xai": "XAI_API_KEY",
               "fireworks": "FIREWORKS_API_KEY", "together": "TOGETHER_API_KEY"}
LOCAL_ENDPOINTS = {"ollama": "http://localhost:11434"}
LOCAL_HINT = "a local model (--teacher default, a model directory or hf:ORG/NAME)"
UNREACHED_RETRIES = 2  # connection failures retried before the endpoint has answered once: a wrong URL fails fast


def missing_credentials(spec: str, options: dict[str, Any]) -> CredentialsError | None:
    """The error for a hosted model whose API key is neither in `options` nor in its environment variable, else None."""
    provider = spec.partition(":")[0]
    env = API_KEY_ENV.get(provider)
    given = any(k.lower().endswith("api_key") and v not in (None, "") for k, v in options.items())
    if env is None or given or os.environ.get(env, "").strip():
        return None
    if options.get("base_url"):
        fix = (f"export {env}=… or give the model's options an api_key (api_key: none for a local server that needs"
               " no key)")
    else:
        fix = f"export {env}=… (or give the model's options an api_key), or use {LOCAL_HINT}"
    return CredentialsError(f"{env} is not set, and {spec} needs it; {fix}.")


class LangChainEngine(Engine):
    """Runs requests concurrently (at most `max_concurrency` in flight), retrying transient failures.

    `model` is a spec 'PROVIDER:MODEL' (built with `init_chat_model`, with `model_kwargs` such as
    base_url and api_key) or a ready `BaseChatModel`, which is used as configured.

    One failed request is a `Generation` with its error; a batch in which every request failed in a way that fails
    every call (no connection, a refused key, a model the server does not have) raises one sentence instead, and a
    hosted model without its API key is refused when the engine is built.
    """

    def __init__(
        self,
        model: Any,
        *,
        max_concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        structured_method: str | None = None,
        **model_kwargs: Any,
    ):
        if max_concurrency < 1 or max_retries < 0:
            raise ConfigError("max_concurrency must be at least 1 and max_retries at least 0.")
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.structured_method = structured_method
        self.model_kwargs = model_kwargs
        self._models: dict[tuple, Any] = {}
        self._answered = False  # the endpoint has answered at least once
        if isinstance(model, str):
            self.spec = model
            self.provider, _, self.model_name = model.partition(":")
            self._fixed = None
            missing = missing_credentials(model, model_kwargs)
            if missing is not None:
                raise missing
            self._build(Sampling())  # fail now on a missing provider package or bad kwargs
        else:
            self.spec = f"langchain:{type(model).__name__}"
            self.provider, self.model_name = "object", type(model).__name__
            self._fixed = model

    def _build(self, sampling: Sampling) -> Any:
        if self._fixed is not None:
            return self._fixed
        key = (sampling.temperature, sampling.top_p, sampling.max_new_tokens)
        if key not in self._models:
            from langchain.chat_models import init_chat_model

            kwargs = {"temperature": sampling.temperature, "timeout": self.timeout,
                      MAX_TOKENS_KEY.get(self.provider, "max_tokens"): sampling.max_new_tokens}
            if sampling.top_p < 1.0:
                kwargs["top_p"] = sampling.top_p
            if self.provider in CLIENT_RETRY_KEY:
                kwargs[CLIENT_RETRY_KEY[self.provider]] = 0  # we retry ourselves, with backoff we control
            kwargs.update(self.model_kwargs)
            try:
                self._models[key] = init_chat_model(self.model_name, model_provider=self.provider, **kwargs)
            except ImportError as exc:
                package = f"langchain-{self.provider.replace('_', '-')}"
                raise MissingExtraError(package, "all", f"The '{self.provider}' provider") from exc
            except Exception as exc:  # pydantic's ValueError, a client's own error: one sentence either way
                raise EngineSpecError(f"Cannot build the chat model '{self.spec}': {reason_of(exc)}; check the spec and"
                                      " its options.") from exc
        return self._models[key]

    def describe(self) -> dict[str, Any]:
        safe = {k: v for k, v in self.model_kwargs.items() if "key" not in k.lower() and "token" not in k.lower()}
        return {"spec": self.spec, "engine": "langchain", "provider": self.provider, "model": self.model_name,
                "max_concurrency": self.max_concurrency, "options": safe}

    def generate(
        self,
        requests: list[ChatRequest],
        *,
        schema: type[BaseModel] | None = None,
        sampling: Sampling | None = None,
    ) -> list[Generation]:
        sampling = sampling or Sampling()
        model = self._build(sampling)
        runnable = model
        if schema is not None:
            kwargs = {"include_raw": True}
            if self.structured_method:
                kwargs["method"] = self.structured_method
            # A dict schema: the provider constrains, and we validate the raw text ourselves, the
            # same way for every engine (the OpenAI SDK's own pydantic parsing raises instead).
            runnable = model.with_structured_output(assert_bounded(schema), **kwargs)
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            done = list(pool.map(lambda r: self._one(runnable, r, schema), requests))
        fatal = [exc for _, exc in done if exc is not None]
        if fatal and len(fatal) == len(done):  # every call failed the same way: no later call can do better
            raise self.fatal_error(fatal[0]) from fatal[0]
        return [gen for gen, _ in done]

    def _one(self, runnable: Any, request: ChatRequest,
             schema: type[BaseModel] | None) -> tuple[Generation, BaseException | None]:
        """The request's generation, and the error when it failed in a way that fails every call."""
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                output = runnable.invoke(request.messages)
                self._answered = True
                break
            except Exception as exc:  # provider errors are many; classify instead of listing them
                retries = self.max_retries
                if not self._answered and is_unreachable(exc):
                    retries = min(retries, UNREACHED_RETRIES)
                if attempt >= retries or not is_retryable(exc):
                    status = status_of(exc)
                    what = f"HTTP {status}" if status else type(exc).__name__
                    gen = Generation(error=f"engine error after {attempt + 1} attempt(s): {what}: "
                                           f"{str(exc).splitlines()[0][:300] if str(exc) else ''}",
                                     finish_reason="error", seconds=time.perf_counter() - started)
                    return gen, exc if every_call_fails(exc) else None
                time.sleep(backoff_seconds(attempt, exc, base=self.backoff_base, cap=self.backoff_cap))
                attempt += 1
        raw = output["raw"] if schema is not None else output
        text = _text_of(raw)
        usage = getattr(raw, "usage_metadata", None) or {}
        meta = getattr(raw, "response_metadata", None) or {}
        finish = "length" if meta.get("finish_reason") in ("length", "max_tokens") else "stop"
        parsed, error = parse_into(schema, text, finish)
        return Generation(text=text, parsed=parsed, error=error, prompt_tokens=usage.get("input_tokens", 0),
                          completion_tokens=usage.get("output_tokens", 0), finish_reason=finish,
                          seconds=time.perf_counter() - started), None

    def fatal_error(self, exc: BaseException) -> SynthwrightError:
        """One sentence for an error that fails every call (see `retry.every_call_fails`): what and how to fix it."""
        base = self.model_kwargs.get("base_url") or getattr(self._fixed, "openai_api_base", None)
        where = base or LOCAL_ENDPOINTS.get(self.provider) or (
            f"the {self.provider} API" if self._fixed is None else f"the endpoint of {self.spec}")
        reason, status = reason_of(exc), status_of(exc)
        again = "then run the same command again"
        kind = every_call_fails(exc)
        if kind == "auth":
            env = API_KEY_ENV.get(self.provider)
            key = f"{env} or the api_key option" if env else "the api_key option"
            return CredentialsError(f"{where} refused the credentials for {self.spec} (HTTP {status}: {reason}); check"
                                    f" {key}, {again}.")
        if kind == "not_found":
            listing = f" (the server lists its models at {base.rstrip('/')}/models)" if base else ""
            path = "" if error_code(exc) == "model_not_found" or not base else (
                ", and that base_url is the API's root (it usually ends in /v1)")
            name = getattr(self._fixed, "model_name", None) or self.model_name
            return ModelNotFoundError(f"{where} has no model '{name}' (HTTP 404: {reason}); check the model"
                                      f" name in '{self.spec}'{listing}{path}.")
        if kind == "quota":
            return EngineError(f"{where} has no quota left for {self.spec} (HTTP 429: {reason}); check the account's"
                               f" plan and billing, {again}.")
        if base or self.provider in LOCAL_ENDPOINTS:
            check = f"check that the server is running and that base_url is right, {again}"
            if self.provider == "ollama" and not base:
                check = f"start it with `ollama serve` (or give base_url), {again}"
        else:
            check = f"check this machine's network connection (and any HTTPS proxy), {again}"
        return EndpointError(f"Cannot reach {where} for {self.spec} ({reason}); {check}.")


def _text_of(message: Any) -> str:
    """The message text, or a tool call's JSON arguments when the provider answered with one."""
    calls = getattr(message, "tool_calls", None)
    if calls:
        return json.dumps(calls[0].get("args", {}))
    content = getattr(message, "content", "")
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
