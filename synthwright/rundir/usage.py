"""Tokens and cost: what a run's model calls used, by phase and engine, priced from the recipe's budget.prices."""

from __future__ import annotations

from typing import Any

from synthwright.core.store import RunStore
from synthwright.recipe.model import Budget


def usage(store: RunStore, budget: Budget) -> dict[str, Any]:
    """Tokens per phase (planner, executor, judge, loop) and engine, their cost where priced, and totals."""
    rows = store.token_usage()
    unpriced = set()
    for r in rows:
        price = budget.prices.get(r["engine"])
        if price is None:
            r["cost"] = None
            unpriced.add(r["engine"])
        else:
            r["cost"] = round((r["prompt_tokens"] * price.input + r["completion_tokens"] * price.output) / 1e6, 6)
    phases: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = phases.setdefault(r["phase"], {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": None})
        for k in ("calls", "prompt_tokens", "completion_tokens"):
            p[k] += r[k]
        if r["cost"] is not None:
            p["cost"] = round((p["cost"] or 0.0) + r["cost"], 6)
    priced = [r["cost"] for r in rows if r["cost"] is not None]
    return {"by_phase_engine": rows, "by_phase": phases,
            "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows),
            "cost": round(sum(priced), 6) if budget.prices else None,
            "unpriced_engines": sorted(unpriced) if budget.prices else []}


def budget_reached(budget: Budget, u: dict[str, Any]) -> str | None:
    """Which cap of budget.max_tokens / max_cost the usage `u` has reached, as a sentence, or None."""
    if budget.max_tokens is not None and u["tokens"] >= budget.max_tokens:
        return f"budget.max_tokens reached ({u['tokens']:,} of {budget.max_tokens:,} tokens)"
    if budget.max_cost is not None and (u["cost"] or 0.0) >= budget.max_cost:
        return f"budget.max_cost reached ({u['cost']:.4g} of {budget.max_cost:g})"
    return None
