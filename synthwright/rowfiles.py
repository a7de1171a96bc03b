"""JSONL and CSV files of rows, read with the line number of each row for error messages."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError


def read_rows(path: Path, what: str) -> list[tuple[int, Any]]:
    """(line, row) pairs from a .jsonl/.json (JSON lines) or .csv file; `what` names the file in errors."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return [(i + 2, r) for i, r in enumerate(csv.DictReader(f))]
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((i, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"Line {i} of the {what} '{path}' is not valid JSON ({exc.msg}); fix that line.") from None
        return rows
    raise ConfigError(f"The {what} '{path}' must be a .jsonl or .csv file.")
