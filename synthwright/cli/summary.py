"""Closing tables for the CLI."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_summary(result: Any, console: Console | None = None) -> None:
    console = console or Console()
    stats = result.stats
    table = Table(title=f"{stats['recipe']}: {stats['accepted']} of {stats['target']} samples → {result.out_dir}")
    for col in ("category", "target", "accepted"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for cat, row in stats["per_category"].items():
        style = "" if row["accepted"] >= row["target"] else "yellow"
        table.add_row(cat, str(row["target"]), str(row["accepted"]), style=style)
    console.print(table)
    funnel = ", ".join(f"{k} {v}" for k, v in sorted(stats["funnel"].items()))
    console.print(f"samples by fate: {funnel}")
    console.print(f"splits: {', '.join(f'{k} {v}' for k, v in stats['splits'].items())} · calls {stats['calls']}"
                  f" · {stats['completion_tokens']} tokens · {stats['completion_tokens_per_second'] or '-'} tok/s")
    u = stats.get("usage")
    if u:
        parts = [f"{phase} {p['prompt_tokens'] + p['completion_tokens']:,}" + (f" ({p['cost']:.4g})" if p["cost"] is not None else "")
                 for phase, p in u["by_phase"].items()]
        console.print(f"tokens by phase: {', '.join(parts)} · total {u['tokens']:,}"
                      + (f" · cost {u['cost']:.4g}" if u["cost"] is not None else ""))
        if u.get("unpriced_engines"):
            console.print(f"[yellow]no price in budget.prices for: {', '.join(e or '?' for e in u['unpriced_engines'])}[/]")
    if stats.get("stopped_by_budget"):
        console.print(f"[yellow]stopped: {stats['stopped_by_budget']}; {stats['shortfall']} samples still to make: raise"
                      " the cap and run the same command again to continue.[/]")
    elif stats.get("stopped_by_limit"):
        console.print(f"[yellow]stopped at --limit; {stats['shortfall']} samples still to make: run the same command"
                      " without --limit to continue.[/]")
    elif stats["shortfall"]:
        console.print(f"[yellow]shortfall: {stats['shortfall']} samples missing after {stats['rounds']} rounds;"
                      " raise budget.max_rounds and run the same command again to continue.[/]")
    c = stats.get("cache")
    if c:
        console.print(f"call cache {c['dir']}: {c['hits']} answered from it, {c['misses']} asked of the model")
    r = stats.get("replay")
    if r:
        console.print(f"replayed: the recipe changed only after generation, so its filters and judge thresholds were"
                      f" re-applied to {r['responses']} stored responses in {r['seconds']} s without generating"
                      + (f" ({r['judged_now']} samples judged for the first time)" if r["judged_now"] else ""))
    lc = stats.get("label_check")
    if lc:
        refused = (stats.get("funnel") or {}).get("label_check", 0)
        console.print(f"label check ({lc['model']}): {lc['checked']} samples read in {lc['seconds']:.0f} s,"
                      f" {refused} rejected, {lc['relabelled']} relabelled")
    q = stats.get("quality")
    if q:
        last = q["steps"][-1]
        console.print(f"quality loop ({q['steps'][0]['source']}): macro-F1 {_score(q['first_score'])} → {_score(q['final_score'])}"
                      f" over {len(q['steps'])} step(s); {last['stop_reason'] or last['action']}")
    if stats.get("scenarios_asked"):
        console.print(f"scenarios: {stats['scenarios_from_model']} of {stats['scenarios_asked']} written by the teacher"
                      " (the rest built-in)")
    for note in stats.get("planner_notes", []):
        console.print(f"[yellow]planner: {note}[/]")
    check = stats.get("teacher_check") or {}
    if check.get("message"):
        console.print(f"[yellow]{check['message']}[/]")


def _score(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def print_plan(plan: dict[str, Any], slots: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"plan for {plan['recipe']}: {plan['total']} samples in {plan['slots']} slots")
    table.add_column("category")
    table.add_column("quota", justify="right")
    table.add_column("scenarios")
    for cat in plan["categories"]:
        table.add_row(cat["name"], str(cat["quota"]), "; ".join(cat["scenarios"]))
    console.print(table)
    console.print(f"personas: {'; '.join(plan['personas'])}")
    console.print(f"styles: {', '.join(plan['styles'])} · lengths: {', '.join(plan['lengths'])}")
    for note in plan.get("notes", []):
        console.print(f"[yellow]note: {note}[/]")
