"""Typed records that travel between layers: the quality loop's decision and what one step of it changes.

The store keeps them as JSON; each is written in one place (agents/replanner.py) and read through these models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LoopDecision(BaseModel):
    """What one step of the quality loop decided, with the numbers behind it."""

    model_config = ConfigDict(extra="forbid")

    step: int | None = Field(default=None, description="The step (0 = after the first pass over the plan).")
    score: float | None = Field(default=None, description="The signal's score at this step.")
    source: str | None = Field(default=None, description="Where the score comes from: 'dev' or 'cv'.")
    action: Literal["stop", "replan", "rollback"] = Field(description="What the loop does next.")
    stop_reason: str | None = Field(default=None, description="Why the loop stops (or why a step was undone).")
    replaced: int = Field(default=0, description="Accepted samples set aside for a replacement.")
    extra: int = Field(default=0, description="Quota added to weak labels.")
    weak_labels: dict[str, float] = Field(default_factory=dict, description="Labels under weak_f1, with their F1.")
    extra_per_label: dict[str, int] = Field(default_factory=dict, description="The extra quota per label.")
    contrast_pairs: list[list[str]] = Field(default_factory=list, description="[label, the label it is confused with].")
    slot_kinds: dict[str, int] = Field(default_factory=dict, description="New slots by kind (replace, extra, dev_error).")
    hints: list[str] = Field(default_factory=list, description="Style hints from the real-vs-synthetic classifier.")
    round_start: int | None = Field(default=None, description="The first generation round of the new slots.")
    round_limit: int | None = Field(default=None, description="The round the new slots' filling stops at.")
    replaced_ids: list[int] = Field(default_factory=list, description="The sample ids set aside.")
    quota_moves: dict[str, int] = Field(default_factory=dict, description="Quota change per slot id.")
    score_after: float | None = Field(default=None, description="A rollback: the score the undone step started from.")
    undone: int = Field(default=0, description="A rollback: samples of the undone step set aside.")
    restored: int = Field(default=0, description="A rollback: samples the undone step had replaced, restored.")


@dataclass
class LoopStep:
    """One stored step: the signal it measured (JSON, evaluators/signal.py) and its decision."""

    step: int
    signal: dict[str, Any]
    decision: LoopDecision


@dataclass
class Replan:
    """A decision and what it changes in the store: new slots, quota moves, samples set aside or restored."""

    decision: LoopDecision
    new_slots: list[dict[str, Any]] = field(default_factory=list)
    quota_moves: dict[str, int] = field(default_factory=dict)
    rejections: list[tuple[int, str]] = field(default_factory=list)
    restore: list[int] = field(default_factory=list)
