"""How often an engine writes schema-valid JSON when nothing constrains its decoding."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)


@dataclass
class Validity:
    valid: int
    total: int
    generations: list[Generation]

    @property
    def rate(self) -> float:
        return self.valid / self.total if self.total else 0.0


def schema_valid_rate(engine: Engine, requests: list[ChatRequest], schema: type[BaseModel],
                      sampling: Sampling) -> Validity:
    """Generate without a schema (free decoding), then validate each text against `schema`."""
    gens = engine.generate(requests, schema=None, sampling=sampling)
    valid = sum(parse_into(schema, g.text, g.finish_reason)[0] is not None for g in gens)
    return Validity(valid=valid, total=len(gens), generations=gens)
