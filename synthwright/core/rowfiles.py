"""Text files a user gives us (recipes, seeds, documents, real sets, configs), read as UTF-8; JSONL and CSV files
of rows, read with the line number of each row for error messages."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError


def not_utf8(path: str | Path, what: str, exc: UnicodeDecodeError) -> ConfigError:
    """The one message for a text file in another encoding: which file, where, and what to save it as."""
    return ConfigError(f"The {what} '{path}' is not UTF-8 text (byte 0x{exc.object[exc.start]:02X} at offset {exc.start});"
                       " save it as UTF-8 and try again.")


def read_text(path: str | Path, what: str) -> str:
    """The text of a file the user gave us, as UTF-8; ConfigError naming the file when it is in another encoding."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, what, exc) from None


def read_rows(path: Path, what: str) -> list[tuple[int, Any]]:
    """(line, row) pairs from a .jsonl/.json (JSON lines) or .csv file; `what` names the file in errors."""
    if path.suffix.lower() == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as f:
                return [(i + 2, r) for i, r in enumerate(csv.DictReader(f))]
        except UnicodeDecodeError as exc:
            raise not_utf8(path, what, exc) from None
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for i, line in enumerate(read_text(path, what).splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((i, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"Line {i} of the {what} '{path}' is not valid JSON ({exc.msg}); fix that line.") from None
        return rows
    raise ConfigError(f"The {what} '{path}' must be a .jsonl or .csv file.")


def read_labelled(path: str | Path, what: str = "real test set") -> list[dict[str, str]]:
    """Rows with `text` and `label` from a .jsonl/.json (JSON lines) or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"The {what} '{path}' does not exist; pass a JSONL or CSV file with text and label fields.")
    rows = read_rows(path, what)
    out = []
    for line, row in rows:
        if not isinstance(row, dict) or not str(row.get("text") or "").strip() or row.get("label") in (None, ""):
            raise ConfigError(f"Row on line {line} of the {what} '{path}' needs a non-empty 'text' and 'label'; fix or remove it.")
        out.append({"text": str(row["text"]), "label": str(row["label"])})
    if not out:
        raise ConfigError(f"The {what} '{path}' holds no rows; add JSON lines like {{\"text\": \"…\", \"label\": \"…\"}}.")
    return out
