"""Typed rows of the run store, for the readers that depend on their shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StoredVerdict(BaseModel):
    """One judge verdict as the judge writes it and every reader (report, compare, card) reads it.

    `verdict` is the judge model's structured answer (reason, scores 1-5, yes/no checks, and for
    classification a label), or None when the judge gave no usable answer (`error`, `raw`).
    """

    model_config = ConfigDict(extra="ignore")

    sample_id: int | None = None
    judge: str
    passed: bool
    verdict: dict[str, Any] | None = None
    failed: list[str] = Field(default_factory=list)
    error: str | None = None
    raw: str | None = None
    engine: dict[str, Any] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    min_score: int | None = None
    require_label_agreement: bool | None = None
    category: str | None = None  # the sample's, when read with its sample
    status: str | None = None
    filter: str | None = None

    @property
    def scores(self) -> dict[str, int]:
        """The verdict's 1-5 scores (the judge's other numbers, tokens and seconds, are not scores)."""
        return {k: v for k, v in (self.verdict or {}).items() if isinstance(v, int) and not isinstance(v, bool)}

    @property
    def checks(self) -> dict[str, bool]:
        return {k: v for k, v in (self.verdict or {}).items() if isinstance(v, bool)}

    @property
    def label(self) -> str | None:
        return (self.verdict or {}).get("label")

    def data(self) -> dict[str, Any]:
        """What the verdicts table's `data` column holds."""
        return self.model_dump(exclude={"sample_id", "judge", "passed", "category", "status", "filter"})
