"""The report's section on grounded QA and goal-following dialogue: distributions of the checks' scores over the
accepted and rejected samples, recomputed from the stored rows by the checks' own functions."""

from __future__ import annotations

from typing import Any

from synthwright.recipe.model import Recipe
from synthwright.tasks import Task


def checks_summary(samples: list[dict[str, Any]], recipe: Recipe, task: Task) -> dict[str, Any] | None:
    """The summary of the task's own checks (`Task.checks_section`), or None for a kind without any."""
    stored = [s for s in samples if s["filter"] != "parse"]
    if task.checks_section == "grounding":
        from synthwright.core.documents import load_chunks
        from synthwright.evaluators.grounding import summary

        chunks = (load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars,
                              recipe.documents.overlap_chars) if recipe.documents is not None else None)
        return summary(stored, chunks)
    if task.checks_section == "goals":
        from synthwright.evaluators.dialogue_check import summary
        from synthwright.evaluators.fidelity import label_documents

        return summary(stored, label_documents(recipe.categories), dict(recipe.roles))
    return None


def _q(d: dict[str, float] | None) -> str:
    return "–" if not d else f"{d['p10']:.2f} / {d['median']:.2f} / {d['p90']:.2f}"


def _share(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def render_checks(summary: dict[str, Any] | None, task: Task) -> list[str]:
    if not summary:
        return []
    rows = [(status, summary[status]) for status in ("accepted", "rejected") if summary.get(status, {}).get("samples")]
    if task.checks_section == "grounding":
        out = ["## Grounding", "", "Answer support (share of the answer's content words in the passage's best window) and"
               " the rank of its own passage when the question is used as a search query (MiniLM), p10 / median / p90:", "",
               "| samples | n | support | supported (≥ 0.5) | own-passage rank | rank 1 | leaks |",
               "|---|---|---|---|---|---|---|"]
        out += [f"| {s} | {e['samples']} | {_q(e['support'])} | {_share(e['supported_share'])} | {_q(e['own_chunk_rank'])}"
                f" | {_share(e['top1_share'])} | {e['leaks']} |" for s, e in rows]
    else:
        out = ["## Goal and roles", "", "Role consistency, and the cosine of the user's messages to their own goal (and its"
               " margin over the nearest other goal), p10 / median / p90:", "",
               "| samples | n | roles kept | goal cosine | goal margin | on goal |", "|---|---|---|---|---|---|"]
        out += [f"| {s} | {e['samples']} | {_share(e['role_consistent_share'])} | {_q(e.get('goal_similarity'))}"
                f" | {_q(e.get('goal_margin'))} | {_share(e.get('on_goal_share'))} |" for s, e in rows]
    return out + [""]
