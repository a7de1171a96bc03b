"""The one interface every engine implements: batches of chat requests in, generations out."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ChatRequest(BaseModel):
    """A chat conversation to continue. `seed` overrides the per-request seed derived from `Sampling.seed`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, str]] = Field(description="Chat messages: [{'role': 'system'|'user'|'assistant', 'content': ...}].")
    seed: int | None = Field(default=None, description="Seed for this request's sampling; None derives one from Sampling.seed and the request's index.")

    @classmethod
    def user(cls, content: str, *, system: str | None = None, seed: int | None = None) -> "ChatRequest":
        messages = [{"role": "system", "content": system}] if system else []
        return cls(messages=messages + [{"role": "user", "content": content}], seed=seed)


class Sampling(BaseModel):
    """How to sample. Temperature 0 means greedy decoding."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.8, ge=0.0, le=2.0, description="Softmax temperature; 0 is greedy.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(default=256, ge=1, le=32768, description="Upper bound on generated tokens per request.")
    seed: int = Field(default=0, description="Base seed; request i uses seed + i unless the request sets its own.")
    repetition_penalty: float = Field(default=1.0, ge=1.0, le=2.0, description="Penalty (CTRL-style) on tokens this generation already produced; 1.0 is off. Small models loop less at 1.1-1.2.")

    def seed_for(self, index: int, request: ChatRequest) -> int:
        return request.seed if request.seed is not None else self.seed + index


FinishReason = Literal["stop", "length", "error"]


class Generation(BaseModel):
    """The outcome of one request. Failures are data: `error` says what went wrong."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    text: str = Field(default="", description="The raw generated text.")
    parsed: Any = Field(default=None, description="The validated schema object, when a schema was given and the text validates.")
    error: str | None = Field(default=None, description="Why there is no parsed object (parse/validation/engine error), else None.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: FinishReason = "stop"
    seconds: float = Field(default=0.0, description="Wall time from the start of the request's batch to its last token.")

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_into(schema: type[BaseModel] | None, text: str, finish_reason: FinishReason) -> tuple[Any, str | None]:
    """Validate `text` against `schema`; returns (object, None) or (None, reason).

    JSON is read with control characters allowed inside strings: grammar engines (xgrammar
    among them) let a raw tab through, and the value is still a well-formed string.
    """
    if schema is None:
        return None, None
    cut = " (cut off by max_new_tokens before the JSON closed)" if finish_reason == "length" else ""
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        return None, f"output is not valid JSON{cut}: {exc.msg} at character {exc.pos}"
    try:
        return schema.model_validate(data), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "output"
        return None, f"output does not match {schema.__name__}{cut}: {where}: {first.get('msg')}"


class Engine(ABC):
    """Batch-first model interface. `generate` never raises for one bad output; it reports it."""

    spec: str = ""

    @abstractmethod
    def generate(
        self,
        requests: list[ChatRequest],
        *,
        schema: type[BaseModel] | None = None,
        sampling: Sampling | None = None,
    ) -> list[Generation]:
        """Generate one `Generation` per request, in request order."""

    def generate_batches(
        self,
        batches: Iterable[list[ChatRequest]],
        *,
        schema: type[BaseModel] | None = None,
        sampling: Sampling | None = None,
    ) -> Iterator[tuple[int, list[Generation]]]:
        """Yield (batch index, generations) as each batch finishes; `batches` is pulled lazily.

        This default runs the batches one after another, so a consumer sees each result before
        the next batch is built; pools of workers override it to keep several in flight.
        """
        for index, batch in enumerate(batches):
            yield index, self.generate(batch, schema=schema, sampling=sampling)

    def user_turn_prefix(self, system: str | None = None) -> str:
        """The chat template's text up to where the user's message starts (Magpie's pre-query template)."""
        raise _no_raw_text(self)

    def continue_text(self, prefixes: list[str], *, seeds: list[int], sampling: Sampling | None = None) -> list[Generation]:
        """Continue each raw text prefix (no chat template added) until the model ends its turn."""
        raise _no_raw_text(self)

    def generate_one(self, request: ChatRequest, **kwargs: Any) -> Generation:
        return self.generate([request], **kwargs)[0]

    def describe(self) -> dict[str, Any]:
        """What a run records as this engine's provenance."""
        return {"spec": self.spec, "engine": type(self).__name__}

    def close(self) -> None:
        """Release models and connections."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_raw_text(engine: "Engine") -> Exception:
    from synthwright.core.errors import ConfigError

    return ConfigError(f"Magpie needs a model that continues the raw chat template up to the start of the user turn,"
                       f" and the {type(engine).__name__} engine ({engine.spec or 'this engine'}) only takes whole chat"
                       f" messages (an API never exposes its template); use a local transformers or vLLM teacher.")
