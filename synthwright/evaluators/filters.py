"""Cheap filters that run before the judge. Each rejection names its filter and says why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .normalize import normalize


@dataclass
class Candidate:
    """A parsed sample on its way to acceptance."""

    data: dict[str, Any]
    text: str
    category: str
    slot_id: str
    status: str = "accepted"
    filter: str | None = None
    reason: str | None = None
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or normalize(self.text)

    @property
    def alive(self) -> bool:
        return self.status == "accepted"

    def reject(self, filter_name: str, reason: str) -> None:
        self.status, self.filter, self.reason = "rejected", filter_name, reason


@dataclass
class FilterState:
    """What filters need to know about the run so far."""

    accepted_keys: set[str] = field(default_factory=set)
    seed_keys: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)


FilterFn = Callable[[list[Candidate], FilterState, Any], None]


def length_filter(cands: list[Candidate], state: FilterState, cfg: Any) -> None:
    for c in cands:
        n = len(c.text.strip())
        if n < cfg.min_chars:
            c.reject("length", f"{n} characters, fewer than min_chars={cfg.min_chars}")
        elif n > cfg.max_chars:
            c.reject("length", f"{n} characters, more than max_chars={cfg.max_chars}")


def exact_duplicate_filter(cands: list[Candidate], state: FilterState, cfg: Any) -> None:
    """Same normalised text as an accepted sample, a seed, or an earlier sample in this batch."""
    if not cfg.exact_duplicates:
        return
    batch: set[str] = set()
    for c in cands:
        if not c.alive:
            continue
        if c.key in state.seed_keys:
            c.reject("exact_duplicate", "copies a seed example")
        elif c.key in state.accepted_keys or c.key in batch:
            c.reject("exact_duplicate", "same text as an accepted sample (after normalisation)")
        else:
            batch.add(c.key)


def default_filters() -> list[tuple[str, FilterFn]]:
    return [("length", length_filter), ("exact_duplicate", exact_duplicate_filter)]


def apply_filters(cands: list[Candidate], state: FilterState, cfg: Any,
                  filters: list[tuple[str, FilterFn]] | None = None) -> None:
    """Run each filter over the candidates still alive, in order; the first rejection sticks."""
    for _, fn in filters or default_filters():
        alive = [c for c in cands if c.alive]
        if not alive:
            return
        fn(alive, state, cfg)
