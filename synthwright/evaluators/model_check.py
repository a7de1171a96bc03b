"""What every check that asks a model shares: its engine, loaded on first use, and its name in the records."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

from synthwright.engines import Engine


class ModelCheck:
    """`engine` is an Engine, or a function returning one on first use; `owns_engine`: close it with the check.
    `model` names the engine in records when the engine describes no spec."""

    def __init__(self, engine: Engine | Callable[[], Engine], *, model: str | None, owns_engine: bool = False):
        self._engine = engine
        self.model = model
        self.owns_engine = owns_engine
        self.seconds = 0.0

    @property
    def engine(self) -> Engine:
        if not isinstance(self._engine, Engine):
            self._engine = self._engine()
        return self._engine

    @cached_property
    def engine_info(self) -> dict[str, Any]:
        return self.engine.describe()

    @property
    def spec(self) -> str:
        return self.engine_info.get("spec") or self.model or "teacher"

    def close(self) -> None:
        if self.owns_engine and isinstance(self._engine, Engine):
            self._engine.close()
