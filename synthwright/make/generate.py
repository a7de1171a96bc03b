"""The smallest useful call: N schema-valid samples for one prompt."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from synthwright.core.errors import ConfigError
from synthwright.core.prompts import render
from synthwright.core.samples import classification_schema, schema_for
from synthwright.engines import ChatRequest, Engine, Generation, Sampling, load_engine
from synthwright.engines.base import parse_into


def field_descriptions(schema: type[BaseModel]) -> dict[str, str]:
    return {name: (f.description or name) for name, f in schema.model_fields.items()}


def generate_samples(
    prompt: str,
    *,
    n: int = 8,
    model: str | Engine = "default",
    schema: str | type[BaseModel] = "classification",
    labels: list[str] | None = None,
    sampling: Sampling | None = None,
    constrained: bool = True,
    max_attempts: int = 3,
    engine_options: dict[str, Any] | None = None,
) -> tuple[list[BaseModel], list[Generation]]:
    """Generate until `n` samples validate (or `max_attempts` rounds pass).

    Returns the valid samples and every generation made, failures included.
    """
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}.")
    if not prompt.strip():
        raise ConfigError("The prompt is empty; describe what the samples should be about with --prompt.")
    target = schema_for(schema) if isinstance(schema, str) else schema
    if labels:
        if target.__name__ != "ClassificationSample":
            raise ConfigError("--labels only applies to the classification schema.")
        target = classification_schema(labels)
    sampling = sampling or Sampling()
    system = render("generate_system", fields=field_descriptions(target), labels=labels)
    engine = load_engine(model, **(engine_options or {}))
    valid: list[BaseModel] = []
    made: list[Generation] = []
    for attempt in range(max_attempts):
        missing = n - len(valid)
        if missing <= 0:
            break
        seed0 = sampling.seed + attempt * 100_003
        requests = [ChatRequest.user(prompt, system=system, seed=seed0 + i) for i in range(missing)]
        gens = engine.generate(requests, schema=target if constrained else None, sampling=sampling)
        made.extend(gens)
        for g in gens:
            if not constrained and g.error is None:
                g.parsed, g.error = parse_into(target, g.text, g.finish_reason)
            if g.parsed is not None:
                valid.append(g.parsed)
    return valid[:n], made
