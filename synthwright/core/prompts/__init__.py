"""Prompt templates live beside this file as Jinja files; `render` fills one in."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

PROMPT_DIR = Path(__file__).parent


@lru_cache(maxsize=None)
def _template(name: str):
    from jinja2 import Environment, StrictUndefined

    path = PROMPT_DIR / f"{name}.jinja"
    env = Environment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    return env.from_string(path.read_text(encoding="utf-8"))


def render(template: str, /, **variables: Any) -> str:
    """Render `prompts/<template>.jinja`; a missing variable is an error, never an empty string."""
    return _template(template).render(**variables).strip()
