"""Hosted and server models through LangChain chat models (OpenAI, Anthropic, Ollama, any OpenAI-compatible server)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

from synthwright.core.errors import ConfigError, EngineSpecError, MissingExtraError
from synthwright.core.samples import assert_bounded
from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)
from synthwright.engines.retry import backoff_seconds, is_retryable, status_of

MAX_TOKENS_KEY = {"ollama": "num_predict"}
CLIENT_RETRY_KEY = {"openai": "max_retries", "anthropic": "max_retries", "azure_openai": "max_retries"}


class LangChainEngine(Engine):
    """Runs requests concurrently (at most `max_concurrency` in flight), retrying transient failures.

    `model` is a spec 'PROVIDER:MODEL' (built with `init_chat_model`, with `model_kwargs` such as
    base_url and api_key) or a ready `BaseChatModel`, which is used as configured.
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
        if isinstance(model, str):
            self.spec = model
            self.provider, _, self.model_name = model.partition(":")
            self._fixed = None
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
            except ValueError as exc:
                raise EngineSpecError(f"Cannot build the chat model '{self.spec}': {str(exc).splitlines()[0]}") from exc
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
            return list(pool.map(lambda r: self._one(runnable, r, schema), requests))

    def _one(self, runnable: Any, request: ChatRequest, schema: type[BaseModel] | None) -> Generation:
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                output = runnable.invoke(request.messages)
                break
            except Exception as exc:  # provider errors are many; classify instead of listing them
                if attempt >= self.max_retries or not is_retryable(exc):
                    status = status_of(exc)
                    what = f"HTTP {status}" if status else type(exc).__name__
                    return Generation(error=f"engine error after {attempt + 1} attempt(s): {what}: "
                                            f"{str(exc).splitlines()[0][:300] if str(exc) else ''}",
                                      finish_reason="error", seconds=time.perf_counter() - started)
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
                          seconds=time.perf_counter() - started)


def _text_of(message: Any) -> str:
    """The message text, or a tool call's JSON arguments when the provider answered with one."""
    calls = getattr(message, "tool_calls", None)
    if calls:
        return json.dumps(calls[0].get("args", {}))
    content = getattr(message, "content", "")
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
