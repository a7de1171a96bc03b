"""Markdown tables and numbers, one way for the report, compare, the card and the loop's section."""

from __future__ import annotations

import json
from typing import Any


def cell(value: Any, limit: int | None = None) -> str:
    """A value as one table cell: one line, pipes escaped, cut at `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(str(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|") or " "


def clip(text: str | None, n: int) -> str:
    """`text` on one line, cut to `n` characters with an ellipsis."""
    text = " ".join(str(text if text is not None else "").split())
    return text if len(text) <= n else text[:n - 1] + "…"


def table(header: list[str], rows: list[list[Any]], limit: int | None = None) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v, limit) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(v: Any, pct: bool = False) -> str:
    """A metric for a table: – when missing, a share as a percentage, a float to three decimals."""
    if v is None:
        return "–"
    return f"{v:.1%}" if pct else (f"{v:.3f}" if isinstance(v, float) else str(v))
