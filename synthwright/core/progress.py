"""Live progress for long runs (rich), and a quiet stand-in for tests and pipes."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RunProgress:
    """Accepted/target bar plus generated, rejected, tokens/s; ETA from the acceptance rate."""

    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.generated = self.rejected = self.tokens = 0
        self.started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: Any = None

    def start(self, description: str, total: int, done: int, slots_total: int, slots_done: int) -> None:
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("slots {task.fields[slots]} · generated {task.fields[generated]} · rejected {task.fields[rejected]}"
                       " · {task.fields[rate]} tok/s{task.fields[cost]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, completed=done, generated=0, rejected=0,
                                             rate="-", slots=f"{slots_done}/{slots_total}", cost="")

    def planning(self, done: int, total: int) -> None:
        """A bar for the planner's phrase requests (scenarios, personas) while they are answered."""
        self._counted("planning", "phrase requests", done, total)

    def replaying(self, done: int, total: int) -> None:
        """A bar for a replay's stored responses, re-parsed and re-filtered."""
        self._counted("replaying", "stored responses", done, total)

    def _counted(self, name: str, unit: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            self._progress = Progress(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn(unit), TimeElapsedColumn(), console=self.console)
            self._progress.start()
            self._task = self._progress.add_task(name, total=total, completed=done)
        self._progress.update(self._task, completed=done, total=total)

    def phase(self, text: str) -> None:
        if self.enabled:
            self.console.print(f"[dim]{text}[/]")

    def update(self, *, accepted: int, generated: int, rejected: int, tokens: int, slots_done: int, slots_total: int,
               cost: float | None = None) -> None:
        self.generated += generated
        self.rejected += rejected
        self.tokens += tokens
        if self._progress is None:
            return
        rate = self.tokens / max(time.perf_counter() - self.started, 1e-9)
        task = self._progress.tasks[0]
        done = task.completed + accepted
        spent = "" if cost is None else (f" · cost {cost:.4g}" + (f" (projected {cost * task.total / done:.4g})"
                                                                   if done and task.total else ""))
        self._progress.update(self._task, advance=accepted, generated=self.generated, rejected=self.rejected,
                              rate=f"{rate:.0f}", slots=f"{slots_done}/{slots_total}", cost=spent)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
